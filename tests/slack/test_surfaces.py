"""Every Slack surface holds at scale and says what it leaves out; nothing a user types can ping, spoof or
hide; the policy, grant-expiry and who commands; buttons rtcops cannot read; an unknown outcome's Retry."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from slack_support import (
    NOTIFY_CHANNEL,
    REQUEST_CHANNEL,
    SDK_APP_ID,
    U1,
    U2,
    U3,
    Env,
    ephemeral_from,
    eventually,
    has_buttons,
    request_message,
    setup_tasks,
)

from bot.sandbox.slack_api import Message
from bot.services import tasks
from bot.services.deps import Actor
from handlers import blocks

ADMIN = Actor("T0TEAM", "UADMIN")
HOSTILE = (
    "<!channel>",
    "<!here>",
    "<@U0HOSTILE9>",
    "<https://phish.example.net|media.example.com/ok>",
    "\u202e",
    "\u200b",
)
"""What a hostile or careless user types to ping everyone, impersonate a link, or hide or reverse text."""
HIDDEN = ("\u202e", "\u200b", "\u2066", "\u200d")
RAW = ("<!channel>", "<!here>", "<@U0HOSTILE9>", "<https://phish.example.net")
"""The hostile tokens as mrkdwn would act on them; escaped (&lt;…&gt;) they are only text."""


def _texts(value: Any) -> list[str]:
    """Every string inside a Web API call's arguments (text, blocks, views, confirm dialogs, file titles)."""
    if isinstance(value, str):
        try:
            return _texts(json.loads(value)) if value[:1] in "[{" else [value]
        except ValueError:
            return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


def raw_hostile(env: Env) -> list[str]:
    """Anything the bot said anywhere that still carries a hostile token as mrkdwn would read it."""
    said = [t for c in env.fake.calls for t in _texts(c.args)]
    said += [t for e in env.fake.ephemerals for t in [e.text, *_texts(e.blocks)]]
    found = []
    for text in said:
        if any(token in text for token in RAW) or any(ch in text for ch in HIDDEN):
            found.append(text)
    return found


async def test_hostile_input_is_inert_on_every_surface(env: Env) -> None:
    """Each hostile string, typed where a person can type: a URL (command and editor), stream ids, preset
    options, a registration's TaskId, a tag, an alias. Whatever rtcops answers, and whatever it posts in the
    channel, the thread, the notification channel, the App Home, a modal or a confirm dialog, none of them
    carries a raw mention, a link with a label, or a hidden character."""
    await setup_tasks(env)
    for h in HOSTILE:
        for text in (
            f"ingest lobby url=rtmp://h/live/{h}",
            f"ingest lobby url=https://media.example.com/a.mp4?x={h}",
            f"layout finals pip {h},guest",
            f"layout finals grid a,b main={h}",
            f"task add tencent evil {SDK_APP_ID} task{h}",
            f"task add volcengine bad app room task tags=a{h}",
            f"status fin{h}als",
        ):
            await env.command(U1 if not text.startswith("task") else "UADMIN", text)
    view = await _editor(env, "ingest lobby")
    for h in HOSTILE:
        await env.submit(U1, view, {"url": {"type": "plain_text_input", "value": f"https://media.example.com/{h}.mp4"}})
    await env.settled()
    for user in (U1, U2, "UADMIN"):
        await env.home_opened(user)
    await env.settled()
    assert env.fake.ephemerals_for(U1), "the refusals were answered"
    assert raw_hostile(env) == []
    # nothing hostile reached a provider either
    for state in (env.volc, env.tencent):
        bodies = [r.body for r in state.requests.all() if r.action and r.action.startswith(("Update", "Start"))]
        assert not any(h in b for b in bodies for h in HOSTILE)


async def _editor(env: Env, text: str) -> str:
    before = set(env.fake.views)
    await env.command(U1, text)
    found = await eventually(
        lambda: [v for k, v in env.fake.views.items() if k not in before and "Propose" in json.dumps(v.view)], "the editor"
    )
    return str(found[-1].id)


async def test_slack_escaping_in_slash_text_is_undone_once_so_the_provider_gets_an_ampersand(env: Env) -> None:
    await setup_tasks(env)
    await env.command(U1, "ingest lobby url=<https://media.example.com/a.mp4?token=abc&amp;expires=1|media.example.com>")
    parent = await eventually(lambda: request_message(env), "the request")
    shown = json.dumps(parent.blocks)
    assert "token=abc&amp;expires=1" in shown, "shown escaped once in mrkdwn"
    await env.click(U2, parent, blocks.APPROVE)
    await eventually(lambda: env.tencent.requests.all("UpdateStreamIngest"), "the update")
    await env.settled()
    sent = json.loads(env.tencent.requests.all("UpdateStreamIngest")[-1].body)
    assert sent["StreamUrl"] == "https://media.example.com/a.mp4?token=abc&expires=1"


async def _many_tasks(env: Env, n: int) -> None:
    """`n` Tencent ingests, registered without Slack (quicker), half tagged `even`."""
    for i in range(n):
        reply = await env.deps.providers.tencent().start_stream_ingest(
            {"SdkAppId": SDK_APP_ID, "RoomId": f"room{i}", "RoomIdType": 0, "UserId": f"ingest{i}", "UserSig": "s",
             "StreamUrl": "https://media.example.com/a.mp4"}
        )  # fmt: skip
        options = {"tags": "even"} if i % 2 == 0 else {}
        await tasks.add_task(env.deps, ADMIN, "tencent", f"t{i:03d}", (str(SDK_APP_ID), reply.result.task_id), options)


async def test_tasks_page_filter_and_say_what_they_leave_out(env: Env) -> None:
    await _many_tasks(env, 45)
    await env.command("UADMIN", "tasks")
    first = await ephemeral_from(env, "UADMIN", "Page 1 of 3")
    assert "t000" in first and "t019" in first and "t020" not in first and "/rtc tasks page 2" in first
    await env.command("UADMIN", "tasks page 3")
    last = await ephemeral_from(env, "UADMIN", "Page 3 of 3")
    assert "t044" in last and "t039" not in last and "next:" not in last
    await env.command("UADMIN", "tasks tag:even page 2")
    even = await ephemeral_from(env, "UADMIN", "Page 2 of 2 (23 tasks)")
    assert "t040" in even and "t041" not in even and "/rtc tasks tag:even" not in even.split("Page 2")[1]
    # registration read each task once; each listing read only the tasks on its page
    assert len(env.tencent.requests.all("DescribeStreamIngest")) == 45 + 20 + 5 + 3


async def test_tasks_ask_the_providers_concurrently(env: Env) -> None:
    await _many_tasks(env, 20)
    env.tencent.add_latency(0.3, action="DescribeStreamIngest", times=None)
    before = len(env.tencent.requests.all("DescribeStreamIngest"))
    await env.command("UADMIN", "tasks")
    await ephemeral_from(env, "UADMIN", "t019")
    arrived = sorted(r.time for r in env.tencent.requests.all("DescribeStreamIngest")[before:])
    assert len(arrived) == 20
    # one after another, each read would start 0.3 s after the last: 5.7 s from the first to the last; at once, they
    # start as fast as the pacer lets them (20/s), about 1 s apart end to end
    assert arrived[-1] - arrived[0] < 3.0, arrived


async def test_app_home_says_how_many_tasks_it_leaves_out(env: Env) -> None:
    await _many_tasks(env, 35)
    await env.home_opened("UADMIN")
    home = await eventually(lambda: env.fake.home.get("UADMIN"), "the App Home")
    text = json.dumps(home.view)
    assert "5 more" in text and "/rtc tasks page 2" in text


async def test_status_is_a_readable_summary_and_the_json_is_a_file(env: Env) -> None:
    await setup_tasks(env)
    await env.command(U1, "status finals")
    status = await ephemeral_from(env, U1, "Version 1")
    assert "canvas 1280" in status and "a: left half" in status and "/rtc status finals json" in status
    assert '"StreamList"' not in status
    await env.command(U1, "status finals json")
    await ephemeral_from(env, U1, "JSON file")
    files = await eventually(lambda: env.fake.dm_files(U1), "the JSON file in the DM")
    data = env.uploaded_file(files[0]["id"])
    assert data is not None and json.loads(data)["TargetStreams"]["StreamList"][0]["UserId"] == "a"
    await env.command(U1, "ingest lobby pause")
    await eventually(lambda: (m := request_message(env)) and "applied" in json.dumps(m.blocks).lower(), "paused")
    assert "Tencent destroys an ingest paused for more than 12 hours" in json.dumps(request_message(env).blocks)  # type: ignore[union-attr]
    await env.command(U1, "status lobby")
    paused = await ephemeral_from(env, U1, "12 hours")
    assert "paused" in paused


async def test_policy_until_and_who_work_end_to_end(env: Env) -> None:
    await setup_tasks(env)
    await env.command(U1, "policy lobby")
    shown = await ephemeral_from(env, U1, "need a second person")
    assert "applied at once: volume, pause" in shown
    await env.command(U1, "policy lobby approval=url,volume")
    assert "missing role: *admin*" in await ephemeral_from(env, U1, "Not allowed")
    await env.command("UADMIN", "policy lobby approval=url,volume")
    await ephemeral_from(env, "UADMIN", "Set by")
    await env.command(U1, "ingest lobby volume=30")
    parent = await eventually(lambda: request_message(env), "the request")
    assert has_buttons(parent), "volume now needs approval"

    await env.command("UADMIN", f"grant <@{U3}|bystander> viewer task:lobby until=2099-12-31")
    granted = await ephemeral_from(env, "UADMIN", "viewer")
    assert "until" in granted and "2100" in granted
    await env.command(U3, "who lobby")
    who = await ephemeral_from(env, U3, "Who may act on lobby")
    assert f"<@{U2}>" in who and "May approve" in who and f"<@{U3}>" in who and "May view" in who and "until" in who
    help_text = (await env.command(U1, "help")).json()["text"]
    assert "/rtc policy <alias>" in help_text and "/rtc who <alias>" in help_text and "until=YYYY-MM-DD" in help_text


@pytest.mark.parametrize(
    "action",
    [
        {"action_id": "rtc_mystery", "value": "1:" + "0" * 64},
        {"action_id": blocks.APPROVE, "value": "not-a-request"},
        {"action_id": blocks.APPROVE, "value": "99999999999999:" + "0" * 64},
    ],
)
async def test_a_button_rtcops_cannot_read_is_answered_no_longer_valid(env: Env, action: dict[str, Any]) -> None:
    await setup_tasks(env)
    await env.command(U1, "layout finals pip host,guest")
    parent = await eventually(lambda: request_message(env), "the request")
    payload = env.click_payload(U2, parent, blocks.APPROVE)
    payload["actions"] = [{**payload["actions"][0], **action}]
    response = await env.click(U2, parent, blocks.APPROVE, payload=payload)
    assert response.status_code == 200
    assert "no longer valid" in await ephemeral_from(env, U2, "no longer valid")


async def test_ten_applies_held_five_seconds_do_not_delay_opening_an_editor(env: Env) -> None:
    await setup_tasks(env)
    await _many_tasks(env, 10)
    env.tencent.add_latency(5.0, action="UpdateStreamIngest", times=10)
    for i in range(10):
        await env.command(U1, f"ingest t{i:03d} volume={10 + i}")
    held = "UpdateStreamIngest"
    await eventually(lambda: env.bot.applier.busy and len(env.tencent.requests.all(held)) >= 10, "10 applies held")
    started = time.monotonic()
    view = await _editor(env, "layout finals")
    assert time.monotonic() - started < 1.0, "the editor waited behind the applies"
    assert view


@pytest.mark.settings(provider_timeout_seconds=0.3, provider_max_attempts=2, provider_deadline_seconds=1.0)
async def test_an_unknown_outcome_offers_retry_to_an_approver(env: Env) -> None:
    """Tencent cannot be asked what is in force: an update that never gets an answer, even sent again, is
    unknown, and an approver can send it again with one click."""
    await setup_tasks(env)
    env.tencent.add_timeout(seconds=2.0, action="UpdateStreamIngest", times=None)
    await env.command(U1, "ingest lobby volume=35")
    parent = await eventually(lambda: request_message(env), "the request")
    outcome: list[Message] = await eventually(
        lambda: [m for m in env.fake.thread(REQUEST_CHANNEL, parent.ts) if "Outcome unknown" in json.dumps(m.blocks)],
        "the unknown outcome",
        seconds=30,
    )
    assert any(b["type"] == "actions" for b in outcome[0].blocks)
    await eventually(lambda: [m for m in env.fake.channel_messages(NOTIFY_CHANNEL) if "unknown" in m.text], "the notify line")
    env.tencent.clear_faults()
    await env.click(U1, outcome[0], blocks.RETRY)  # an operator may not send it again: that is an approval
    assert "missing role: *approver*" in await ephemeral_from(env, U1, "Not allowed")
    await env.click(U2, outcome[0], blocks.RETRY)
    await eventually(lambda: len(env.request_messages(REQUEST_CHANNEL)) == 2, "the retry's request")
    retry = env.request_messages(REQUEST_CHANNEL)[-1]
    await eventually(lambda: "applied" in json.dumps(retry.blocks).lower(), "the retry applied", seconds=30)
    assert "retry of #" in json.dumps(retry.blocks)
    lobby = [t for t in env.tencent.tasks_json() if t["SdkAppId"] == SDK_APP_ID and t["UserId"] == "ingest-lobby"]
    assert lobby and lobby[0]["Volume"] == 35
