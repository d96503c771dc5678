"""Issue 12 over signed HTTP: the watcher inside the running bot tells the notification channel when a live task
breaks, recovers or drifts, in one message per incident, and every click on that message goes through the
services' checks. The providers misbehave on command in their simulators; Tencent's callbacks are real HTTP
posts from its simulator, signed with the key the bot is configured with."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
from typing import Any

import httpx
import pytest
from slack_support import (
    APP_ID,
    BOT_TOKEN,
    NOTIFY_CHANNEL,
    ROOM_ID,
    SDK_APP_ID,
    SIGNING_SECRET,
    START,
    TASK_ID,
    U1,
    U2,
    U3,
    Env,
    ephemeral_from,
    eventually,
    setup_tasks,
)
from sqlalchemy import select

from bot.domain import Condition, IncidentState
from bot.providers.tencent_events import callback_sign
from bot.sandbox import tencent_sim, volcengine_sim
from bot.sandbox.sim_callbacks import RetryPolicy
from bot.sandbox.slack_api import Message
from bot.sandbox.slack_driver import plain_text, readable
from bot.store.models import AuditEvent, ConfigVersion, Incident, Task, Watch
from bot.targets.config_json import contains
from bot.targets.volcengine import updatable
from handlers import blocks

CALLBACK_KEY = "trtc-callback-key-for-tests-0123456789"
TASK_CHANNEL = "CTASKNOTE"
FAST = pytest.mark.settings(
    watch_read_share=0.5,
    watch_interval_seconds=0.2,
    watch_reconnecting_seconds=0.6,
    watch_flap_seconds=60,
    tencent_callback_key=CALLBACK_KEY,
)


def text_of(message: Message) -> str:
    """The message as a person reads it (mentions and bold markers as the client shows them, ids kept)."""
    return readable(plain_text(message.blocks, message.text))


def incident_messages(env: Env, channel: str) -> list[Message]:
    """Top-level messages in `channel` that are incident messages (they name their incident)."""
    return [m for m in env.fake.channel_messages(channel) if "incident #" in text_of(m)]


async def condition_of(env: Env, alias: str) -> Condition | None:
    async with env.deps.sessions() as session:
        row = await session.scalar(select(Watch).join(Task, Task.id == Watch.task_id).where(Task.alias == alias))
    return None if row is None else row.condition


async def until_condition(env: Env, alias: str, wanted: Condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while (found := await condition_of(env, alias)) != wanted:
        assert time.monotonic() < deadline, f"{alias} stayed {found}, never {wanted}"
        await asyncio.sleep(0.05)


async def incidents(env: Env) -> list[Incident]:
    async with env.deps.sessions() as session:
        return list((await session.scalars(select(Incident).order_by(Incident.id))).all())


def drift_layout() -> dict[str, Any]:
    """The two regions swapped, as another tool's partial Update would make it."""
    layout = copy.deepcopy(START["Layout"])
    regions = layout["CustomLayout"]["Regions"]
    regions[0]["LocationX"], regions[1]["LocationX"] = 0.5, 0.0
    return {"Layout": layout}


def buttons(message: Message) -> list[str]:
    return [e["action_id"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]]


@FAST
async def test_a_push_failure_posts_one_alert_and_recovery_updates_that_same_message(env: Env) -> None:
    await setup_tasks(env)
    await until_condition(env, "finals", Condition.OK)

    assert env.volc.set_task_health(APP_ID, ROOM_ID, TASK_ID, status=4, stop_reason="PushStreamFailed")
    found = await eventually(lambda: incident_messages(env, TASK_CHANNEL), "the alert in the task's channel")
    alert = found[0]
    words = text_of(alert)
    assert "finals: failed" in words and "push to CDN failed (Status 4, StopReason PushStreamFailed)" in words
    assert "On air: version 1" in words and "Since" in words
    assert buttons(alert) == [blocks.INCIDENT_ACK, blocks.INCIDENT_MUTE]

    await env.click(U3, alert, blocks.INCIDENT_ACK)  # no role at all
    refusal = await ephemeral_from(env, U3, "Not allowed")
    assert "operator" in refusal
    await env.click(U1, alert, blocks.INCIDENT_ACK)
    await eventually(lambda: f"acknowledged by <@{U1}>" in json.dumps(alert.blocks), "the acknowledgement in the message")
    assert buttons(alert) == [blocks.INCIDENT_MUTE]

    edits = alert.edits
    assert env.volc.recover_task(APP_ID, ROOM_ID, TASK_ID)
    await eventually(lambda: "recovered after" in text_of(alert), "the same message saying it recovered")
    assert alert.edits > edits and buttons(alert) == []
    assert f"acknowledged by <@{U1}>" in json.dumps(alert.blocks)
    await asyncio.sleep(0.6)  # three more polls: nothing new is said
    await env.settled()
    assert incident_messages(env, TASK_CHANNEL) == [alert]
    assert incident_messages(env, NOTIFY_CHANNEL) == []
    [incident] = await incidents(env)
    assert incident.state == IncidentState.RECOVERED and incident.acked_by == U1


@FAST
async def test_a_drift_alert_restores_the_old_layout_through_approval(env: Env) -> None:
    await setup_tasks(env)
    await until_condition(env, "finals", Condition.OK)
    original = updatable(env.volc.task(APP_ID, ROOM_ID, TASK_ID).config)  # type: ignore[union-attr]

    env.volc.drift_task(APP_ID, ROOM_ID, TASK_ID, drift_layout())
    found = await eventually(lambda: incident_messages(env, TASK_CHANNEL), "the drift alert")
    alert = found[0]
    assert "configuration changed outside rtcops" in text_of(alert)
    assert "Last applied through rtcops: version 1" in text_of(alert)
    assert buttons(alert) == [blocks.INCIDENT_ACK, blocks.INCIDENT_MUTE, blocks.INCIDENT_RESTORE, blocks.INCIDENT_ACCEPT]
    picture = await eventually(lambda: [m for m in env.fake.thread(TASK_CHANNEL, alert.ts) if m.files], "the preview")
    assert picture[0].files[0]["mimetype"] == "image/png"

    await env.click(U1, alert, blocks.INCIDENT_RESTORE)  # an operator may not decide what goes on air
    assert "approver" in await ephemeral_from(env, U1, "Not allowed")
    await env.click(U2, alert, blocks.INCIDENT_RESTORE)
    await ephemeral_from(env, U2, "proposes restoring")
    request = await eventually(
        lambda: env.request_messages(TASK_CHANNEL), "the rollback request, posted where Restore was clicked"
    )
    assert "rollback to v1" in text_of(request[0])
    await env.click("UADMIN", request[0], blocks.APPROVE)
    await eventually(lambda: "recovered after" in text_of(alert), "the drift alert saying it recovered")
    in_force = updatable(env.volc.task(APP_ID, ROOM_ID, TASK_ID).config)  # type: ignore[union-attr]
    assert in_force["Layout"] == original["Layout"]
    assert "request #" in text_of(alert)
    await env.settled()
    assert incident_messages(env, TASK_CHANNEL) == [alert]


@FAST
async def test_accept_records_what_is_on_air_as_a_new_version_with_the_difference(env: Env) -> None:
    await setup_tasks(env)
    await until_condition(env, "finals", Condition.OK)
    env.volc.drift_task(APP_ID, ROOM_ID, TASK_ID, drift_layout())
    alert = (await eventually(lambda: incident_messages(env, TASK_CHANNEL), "the drift alert"))[0]

    await env.click(U1, alert, blocks.INCIDENT_ACCEPT)
    assert "approver" in await ephemeral_from(env, U1, "Not allowed")
    await env.click(U2, alert, blocks.INCIDENT_ACCEPT)
    assert "version 2" in await ephemeral_from(env, U2, "recorded as version")
    await eventually(lambda: "accepted as version 2" in text_of(alert), "the alert saying what was accepted")

    in_force = updatable(env.volc.task(APP_ID, ROOM_ID, TASK_ID).config)  # type: ignore[union-attr]
    async with env.deps.sessions() as session:
        task = await session.scalar(select(Task).where(Task.alias == "finals"))
        assert task is not None and task.version == 2 and task.configuration is not None
        row = await session.scalar(select(ConfigVersion).where(ConfigVersion.task_id == task.id, ConfigVersion.version == 2))
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "task.accept"))
    assert contains(in_force, task.configuration)
    assert row is not None and row.applied_by == U2 and "accepted from the provider" in row.note
    assert event is not None and event.actor == U2 and event.after == task.configuration and event.detail
    await env.command(U1, "history finals")
    assert "accepted from the provider" in await ephemeral_from(env, U1, "v2")
    await asyncio.sleep(0.6)  # three polls: the accepted configuration is not drift
    await env.settled()
    assert incident_messages(env, TASK_CHANNEL) == [alert]


# --- Tencent callbacks ----------------------------------------------------------------------------------------


def callback_body(task_id: str, event_type: int, status: int, *, sent_ms: int | None = None) -> bytes:
    now = int(time.time() * 1000)
    body = {
        "EventGroupId": 7,
        "EventType": event_type,
        "CallbackMsTs": now if sent_ms is None else sent_ms,
        "EventInfo": {"EventMsTs": now, "TaskId": task_id, "Status": status},
    }
    return json.dumps(body, separators=(",", ":")).encode()


async def post_callback(env: Env, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await env.http.post(f"{env.url}/providers/tencent/events", content=body, headers=headers)


def signed(body: bytes, key: str = CALLBACK_KEY) -> dict[str, str]:
    return {"Content-Type": "application/json", "SdkAppId": str(SDK_APP_ID), "Sign": callback_sign(key, body)}


@FAST
async def test_forged_or_replayed_tencent_callbacks_get_401_and_open_nothing(env: Env) -> None:
    ingest = await setup_tasks(env)
    env.tencent.set_callback(f"{env.url}/providers/tencent/events", CALLBACK_KEY, SDK_APP_ID, RetryPolicy(1.0, 0.2, 1.0))

    # The simulator's own forgery: the event, signed with another key.
    env.tencent.send_callback(
        SDK_APP_ID, tencent_sim.EVENT_STREAM_INGEST_START, ingest, tencent_sim.START_FAILURE, sign_with="not-the-key"
    )
    assert await asyncio.to_thread(env.tencent.callbacks.wait_idle, 10)
    statuses = {a.status for a in env.tencent.callbacks.attempts()}
    assert statuses == {401}

    failure = callback_body(ingest, 701, 1)
    assert (await post_callback(env, failure, {"SdkAppId": str(SDK_APP_ID)})).status_code == 401  # unsigned
    assert (await post_callback(env, failure + b" ", signed(failure))).status_code == 401  # body changed after signing
    stale = callback_body(ingest, 701, 1, sent_ms=int(time.time() * 1000) - 10 * 60 * 1000)
    assert (await post_callback(env, stale, signed(stale))).status_code == 401  # signed, but ten minutes old
    started = callback_body(ingest, 701, 0)
    assert (await post_callback(env, started, signed(started))).status_code == 200
    assert (await post_callback(env, started, signed(started))).status_code == 401  # the same request again
    assert (await post_callback(env, b"x" * 70_000, signed(b"x"))).status_code == 413

    await asyncio.sleep(0.4)  # two polls
    await env.settled()
    assert await incidents(env) == []
    assert await condition_of(env, "lobby") == Condition.OK
    assert incident_messages(env, NOTIFY_CHANNEL) == []

    # A genuine failure, delivered three times (as TRTC's retries would): one incident, one message, fast.
    sent = time.monotonic()
    env.tencent.send_callback(SDK_APP_ID, tencent_sim.EVENT_STREAM_INGEST_START, ingest, tencent_sim.START_FAILURE, copies=3)
    await eventually(lambda: incident_messages(env, NOTIFY_CHANNEL), "the ingest alert", seconds=5)
    assert time.monotonic() - sent < 1.0
    assert await asyncio.to_thread(env.tencent.callbacks.wait_idle, 10)
    await asyncio.sleep(0.5)
    await env.settled()
    [alert] = incident_messages(env, NOTIFY_CHANNEL)
    assert "lobby: failed" in text_of(alert) and "callback 701, Status 1" in text_of(alert)
    assert len(await incidents(env)) == 1


@FAST
async def test_an_ingest_that_fails_and_recovers_at_the_simulator_is_told_by_its_callbacks(env: Env) -> None:
    ingest = await setup_tasks(env)
    env.tencent.set_callback(f"{env.url}/providers/tencent/events", CALLBACK_KEY, SDK_APP_ID)
    assert env.tencent.set_ingest_state(SDK_APP_ID, ingest, "failed", gone=False)
    alert = (await eventually(lambda: incident_messages(env, NOTIFY_CHANNEL), "the ingest alert", seconds=5))[0]
    await asyncio.sleep(0.6)  # Describe still says InProgress: that does not clear a reported failure
    assert "recovered" not in text_of(alert)
    assert env.tencent.set_ingest_state(SDK_APP_ID, ingest, "running")
    await eventually(lambda: "recovered after" in text_of(alert), "the alert saying it recovered")
    await env.settled()
    assert incident_messages(env, NOTIFY_CHANNEL) == [alert]


# --- surfaces ----------------------------------------------------------------------------------------------------


@FAST
async def test_incidents_list_watch_switch_status_and_home(env: Env) -> None:
    await setup_tasks(env)
    await until_condition(env, "finals", Condition.OK)
    assert (
        await env.command("UADMIN", f"task add volcengine old {APP_ID} {ROOM_ID} started-long-ago canvas=1280x720")
    ).status_code == 200
    await ephemeral_from(env, "UADMIN", "last 72 hours")
    await until_condition(env, "old", Condition.NOT_OBSERVABLE)

    env.volc.set_task_health(APP_ID, ROOM_ID, TASK_ID, status=3, stop_reason="IdleTimeOut")
    await eventually(lambda: incident_messages(env, TASK_CHANNEL), "the alert")
    await env.command(U1, "incidents")
    listed = await ephemeral_from(env, U1, "Open incidents")
    assert "finals" in listed and "IdleTimeOut" in listed and "old" not in listed.replace("older", "")

    await env.command(U1, "status old")
    status = await ephemeral_from(env, U1, "provider says")
    assert "not observable" in status and "72 hours" in status

    await env.home_opened(U1)
    home = await eventually(lambda: env.fake.home.get(U1), "App Home")
    texts = [plain_text([b]) for b in home.view["blocks"]]
    assert texts.index("*Open incidents*") < texts.index("*Waiting for your approval*")
    assert "not observable" in json.dumps(home.view["blocks"])

    await env.command(U1, "watch finals off")
    assert "admin" in await ephemeral_from(env, U1, "Not allowed")
    await env.command("UADMIN", "watch finals off")
    assert "not watched" in await ephemeral_from(env, "UADMIN", "not watched")
    alert = incident_messages(env, TASK_CHANNEL)[0]
    await eventually(lambda: "watching was turned off" in text_of(alert), "the alert closed")
    env.volc.recover_task(APP_ID, ROOM_ID, TASK_ID)
    env.volc.set_task_health(APP_ID, ROOM_ID, TASK_ID, status=4)
    await asyncio.sleep(0.6)  # three polls of a task no longer watched: nothing said
    await env.settled()
    assert incident_messages(env, TASK_CHANNEL) == [alert]
    await env.command("UADMIN", "watch finals on")
    await ephemeral_from(env, "UADMIN", "watched")
    await eventually(lambda: len(incident_messages(env, TASK_CHANNEL)) == 2, "a new alert once watched again")


@FAST
async def test_no_secret_or_callback_key_reaches_a_log_or_a_message(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ingest = await setup_tasks(env)
    env.tencent.set_callback(f"{env.url}/providers/tencent/events", CALLBACK_KEY, SDK_APP_ID)
    env.tencent.send_callback(SDK_APP_ID, 701, ingest, 1, sign_with="forged-" + CALLBACK_KEY)
    env.tencent.send_callback(SDK_APP_ID, 701, ingest, 1)
    env.volc.set_task_health(APP_ID, ROOM_ID, TASK_ID, status=4, stop_reason="PushStreamFailed")
    await eventually(lambda: incident_messages(env, NOTIFY_CHANNEL) and incident_messages(env, TASK_CHANNEL), "both alerts")
    await env.settled()
    said = json.dumps(
        [[m.text, m.blocks] for m in env.fake.messages]
        + [[e.text, e.blocks] for e in env.fake.ephemerals]
        + [c.args for c in env.fake.calls]
    )
    secrets = (
        CALLBACK_KEY,
        SIGNING_SECRET,
        BOT_TOKEN,
        volcengine_sim.DEFAULT_SECRET_KEY,
        tencent_sim.DEFAULT_SECRET_KEY,
    )
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in said
    assert "refused tencent events" in caplog.text and "Sign does not match" in caplog.text


@FAST
async def test_an_incident_button_rtcops_cannot_read_is_answered_no_longer_valid(env: Env) -> None:
    await setup_tasks(env)
    await until_condition(env, "finals", Condition.OK)
    env.volc.set_task_health(APP_ID, ROOM_ID, TASK_ID, status=4)
    alert = (await eventually(lambda: incident_messages(env, TASK_CHANNEL), "the alert"))[0]
    payload = env.click_payload(U1, alert, blocks.INCIDENT_ACK)
    payload["actions"][0]["value"] = "not-an-incident"
    assert (await env.click(U1, alert, blocks.INCIDENT_ACK, payload=payload)).status_code == 200
    assert "no longer valid" in await ephemeral_from(env, U1, "no longer valid")
    [incident] = await incidents(env)
    assert incident.acked_by is None
