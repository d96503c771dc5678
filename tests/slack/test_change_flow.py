"""The acceptance walk over HTTP: register, grant, propose, refuse self-approval, approve, apply, report."""

from __future__ import annotations

import json
from typing import Any

from slack_support import (
    APP_ID,
    NOTIFY_CHANNEL,
    REQUEST_CHANNEL,
    ROOM_ID,
    SDK_APP_ID,
    U1,
    U2,
    Env,
    ephemeral_from,
    eventually,
    has_buttons,
    request_message,
    setup_tasks,
)

from bot.sandbox import volcengine_sim
from handlers import blocks


async def test_layout_request_is_approved_by_another_user_and_applied_once(env: Env) -> None:
    await setup_tasks(env)

    response = await env.command(U1, "layout finals pip a,b")
    assert response.status_code == 200
    parent = await eventually(lambda: request_message(env), "the request message")
    assert has_buttons(parent)
    assert f"<@{U1}>" in json.dumps(parent.blocks)
    preview = await eventually(lambda: [m for m in env.fake.thread(REQUEST_CHANNEL, parent.ts) if m.files], "the preview upload")
    picture = preview[0].files[0]
    assert picture["mimetype"] == "image/png" and picture["size"] > 1000
    waiting = await eventually(
        lambda: [m for m in env.fake.thread(REQUEST_CHANNEL, parent.ts) if "Waiting" in m.text], "the approvers mention"
    )
    assert f"<@{U2}>" in waiting[0].text and "<@UADMIN>" in waiting[0].text

    edits_before = parent.edits
    await env.click(U1, parent, blocks.APPROVE)
    denial = await ephemeral_from(env, U1, "approve")
    assert "Not allowed to approve" in denial and "approver" in denial
    assert parent.edits == edits_before and has_buttons(parent)
    assert not env.volc.requests.all(volcengine_sim.UPDATE)

    await env.click(U2, parent, blocks.APPROVE)
    outcome = await eventually(
        lambda: [m for m in env.fake.thread(REQUEST_CHANNEL, parent.ts) if "RequestId" in json.dumps(m.blocks)],
        "the outcome in the thread",
    )
    assert "Applied" in json.dumps(outcome[0].blocks), outcome[0].blocks
    updates = env.volc.requests.all(volcengine_sim.UPDATE)
    assert len(updates) == 1
    assert updates[0].status == 200 and updates[0].code is None
    sent: dict[str, Any] = json.loads(updates[0].body)
    assert {"TargetStreams", "Layout", "Encode"} <= set(sent)
    assert sent["Encode"]["VideoBitrate"] == 2500
    assert [s["UserId"] for s in sent["TargetStreams"]["StreamList"]] == ["a", "b"]
    assert updates[0].request_id in json.dumps(outcome[0].blocks)

    await eventually(
        lambda: "applied" in json.dumps(parent.blocks).lower() and not has_buttons(parent), "the parent shows applied"
    )
    line = await eventually(lambda: env.fake.channel_messages("CTASKNOTE"), "the notification line")
    assert "finals" in line[0].text and env.fake.permalink(REQUEST_CHANNEL, parent.ts) in line[0].text
    assert not env.fake.channel_messages(NOTIFY_CHANNEL)


async def test_ingest_volume_and_pause_apply_at_once_with_status(env: Env) -> None:
    task_id = await setup_tasks(env)

    await env.command(U1, "ingest lobby volume=40 pause")
    parent = await eventually(lambda: request_message(env), "the request message")
    outcome = await eventually(
        lambda: [m for m in env.fake.thread(REQUEST_CHANNEL, parent.ts) if "RequestId" in json.dumps(m.blocks)],
        "the outcome in the thread",
    )
    assert "Applied" in json.dumps(outcome[0].blocks)
    task = env.tencent.task(SDK_APP_ID, task_id)
    assert task is not None and task.volume == 40 and task.is_pause is True
    assert len(env.tencent.requests.all("UpdateStreamIngest")) == 1
    await eventually(lambda: not has_buttons(parent) and "applied" in json.dumps(parent.blocks).lower(), "parent applied")
    line = await eventually(lambda: env.fake.channel_messages(NOTIFY_CHANNEL), "the default notification channel")
    assert "lobby" in line[0].text

    await env.command(U1, "status lobby")
    status = await ephemeral_from(env, U1, "provider says")
    assert "InProgress" in status


async def test_registration_warnings_reach_the_admin(env: Env) -> None:
    """Volcengine's Get sees only tasks of the last 72 hours: a task it cannot find is registered, with a warning."""
    response = await env.command("UADMIN", f"task add volcengine old {APP_ID} {ROOM_ID} no-such-task canvas=1280x720")
    assert response.status_code == 200
    reply = await ephemeral_from(env, "UADMIN", "registered")
    assert "last 72 hours" in reply and "no-such-task" in reply
