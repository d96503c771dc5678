"""The moves of a change request: with `bot.store.bulks` (the requests of a bulk change together), the only code
that writes `ChangeRequest.state`.

Every move is one conditional UPDATE naming the state it leaves, so two racing callers (two replicas, two
clicks) cannot both make it; the loser gets False and reads what happened instead. A move and its audit
event commit together. The task's lock is `open_slot`: set while the request is open, cleared by every move
to a terminal state in the same UPDATE, unique per task in the database.

SequenceNumbers are allocated here, atomically with the move to applying: max(last + 1, the clock floor),
the floor being the seconds since 2020-01-01 UTC. A task removed and registered again, or one another tool has
updated, therefore never gets a number the provider has already seen (the floor is an int32 until 2088).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import logs, metrics
from bot.domain import OPEN_STATES, ChangeState
from bot.store.models import (
    Approval,
    AuditEvent,
    Base,
    ChangeRequest,
    ConfigVersion,
    IdempotencyKey,
    Notice,
    Schedule,
    Task,
)
from bot.store.outbox import lane_of

log = logging.getLogger("rtcops.changes")
Sessions = async_sessionmaker[AsyncSession]
SEQUENCE_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
INT32_MAX = 2**31 - 1


def bounded_key(key: str) -> str:
    """An idempotency key that fits its column whatever its length: a long one keeps its start and ends with
    the hash of all of it, so two keys that differ only late never collide."""
    if len(key) <= 200:
        return key
    return key[:135] + ":" + hashlib.sha256(key.encode()).hexdigest()


def sequence_floor(now: datetime) -> int:
    return int((now - SEQUENCE_EPOCH).total_seconds())


def rowcount(result: Any) -> int:
    return int(result.rowcount or 0) if isinstance(result, CursorResult) else 0


class _Undo(Exception):
    """Raised inside a transaction to roll it back."""


class LockTaken(Exception):
    """Another request holds the task's lock."""

    def __init__(self, holder: ChangeRequest) -> None:
        super().__init__(f"task locked by request #{holder.id}")
        self.holder = holder


class TaskMoved(Exception):
    """The task's version is no longer the one the request was proposed against (or the task is gone)."""


async def lock_holder(session: AsyncSession, task_id: int) -> ChangeRequest | None:
    return await session.scalar(select(ChangeRequest).where(ChangeRequest.open_slot == task_id))


async def open_requests(session: AsyncSession) -> dict[int, int]:
    """task id -> the id of its open request."""
    rows = await session.execute(select(ChangeRequest.open_slot, ChangeRequest.id).where(ChangeRequest.open_slot.is_not(None)))
    return {slot: rid for slot, rid in rows.all() if slot is not None}


async def insert(
    sessions: Sessions,
    req: ChangeRequest,
    *,
    task_version: int,
    audit: AuditEvent,
    notices: Sequence[Notice] = (),
    add: Sequence[Approval | IdempotencyKey] = (),
    schedule: Schedule | None = None,
) -> None:
    """A new request, holding the task's lock if it is open (a scheduled one takes it when its time comes), with
    what people are to be told about it, and its schedule when it has one. Raises TaskMoved or LockTaken."""
    req.open_slot = req.task_id if req.state in OPEN_STATES and req.not_before is None else None
    try:
        async with sessions.begin() as session:
            current = await session.get(Task, req.task_id)
            if current is None or current.version != task_version:
                raise TaskMoved()
            if schedule is not None:
                session.add(schedule)
                await session.flush()
                req.schedule_id = schedule.id
            session.add(req)
            await session.flush()
            if schedule is not None:
                schedule.change_request_id = req.id
            audit.change_request_id = req.id
            for notice in notices:
                notice.change_request_id, notice.lane = req.id, lane_of(req.id)
            for row in add:
                if isinstance(row, Approval):
                    row.change_request_id = req.id
            session.add_all([audit, *notices, *add])
        _moved(req, None, req.state)
    except IntegrityError:
        async with sessions() as session:
            holder = await lock_holder(session, req.task_id)
        if holder is None:
            raise
        raise LockTaken(holder) from None


async def move(
    sessions: Sessions,
    req: ChangeRequest,
    to: ChangeState,
    *,
    audit: AuditEvent,
    add: Sequence[Base] = (),
    notices: Sequence[Notice] = (),
    **values: Any,
) -> bool:
    """From the state `req` was read in to `to`; False when someone else moved it first. `add` are rows
    written with the move (a rejection's decision, say), `notices` what people are to be told of it."""
    closing = not to.open
    async with sessions.begin() as session:
        result = await session.execute(
            update(ChangeRequest)
            .where(ChangeRequest.id == req.id, ChangeRequest.state == req.state)
            .values(state=to, **({"open_slot": None} if closing else {}), **values)
            .execution_options(synchronize_session=False)
        )
        if rowcount(result) != 1:
            return False
        session.add_all([*add, audit, *notices])
    left = req.state
    _set(req, state=to, **values)
    _moved(req, left, to)
    return True


async def approve(
    sessions: Sessions,
    req: ChangeRequest,
    *,
    approval: Approval,
    audit: AuditEvent,
    idempotency_key: str | None,
    notices: Sequence[Notice] = (),
) -> bool:
    """pending -> approved for exactly the payload shown; the approver's decision and the click's idempotency
    key are written with it, so a refused click leaves no key behind."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(ChangeRequest)
            .where(
                ChangeRequest.id == req.id,
                ChangeRequest.state == ChangeState.PENDING,
                ChangeRequest.payload_hash == req.payload_hash,
            )
            .values(state=ChangeState.APPROVED, decided_by=approval.user_id, decided_at=approval.at)
            .execution_options(synchronize_session=False)
        )
        if rowcount(result) != 1:
            return False
        session.add_all([approval, audit, *notices])
        if idempotency_key is not None:
            session.add(IdempotencyKey(key=bounded_key(idempotency_key), created_at=approval.at))
    _set(req, state=ChangeState.APPROVED, decided_by=approval.user_id, decided_at=approval.at)
    _moved(req, ChangeState.PENDING, ChangeState.APPROVED)
    return True


async def begin_apply(
    sessions: Sessions, req: ChangeRequest, *, now: datetime, sequenced: bool, notices: Sequence[Notice] = ()
) -> bool | None:
    """approved -> applying, with the next SequenceNumber when the target uses one, only while the task is
    still at the version the request was proposed against. True: applying (req.sequence_number set);
    None: the task moved (the request stays approved: move it to stale); False: someone else moved it."""
    outcome: bool | None = True
    try:
        async with sessions.begin() as session:
            result = await session.execute(
                update(ChangeRequest)
                .where(ChangeRequest.id == req.id, ChangeRequest.state == ChangeState.APPROVED)
                .values(state=ChangeState.APPLYING, applying_at=now)
                .execution_options(synchronize_session=False)
            )
            if rowcount(result) != 1:
                outcome = False
                raise _Undo()
            bumped = await session.scalar(
                update(Task)
                .where(Task.id == req.task_id, Task.version == req.base_version)
                .values(sequence_number=_next_sequence(now) if sequenced else Task.sequence_number)
                .returning(Task.sequence_number)
                .execution_options(synchronize_session=False)
            )
            if bumped is None:
                outcome = None
                raise _Undo()
            sequence = int(bumped) if sequenced else None
            await session.execute(
                update(ChangeRequest)
                .where(ChangeRequest.id == req.id)
                .values(sequence_number=sequence)
                .execution_options(synchronize_session=False)
            )
            session.add_all(notices)
    except _Undo:
        return outcome
    _set(req, state=ChangeState.APPLYING, applying_at=now, sequence_number=sequence)
    _moved(req, ChangeState.APPROVED, ChangeState.APPLYING)
    return True


def _next_sequence(now: datetime, jump: int = 0) -> Any:
    floor = sequence_floor(now)
    return case((Task.sequence_number + 1 > floor, Task.sequence_number + 1), else_=floor) + jump


async def resequence(sessions: Sessions, req: ChangeRequest, *, now: datetime, jump: int = 0) -> int | None:
    """A higher SequenceNumber for a request still applying (fencing a re-send), `jump` further still; None if
    the request was settled meanwhile."""
    try:
        async with sessions.begin() as session:
            # the request's row first, then the task's: the order finish_applied takes them in, so two replicas
            # settling one request (one re-sending, one recording the answer) wait for each other, never deadlock
            held = await session.scalar(
                select(ChangeRequest.id)
                .where(ChangeRequest.id == req.id, ChangeRequest.state == ChangeState.APPLYING)
                .with_for_update()
            )
            if held is None:
                raise _Undo()
            sequence = await session.scalar(
                update(Task)
                .where(Task.id == req.task_id)
                .values(sequence_number=_next_sequence(now, jump))
                .returning(Task.sequence_number)
                .execution_options(synchronize_session=False)
            )
            result = await session.execute(
                update(ChangeRequest)
                .where(ChangeRequest.id == req.id, ChangeRequest.state == ChangeState.APPLYING)
                .values(sequence_number=sequence)
                .execution_options(synchronize_session=False)
            )
            if sequence is None or rowcount(result) != 1:
                raise _Undo()
    except _Undo:
        return None
    req.sequence_number = int(sequence)
    return int(sequence)


async def finish_applied(
    sessions: Sessions,
    req: ChangeRequest,
    *,
    provider_request_id: str | None,
    now: datetime,
    audit: AuditEvent,
    note: str = "",
    notices: Sequence[Notice] = (),
) -> int | None:
    """applying -> applied: the task's version + 1 and the new configuration version, in one transaction.
    Returns the new version, or None when another process settled the request first."""
    async with sessions.begin() as session:
        moved = await session.execute(
            update(ChangeRequest)
            .where(ChangeRequest.id == req.id, ChangeRequest.state == ChangeState.APPLYING)
            .values(
                state=ChangeState.APPLIED,
                open_slot=None,
                finished_at=now,
                provider_request_id=provider_request_id and provider_request_id[:128],
                error_code=None,
                error_message=None,
            )
            .execution_options(synchronize_session=False)
        )
        if rowcount(moved) != 1:
            return None
        version = await session.scalar(
            update(Task)
            .where(Task.id == req.task_id)
            .values(version=Task.version + 1, configuration=req.desired)
            .returning(Task.version)
            .execution_options(synchronize_session=False)
        )
        if version is None:  # the task was removed while its change was applying: keep the verdict
            version = req.base_version + 1
        else:
            session.add(
                ConfigVersion(
                    task_id=req.task_id,
                    version=version,
                    configuration=req.desired,
                    applied_by_team=req.team_id,
                    applied_by=req.requester,
                    applied_at=now,
                    change_request_id=req.id,
                    note=req.summary[:200],
                )
            )
        await session.execute(
            update(ChangeRequest)
            .where(ChangeRequest.id == req.id)
            .values(result_version=version)
            .execution_options(synchronize_session=False)
        )
        audit.detail = f"version {version}" + (f", SequenceNumber {req.sequence_number}" if req.sequence_number else "") + note
        session.add_all([audit, *notices])
    _set(
        req,
        state=ChangeState.APPLIED,
        open_slot=None,
        finished_at=now,
        provider_request_id=provider_request_id and provider_request_id[:128],
        error_code=None,
        error_message=None,
        result_version=version,
    )
    _moved(req, ChangeState.APPLYING, ChangeState.APPLIED)
    return int(version)


async def note(
    sessions: Sessions, req: ChangeRequest, *, code: str, message: str, audit: AuditEvent, notices: Sequence[Notice] = ()
) -> bool:
    """Says on a request that stays applying why its outcome is not known yet."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(ChangeRequest)
            .where(ChangeRequest.id == req.id, ChangeRequest.state == ChangeState.APPLYING)
            .values(error_code=code[:128], error_message=message)
            .execution_options(synchronize_session=False)
        )
        if rowcount(result) != 1:
            return False
        session.add_all([audit, *notices])
    _set(req, error_code=code[:128], error_message=message)
    return True


async def attach_message(sessions: Sessions, request_id: int, *, channel_id: str, message_ts: str, permalink: str | None) -> bool:
    async with sessions.begin() as session:
        result = await session.execute(
            update(ChangeRequest)
            .where(ChangeRequest.id == request_id)
            .values(channel_id=channel_id, message_ts=message_ts, permalink=permalink)
            .execution_options(synchronize_session=False)
        )
    return rowcount(result) == 1


def _moved(req: ChangeRequest, left: ChangeState | None, to: ChangeState) -> None:
    """One log line and the metrics for each move this process made (a lost race makes no move, and no line)."""
    metrics.CHANGE_TRANSITIONS.labels(to.value).inc()
    approved = req.decided_at or req.created_at  # a change that needs no approval is approved when proposed
    if to.verdict and approved is not None and req.finished_at is not None:
        metrics.APPROVAL_TO_VERDICT_SECONDS.labels(to.value).observe(max(0.0, (req.finished_at - approved).total_seconds()))
    with logs.bound(change_id=req.id, team=req.team_id):
        log.info(
            "change #%s %s -> %s", req.id, left.value if left else "new", to.value,
            extra={"from_state": left.value if left else None, "to_state": to.value, "task_id": req.task_id},
        )


def _set(req: ChangeRequest, **values: Any) -> None:
    for key, value in values.items():
        setattr(req, key, value)


async def remind(sessions: Sessions, req: ChangeRequest, *, at: datetime, notices: Sequence[Notice]) -> bool:
    """Marks a waiting request reminded, once: the reminder is written only by the process that marks it."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(ChangeRequest)
            .where(ChangeRequest.id == req.id, ChangeRequest.state == ChangeState.PENDING, ChangeRequest.reminded_at.is_(None))
            .values(reminded_at=at)
            .execution_options(synchronize_session=False)
        )
        if rowcount(result) != 1:
            return False
        for notice in notices:
            notice.change_request_id, notice.lane = req.id, lane_of(req.id)
        session.add_all(notices)
    return True
