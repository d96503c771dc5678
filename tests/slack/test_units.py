"""Pure parts of the Slack layer: the /rtc grammar, the Block Kit guards, and the fake Web API's own checks."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import httpx
import pytest

from bot.sandbox import slack_api
from bot.sandbox.serve import serve_in_loop
from bot.sandbox.slack_api import FakeSlack, check_blocks, check_view
from bot.services.results import ChangeResult
from bot.targets.layout_changes import LayoutPreset
from bot.targets.tencent import IngestChange
from handlers import blocks, grammar
from handlers.backlog import Backlog
from handlers.grammar import UsageError, parse


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", grammar.Help()),
        ("tasks", grammar.ListTasks()),
        (
            "task add volcengine Finals A1 R1 T1 canvas=1280x720 channel=<#C0NOTE|notify> tags=live,eu",
            grammar.AddTask(
                "volcengine",
                "finals",
                ("A1", "R1", "T1"),
                {"canvas": "1280x720", "channel": "<#C0NOTE|notify>", "tags": "live,eu"},
            ),
        ),
        (
            "task add tencent lobby 1400000001 -abc region=ap-tokyo site=china channel=C0NOTE",
            grammar.AddTask(
                "tencent", "lobby", ("1400000001", "-abc"), {"region": "ap-tokyo", "site": "china", "channel": "C0NOTE"}
            ),
        ),
        ("layout finals", grammar.OpenEditor("layout", "finals")),
        (
            "layout Finals PIP host,guest:screen corner=tl",
            grammar.Propose("layout", "finals", LayoutPreset("pip", ("host", "guest:screen"), {"corner": "tl"})),
        ),
        (
            "ingest lobby url=<https://a.example/x.mp4?a=1&amp;b=2|a.example/x.mp4> volume=40 pause",
            grammar.Propose("ingest", "lobby", IngestChange("https://a.example/x.mp4?a=1&b=2", 40, True)),
        ),
        ("ingest lobby resume", grammar.Propose("ingest", "lobby", IngestChange(None, None, False))),
        ("rollback finals v3", grammar.Rollback("finals", 3)),
        ("unlock\u00a0finals", grammar.Unlock("finals")),
    ],
)
def test_grammar_parses_every_form(text: str, expected: grammar.Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("token", "kind", "ident"),
    [
        ("<@U0ABCDEF|alice>", "user", "U0ABCDEF"),
        ("<@W0ABCDEF>", "user", "W0ABCDEF"),
        ("U0ABCDEF", "user", "U0ABCDEF"),
        ("<!subteam^S0ONCALL|@oncall>", "group", "S0ONCALL"),
        ("S0ONCALL", "group", "S0ONCALL"),
    ],
)
def test_grant_accepts_escaped_mentions_and_bare_ids(token: str, kind: str, ident: str) -> None:
    cmd = parse(f"grant {token} approver tag:live")
    assert isinstance(cmd, grammar.Grant)
    assert (cmd.subject.type, cmd.subject.id, cmd.role, cmd.scope) == (kind, ident, "approver", "tag:live")


@pytest.mark.parametrize(
    ("text", "problem", "usage_line"),
    [
        ("grant @alice admin", "not a Slack user", "/rtc grant <@user|@group>"),
        ("grant <@U0ABCDEF> king", "unknown role", "/rtc grant"),
        ("revoke <@U0ABCDEF> admin planet:mars", "unknown scope", "/rtc revoke"),
        ("task add aws x", "volcengine or tencent", "/rtc task add tencent"),
        ("task add tencent x", "missing the task's ids", "<SdkAppId>"),
        ("task add tencent x 14 T region=ap-tokyo canvas", "unexpected 'canvas'", "<SdkAppId>"),
        ("ingest lobby volume=-3", "whole number", "[volume=<n>]"),
        ("ingest lobby pause resume", "once", "[pause|resume]"),
        ("rollback finals", "version", "/rtc rollback <alias> <version>"),
        ("status", "exactly one", "/rtc status <alias>"),
        ("layout finals pip", "give a preset and the streams", "/rtc layout <alias> <preset>"),
        ("layout bad/alias", "alias 'bad/alias' is not valid", "/rtc layout <alias>"),
    ],
)
def test_grammar_mistakes_name_the_problem_and_the_usage(text: str, problem: str, usage_line: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(text)
    assert problem in caught.value.problem and usage_line in caught.value.usage


def test_message_guard_keeps_fifty_blocks_and_twelve_thousand_characters() -> None:
    many = blocks.fit_message([blocks._section(f"line {i}") for i in range(80)])
    assert len(many) == 50 and "more blocks not shown" in many[-1]["elements"][0]["text"]
    big = blocks.fit_message([blocks._section("x" * 2900) for _ in range(10)])
    assert sum(len(str(b)) for b in big) < 13_000 and "not shown" in str(big[-1])
    assert not check_blocks(many, surface="message") and not check_blocks(big, surface="message")
    assert len(blocks.lines_text([f"item {i} " + "y" * 100 for i in range(200)])) <= 3000


def test_views_refuse_data_in_private_metadata() -> None:
    from slack_sdk.errors import SlackObjectFormationError
    from slack_sdk.models.views import View

    with pytest.raises(SlackObjectFormationError, match="private_metadata"):
        blocks.fit_view(View(type="modal", title="t", private_metadata="x" * 3001, blocks=[blocks._section("hi")]))


def test_fake_checks_block_kit_like_slack() -> None:
    assert check_blocks([{"type": "section"}], surface="message")
    assert check_blocks([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}], surface="message")
    assert check_blocks([{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}], surface="message")
    assert check_blocks(
        [{"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "b" * 76}}]}],
        surface="message",
    )
    assert check_blocks([{"type": "divider"}] * 51, surface="message")
    assert not check_blocks([{"type": "divider"}] * 51, surface="modal")
    assert check_view({"type": "modal", "title": {"type": "plain_text", "text": "a title longer than 24 chars"}, "blocks": []})
    inputs = {"type": "input", "label": {"type": "plain_text", "text": "l"}, "element": {"type": "plain_text_input"}}
    assert check_view({"type": "modal", "title": {"type": "plain_text", "text": "t"}, "blocks": [inputs]})  # no submit


async def test_fake_web_api_answers_like_slack() -> None:
    fake = FakeSlack(bot_token="xoxb-1", users={"U0A": "a"}, channels={"C0A": "a"})
    async with serve_in_loop(fake.app) as url, httpx.AsyncClient(base_url=f"{url}/api/") as http:
        fake.base_url = url
        auth = {"Authorization": "Bearer xoxb-1"}
        assert (await http.post("auth.test")).json()["error"] == "not_authed"
        assert (await http.post("auth.test", headers={"Authorization": "Bearer nope"})).json()["error"] == "invalid_auth"
        assert (await http.post("chat.postMessage", json={"channel": "C0A"}, headers=auth)).json()["error"] == "no_text"
        assert (await http.post("chat.postMessage", json={"channel": "C0X", "text": "t"}, headers=auth)).json()[
            "error"
        ] == "channel_not_found"
        bad = (await http.post("chat.postMessage", json={"channel": "C0A", "blocks": [{"type": "nope"}]}, headers=auth)).json()
        assert bad["error"] == "invalid_blocks" and bad["errors"]

        view = {"type": "modal", "title": {"type": "plain_text", "text": "t"}, "blocks": []}
        old = fake.issue_trigger()
        fake._triggers[old] -= slack_api.TRIGGER_TTL + 1
        assert (await http.post("views.open", json={"trigger_id": old, "view": view}, headers=auth)).json()[
            "error"
        ] == "expired_trigger_id"
        trigger = fake.issue_trigger()
        opened = (await http.post("views.open", json={"trigger_id": trigger, "view": view}, headers=auth)).json()
        again = (await http.post("views.open", json={"trigger_id": trigger, "view": view}, headers=auth)).json()
        assert opened["ok"] and again["error"] == "invalid_trigger_id"
        first = {"view_id": opened["view"]["id"], "hash": opened["view"]["hash"], "view": view}
        assert (await http.post("views.update", json=first, headers=auth)).json()["ok"]
        assert (await http.post("views.update", json=first, headers=auth)).json()["error"] == "hash_conflict"

        fake.rate_limit("users.info", times=1, retry_after=7)
        limited = await http.post("users.info", data={"user": "U0A"}, headers=auth)
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
        assert (await http.post("users.info", data={"user": "U0A", "token": "xoxb-1"})).json()["user"]["name"] == "a"

        posted = (await http.post("chat.postMessage", json={"channel": "C0A", "text": "parent"}, headers=auth)).json()
        upload = (await http.post("files.getUploadURLExternal", data={"filename": "p.png", "length": "8"}, headers=auth)).json()
        async with httpx.AsyncClient() as raw:
            assert (await raw.post(upload["upload_url"], content=b"\x89PNG\r\n\x1a\n")).status_code == 200
        done = await http.post(
            "files.completeUploadExternal",
            headers=auth,
            data={"files": f'[{{"id": "{upload["file_id"]}"}}]', "channel_id": "C0A", "thread_ts": posted["ts"]},
        )
        assert done.json()["ok"]
        assert fake.thread("C0A", posted["ts"])[0].files[0]["mimetype"] == "image/png"


async def test_backlog_holds_work_while_an_acknowledgement_is_in_flight() -> None:
    backlog, ran = Backlog(defer_seconds=60), []

    async def job() -> None:
        ran.append(1)

    with backlog.acknowledging():
        backlog.start(job())
        for _ in range(20):
            await asyncio.sleep(0)
        assert not ran and backlog.pending == 1
    await backlog.drain()
    assert ran == [1] and backlog.pending == 0


async def test_backlog_work_is_not_starved_by_a_steady_stream_and_runs_a_few_at_a_time() -> None:
    backlog, running, most = Backlog(slots=2, defer_seconds=0), 0, 0
    release, two_running = asyncio.Event(), asyncio.Event()

    async def job() -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        if running == 2:
            two_running.set()
        await release.wait()
        running -= 1

    with backlog.acknowledging():  # never quiet: each job goes ahead once it has waited defer_seconds
        for _ in range(5):
            backlog.start(job())
        await two_running.wait()
        release.set()
        await backlog.drain()
    assert most == 2 and running == 0


def test_an_apply_without_an_answer_says_the_outcome_will_follow() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    waiting = ChangeResult(
        request_id=7, alias="finals", provider="volcengine", kind="layout", state="applying", summary="layout pip",
        requester="U1", team_id="T1", needs_approval=True, touched=["layout"], diff_lines=[], drift_lines=[],
        baseline_source="provider", payload_hash="h", base_version=1, created_at=now, expires_at=now, desired={},
        baseline={}, error_code="Timeout",
    )  # fmt: skip
    text = json.dumps(blocks.thread_outcome(waiting))
    assert "No answer yet" in text and "Timeout" in text and "finals stays locked" in text
