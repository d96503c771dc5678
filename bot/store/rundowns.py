"""The moves of a rundown: the only code that writes `Rundown.state`, `version`, `epoch` and `on_air`.

Each move is one conditional UPDATE naming what it leaves (the version edited, the epoch approved), so an edit
racing an approval, or two approvers, or two operators firing, cannot both win. A cue fired is a bulk change
(`bot.store.bulks.insert`) whose row is unique per (rundown, epoch, cue): the rundown's `on_air` moves in that
same transaction (`fired`), so a cue is on air exactly when its bulk exists.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import RundownState, ScheduleState
from bot.store.change_requests import Sessions, bounded_key, rowcount
from bot.store.models import AuditEvent, Bulk, Cue, IdempotencyKey, Notice, Rundown, Schedule


class RundownExists(Exception):
    pass


class RundownMoved(Exception):
    """The rundown is no longer in the state (version, epoch) it was read in."""


def lane_of_rundown(rundown_id: int) -> str:
    return f"rundown:{rundown_id}"


def _aim(notices: Sequence[Notice], rundown_id: int) -> None:
    for notice in notices:
        notice.lane = lane_of_rundown(rundown_id)
        notice.payload = {**(notice.payload or {}), "rundown": rundown_id}


async def create(sessions: Sessions, rundown: Rundown, *, audit: AuditEvent) -> None:
    try:
        async with sessions.begin() as session:
            session.add(rundown)
            await session.flush()
            session.add(audit)
    except IntegrityError:
        raise RundownExists() from None


async def load(session: AsyncSession, team_id: str, name: str) -> Rundown | None:
    return await session.scalar(
        select(Rundown).where(Rundown.team_id == team_id, Rundown.name == name, Rundown.deleted_at.is_(None))
    )


async def cues_of(session: AsyncSession, rundown_id: int) -> list[Cue]:
    return list((await session.scalars(select(Cue).where(Cue.rundown_id == rundown_id).order_by(Cue.position))).all())


async def edit(
    sessions: Sessions,
    rundown: Rundown,
    cues: Sequence[Cue],
    *,
    audit: AuditEvent,
    notices: Sequence[Notice] = (),
    at: datetime,
) -> bool:
    """The cue list replaced by `cues` (positions 1…n), as version + 1, and the rundown back to draft: an edit
    disarms it, whatever was approved. False when someone else edited it first."""
    async with sessions.begin() as session:
        moved = await session.execute(
            update(Rundown)
            .where(Rundown.id == rundown.id, Rundown.version == rundown.version, Rundown.deleted_at.is_(None))
            .values(version=Rundown.version + 1, state=RundownState.DRAFT, payload_hash=None)
            .execution_options(synchronize_session=False)
        )
        if rowcount(moved) != 1:
            return False
        await session.execute(delete(Cue).where(Cue.rundown_id == rundown.id))
        await session.flush()
        for position, cue in enumerate(cues, start=1):
            session.add(Cue(rundown_id=rundown.id, position=position, label=cue.label, steps=list(cue.steps), payload=None))
        await _cancel_cue_schedules(session, rundown.id, at, "the rundown was edited")
        _aim(notices, rundown.id)
        session.add_all([audit, *notices])
    rundown.version += 1
    rundown.state = RundownState.DRAFT
    return True


async def _cancel_cue_schedules(session: AsyncSession, rundown_id: int, at: datetime, why: str) -> None:
    await session.execute(
        update(Schedule)
        .where(Schedule.rundown_id == rundown_id, Schedule.state == ScheduleState.WAITING)
        .values(state=ScheduleState.CANCELLED, settled_at=at, detail=why)
        .execution_options(synchronize_session=False)
    )


async def remove(sessions: Sessions, rundown: Rundown, *, at: datetime, audit: AuditEvent, notices: Sequence[Notice]) -> bool:
    """Deleted (kept for the audit trail under a name nobody can type, like a removed task)."""
    async with sessions.begin() as session:
        moved = await session.execute(
            update(Rundown)
            .where(Rundown.id == rundown.id, Rundown.version == rundown.version, Rundown.deleted_at.is_(None))
            .values(deleted_at=at, state=RundownState.DRAFT, name=f"~{rundown.id}:{rundown.name}"[:64])
            .execution_options(synchronize_session=False)
        )
        if rowcount(moved) != 1:
            return False
        await _cancel_cue_schedules(session, rundown.id, at, "the rundown was deleted")
        _aim(notices, rundown.id)
        session.add_all([audit, *notices])
    return True


async def request_arming(
    sessions: Sessions,
    rundown: Rundown,
    payloads: dict[int, dict[str, Any]],
    *,
    values: dict[str, Any],
    audit: AuditEvent,
    notices: Sequence[Notice],
) -> bool:
    """draft/pending/armed -> pending for the next epoch, with each cue's worked-out payload (cue id -> payload)
    and the window bound; False when the rundown was edited meanwhile."""
    async with sessions.begin() as session:
        moved = await session.execute(
            update(Rundown)
            .where(Rundown.id == rundown.id, Rundown.version == rundown.version, Rundown.deleted_at.is_(None))
            .values(state=RundownState.PENDING, epoch=Rundown.epoch + 1, on_air=0, reminded_at=None, **values)
            .execution_options(synchronize_session=False)
        )
        if rowcount(moved) != 1:
            return False
        for cue_id, payload in payloads.items():
            await session.execute(
                update(Cue).where(Cue.id == cue_id).values(payload=payload).execution_options(synchronize_session=False)
            )
        await _cancel_cue_schedules(session, rundown.id, values["requested_at"], "the rundown was put up for approval again")
        _aim(notices, rundown.id)
        session.add_all([audit, *notices])
    return True


async def decide(
    sessions: Sessions,
    rundown: Rundown,
    to: RundownState,
    *,
    by: str | None,
    at: datetime,
    audit: AuditEvent,
    notices: Sequence[Notice],
    idempotency_key: str | None = None,
) -> bool:
    """pending -> armed (approved) or draft (rejected, expired), for the epoch and payload that were shown."""
    async with sessions.begin() as session:
        moved = await session.execute(
            update(Rundown)
            .where(
                Rundown.id == rundown.id,
                Rundown.state == RundownState.PENDING,
                Rundown.epoch == rundown.epoch,
                Rundown.version == rundown.version,
                Rundown.payload_hash == rundown.payload_hash,
            )
            .values(state=to, decided_by=by, decided_at=at)
            .execution_options(synchronize_session=False)
        )
        if rowcount(moved) != 1:
            return False
        _aim(notices, rundown.id)
        session.add_all([audit, *notices])
        if idempotency_key is not None:
            session.add(IdempotencyKey(key=bounded_key(idempotency_key), created_at=at))
    rundown.state, rundown.decided_by, rundown.decided_at = to, by, at
    return True


async def remind(sessions: Sessions, rundown: Rundown, *, at: datetime, notices: Sequence[Notice]) -> bool:
    async with sessions.begin() as session:
        moved = await session.execute(
            update(Rundown)
            .where(Rundown.id == rundown.id, Rundown.state == RundownState.PENDING, Rundown.epoch == rundown.epoch)
            .where(Rundown.reminded_at.is_(None))
            .values(reminded_at=at)
            .execution_options(synchronize_session=False)
        )
        if rowcount(moved) != 1:
            return False
        _aim(notices, rundown.id)
        session.add_all(notices)
    return True


def fired(
    rundown: Rundown,
    position: int,
    *,
    notices: Sequence[Notice],
    audit: AuditEvent,
    schedule_id: int | None = None,
    at: datetime,
) -> Callable[[AsyncSession, Bulk], Awaitable[None]]:
    """What a cue's firing writes in its bulk's transaction (`bulks.insert(also=…)`): the rundown's cue on air,
    only while it is armed at the version and epoch read, and the cue's schedule moved to fired when a schedule
    fired it. Raises RundownMoved (undoing the bulk) when either has moved."""

    async def write(session: AsyncSession, bulk: Bulk) -> None:
        moved = await session.execute(
            update(Rundown)
            .where(
                Rundown.id == rundown.id,
                Rundown.state == RundownState.ARMED,
                Rundown.epoch == rundown.epoch,
                Rundown.version == rundown.version,
            )
            .values(on_air=position)
            .execution_options(synchronize_session=False)
        )
        if rowcount(moved) != 1:
            raise RundownMoved()
        if schedule_id is not None:
            settled = await session.execute(
                update(Schedule)
                .where(Schedule.id == schedule_id, Schedule.state == ScheduleState.WAITING)
                .values(state=ScheduleState.FIRED, settled_at=at, bulk_id=bulk.id)
                .execution_options(synchronize_session=False)
            )
            if rowcount(settled) != 1:
                raise RundownMoved()
        for notice in notices:
            notice.payload = {**(notice.payload or {}), "bulk": bulk.id, "position": position}
        _aim(notices, rundown.id)
        audit.detail = f"{audit.detail} (bulk #{bulk.id})"[:1000]
        session.add_all([audit, *notices])

    return write


async def fired_cue(session: AsyncSession, rundown_id: int, epoch: int, position: int) -> Bulk | None:
    return await session.scalar(
        select(Bulk).where(Bulk.rundown_id == rundown_id, Bulk.rundown_epoch == epoch, Bulk.cue_position == position)
    )


async def fired_positions(session: AsyncSession, rundown_id: int, epoch: int) -> dict[int, Bulk]:
    rows = await session.scalars(select(Bulk).where(Bulk.rundown_id == rundown_id, Bulk.rundown_epoch == epoch))
    return {b.cue_position: b for b in rows.all() if b.cue_position is not None}


async def attach_message(
    sessions: Sessions, rundown_id: int, epoch: int, *, channel_id: str, message_ts: str, permalink: str | None
) -> bool:
    async with sessions.begin() as session:
        moved = await session.execute(
            update(Rundown)
            .where(Rundown.id == rundown_id, Rundown.epoch == epoch)
            .values(channel_id=channel_id, message_ts=message_ts, permalink=permalink)
            .execution_options(synchronize_session=False)
        )
        return rowcount(moved) == 1


async def set_preview(sessions: Sessions, rundown_id: int, epoch: int, position: int, file_id: str) -> None:
    """Which uploaded picture the rundown message shows for its next cue."""
    async with sessions.begin() as session:
        await session.execute(
            update(Rundown)
            .where(Rundown.id == rundown_id, Rundown.epoch == epoch)
            .values(preview_cue=position, preview_file=file_id[:32])
            .execution_options(synchronize_session=False)
        )
