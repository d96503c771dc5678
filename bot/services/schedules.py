"""Scheduled changes, bulk changes and cues (`at=20:00`): approved like any other before their time, kept at it
exactly once.

A scheduled change waits approved without its task's lock. At its time (`run_due`, every second in each
replica) it is either released or missed, by a conditional move of its schedule:
- released: each task's lock is taken and the request is set against what the task runs then, in the same
  transaction as the move to fired; the applier does the rest, as for any approved change. Like a cue, it sets
  the configuration that was approved (absolute state): what changed on the task meanwhile is overwritten, and
  the thread says what;
- missed: nobody approved it before its time, or rtcops was not running at its time and came back past the grace
  period (`RTCOPS_SCHEDULE_GRACE_SECONDS`, two minutes by default). It is ended, and the thread says which.

A cue's schedule fires the cue (`bot.services.cues.fire`), the schedule's move inside the cue's transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.domain import BulkState, ChangeState, ScheduleState
from bot.services import audit, bulk_notices, cues, notices, rundown_notices
from bot.services.applying import end_request
from bot.services.bulk_lifecycle import end_bulk
from bot.services.change_views import load as load_request
from bot.services.changes import read_baseline
from bot.services.deps import Actor, Deps
from bot.services.errors import BadInput, NotFound, ServiceError
from bot.services.permissions import checker, require, require_somewhere
from bot.services.tasks import target_of, task_scope
from bot.services.when import show
from bot.store import change_requests as transitions
from bot.store import schedules as store
from bot.store.models import Bulk, ChangeRequest, Notice, Rundown, Schedule, Task
from bot.targets.config_json import contains, payload_hash

log = logging.getLogger("rtcops.schedules")


@dataclass(frozen=True)
class ScheduleInfo:
    schedule_id: int
    what: str  # change | bulk | cue
    summary: str
    fire_at: datetime
    tz: str
    created_by: str
    state: ScheduleState
    change_request_id: int | None
    bulk_id: int | None
    rundown: str | None
    detail: str | None


def _info(s: Schedule, rundowns: dict[int, str]) -> ScheduleInfo:
    return ScheduleInfo(
        s.id,
        s.what,
        s.summary,
        s.fire_at,
        s.tz,
        s.created_by,
        s.state,
        s.change_request_id,
        s.bulk_id,
        rundowns.get(s.rundown_id) if s.rundown_id else None,
        s.detail,
    )


async def _tasks_of(deps: Deps, schedule_ids: Sequence[int]) -> dict[int, list[Task]]:
    async with deps.sessions() as session:
        rows = await session.execute(
            select(ChangeRequest.schedule_id, Task)
            .join(Task, Task.id == ChangeRequest.task_id)
            .where(ChangeRequest.schedule_id.in_(schedule_ids))
        )
        found: dict[int, list[Task]] = {}
        for schedule_id, task in rows.all():
            if schedule_id is not None:
                found.setdefault(schedule_id, []).append(task)
    return found


async def list_waiting(deps: Deps, actor: Actor) -> list[ScheduleInfo]:
    """What is scheduled and still to come, that the person may see (every task it touches)."""
    await require_somewhere(deps, actor, "view", "see schedules")
    async with deps.sessions() as session:
        rows = list(
            (
                await session.scalars(
                    select(Schedule)
                    .where(Schedule.team_id == actor.team_id, Schedule.state == ScheduleState.WAITING)
                    .order_by(Schedule.fire_at, Schedule.id)
                    .limit(200)
                )
            ).all()
        )
        names = dict((await session.execute(select(Rundown.id, Rundown.name).where(Rundown.team_id == actor.team_id))).all())
    may_view = await checker(deps, actor, "view")
    tasks = await _tasks_of(deps, [s.id for s in rows])
    return [_info(s, names) for s in rows if s.what == "cue" or all(may_view(task_scope(t)).allowed for t in tasks.get(s.id, []))]


async def cancel(deps: Deps, actor: Actor, schedule_id: int) -> ScheduleInfo:
    """Whoever scheduled it may withdraw it; anyone else needs admin on what it touches. What it was for ends."""
    async with deps.sessions() as session:
        row = await session.get(Schedule, schedule_id)
        rundown = await session.get(Rundown, row.rundown_id) if row is not None and row.rundown_id else None
    if row is None or row.team_id != actor.team_id:
        await require_somewhere(deps, actor, "view", "see schedules")
        raise NotFound(f"schedule #{schedule_id}")
    own = row.created_by == actor.user_id
    tasks = (await _tasks_of(deps, [row.id])).get(row.id, [])
    if tasks:
        for task in tasks:
            await require(deps, actor, "propose" if own else "admin", task_scope(task))
    else:
        await require_somewhere(deps, actor, "propose" if own else "admin", "cancel schedules")
    if row.state != ScheduleState.WAITING:
        raise BadInput(f"schedule #{schedule_id} is {row.state.value}; only a waiting one can be cancelled")
    now = deps.clock()
    if not await store.cancel(deps.sessions, row.id, at=now, detail=f"cancelled by {actor.user_id}"):
        raise BadInput(f"schedule #{schedule_id} has just fired or ended")
    await _end_requests(deps, actor, row, ChangeState.CANCELLED, BulkState.CANCELLED, "its schedule was cancelled")
    async with deps.sessions.begin() as session:
        audit.record(session, deps, actor, "schedule.cancel", f"schedule:{row.id}", detail=row.summary)
    row.state = ScheduleState.CANCELLED
    return _info(row, {rundown.id: rundown.name} if rundown is not None else {})


# ---------------------------------------------------------------- keeping them


async def run_due(deps: Deps) -> int:
    """Keeps every schedule whose time has come: fires it, or says it was missed. Returns how many it settled."""
    now = deps.clock()
    settled = 0
    for row in await store.due(deps.sessions, now):
        try:
            if await _keep(deps, row, now):
                settled += 1
        except ServiceError as exc:
            log.warning("schedule #%s could not be kept: %s", row.id, exc)
    return settled


def _grace(deps: Deps) -> timedelta:
    return timedelta(seconds=deps.settings.schedule_grace_seconds)


async def _keep(deps: Deps, row: Schedule, now: datetime) -> bool:
    actor = Actor(row.team_id, row.created_by)
    late = now - row.fire_at
    if row.what == "cue":
        if late > _grace(deps):
            return await _missed(deps, actor, row, _late_words(deps, row, late))
        try:
            await cues.fire_scheduled(deps, actor, row)
        except ServiceError as exc:
            return await _missed(deps, actor, row, f"the cue could not fire: {exc}")
        return True
    async with deps.sessions() as session:
        reqs = list((await session.scalars(select(ChangeRequest).where(ChangeRequest.schedule_id == row.id))).all())
    waiting = [r for r in reqs if r.state in (ChangeState.PENDING, ChangeState.APPROVED)]
    if not waiting:
        return await store.settle(deps.sessions, row, ScheduleState.CANCELLED, at=now, detail="it was rejected or cancelled")
    if any(r.state == ChangeState.PENDING for r in waiting):
        reason = f"nobody approved it before its time ({show(row.fire_at, row.tz)})"
        await _end_requests(deps, actor, row, ChangeState.EXPIRED, BulkState.EXPIRED, reason)
        return await _missed(deps, actor, row, reason, reqs=waiting)
    if late > _grace(deps):
        reason = _late_words(deps, row, late)
        await _end_requests(deps, actor, row, ChangeState.EXPIRED, BulkState.EXPIRED, reason)
        return await _missed(deps, actor, row, reason, reqs=waiting)
    return await _release(deps, actor, row, waiting, now)


def _late_words(deps: Deps, row: Schedule, late: timedelta) -> str:
    grace = int(_grace(deps).total_seconds())
    return (
        f"missed: it was due at {show(row.fire_at, row.tz)}, when rtcops was not running; it came back "
        f"{int(late.total_seconds())} s later, past the {grace} s grace period"
    )


async def _release(deps: Deps, actor: Actor, row: Schedule, reqs: list[ChangeRequest], now: datetime) -> bool:
    async with deps.sessions() as session:
        tasks = {t.id: t for t in (await session.scalars(select(Task).where(Task.id.in_([r.task_id for r in reqs])))).all()}

    async def rebase(req: ChangeRequest) -> store.Rebase:
        task = tasks[req.task_id]
        target = target_of(task)
        current, _, _ = await read_baseline(deps, task, target)
        drift = [] if contains(current, req.baseline) else target.describe(req.baseline, current)
        hashed = payload_hash({"task": req.task_id, "base_version": task.version, "baseline": current, "desired": req.desired})
        return store.Rebase(req.id, req.task_id, current, task.version, drift, hashed)

    rebased = await asyncio.gather(*(rebase(r) for r in reqs))
    overwritten = [f"{tasks[r.task_id].alias}: {line}" for r in rebased for line in r.drift]
    detail = "fired at its time" + (
        f"; overwrote what changed since it was approved: {'; '.join(overwritten)}" if overwritten else ""
    )
    told = _settled_notices(row, reqs, now, "fired", detail)
    event = audit.event(deps, actor, "schedule.fire", f"schedule:{row.id}", detail=f"{row.summary}: {detail}"[:1000])
    try:
        released = await store.release(deps.sessions, row, rebased, at=now, audit=event, notices=told)
    except transitions.LockTaken as exc:
        log.info("schedule #%s waits for request #%s to release its task", row.id, exc.holder.id)
        return False
    if released:
        deps.signals.apply.set()
        deps.signals.deliver.set()
    return released


def _settled_notices(row: Schedule, reqs: Sequence[ChangeRequest], now: datetime, what: str, detail: str) -> list[Notice]:
    if row.bulk_id is not None:
        return [bulk_notices.schedule_settled(row.team_id, row.bulk_id, now, schedule_id=row.id, what=what, detail=detail)]
    found: list[Notice] = []
    for req in reqs:
        found += notices.schedule_settled(req, now, schedule_id=row.id, what=what, detail=detail)
    return found


async def _missed(deps: Deps, actor: Actor, row: Schedule, reason: str, *, reqs: Sequence[ChangeRequest] = ()) -> bool:
    now = deps.clock()
    told = _settled_notices(row, reqs, now, "missed", reason) if reqs else []
    if row.what == "cue" and row.rundown_id is not None:
        told = [rundown_notices.schedule_missed(row.team_id, row.rundown_id, now, schedule_id=row.id, detail=reason)]
    event = audit.event(
        deps, actor, "schedule.missed", f"schedule:{row.id}", outcome="missed", detail=f"{row.summary}: {reason}"[:1000]
    )
    done = await store.settle(deps.sessions, row, ScheduleState.MISSED, at=now, detail=reason, audit=event, notices=told)
    if done:
        deps.signals.deliver.set()
    return done


async def _end_requests(deps: Deps, actor: Actor, row: Schedule, to: ChangeState, bulk_to: BulkState, reason: str) -> None:
    """What a schedule was for, ended (expired when missed, cancelled with the schedule), each by its own move."""
    async with deps.sessions() as session:
        reqs = list((await session.scalars(select(ChangeRequest).where(ChangeRequest.schedule_id == row.id))).all())
        bulk = await session.get(Bulk, row.bulk_id) if row.bulk_id is not None else None
    if bulk is not None:
        if bulk.state in (BulkState.PENDING, BulkState.APPROVED):
            await end_bulk(deps, actor, bulk.id, bulk_to, reason)
        return
    for req in reqs:
        if req.state in (ChangeState.PENDING, ChangeState.APPROVED):
            req, task = await load_request(deps, actor, req.id)
            await end_request(deps, actor, req, task, to, reason, action=f"change.{to.value}")
