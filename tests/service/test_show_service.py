"""Show mode at the service level, on SQLite and PostgreSQL, with the services' clock moved by hand: schedules
fire once at their time or are said missed, reminders come once at half a request's lifetime, break-glass is for
approvers and can be turned off, and a rundown approved once fires each cue once, only within its window."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from svc_support import TEAM, Clock, sent_updates

from bot.domain import BulkPurpose, ChangeState, NoticeKind, RundownState, ScheduleState
from bot.services import change_views, changes, cues, grants, reminders, rundowns, schedules, when
from bot.services.deps import Actor, Deps
from bot.services.errors import BadInput, BreakGlassOff, CueFired, InvalidChange, PermissionDenied, SelfApproval
from bot.services.grants import Subject
from bot.services.when import Timing
from bot.services.worker import Applier
from bot.store.models import AuditEvent, Bulk, ChangeRequest, Notice, Schedule
from bot.targets.layout_changes import LayoutPreset

OPERATOR, APPROVER, OTHER = Actor(TEAM, "UOPS"), Actor(TEAM, "UAPP"), Actor(TEAM, "UOPS2")
PIP = LayoutPreset("pip", ("alice", "bob"))
SPEAKER = LayoutPreset("speaker", ("alice", "bob"))


async def _people(deps: Deps) -> None:
    admin = Actor(TEAM, "UBOOT")
    for who, role in ((OPERATOR, "operator"), (OTHER, "operator"), (APPROVER, "approver")):
        await grants.grant(deps, admin, Subject("user", who.user_id), role)


async def _apply(deps: Deps) -> None:
    applier = Applier(deps)
    await applier.start_approved()
    await applier.drain()


async def _notices(deps: Deps, kind: NoticeKind) -> list[Notice]:
    async with deps.sessions() as session:
        return list((await session.scalars(select(Notice).where(Notice.kind == kind.value))).all())


# ---------------------------------------------------------------- break-glass


async def test_break_glass_applies_at_once_for_an_approver_loudly_and_only_where_the_policy_allows(
    deps: Deps, start_volc: Any, sims: Any
) -> None:
    await start_volc("finals")
    await _people(deps)
    glass = Timing(break_glass="approver unreachable")
    with pytest.raises(PermissionDenied):  # an operator may not skip the second person
        await changes.propose(deps, OPERATOR, "finals", PIP, channel="C1", timing=glass)
    waiting = await changes.propose(deps, APPROVER, "finals", SPEAKER, channel="C1")
    assert waiting.state == ChangeState.PENDING  # the approver's own change waits for someone else...
    done = await changes.propose(deps, APPROVER, "finals", PIP, channel="C1", timing=glass)
    assert done.state == ChangeState.APPROVED and done.break_glass == "approver unreachable"  # ...unless it cannot
    assert (await change_views.result_of(deps, waiting.request_id)).state == ChangeState.CANCELLED  # superseded
    await _apply(deps)
    assert len(sent_updates(sims.volc)) == 1
    assert (await change_views.result_of(deps, done.request_id)).state == ChangeState.APPLIED
    assert len(await _notices(deps, NoticeKind.BREAK_GLASS)) == 1
    async with deps.sessions() as session:
        marked = (await session.scalars(select(AuditEvent).where(AuditEvent.action == "change.break_glass"))).all()
    assert len(marked) == 1 and "approver unreachable" in marked[0].detail

    await changes.set_break_glass(deps, Actor(TEAM, "UBOOT"), "finals", False)
    with pytest.raises(BreakGlassOff):
        await changes.propose(deps, APPROVER, "finals", SPEAKER, channel="C1", timing=glass)
    with pytest.raises(BadInput):
        Timing(break_glass="  ")
    with pytest.raises(BadInput):
        Timing(break_glass="x\u202ey")


# ---------------------------------------------------------------- reminders


async def test_approvers_are_reminded_once_at_half_the_lifetime(deps: Deps, start_volc: Any, clock: Clock) -> None:
    await start_volc("finals")
    await _people(deps)
    await changes.propose(deps, OPERATOR, "finals", PIP, channel="C1")
    half = deps.settings.request_ttl_minutes / 2
    clock.advance(minutes=half - 0.5)
    assert await reminders.remind_due(deps) == 0
    clock.advance(minutes=0.5)
    results = await asyncio.gather(reminders.remind_due(deps), reminders.remind_due(deps))  # two replicas at once
    assert sorted(results) == [0, 1]
    clock.advance(minutes=1)
    assert await reminders.remind_due(deps) == 0
    assert len(await _notices(deps, NoticeKind.REMINDER)) == 1


# ---------------------------------------------------------------- schedules


async def test_a_scheduled_change_holds_no_lock_and_fires_once_at_its_time(
    deps: Deps, start_volc: Any, sims: Any, clock: Clock
) -> None:
    await start_volc("finals")
    await _people(deps)
    at = clock.now + timedelta(minutes=90)
    planned = await changes.propose(deps, OPERATOR, "finals", PIP, channel="C1", timing=Timing(at=at, tz="Europe/Berlin"))
    assert planned.state == ChangeState.PENDING and planned.not_before == at and planned.expires_at == at
    await changes.approve(deps, APPROVER, planned.request_id)
    await _apply(deps)
    assert sent_updates(sims.volc) == []  # approved, but not before its time
    clock.advance(minutes=89)
    assert await schedules.run_due(deps) == 0
    clock.advance(minutes=1)
    settled = await asyncio.gather(schedules.run_due(deps), schedules.run_due(deps))  # two replicas on one clock
    assert sorted(settled) == [0, 1]
    await _apply(deps)
    await _apply(deps)
    assert len(sent_updates(sims.volc)) == 1
    assert (await change_views.result_of(deps, planned.request_id)).state == ChangeState.APPLIED
    async with deps.sessions() as session:
        row = (await session.scalars(select(Schedule))).one()
    assert row.state == ScheduleState.FIRED
    assert [n.payload["what"] for n in await _notices(deps, NoticeKind.SCHEDULE_SETTLED)] == ["fired"]


async def test_a_change_made_meanwhile_is_overwritten_at_the_time_and_said(
    deps: Deps, start_volc: Any, sims: Any, clock: Clock
) -> None:
    await start_volc("finals")
    await _people(deps)
    at = clock.now + timedelta(minutes=30)
    planned = await changes.propose(deps, OPERATOR, "finals", PIP, channel="C1", timing=Timing(at=at))
    await changes.approve(deps, APPROVER, planned.request_id)
    meanwhile = await changes.propose(deps, OPERATOR, "finals", SPEAKER, channel="C1")  # not blocked by the plan
    await changes.approve(deps, APPROVER, meanwhile.request_id)
    await _apply(deps)
    assert (await change_views.result_of(deps, meanwhile.request_id)).state == ChangeState.APPLIED
    clock.advance(minutes=30)
    assert await schedules.run_due(deps) == 1
    await _apply(deps)
    fired = await change_views.result_of(deps, planned.request_id)
    assert fired.state == ChangeState.APPLIED and fired.drift_lines  # what the meanwhile change set, overwritten
    detail = (await _notices(deps, NoticeKind.SCHEDULE_SETTLED))[0].payload["detail"]
    assert "overwrote" in detail


async def test_missed_when_not_approved_in_time_or_when_rtcops_came_back_past_the_grace(
    deps: Deps, start_volc: Any, sims: Any, clock: Clock
) -> None:
    await start_volc("finals")
    await start_volc("semis")
    await _people(deps)
    at = clock.now + timedelta(minutes=10)
    unapproved = await changes.propose(deps, OPERATOR, "finals", PIP, channel="C1", timing=Timing(at=at))
    late = await changes.propose(deps, OPERATOR, "semis", PIP, channel="C1", timing=Timing(at=at))
    await changes.approve(deps, APPROVER, late.request_id)
    clock.advance(minutes=10, seconds=deps.settings.schedule_grace_seconds + 1)  # "down" across the time
    assert await schedules.run_due(deps) == 2
    await _apply(deps)
    assert sent_updates(sims.volc) == []
    for request_id in (unapproved.request_id, late.request_id):
        assert (await change_views.result_of(deps, request_id)).state == ChangeState.EXPIRED
    async with deps.sessions() as session:
        rows = (await session.scalars(select(Schedule).order_by(Schedule.id))).all()
    assert [r.state for r in rows] == [ScheduleState.MISSED, ScheduleState.MISSED]
    assert "nobody approved it" in (rows[0].detail or "") and "grace" in (rows[1].detail or "")


async def test_within_the_grace_period_a_late_schedule_still_fires(deps: Deps, start_volc: Any, sims: Any, clock: Clock) -> None:
    await start_volc("finals")
    await _people(deps)
    planned = await changes.propose(
        deps, OPERATOR, "finals", PIP, channel="C1", timing=Timing(at=clock.now + timedelta(minutes=5))
    )
    await changes.approve(deps, APPROVER, planned.request_id)
    clock.advance(minutes=5, seconds=deps.settings.schedule_grace_seconds - 5)
    assert await schedules.run_due(deps) == 1
    await _apply(deps)
    assert len(sent_updates(sims.volc)) == 1


async def test_a_schedule_is_listed_and_cancelled_by_whoever_made_it(deps: Deps, start_volc: Any, clock: Clock) -> None:
    await start_volc("finals")
    await _people(deps)
    planned = await changes.propose(
        deps, OPERATOR, "finals", PIP, channel="C1", timing=Timing(at=clock.now + timedelta(hours=2))
    )
    listed = await schedules.list_waiting(deps, APPROVER)
    assert [s.change_request_id for s in listed] == [planned.request_id]
    with pytest.raises(PermissionDenied):
        await schedules.cancel(deps, OTHER, listed[0].schedule_id)  # an operator, but not theirs, and not an admin
    gone = await schedules.cancel(deps, OPERATOR, listed[0].schedule_id)
    assert gone.state == ScheduleState.CANCELLED
    assert (await change_views.result_of(deps, planned.request_id)).state == ChangeState.CANCELLED
    assert await schedules.list_waiting(deps, APPROVER) == []


def test_times_are_read_in_the_persons_zone_and_shown_in_both() -> None:
    clock = Clock()  # 2030-01-02 03:04:05 UTC, 04:04 in Berlin
    moment = when.at("20:00", "Europe/Berlin", clock.now)
    assert moment.isoformat() == "2030-01-02T19:00:00+00:00"
    assert when.show(moment, "Europe/Berlin") == "Wed 2 Jan 20:00 CET (19:00 UTC)"
    assert when.at("04:00", "Europe/Berlin", clock.now).isoformat() == "2030-01-03T03:00:00+00:00"  # passed: tomorrow
    assert when.at("2030-01-02T03:30+00:00", None, clock.now).isoformat() == "2030-01-02T03:30:00+00:00"
    win = when.window("23:00-01:00", "UTC", clock.now)  # past midnight, and not ended yet: last night's window
    assert (win.start.isoformat(), win.end.isoformat()) == ("2030-01-01T23:00:00+00:00", "2030-01-02T01:00:00+00:00") or (
        win.start > clock.now
    )
    for bad in ("25:00", "2030-01-01T10:00+00:00", "2031-01-01T10:00+00:00", "soon"):
        with pytest.raises(BadInput):
            when.at(bad, "UTC", clock.now)


# ---------------------------------------------------------------- rundowns


async def _show(deps: Deps, start_volc: Any, clock: Clock, window: str = "03:00-05:00") -> rundowns.RundownInfo:
    for alias in ("cam1", "cam2"):
        await start_volc(alias, tags=("studio",))
    await _people(deps)
    await rundowns.create(deps, OPERATOR, "talk")
    for cue in (
        "intro: layout tag:studio speaker alice,bob",
        "guest: layout tag:studio side-by-side bob,alice",
        "demo: layout cam1 pip alice,bob; layout cam2 grid alice,bob",
        "back: layout tag:studio speaker alice,bob",
    ):
        await rundowns.add_cue(deps, OPERATOR, "talk", cue)
    return await rundowns.arm(deps, OPERATOR, "talk", window, tz="UTC", channel=None)


async def test_a_rundown_approved_once_fires_each_cue_once_without_another_approval(
    deps: Deps, start_volc: Any, sims: Any, clock: Clock
) -> None:
    pending = await _show(deps, start_volc, clock)
    assert pending.state == RundownState.PENDING and [c.tasks for c in pending.cues][2] == ["cam1", "cam2"]
    with pytest.raises(BadInput):  # not armed until approved
        await cues.fire(deps, OPERATOR, "talk", "next")
    with pytest.raises(PermissionDenied):  # an operator may put it up, not approve it
        await rundowns.approve(deps, OPERATOR, pending.rundown_id)
    armed = await rundowns.approve(deps, APPROVER, pending.rundown_id, expected_hash=pending.payload_hash)
    assert armed.state == RundownState.ARMED and armed.next == 1
    for position in (1, 2, 3, 4):
        fired = await cues.fire(deps, OPERATOR, "talk", "next")
        assert isinstance(fired, cues.Fired) and fired.position == position and fired.changed == ["cam1", "cam2"]
        await _apply(deps)
    with pytest.raises(BadInput, match="show is done"):
        await cues.fire(deps, OPERATOR, "talk", "next")
    with pytest.raises(CueFired, match="cue 4 of talk is already on air"):
        await cues.fire(deps, OPERATOR, "talk", 4)
    with pytest.raises(CueFired, match="cue 2 of talk has already fired"):
        await cues.fire(deps, OPERATOR, "talk", 2)
    assert len(sent_updates(sims.volc)) == 8  # 4 cues x 2 tasks, each once
    async with deps.sessions() as session:
        bulks = (await session.scalars(select(Bulk).order_by(Bulk.id))).all()
        reqs = (await session.scalars(select(ChangeRequest))).all()
    assert [b.purpose for b in bulks] == [BulkPurpose.CUE] * 4 and {b.decided_by for b in bulks} == {APPROVER.user_id}
    assert {r.state for r in reqs} == {ChangeState.APPLIED} and {r.decided_by for r in reqs} == {APPROVER.user_id}


async def test_two_operators_firing_together_fire_one_cue(deps: Deps, start_volc: Any, sims: Any, clock: Clock) -> None:
    pending = await _show(deps, start_volc, clock)
    await rundowns.approve(deps, APPROVER, pending.rundown_id)
    results = await asyncio.gather(
        cues.fire(deps, OPERATOR, "talk", 1), cues.fire(deps, OTHER, "talk", 1), return_exceptions=True
    )
    assert sorted(type(r).__name__ for r in results) == ["CueFired", "Fired"]
    await _apply(deps)
    assert len(sent_updates(sims.volc)) == 2


async def test_editing_disarms_and_a_cue_outside_the_window_is_refused(
    deps: Deps, start_volc: Any, sims: Any, clock: Clock
) -> None:
    pending = await _show(deps, start_volc, clock, window="06:00-08:00")  # later today
    await rundowns.approve(deps, APPROVER, pending.rundown_id)
    with pytest.raises(BadInput, match="cue refused: rundown talk is armed for 06:00–08:00 UTC"):
        await cues.fire(deps, OPERATOR, "talk", "next")
    clock.advance(hours=3)  # 06:04: inside
    fired = await cues.fire(deps, OPERATOR, "talk", "next")
    assert isinstance(fired, cues.Fired)
    edited = await rundowns.add_cue(deps, OTHER, "talk", "outro: layout tag:studio grid alice,bob")
    assert edited.state == RundownState.DRAFT
    with pytest.raises(BadInput, match="draft"):
        await cues.fire(deps, OPERATOR, "talk", "next")
    again = await rundowns.arm(deps, APPROVER, "talk", "06:00-08:00", tz="UTC", channel=None)
    assert again.epoch == pending.epoch + 1 and again.payload_hash != pending.payload_hash
    with pytest.raises(SelfApproval):  # whoever put it up does not approve it
        await rundowns.approve(deps, APPROVER, again.rundown_id)


async def test_a_cue_overwrites_a_change_made_between_cues_and_says_what(
    deps: Deps, start_volc: Any, sims: Any, clock: Clock
) -> None:
    pending = await _show(deps, start_volc, clock)
    await rundowns.approve(deps, APPROVER, pending.rundown_id)
    await cues.fire(deps, OPERATOR, "talk", 1)
    await _apply(deps)
    meanwhile = await changes.propose(deps, OPERATOR, "cam1", PIP, channel="C1")  # someone changes cam1 by hand
    await changes.approve(deps, APPROVER, meanwhile.request_id)
    await _apply(deps)
    waiting = await changes.propose(deps, OTHER, "cam2", PIP, channel="C1")  # and a change still waits on cam2
    fired = await cues.fire(deps, OPERATOR, "talk", 2)
    assert (await change_views.result_of(deps, waiting.request_id)).state == ChangeState.CANCELLED  # gave way
    assert isinstance(fired, cues.Fired)
    assert fired.overwritten and all(line.startswith("cam1: ") for line in fired.overwritten)
    await _apply(deps)
    cue_notices = await _notices(deps, NoticeKind.RUNDOWN_CUE)
    assert cue_notices[-1].payload["overwritten"] == fired.overwritten


async def test_arming_refuses_a_rundown_with_any_bad_step_naming_it(deps: Deps, start_volc: Any, clock: Clock) -> None:
    await start_volc("cam1")
    await _people(deps)
    await rundowns.create(deps, OPERATOR, "talk")
    await rundowns.add_cue(deps, OPERATOR, "talk", "layout cam1 pip alice,bob")
    await rundowns.add_cue(deps, OPERATOR, "talk", "layout nosuch pip alice,bob")
    with pytest.raises(InvalidChange) as refused:
        await rundowns.arm(deps, OPERATOR, "talk", "03:00-05:00", tz="UTC", channel=None)
    assert any("cue 2" in p and "nosuch" in p for p in refused.value.problems)
    with pytest.raises(BadInput):
        rundowns.parse_cue("intro: fly cam1 to the moon")


async def test_a_scheduled_cue_fires_at_its_time(deps: Deps, start_volc: Any, sims: Any, clock: Clock) -> None:
    pending = await _show(deps, start_volc, clock)
    await rundowns.approve(deps, APPROVER, pending.rundown_id)
    planned = await cues.fire(deps, OPERATOR, "talk", 2, timing=Timing(at=clock.now + timedelta(minutes=20), tz="UTC"))
    assert isinstance(planned, Schedule)
    clock.advance(minutes=20)
    assert await schedules.run_due(deps) == 1
    await _apply(deps)
    assert len(sent_updates(sims.volc)) == 2
    found = await rundowns.show(deps, OPERATOR, "talk")
    assert found.on_air == 2 and found.next == 3


def test_a_rundown_document_round_trips() -> None:
    doc = {
        "rundown": "talk",
        "cues": [
            {"label": "intro", "steps": ["layout tag:studio speaker alice,bob"]},
            {"label": "demo", "steps": ["layout cam1 pip alice,bob", "scene match tag:studio"]},
        ],
    }
    name, drafts = rundowns.parse_document(doc)
    info = rundowns.RundownInfo(
        1, name, RundownState.DRAFT, 1, 0,
        [rundowns.CueInfo(i, d.label, [s.text for s in d.steps]) for i, d in enumerate(drafts, 1)], "U", TEAM,
    )  # fmt: skip
    assert rundowns.export(info) == doc
    for bad in ({"cues": []}, {"rundown": "x", "cues": [{"steps": ["fly away"]}]}, {"rundown": "Bad Name", "cues": []}):
        with pytest.raises(BadInput):
            rundowns.parse_document(bad)
