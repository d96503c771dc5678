"""Firing a cue of an armed rundown: no further approval, within the window, by an operator on every task of the
cue, each cue once per approval.

A fired cue is a bulk change (purpose `cue`), approved by the rundown's approver, whose row is unique per
(rundown, approval, cue): when two operators click Next together, both try to write cue 4 and one insert fails,
so the second is told "cue 4 is already on air". Its tasks' requests are ordinary approved requests, applied at
the providers' pace by the applier like any bulk change, each with its lock, SequenceNumber and truthful verdict.

Each task is sent the configuration worked out when the rundown was put up for approval (absolute state). What
the task runs now is read first: where it no longer matches what the previous cue left (someone changed it in
between), the cue still applies, and the thread lists what it overwrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.domain import BulkPurpose, BulkState, ChangeKind, ChangeState, RundownState, Touch
from bot.services import audit, bulk_notices, rundown_notices, schedule_rows
from bot.services.bulk_members import bulk_hash
from bot.services.changes import read_baseline, request_hash, supersede
from bot.services.deps import Actor, Deps
from bot.services.errors import BadInput, CueFired, Locked, NotFound, PermissionDenied, Stale
from bot.services.permissions import checker, require_somewhere
from bot.services.tasks import target_of, task_scope
from bot.services.when import Timing, Window, show, show_window
from bot.store import bulks as bulk_store
from bot.store import change_requests as transitions
from bot.store import rundowns as store
from bot.store.models import Bulk, ChangeRequest, Cue, Rundown, Schedule, Task
from bot.targets.config_json import contains


@dataclass(frozen=True)
class Fired:
    rundown: str
    position: int
    label: str
    bulk_id: int
    changed: list[str]  # aliases sent a change
    already: list[str]  # aliases that already ran the cue's configuration
    overwritten: list[str]  # "alias: what changed since the previous cue", overwritten now


async def _armed(deps: Deps, actor: Actor, name: str) -> Rundown:
    async with deps.sessions() as session:
        row = await store.load(session, actor.team_id, name)
    if row is None:
        await require_somewhere(deps, actor, "view", "see rundowns")
        raise NotFound(f"rundown {name}")
    return row


def _position(row: Rundown, which: str | int, fired: dict[int, Bulk], count: int) -> int:
    if isinstance(which, int):
        if not 1 <= which <= count:
            raise BadInput(f"rundown {row.name} has cues 1 to {count}; there is no cue {which}")
        return which
    following = [p for p in range(row.on_air + 1, count + 1) if p not in fired]
    if not following:
        raise BadInput(f"rundown {row.name} has no cue after {row.on_air}: the show is done (re-arm it to run again)")
    return following[0]


def _check_window(row: Rundown, now: datetime) -> None:
    if row.state != RundownState.ARMED:
        raise BadInput(f"rundown {row.name} is {row.state.words}; a cue fires only from an armed rundown")
    if row.window_start is None or row.window_end is None or not row.window_start <= now < row.window_end:
        armed = show_window_of(row)
        raise BadInput(f"cue refused: rundown {row.name} is armed for {armed}, and it is {show(now, row.tz)} now")


def show_window_of(row: Rundown) -> str:
    if row.window_start is None or row.window_end is None:
        return "no window"
    return show_window(Window(row.window_start, row.window_end), row.tz)


async def fire(
    deps: Deps, actor: Actor, name: str, which: str | int, *, epoch: int | None = None, timing: Timing | None = None
) -> Fired | Schedule:
    """Fires cue `which` (a position, or "next") of rundown `name` now, or schedules it (`timing.at`). `epoch`: the
    approval a button was drawn under; a click from an earlier one is refused."""
    row = await _armed(deps, actor, name)
    async with deps.sessions() as session:
        fired = await store.fired_positions(session, row.id, row.epoch)
        cues = await store.cues_of(session, row.id)
    position = _position(row, which, fired, len(cues))
    if epoch is not None and epoch != row.epoch:
        raise BadInput(f"this button belongs to an earlier approval of rundown {row.name}; use the newest message")
    if position in fired:
        raise await _already_fired(deps, row, position)
    cue = cues[position - 1]
    tasks = await _tasks(deps, cue)
    await _may_fire(deps, actor, row, position, tasks)
    if timing is not None and timing.at is not None:
        return await _schedule(deps, actor, row, position, timing)
    _check_window(row, deps.clock())
    return await _fire(deps, actor, row, cue, tasks, schedule_id=None)


async def fire_scheduled(deps: Deps, actor: Actor, schedule: Schedule) -> Fired:
    """A cue's schedule come due: fired as its scheduler would fire it now (their role checked again)."""
    async with deps.sessions() as session:
        row = await session.get(Rundown, schedule.rundown_id)
        cue = await session.scalar(
            select(Cue).where(Cue.rundown_id == schedule.rundown_id, Cue.position == schedule.cue_position)
        )
    if row is None or cue is None or row.deleted_at is not None:
        raise BadInput("the rundown or the cue is gone")
    if row.epoch != schedule.rundown_epoch:
        raise BadInput(f"rundown {row.name} was put up for approval again after this was scheduled")
    tasks = await _tasks(deps, cue)
    await _may_fire(deps, actor, row, cue.position, tasks)
    async with deps.sessions() as session:
        taken = await store.fired_cue(session, row.id, row.epoch, cue.position)
    if taken is not None:
        raise await _already_fired(deps, row, cue.position)
    _check_window(row, deps.clock())
    return await _fire(deps, actor, row, cue, tasks, schedule_id=schedule.id)


async def _already_fired(deps: Deps, row: Rundown, position: int) -> CueFired:
    """The refusal of a cue that fired: "on air" is read afresh, since `row` may have been read before the fire
    that beat this one committed."""
    async with deps.sessions() as session:
        again = await session.get(Rundown, row.id)
    return CueFired(row.name, position, on_air=again is not None and again.on_air == position)


async def _tasks(deps: Deps, cue: Cue) -> dict[int, Task]:
    ids = [int(k) for k in (cue.payload or {})]
    async with deps.sessions() as session:
        rows = (await session.scalars(select(Task).where(Task.id.in_(ids), Task.removed_at.is_(None)))).all() if ids else []
    return {t.id: t for t in rows}


async def _may_fire(deps: Deps, actor: Actor, row: Rundown, position: int, tasks: dict[int, Task]) -> None:
    may = await checker(deps, actor, "propose")
    denied = sorted(t.alias for t in tasks.values() if not may(task_scope(t)).allowed)
    if denied:
        raise PermissionDenied(
            f"fire cue {position} of {row.name}", f"you are not an operator on {', '.join(denied[:10])}", "operator"
        )
    if not tasks:
        await require_somewhere(deps, actor, "propose", f"fire cue {position} of {row.name}")


async def _schedule(deps: Deps, actor: Actor, row: Rundown, position: int, timing: Timing) -> Schedule:
    assert timing.at is not None
    if row.state != RundownState.ARMED or row.window_start is None or row.window_end is None:
        raise BadInput(f"rundown {row.name} is {row.state.words}; schedule its cues once it is armed")
    if not row.window_start <= timing.at < row.window_end:
        raise BadInput(f"{show(timing.at, timing.tz)} is outside the rundown's window ({show_window_of(row)})")
    now = deps.clock()
    schedule = schedule_rows.for_cue(actor, timing, row, position, now)
    async with deps.sessions.begin() as session:
        session.add(schedule)
        audit.record(
            session, deps, actor, "schedule.create", f"rundown:{row.name}", detail=f"cue {position} at {timing.at.isoformat()}"
        )
    return schedule


async def _clear_the_way(deps: Deps, actor: Actor, row: Rundown, position: int, tasks: dict[int, Task]) -> None:
    """A change still waiting for approval on a task of the cue gives way to it (the cue was approved before the
    show, and sets the task whole); one approved or being applied does not: the cue is refused until it ends."""
    async with deps.sessions() as session:
        holders = [h for t in tasks.values() if (h := await transitions.lock_holder(session, t.id)) is not None]
    for holder in holders:
        if holder.state == ChangeState.PENDING and holder.bulk_id is None:
            with contextlib.suppress(Locked):  # it moved on meanwhile: the cue's insert finds the lock and says so
                await supersede(deps, actor, holder, tasks[holder.task_id], f"cue {position} of rundown {row.name}")


async def _fire(deps: Deps, actor: Actor, row: Rundown, cue: Cue, tasks: dict[int, Task], *, schedule_id: int | None) -> Fired:
    await _clear_the_way(deps, actor, row, cue.position, tasks)
    now = deps.clock()
    entries = {int(k): v for k, v in (cue.payload or {}).items() if int(k) in tasks}
    reads = await asyncio.gather(*(read_baseline(deps, tasks[i], target_of(tasks[i])) for i in entries))
    members: list[tuple[ChangeRequest, int]] = []
    already: list[str] = []
    overwritten: list[str] = []
    ttl = timedelta(minutes=deps.settings.request_ttl_minutes)
    for (task_id, entry), (current, source, _) in zip(entries.items(), reads, strict=True):
        task = tasks[task_id]
        target = target_of(task)
        before, desired = entry["before"], entry["desired"]
        drift = [] if contains(current, before) else target.describe(before, current)
        overwritten += [f"{task.alias}: {line}" for line in drift]
        touched = target.touched(current, desired)
        if not touched:
            already.append(task.alias)
            continue
        req = ChangeRequest(
            task_id=task.id,
            team_id=row.team_id,
            requester=actor.user_id,
            kind=ChangeKind.CUE,
            summary=f"{row.name} cue {cue.position}: {cue.label}"[:300],
            touched=[Touch(t).value for t in touched],
            change={"rundown": row.name, "cue": cue.position, "epoch": row.epoch},
            baseline=current,
            baseline_source=source,
            desired=copy.deepcopy(desired),
            drift=drift,
            base_version=task.version,
            needs_approval=True,
            state=ChangeState.APPROVED,
            created_at=now,
            expires_at=now + ttl,
            decided_by=row.decided_by,
            decided_at=now,
            channel_id=row.channel_id,
        )
        req.payload_hash = request_hash(req)
        members.append((req, task.version))
    bulk = Bulk(
        team_id=row.team_id,
        requester=actor.user_id,
        purpose=BulkPurpose.CUE,
        selector=f"rundown {row.name} cue {cue.position}"[:300],
        summary=f"{row.name} cue {cue.position}: {cue.label}"[:300],
        refused=[],
        payload_hash=bulk_hash(req for req, _ in members),
        needs_approval=True,
        state=BulkState.APPROVED,
        created_at=now,
        expires_at=now + ttl,
        decided_by=row.decided_by,
        decided_at=now,
        finished_at=None if members else now,
        channel_id=row.channel_id,
        rundown_id=row.id,
        rundown_epoch=row.epoch,
        cue_position=cue.position,
    )
    told = bulk_notices.proposed(row.team_id, now, pictures=0, waiting=False) if members and row.channel_id else []
    audits = [
        audit.event(
            deps, actor, "change.cue", f"task:{tasks[req.task_id].alias}", task_alias=tasks[req.task_id].alias,
            before=req.baseline, after=req.desired, outcome=ChangeState.APPROVED, detail=req.summary,
        )
        for req, _ in members
    ]  # fmt: skip
    bulk_audit = audit.event(
        deps, actor, "bulk.cue", f"rundown:{row.name}"[:200], outcome=BulkState.APPROVED, detail=bulk.summary
    )
    cue_audit = audit.event(
        deps, actor, "rundown.cue", f"rundown:{row.name}", outcome="on air",
        after={"cue": cue.position, "epoch": row.epoch, "schedule": schedule_id, "overwritten": overwritten[:50]},
        detail=f"cue {cue.position}: {cue.label}",
    )  # fmt: skip
    also = store.fired(
        row,
        cue.position,
        notices=rundown_notices.cue_fired(row.team_id, row.id, now, by=actor.user_id, overwritten=overwritten),
        audit=cue_audit,
        schedule_id=schedule_id,
        at=now,
    )
    try:
        await bulk_store.insert(deps.sessions, bulk, members, audits=audits, bulk_audit=bulk_audit, notices=told, also=also)
    except (store.RundownMoved, transitions.LockTaken, transitions.TaskMoved, IntegrityError) as exc:
        # the same cue fired a moment before by someone else shows as any of these: the rundown row it moved on, its
        # bulk row, its tasks' locks, or (once applied) their versions
        async with deps.sessions() as session:
            taken = await store.fired_cue(session, row.id, row.epoch, cue.position)
        if taken is not None:
            raise await _already_fired(deps, row, cue.position) from None
        if isinstance(exc, store.RundownMoved):
            raise BadInput(f"rundown {row.name} changed as the cue was fired (edited or re-armed); look again") from None
        if isinstance(exc, transitions.LockTaken):
            holder = exc.holder
            alias = next((t.alias for t in tasks.values() if t.id == holder.task_id), "a task")
            raise Locked(alias, holder.id, holder.requester, holder.permalink) from None
        if isinstance(exc, transitions.TaskMoved):
            raise Stale("a task of the cue changed as it was fired; fire it again") from None
        raise
    deps.signals.apply.set()
    deps.signals.deliver.set()
    return Fired(
        row.name,
        cue.position,
        cue.label,
        bulk.id,
        sorted(tasks[req.task_id].alias for req, _ in members),
        sorted(already),
        overwritten,
    )
