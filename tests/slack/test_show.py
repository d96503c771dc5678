"""Show mode over signed HTTP: the bot, the provider simulators and the fake Slack, on loopback.

A talk show's rundown of four cues on three cameras is built with /rtc, put up for approval once, approved with one
click, and fired with the Next cue button on its pinned message: the simulator's request log says which task got
which Update, and the fake Slack what the channel, the thread and each person were told. Break-glass and a change
scheduled a few seconds ahead run the same way.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from slack_support import NOTIFY_CHANNEL, REQUEST_CHANNEL, U1, U2, U3, Env, ephemeral_from, eventually, request_message
from sqlalchemy import select

from bot.domain import BulkPurpose, ChangeState
from bot.sandbox import volcengine_sim
from bot.sandbox.examples import APP_ID, ROOM_ID, side_by_side_start
from bot.sandbox.slack_api import Message
from bot.sandbox.slack_driver import plain_text
from bot.services import tasks
from bot.services.deps import Actor
from bot.store.models import AuditEvent, Bulk, ChangeRequest
from handlers import blocks, show_blocks

ADMIN = Actor("T0TEAM", "UADMIN")
CAMERAS = ("cam1", "cam2", "cam3")
BERLIN = "Europe/Berlin"


async def setup_studio(env: Env) -> None:
    """Three mixed pushes tagged studio; the operator (in Berlin) and the approver granted on the tag."""
    for alias in CAMERAS:
        await env.deps.providers.volcengine.start_push_mixed_stream_to_cdn(
            side_by_side_start(users=("a", "b"), TaskId=f"mix-{alias}")
        )
        await tasks.add_task(
            env.deps, ADMIN, "volcengine", alias, [APP_ID, ROOM_ID, f"mix-{alias}"], {"canvas": "1280x720", "tags": "studio"}
        )
    for text, needle in ((f"grant <@{U1}|op> operator tag:studio", U1), (f"grant <@{U2}|ap> approver tag:studio", U2)):
        await env.command("UADMIN", text)
        await ephemeral_from(env, "UADMIN", needle)
    env.fake.time_zones[U1] = BERLIN


def window(start: timedelta, end: timedelta, tz: str = BERLIN) -> str:
    """A window as the operator types it, in their zone, from now + start to now + end (to the minute)."""
    now = datetime.now(UTC)
    a, b = (now + start).astimezone(ZoneInfo(tz)), (now + end).astimezone(ZoneInfo(tz))
    return f"{a:%H:%M}-{b:%H:%M}"


CUES = (
    "intro: layout tag:studio speaker a,b",
    "guest: layout tag:studio side-by-side b,a",
    "demo: layout cam1 pip a,b; layout cam2 grid a,b",
    "back: layout tag:studio speaker b,a",
)


async def build_talk(env: Env, armed_for: str) -> Message:
    await env.command(U1, "rundown create talk")
    await ephemeral_from(env, U1, "Rundown *talk* created")
    for n, cue in enumerate(CUES, start=1):
        await env.command(U1, f"rundown add talk {cue}")
        await eventually(lambda n=n: [t for t in env.ephemeral_texts(U1) if f"*{n}* " in t], f"cue {n} added")
    await env.command(U1, f"rundown arm talk {armed_for}")
    await ephemeral_from(env, U1, "is up for approval")
    return await eventually(lambda: rundown_message(env), "the rundown message")


def rundown_message(env: Env) -> Message | None:
    found = [m for m in env.request_messages(REQUEST_CHANNEL) if "Rundown talk" in json.dumps(m.blocks[:1])]
    return found[-1] if found else None


def shown(message: Message) -> str:
    return plain_text(message.blocks, message.text)


def updates(env: Env) -> Counter[str]:
    return Counter(json.loads(r.body)["TaskId"] for r in env.volc.requests.all(volcengine_sim.UPDATE))


async def approve_talk(env: Env, board: Message) -> None:
    await env.click(U2, board, show_blocks.APPROVE)
    await eventually(lambda: "Armed" in shown(board) and "Next cue: 1" in json.dumps(board.blocks), "the rundown armed")


async def test_a_rundown_of_four_cues_approved_once_fires_cue_by_cue_with_one_click_each(env: Env) -> None:
    await setup_studio(env)
    board = await build_talk(env, window(timedelta(minutes=-1), timedelta(hours=2)))
    thread = await eventually(lambda: [m for m in env.thread(board) if "Cue 3" in shown(m)], "what each cue changes")
    assert "cam1" in shown(thread[0]) and "cam2" in shown(thread[0])
    assert "Waiting for approval" in shown(board) and ("CET" in shown(board) or "CEST" in shown(board))
    await env.click(U1, board, show_blocks.APPROVE)  # who put it up does not approve it
    await ephemeral_from(env, U1, "Not allowed to approve")
    await approve_talk(env, board)
    assert (REQUEST_CHANNEL, board.ts) in env.fake.pins  # pinned once armed
    for position in (1, 2, 3, 4):
        await eventually(lambda p=position: f"Next cue: {p}" in json.dumps(board.blocks), f"the Next cue {position} button")
        before = sum(updates(env).values())
        await env.click(U1, board, show_blocks.NEXT)
        await eventually(lambda p=position: f"*ON AIR* *{p}*" in json.dumps(board.blocks), f"cue {position} on air")
        await env.settled()
        expected = 2 if position == 3 else 3
        assert sum(updates(env).values()) - before == expected, f"cue {position}"
    assert not any(b["type"] == "actions" for b in board.blocks)  # the show is done: no button left
    assert "the rundown is done" in shown(board)
    assert updates(env) == Counter({"mix-cam1": 4, "mix-cam2": 4, "mix-cam3": 3})
    async with env.deps.sessions() as session:
        bulks = (await session.scalars(select(Bulk).where(Bulk.purpose == BulkPurpose.CUE))).all()
        reqs = (await session.scalars(select(ChangeRequest))).all()
    assert len(bulks) == 4 and {b.decided_by for b in bulks} == {U2}  # no further approval: the rundown's one
    assert {r.state for r in reqs} == {ChangeState.APPLIED}
    # the picture of the next cue was uploaded into the thread and shown in the message while there was one
    assert any(f.get("mimetype") == "image/png" for m in env.thread(board) for f in m.files)


async def test_two_next_clicks_together_fire_one_cue(env: Env) -> None:
    await setup_studio(env)
    await env.command("UADMIN", f"grant <@{U3}|by> operator tag:studio")
    await ephemeral_from(env, "UADMIN", U3)
    board = await build_talk(env, window(timedelta(minutes=-1), timedelta(hours=2)))
    await approve_talk(env, board)
    await asyncio.gather(env.click(U1, board, show_blocks.NEXT), env.click(U3, board, show_blocks.NEXT))
    await env.settled()
    told = [t for u in (U1, U3) for t in env.ephemeral_texts(u) if "cue 1 of talk is already on air" in t]
    fired = [t for u in (U1, U3) for t in env.ephemeral_texts(u) if "Cue 1 of *talk* fired" in t]
    assert len(told) == 1 and len(fired) == 1, [t[:160] for u in (U1, U3) for t in env.ephemeral_texts(u)[-2:]]
    assert updates(env) == Counter({"mix-cam1": 1, "mix-cam2": 1, "mix-cam3": 1})


async def test_editing_an_armed_rundown_disarms_it(env: Env) -> None:
    await setup_studio(env)
    board = await build_talk(env, window(timedelta(minutes=-1), timedelta(hours=2)))
    await approve_talk(env, board)
    await env.command(U1, "rundown add talk outro: layout tag:studio grid a,b")
    await eventually(lambda: "Disarmed" in shown(board), "the rundown message says it is disarmed")
    assert not any(b["type"] == "actions" for b in board.blocks)
    assert (REQUEST_CHANNEL, board.ts) not in env.fake.pins
    await env.command(U1, "cue talk next")
    await ephemeral_from(env, U1, "a cue fires only from an armed rundown")
    await env.settled()
    assert not env.volc.requests.all(volcengine_sim.UPDATE)


async def test_a_cue_outside_the_arming_window_is_refused(env: Env) -> None:
    await setup_studio(env)
    board = await build_talk(env, window(timedelta(hours=2), timedelta(hours=3)))
    await env.click(U2, board, show_blocks.APPROVE)
    await eventually(lambda: "Armed" in shown(board), "armed")
    await env.click(U1, board, show_blocks.NEXT)
    refused = await ephemeral_from(env, U1, "cue refused")
    assert "armed for" in refused and "UTC" in refused
    await env.settled()
    assert not env.volc.requests.all(volcengine_sim.UPDATE)


async def test_break_glass_applies_at_once_posts_a_loud_notice_and_is_refused_where_turned_off(env: Env) -> None:
    await setup_studio(env)
    await env.command(U1, 'layout cam1 pip a,b now reason="approver unreachable"')  # an operator may not
    await ephemeral_from(env, U1, "Not allowed")
    await env.command(U2, 'layout cam1 pip a,b now reason="approver unreachable <!channel>"')
    parent = await eventually(lambda: request_message(env), "the request message")
    await eventually(lambda: "Applied" in shown(parent), "applied at once, without a second person")
    loud = await eventually(
        lambda: [m for m in env.fake.channel_messages(NOTIFY_CHANNEL) if "BREAK-GLASS" in m.text], "the loud notice"
    )
    assert "approver unreachable" in loud[0].text and "<!channel>" not in loud[0].text  # typed text is escaped
    assert "Break-glass" in shown(parent)
    async with env.deps.sessions() as session:
        marked = (await session.scalars(select(AuditEvent).where(AuditEvent.action == "change.break_glass"))).all()
    assert len(marked) == 1
    await env.command("UADMIN", "policy cam2 breakglass=off")
    await ephemeral_from(env, "UADMIN", "break-glass")
    await env.command(U2, 'layout cam2 pip a,b now reason="approver unreachable"')
    await ephemeral_from(env, U2, "Break-glass is turned off on cam2")
    await env.settled()
    assert updates(env) == Counter({"mix-cam1": 1})


async def test_a_change_scheduled_a_few_seconds_ahead_is_approved_before_and_applied_at_its_time(env: Env) -> None:
    await setup_studio(env)
    at = (datetime.now(UTC) + timedelta(seconds=4)).replace(microsecond=0)
    await env.command(U1, f"layout cam1 pip a,b at={at.astimezone(ZoneInfo(BERLIN)).isoformat()}")
    parent = await eventually(lambda: request_message(env), "the request message")
    assert "Scheduled for" in shown(parent) and "UTC" in shown(parent)
    await env.click(U2, parent, blocks.APPROVE)
    await eventually(lambda: "Approved" in shown(parent) or "approved" in shown(parent), "approved")
    await env.settled()
    assert not env.volc.requests.all(volcengine_sim.UPDATE)  # approved, and waiting for its time
    await eventually(lambda: "Applied" in shown(parent), "applied at its time", seconds=15)
    sent = env.volc.requests.all(volcengine_sim.UPDATE)
    assert len(sent) == 1
    await env.command(U1, "schedule")
    listed = await ephemeral_from(env, U1, "Nothing is scheduled")
    assert listed
