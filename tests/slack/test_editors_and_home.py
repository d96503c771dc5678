"""The editors (loading view, views.update with hash, field errors, proposals) and App Home."""

from __future__ import annotations

import json
from pathlib import Path

from slack_support import REQUEST_CHANNEL, SDK_APP_ID, U1, U2, Env, eventually, has_buttons, request_message, setup_tasks

from bot.services import change_views
from bot.services.deps import Actor
from handlers import blocks
from handlers.grammar import HELP


async def open_editor(env: Env, text: str) -> str:
    await env.command(U1, text)
    views = await eventually(lambda: [v for v in env.fake.views.values() if "Propose" in json.dumps(v.view)], "the filled editor")
    view_id = views[-1].id
    opens, updates = env.fake.calls_to("views.open"), env.fake.calls_to("views.update")
    assert "Loading" in json.dumps(opens[-1].args["view"])
    assert updates[-1].args["hash"]  # filled in with the hash views.open returned
    return view_id


async def no_change_stored(env: Env, alias: str) -> None:
    await env.settled()
    found = await change_views.history(env.deps, Actor("T0TEAM", "UADMIN"), alias)
    assert found.changes == []
    assert request_message(env) is None


async def test_layout_editor_refuses_bad_values_next_to_the_field_and_stores_nothing(env: Env) -> None:
    await setup_tasks(env)
    view_id = await open_editor(env, "layout finals")
    editor = json.dumps(env.fake.views[view_id].view)
    assert "region_0_0" in editor and "region_1_1" in editor and "1280" in editor

    bad_region = await env.submit(
        U1,
        view_id,
        {
            "preset": {"type": "static_select", "selected_option": {"value": "custom"}},
            "region_1_1": {"type": "plain_text_input", "value": "0.9 0 0.5 1 1"},
        },
    )
    assert bad_region.status_code == 200
    answer = bad_region.json()
    assert answer["response_action"] == "errors"
    assert "LocationX + WidthProportion must be at most 1" in answer["errors"]["region_1_1"]

    bad_preset = await env.submit(
        U1,
        view_id,
        {
            "preset": {"type": "static_select", "selected_option": {"value": "pip"}},
            "streams": {"type": "plain_text_input", "value": "a\nb\nc\nd\ne"},
            "background": {"type": "plain_text_input", "value": "black"},
        },
    )
    errors = bad_preset.json()["errors"]
    assert "#RRGGBB" in errors["background"]

    too_many = await env.submit(
        U1,
        view_id,
        {
            "preset": {"type": "static_select", "selected_option": {"value": "pip"}},
            "streams": {"type": "plain_text_input", "value": "a\nb\nc\nd\ne"},
        },
    )
    assert "pip takes 2 to 4 streams" in too_many.json()["errors"]["streams"]
    await no_change_stored(env, "finals")

    good = await env.submit(
        U1,
        view_id,
        {
            "preset": {"type": "static_select", "selected_option": {"value": "custom"}},
            "region_1_1": {"type": "plain_text_input", "value": "0.7 0.7 0.25 0.25 2"},
        },
    )
    assert good.status_code == 200 and not good.content
    parent = await eventually(lambda: request_message(env), "the request message from the editor")
    assert has_buttons(parent) and "region 1" in json.dumps(parent.blocks)


async def test_ingest_editor_uses_the_sites_volume_range(env: Env) -> None:
    await setup_tasks(env)
    view_id = await open_editor(env, "ingest lobby")
    loud = await env.submit(U1, view_id, {"volume": {"type": "plain_text_input", "value": "150"}})
    assert "Volume must be in [0, 100] on the intl site" in loud.json()["errors"]["volume"]
    words = await env.submit(U1, view_id, {"volume": {"type": "plain_text_input", "value": "loud"}})
    assert "whole number" in words.json()["errors"]["volume"]
    bad_url = await env.submit(U1, view_id, {"url": {"type": "plain_text_input", "value": "ftp://x/y.mp4"}})
    assert "URL" in bad_url.json()["errors"]["url"]
    await no_change_stored(env, "lobby")

    good = await env.submit(
        U1,
        view_id,
        {
            "volume": {"type": "plain_text_input", "value": "30"},
            "state": {"type": "radio_buttons", "selected_option": {"value": "paused"}},
        },
    )
    assert good.status_code == 200
    parent = await eventually(lambda: request_message(env), "the request message")
    await eventually(lambda: "applied" in json.dumps(parent.blocks).lower(), "applied at once")
    task = next(t for t in env.tencent.tasks_json() if t["SdkAppId"] == SDK_APP_ID)
    assert task["Volume"] == 30 and task["IsPause"] is True


async def test_editor_for_a_user_without_a_role_is_an_ephemeral_denial(env: Env) -> None:
    await setup_tasks(env)
    await env.command("U0NOBODY03", "layout finals")
    await eventually(lambda: env.fake.ephemerals_for("U0NOBODY03"), "the denial")
    assert "missing role" in env.ephemeral_texts("U0NOBODY03")[0]


async def test_app_home_lists_waiting_requests_with_buttons_tasks_and_recent_changes(env: Env) -> None:
    await setup_tasks(env)
    await env.command(U1, "ingest lobby volume=25")
    await eventually(lambda: request_message(env) and "applied" in json.dumps(request_message(env).blocks).lower(), "applied")
    await env.command(U1, "layout finals grid a,b")
    await eventually(lambda: len([m for m in env.fake.channel_messages(REQUEST_CHANNEL) if m.blocks]) >= 2, "second request")

    assert (await env.home_opened(U2)).status_code == 200
    home = await eventually(lambda: env.fake.home.get(U2), "U2's App Home")
    text = json.dumps(home.view)
    assert blocks.APPROVE in text and "finals" in text and "lobby" in text
    assert "volume" in text.lower()  # the applied ingest change is among the recent ones

    assert (await env.home_opened(U1)).status_code == 200
    mine = await eventually(lambda: env.fake.home.get(U1), "U1's App Home")
    assert "Nothing waits for you" in json.dumps(mine.view) and "grid" in json.dumps(mine.view)


async def test_help_is_the_documented_grammar_and_mistakes_get_usage(env: Env) -> None:
    grammar_file = Path(__file__).parents[2] / "docs" / "rtc-commands.txt"
    grammar = grammar_file.read_text(encoding="utf-8").removesuffix("\n")  # the file ends its last line
    answer = (await env.command(U1, "help")).json()
    assert answer["response_type"] == "ephemeral" and answer["text"] == grammar
    assert grammar == HELP  # the usage lines of mistakes come from HELP
    wrong = (await env.command(U1, "ingest lobby volume=loud")).json()
    assert "whole number" in wrong["text"] and "/rtc ingest <alias> [url=<URL>] [volume=<n>] [pause|resume]" in wrong["text"]
    unknown = (await env.command(U1, "frobnicate")).json()
    assert "unknown subcommand" in unknown["text"] and "/rtc rollback" in unknown["text"]
