"""Start-up recovery is reported where people look: the request's thread, its parent message, and the
notification channel, with the same renderers as any outcome, not only in the server's log."""

from __future__ import annotations

import json

from slack_support import NOTIFY_CHANNEL, REQUEST_CHANNEL, TEAM, U1, U2, Env, eventually, has_buttons, setup_tasks
from sqlalchemy import update

from bot.cli.serve import start
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
    await changes.approve(env.deps, Actor(TEAM, U2), request_id)
    async with env.deps.sessions.begin() as session:
        await session.execute(
            update(ChangeRequest).where(ChangeRequest.id == request_id).values(state="applying", sequence_number=1)
        )
    return parent


async def test_requests_left_applying_are_reported_in_their_threads_and_channels_at_start_up(env: Env) -> None:
    await setup_tasks(env)
    await changes.set_policy(env.deps, Actor(TEAM, "UADMIN"), "lobby", "volume", True)  # so it waits, and can be left
    finals = await left_applying(env, "layout finals pip a,b", "finals")
    lobby = await left_applying(env, "ingest lobby volume=40", "lobby")
    assert not env.volc.requests.all(volcengine_sim.UPDATE)

    started = await start(env.settings)  # what `rtcops serve` runs before it takes traffic
    try:
        finals_thread = env.fake.thread(REQUEST_CHANNEL, finals.ts)
        lobby_thread = env.fake.thread(REQUEST_CHANNEL, lobby.ts)
        assert any("never reached rtcops" in m.text for m in finals_thread)
        assert any("Failed" in json.dumps(m.blocks) and "NotApplied" in json.dumps(m.blocks) for m in finals_thread)
        assert any("never reached rtcops" in m.text and "unknown" in m.text for m in lobby_thread)
        assert any("Outcome unknown" in json.dumps(m.blocks) for m in lobby_thread)
        for parent in (finals, lobby):  # the parent shows the final state, without buttons
            assert not has_buttons(parent) and parent.edits > 0
        assert "unknown" in json.dumps(lobby.blocks).lower()
        task_line = env.fake.channel_messages("CTASKNOTE")
        default_line = env.fake.channel_messages(NOTIFY_CHANNEL)
        assert len(task_line) == 1 and "finals" in task_line[0].text and "failed" in task_line[0].text
        assert env.fake.permalink(REQUEST_CHANNEL, finals.ts) in task_line[0].text
        assert len(default_line) == 1 and "lobby" in default_line[0].text and "unknown" in default_line[0].text

        again = await start(env.settings)  # nothing is left applying: a second start reports nothing
        await again.deps.providers.aclose()
        await again.engine.dispose()
        assert len(env.fake.channel_messages("CTASKNOTE")) == 1
    finally:
        await started.deps.providers.aclose()
        await started.engine.dispose()
