"""Start-up recovery is reported where people look: the request's thread, its parent message, and the
notification channel, with the same renderers as any outcome, not only in the server's log."""

from __future__ import annotations

import json

import pytest
from slack_support import NOTIFY_CHANNEL, REQUEST_CHANNEL, TEAM, U1, U2, Env, eventually, has_buttons, setup_tasks
from sqlalchemy import update

from bot import app as bot_app
from bot.sandbox import volcengine_sim
from bot.sandbox.slack_api import Message
from bot.services import changes
from bot.services.deps import Actor
from bot.store.models import ChangeRequest


def parent_about(env: Env, alias: str) -> Message | None:
    return next((m for m in env.request_messages(REQUEST_CHANNEL) if f"{alias}:" in m.text), None)


async def left_applying(env: Env, command: str, alias: str) -> Message:
    """Propose over Slack, approve, then leave the request as a crash mid-apply would: `applying`."""
    await env.command(U1, command)
    parent = await eventually(lambda: parent_about(env, alias), f"the request message for {alias}")
    await eventually(lambda: any("Waiting" in m.text for m in env.fake.thread(REQUEST_CHANNEL, parent.ts)), "waiting")
    request_id = int(parent.blocks[-1]["block_id"].removeprefix("decide_"))
    async with env.deps.sessions.begin() as session:  # approved, and the apply started, when the process died
        await session.execute(
            update(ChangeRequest)
            .where(ChangeRequest.id == request_id)
            .values(state="applying", decided_by=U2, sequence_number=1)
        )
    return parent


@pytest.mark.settings(sweep_seconds=3600)  # the running bot's own sweep must not settle them before the "restart"
async def test_requests_left_applying_are_reported_in_their_threads_and_channels_at_start_up(env: Env) -> None:
    await setup_tasks(env)
    await changes.set_policy(env.deps, Actor(TEAM, "UADMIN"), "lobby", "volume", True)  # so it waits, and can be left
    finals = await left_applying(env, "layout finals pip a,b", "finals")
    lobby = await left_applying(env, "ingest lobby volume=40", "lobby")
    assert not env.volc.requests.all(volcengine_sim.UPDATE)

    started = await bot_app.start(env.settings)  # what `rtcops serve` runs before it takes traffic
    try:
        # neither was sent before the "crash"; recovery sends each again (the Volcengine one fenced by a fresh
        # SequenceNumber), and both are applied; what it found is said in each thread through the outbox
        assert len(env.volc.requests.all(volcengine_sim.UPDATE)) == 1
        await env.settled()
        finals_thread = env.fake.thread(REQUEST_CHANNEL, finals.ts)
        lobby_thread = env.fake.thread(REQUEST_CHANNEL, lobby.ts)
        for thread in (finals_thread, lobby_thread):
            assert any("never reached rtcops" in m.text and "sent it again" in m.text for m in thread)
            assert any("Applied" in json.dumps(m.blocks) for m in thread)
        for parent in (finals, lobby):  # the parent shows the final state, without buttons
            assert not has_buttons(parent) and parent.edits > 0 and "applied" in json.dumps(parent.blocks).lower()
        task_line = env.fake.channel_messages("CTASKNOTE")
        default_line = env.fake.channel_messages(NOTIFY_CHANNEL)
        assert len(task_line) == 1 and "finals" in task_line[0].text and "applied" in task_line[0].text
        assert env.fake.permalink(REQUEST_CHANNEL, finals.ts) in task_line[0].text
        assert len(default_line) == 1 and "lobby" in default_line[0].text and "applied" in default_line[0].text

        again = await bot_app.start(env.settings)  # nothing is left applying: a second start reports nothing
        await bot_app.stop(again)
        await env.settled()
        assert len(env.fake.channel_messages("CTASKNOTE")) == 1
    finally:
        await bot_app.stop(started)


async def test_a_stopping_process_applies_what_it_approved_before_its_applier_woke(env: Env) -> None:
    """SIGTERM right after an approval: the applier's job had not woken to it yet, so draining the applier found
    nothing running, and the change was applied only by the next process (tests/e2e/test_platform.py's Socket
    Mode drain once failed so on a loaded machine). `stop` now starts what is approved before it drains."""
    await setup_tasks(env)
    await changes.set_policy(env.deps, Actor(TEAM, "UADMIN"), "lobby", "volume", True)
    await env.command(U1, "ingest lobby volume=40")
    parent = await eventually(lambda: parent_about(env, "lobby"), "the request message for lobby")
    request_id = int(parent.blocks[-1]["block_id"].removeprefix("decide_"))
    await env.settled()
    stopping = await bot_app.start(env.settings)  # its loops never start: nothing but `stop` runs its applier
    await changes.approve(stopping.deps, Actor(TEAM, U2), request_id)
    await bot_app.stop(stopping)
    async with env.deps.sessions() as session:
        req = await session.get(ChangeRequest, request_id)
    assert req is not None and req.state in ("applying", "applied"), req and req.state
    await eventually(lambda: any("Applied" in json.dumps(m.blocks) for m in env.thread(parent)), "told in its thread")
    await env.settled()
    assert [json.loads(r.body)["Volume"] for r in env.tencent.requests.all("UpdateStreamIngest")] == [40]
