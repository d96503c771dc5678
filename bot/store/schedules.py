"""The moves of a schedule: waiting -> fired, missed or cancelled, each a conditional UPDATE, so that replicas
watching the same clock, and a process restarted across the time, keep every promise exactly once.

A scheduled change (or bulk change) waits approved but holding no lock; `release` takes its tasks' locks and sets
what each will be sent against (the configuration in force at its time) in the same transaction as the schedule's
move to fired. Its state is still moved only by `change_requests` and `bulks`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.domain import ChangeState, ScheduleState
from bot.store.change_requests import LockTaken, Sessions, lock_holder, rowcount
from bot.store.models import AuditEvent, ChangeRequest, Notice, Schedule


class _Undo(Exception):
    pass


@dataclass(frozen=True)
class Rebase:
    """One request of a schedule, as it will be sent: against what its task runs at the schedule's time."""

    request_id: int
    task_id: int
    baseline: dict[str, Any]
    base_version: int
    drift: list[str]
    payload_hash: str


async def due(sessions: Sessions, now: datetime, *, limit: int = 100) -> list[Schedule]:
    async with sessions() as session:
        rows = await session.scalars(
            select(Schedule)
            .where(Schedule.state == ScheduleState.WAITING, Schedule.fire_at <= now)
            .order_by(Schedule.fire_at, Schedule.id)
            .limit(limit)
        )
        return list(rows.all())


async def settle(
    sessions: Sessions,
    schedule: Schedule,
    to: ScheduleState,
    *,
    at: datetime,
    detail: str,
    audit: AuditEvent | None = None,
    notices: Sequence[Notice] = (),
) -> bool:
    async with sessions.begin() as session:
        moved = await session.execute(
            update(Schedule)
            .where(Schedule.id == schedule.id, Schedule.state == ScheduleState.WAITING)
            .values(state=to, settled_at=at, detail=detail[:500])
            .execution_options(synchronize_session=False)
        )
        if rowcount(moved) != 1:
            return False
        session.add_all([*([audit] if audit else []), *notices])
    schedule.state, schedule.settled_at, schedule.detail = to, at, detail[:500]
    return True


async def release(
    sessions: Sessions,
    schedule: Schedule,
    rebased: Sequence[Rebase],
    *,
    at: datetime,
    audit: AuditEvent,
    notices: Sequence[Notice] = (),
) -> bool:
    """waiting -> fired, taking each request's lock and setting what it is sent against, all or nothing. False
    when the schedule or a request moved first; LockTaken when another request holds a task's lock (nothing is
    written: the next look tries again, until the grace period is over)."""
    try:
        async with sessions.begin() as session:
            moved = await session.execute(
                update(Schedule)
                .where(Schedule.id == schedule.id, Schedule.state == ScheduleState.WAITING)
                .values(state=ScheduleState.FIRED, settled_at=at)
                .execution_options(synchronize_session=False)
            )
            if rowcount(moved) != 1:
                raise _Undo()
            for r in rebased:
                took = await session.execute(
                    update(ChangeRequest)
                    .where(
                        ChangeRequest.id == r.request_id,
                        ChangeRequest.state == ChangeState.APPROVED,
                        ChangeRequest.open_slot.is_(None),
                    )
                    .values(
                        open_slot=r.task_id,
                        baseline=r.baseline,
                        base_version=r.base_version,
                        drift=r.drift,
                        payload_hash=r.payload_hash,
                    )
                    .execution_options(synchronize_session=False)
                )
                if rowcount(took) != 1:
                    raise _Undo()
            session.add_all([audit, *notices])
    except _Undo:
        return False
    except IntegrityError:
        async with sessions() as session:
            for r in rebased:
                holder = await lock_holder(session, r.task_id)
                if holder is not None and holder.id != r.request_id:
                    raise LockTaken(holder) from None
        raise
    schedule.state, schedule.settled_at = ScheduleState.FIRED, at
    return True


async def cancel(sessions: Sessions, schedule_id: int, *, at: datetime, detail: str) -> bool:
    """waiting -> cancelled; what it was for is ended by its own moves."""
    async with sessions.begin() as session:
        moved = await session.execute(
            update(Schedule)
            .where(Schedule.id == schedule_id, Schedule.state == ScheduleState.WAITING)
            .values(state=ScheduleState.CANCELLED, settled_at=at, detail=detail[:500])
            .execution_options(synchronize_session=False)
        )
        return rowcount(moved) == 1
