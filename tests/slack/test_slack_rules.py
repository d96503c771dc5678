"""Slack's rules: signatures, replays, redeliveries, double clicks, denials, rate limits, unexpected errors."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest
from slack_support import (
    REQUEST_CHANNEL,
    SDK_APP_ID,
    SIGNING_SECRET,
    U1,
    U2,
    U3,
    Env,
    ephemeral_from,
    eventually,
    has_buttons,
    request_message,
    setup_tasks,
    stored_permalink,
)

from bot.sandbox import volcengine_sim
from bot.sandbox.slack_api import WebFault
from bot.sandbox.slack_signing import command_body, signature
from bot.services import change_views
from bot.services.deps import Actor
from handlers import blocks


async def test_forged_signature_is_refused_with_401(env: Env) -> None:
    body = command_body(env.command_fields(U1, "tasks"))
    ts = str(int(time.time()))
    forged = {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature("not-the-secret", ts, body),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    response = await env.http.post(f"{env.url}/slack/events", content=body, headers=forged)
    assert response.status_code == 401
    unsigned = await env.http.post(
        f"{env.url}/slack/events", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert unsigned.status_code == 401
    tampered = {**forged, "X-Slack-Signature": signature(SIGNING_SECRET, ts, body)}
    response = await env.http.post(f"{env.url}/slack/events", content=body + b"&text=grant", headers=tampered)
    assert response.status_code == 401
    assert not env.fake.ephemerals and not env.fake.messages


async def test_replayed_request_older_than_five_minutes_is_refused_with_401(env: Env) -> None:
    body = command_body(env.command_fields(U1, "help"))
    stale = await env.post(body, timestamp=int(time.time()) - 5 * 60 - 30)
    assert stale.status_code == 401
    fresh = await env.post(body)
    assert fresh.status_code == 200


async def test_redelivered_command_makes_one_change_and_one_provider_call(env: Env) -> None:
    await setup_tasks(env)
    fields = env.command_fields(U1, "ingest lobby volume=55")
    first = await env.command(U1, "", fields=fields)
    again = await asyncio.gather(*(env.command(U1, "", fields=fields, retry_num=n) for n in (1, 2)))
    assert first.status_code == 200 and all(r.status_code == 200 for r in again)
    parent = await eventually(lambda: request_message(env), "the request message")
    await eventually(lambda: "applied" in json.dumps(parent.blocks).lower(), "the change applied")
    await env.settled()  # all three deliveries' work is done, so a wrongly accepted redelivery would show now
    assert len([m for m in env.fake.channel_messages(REQUEST_CHANNEL) if m.blocks and m.blocks[0]["type"] == "header"]) == 1
    assert len(env.tencent.requests.all("UpdateStreamIngest")) == 1
    history = await change_views.history(env.deps, Actor("T0TEAM", "UADMIN"), "lobby")
    assert len(history.changes) == 1


async def test_ten_concurrent_identical_approve_clicks_apply_once(env: Env) -> None:
    await setup_tasks(env)
    await env.command(U1, "layout finals side-by-side b,a")
    parent = await eventually(lambda: request_message(env), "the request message")
    payload = env.click_payload(U2, parent, blocks.APPROVE)
    responses = await asyncio.gather(*(env.click(U2, parent, blocks.APPROVE, payload=payload) for _ in range(10)))
    assert all(r.status_code == 200 for r in responses)
    await eventually(lambda: "applied" in json.dumps(parent.blocks).lower(), "the change applied")
    await env.settled()
    assert len(env.volc.requests.all(volcengine_sim.UPDATE)) == 1
    outcomes = [m for m in env.fake.thread(REQUEST_CHANNEL, parent.ts) if "RequestId" in json.dumps(m.blocks)]
    assert len(outcomes) == 1
    # separate clicks (a new trigger_id and action_ts each) are just as harmless
    later = []
    for _ in range(3):
        fresh = json.loads(json.dumps(payload))
        fresh["trigger_id"] = env.fake.issue_trigger()
        fresh["actions"][0]["action_ts"] = f"{time.time():.6f}"
        later.append(env.click(U2, parent, blocks.APPROVE, payload=fresh))
    assert all(r.status_code == 200 for r in await asyncio.gather(*later))
    await env.settled()
    assert len(env.volc.requests.all(volcengine_sim.UPDATE)) == 1


SUBCOMMANDS = [
    "tasks",
    "task add volcengine other app-x room-x task-x",
    "task add tencent other2 1400000002 task-y",
    "task remove finals",
    "status finals",
    "layout finals",
    "layout finals grid a,b",
    "ingest lobby",
    "ingest lobby volume=10",
    "history finals",
    "rollback finals 1",
    f"grant <@{U3}> admin",
    f"revoke <@{U2}> approver task:finals",
    f"grants <@{U2}>",
    "unlock finals",
]


async def test_user_without_a_role_is_denied_every_subcommand_and_every_button(env: Env) -> None:
    await setup_tasks(env)
    for n, text in enumerate(SUBCOMMANDS, start=1):
        reply = await env.command(U3, text)
        assert reply.status_code == 200, (text, reply.text)
        await eventually(lambda n=n: len(env.fake.ephemerals_for(U3)) >= n, f"an answer to /rtc {text}")
        answer = env.ephemeral_texts(U3)[n - 1]
        assert "Not allowed" in answer and "missing role" in answer, (text, answer)
    assert not request_message(env)

    await env.command(U1, "layout finals grid a,b")
    parent = await eventually(lambda: request_message(env), "the request message")
    edits = parent.edits
    for action_id in (blocks.APPROVE, blocks.REJECT):
        await env.click(U3, parent, action_id)
    await eventually(lambda: len(env.fake.ephemerals_for(U3)) >= len(SUBCOMMANDS) + 2, "answers to both clicks")
    for answer in env.ephemeral_texts(U3)[-2:]:
        assert "Not allowed to approve" in answer and "missing role: *approver*" in answer
    assert parent.edits == edits and has_buttons(parent)
    assert not env.volc.requests.all(volcengine_sim.UPDATE)


async def test_rejection_goes_into_the_thread_and_removes_the_buttons(env: Env) -> None:
    await setup_tasks(env)
    await env.command(U1, "layout finals grid a,b")
    parent = await eventually(lambda: request_message(env), "the request message")
    await env.click(U2, parent, blocks.REJECT)
    await eventually(lambda: not has_buttons(parent), "buttons removed")
    assert "rejected" in json.dumps(parent.blocks)
    assert any("Rejected by" in m.text for m in env.fake.thread(REQUEST_CHANNEL, parent.ts))
    assert not env.volc.requests.all(volcengine_sim.UPDATE)


async def test_second_proposal_on_a_locked_task_is_answered_with_the_lock(env: Env) -> None:
    await setup_tasks(env)
    await env.command(U1, "layout finals grid a,b")
    parent = await eventually(lambda: request_message(env), "the request message")
    link = await stored_permalink(env, parent)  # stored after the message is posted; the lock answer links it
    assert link == env.fake.permalink(REQUEST_CHANNEL, parent.ts)
    await env.command(U1, "layout finals pip b,a")
    answer = await ephemeral_from(env, U1, "locked")
    assert link in answer


async def test_web_api_429_is_retried_after_retry_after(env: Env) -> None:
    env.fake.rate_limit("chat.postMessage", times=1, retry_after=0)
    await setup_tasks(env)
    await env.command(U1, "ingest lobby resume volume=70")
    parent = await eventually(lambda: request_message(env), "the request message after a 429")
    assert next(c.status for c in env.fake.calls_to("chat.postMessage")) == 429
    await eventually(lambda: "applied" in json.dumps(parent.blocks).lower(), "the change applied")
    task = next(t for t in env.tencent.tasks_json() if t["SdkAppId"] == SDK_APP_ID)
    assert task["Volume"] == 70


@pytest.mark.slack_refusals_expected  # Slack fails views.open on purpose
async def test_unexpected_error_shows_a_short_error_id_and_logs_the_detail(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    await setup_tasks(env)
    caplog.set_level(logging.ERROR, logger="rtcops.handlers")
    env.fake.fail(WebFault("views.open", error="fatal_error", status=500))
    await env.command(U1, "layout finals")
    answer = await ephemeral_from(env, U1, "error id")
    error_id = answer.split("error id `")[1].split("`")[0]
    assert len(error_id) == 8
    assert any(error_id in r.getMessage() for r in caplog.records)
    assert not any(SIGNING_SECRET in r.getMessage() or "xoxb-" in r.getMessage() for r in caplog.records)


@pytest.mark.slack_refusals_expected  # the bot posts into a channel it is not in, and Slack refuses it
async def test_a_request_from_a_channel_the_bot_is_not_in_is_told_privately_and_nothing_is_lost(env: Env) -> None:
    """The request message cannot be posted: a change that waits for approval is cancelled (nobody there could
    approve it, and it must not hold the lock); one that needed none is applied all the same. Either way the
    requester hears it in private, with what to do."""
    await setup_tasks(env)
    await env.command(U1, "layout finals pip a,b", channel="CUNKNOWN")
    told = await eventually(lambda: [m for m in env.fake.channel_messages(U1) if "could not be posted" in m.text], "the DM")
    assert "cancelled" in told[0].text and "/invite @rtcops" in told[0].text
    await env.command(U1, "ingest lobby volume=20", channel="CUNKNOWN")
    await eventually(lambda: len([m for m in env.fake.channel_messages(U1) if "could not be posted" in m.text]) == 2, "2nd DM")
    await env.settled()
    task = next(t for t in env.tencent.tasks_json() if t["SdkAppId"] == SDK_APP_ID)
    assert task["Volume"] == 20
    await env.command(U1, "layout finals pip a,b")  # the cancelled one holds no lock
    parent = await eventually(lambda: request_message(env), "the request message")
    assert has_buttons(parent)
