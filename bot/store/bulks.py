"""The moves of a bulk change and of its tasks' requests taken together: with `change_requests`, the only code
that writes `ChangeRequest.state` (and the only code that writes `Bulk.state`).

A bulk is one decision over many requests, so each move here is one transaction over all of them: the proposal
inserts every member (each taking its task's lock, each at the task version it was proposed against) or none;
the approval moves the bulk and every member from pending to approved, bound to the payload hashes shown, or
nothing; a refusal closes the bulk and every member still waiting. Every member move is the same conditional
UPDATE as for one request, naming the state it leaves.

Applying is per member (its own SequenceNumber, its own verdict); only the bookkeeping of a provider set is
batched: moving a chunk of members to applying, and recording a batch of accepted answers, each in one
transaction instead of one per task, so that store work does not hold the provider calls back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, tuple_, update
from sqlalchemy import insert as sa_insert
from sqlalchemy import update as sa_update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import OPEN_STATES, BulkState, ChangeState
from bot.store.change_requests import (
    LockTaken,
    Sessions,
    TaskMoved,
    _next_sequence,
    bounded_key,
    lock_holder,
    rowcount,
)
from bot.store.models import Approval, AuditEvent, Bulk, ChangeRequest, ConfigVersion, IdempotencyKey, Notice, Schedule, Task


class _Undo(Exception):
    """Raised inside a transaction to roll it back."""


def lane_of_bulk(bulk_id: int) -> str:
    return f"bulk:{bulk_id}"


def _aim(notices: Sequence[Notice], bulk_id: int) -> None:
    for notice in notices:
        notice.lane = lane_of_bulk(bulk_id)
        notice.payload = {**(notice.payload or {}), "bulk": bulk_id}


async def insert(
    sessions: Sessions,
    bulk: Bulk,
    members: Sequence[tuple[ChangeRequest, int]],
    *,
    audits: Sequence[AuditEvent],
    bulk_audit: AuditEvent,
    notices: Sequence[Notice] = (),
    add: Sequence[IdempotencyKey] = (),
    also: Callable[[AsyncSession, Bulk], Awaitable[None]] | None = None,
) -> None:
    """A bulk and all its requests (each with the task version it was proposed against), or nothing. `audits`
    pairs with `members`; `also` runs in the same transaction once the bulk has its id (a cue's firing moves its
    rundown there, and raises to undo everything). Raises TaskMoved when a task's version moved, LockTaken when
    another request holds a task's lock. A scheduled member holds no lock until its schedule fires."""
    for req, _ in members:
        req.open_slot = req.task_id if req.state in OPEN_STATES and req.not_before is None else None
    try:
        async with sessions.begin() as session:
            ids = [req.task_id for req, _ in members]
            versions = dict((await session.execute(select(Task.id, Task.version).where(Task.id.in_(ids)))).all())
            if any(versions.get(req.task_id) != version for req, version in members):
                raise TaskMoved()
            session.add(bulk)
            await session.flush()
            for req, _ in members:
                req.bulk_id = bulk.id
            session.add_all([req for req, _ in members])
            await session.flush()
            for audit, (req, _) in zip(audits, members, strict=True):
                audit.change_request_id = req.id
            bulk_audit.detail = (bulk_audit.detail + f" (bulk #{bulk.id})").strip()
            _aim(notices, bulk.id)
            session.add_all([*audits, bulk_audit, *notices, *add])
            if also is not None:
                await session.flush()
                await also(session, bulk)
    except IntegrityError:
        async with sessions() as session:
            for req, _ in members:
                holder = await lock_holder(session, req.task_id)
                if holder is not None and holder.bulk_id != bulk.id:
                    raise LockTaken(holder) from None
        raise


def scheduled(schedule: Schedule) -> Callable[[AsyncSession, Bulk], Awaitable[None]]:
    """`insert(also=…)` for a bulk change at a time: its schedule, written with it and pointing both ways."""

    async def write(session: AsyncSession, bulk: Bulk) -> None:
        schedule.bulk_id = bulk.id
        session.add(schedule)
        await session.flush()
        await session.execute(
            update(Bulk).where(Bulk.id == bulk.id).values(schedule_id=schedule.id).execution_options(synchronize_session=False)
        )
        await session.execute(
            update(ChangeRequest)
            .where(ChangeRequest.bulk_id == bulk.id)
            .values(schedule_id=schedule.id)
            .execution_options(synchronize_session=False)
        )
        bulk.schedule_id = schedule.id

    return write


async def approve(
    sessions: Sessions,
    bulk: Bulk,
    member_ids: Sequence[int],
    *,
    by: str,
    at: datetime,
    approvals: Sequence[Approval],
    audits: Sequence[AuditEvent],
    idempotency_key: str | None,
    notices: Sequence[Notice] = (),
) -> bool:
    """pending -> approved for the bulk and every member in one transaction, for exactly the payload shown;
    False (nothing written) when the bulk or any member moved first."""
    try:
        async with sessions.begin() as session:
            moved = await session.execute(
                update(Bulk)
                .where(Bulk.id == bulk.id, Bulk.state == BulkState.PENDING, Bulk.payload_hash == bulk.payload_hash)
                .values(state=BulkState.APPROVED, decided_by=by, decided_at=at)
                .execution_options(synchronize_session=False)
            )
            if rowcount(moved) != 1:
                raise _Undo()
            members = await session.execute(
                update(ChangeRequest)
                .where(
                    ChangeRequest.bulk_id == bulk.id,
                    ChangeRequest.id.in_(member_ids),
                    ChangeRequest.state == ChangeState.PENDING,
                )
                .values(state=ChangeState.APPROVED, decided_by=by, decided_at=at)
                .execution_options(synchronize_session=False)
            )
            if rowcount(members) != len(member_ids):
                raise _Undo()
            _aim(notices, bulk.id)
            await _insert_rows(session, [*approvals, *audits])
            session.add_all(notices)
            if idempotency_key is not None:
                session.add(IdempotencyKey(key=bounded_key(idempotency_key), created_at=at))
    except _Undo:
        return False
    bulk.state, bulk.decided_by, bulk.decided_at = BulkState.APPROVED, by, at
    return True


async def _insert_rows(session: Any, rows: Sequence[Approval | AuditEvent]) -> None:
    """Approval and audit rows, each kind in one multi-row INSERT: a bulk writes one of each per task, and
    the ORM's unit of work would spend longer on them than the decision they record."""
    for model in (Approval, AuditEvent):
        mine = [r for r in rows if isinstance(r, model)]
        if mine:
            columns = [c.key for c in model.__table__.columns if c.key != "id"]
            await session.execute(sa_insert(model), [{c: getattr(r, c) for c in columns} for r in mine])


async def end(
    sessions: Sessions,
    bulk: Bulk,
    to: BulkState,
    members_to: ChangeState,
    *,
    at: datetime,
    audits: Sequence[AuditEvent],
    add: Sequence[Approval | IdempotencyKey] = (),
    notices: Sequence[Notice] = (),
    by: str | None = None,
) -> bool:
    """The bulk from the state it was read in to `to` (rejected, cancelled, expired, stale), and every member
    not yet applying to `members_to`, releasing their locks; False when someone else moved the bulk first."""
    async with sessions.begin() as session:
        moved = await session.execute(
            update(Bulk)
            .where(Bulk.id == bulk.id, Bulk.state == bulk.state)
            .values(state=to, finished_at=at, **({"decided_by": by, "decided_at": at} if by else {}))
            .execution_options(synchronize_session=False)
        )
        if rowcount(moved) != 1:
            return False
        await session.execute(
            update(ChangeRequest)
            .where(ChangeRequest.bulk_id == bulk.id, ChangeRequest.state.in_([ChangeState.PENDING, ChangeState.APPROVED]))
            .values(state=members_to, open_slot=None, finished_at=at, **({"decided_by": by, "decided_at": at} if by else {}))
            .execution_options(synchronize_session=False)
        )
        _aim(notices, bulk.id)
        await _insert_rows(session, [*[r for r in add if isinstance(r, Approval)], *audits])
        session.add_all([*[r for r in add if not isinstance(r, Approval)], *notices])
    bulk.state, bulk.finished_at = to, at
    return True


async def begin_apply_many(
    sessions: Sessions, reqs: Sequence[ChangeRequest], *, now: datetime, sequenced: bool
) -> tuple[list[ChangeRequest], list[ChangeRequest]]:
    """approved -> applying for each request whose task is still at the version it was proposed against, with
    the task's next SequenceNumber when the target uses one: what `change_requests.begin_apply` does for one
    request, for a chunk in one transaction and two statements. Returns (started, moved): the requests now
    applying (sequence_number set), and those whose task moved (they stay approved: move them to stale). A
    request someone else moved first is in neither.

    The tasks' numbers are raised before the requests are moved: should a move then find its request taken by
    another process, a number was skipped, which is harmless (numbers only have to grow)."""
    if not reqs:
        return [], []
    async with sessions.begin() as session:
        bumped = await session.execute(
            update(Task)
            .where(tuple_(Task.id, Task.version).in_([(r.task_id, r.base_version) for r in reqs]))
            .values(sequence_number=_next_sequence(now) if sequenced else Task.sequence_number)
            .returning(Task.id, Task.sequence_number)
            .execution_options(synchronize_session=False)
        )
        numbers = {int(task_id): int(number) for task_id, number in bumped.all()}
        moved = [r for r in reqs if r.task_id not in numbers]
        ready = [r for r in reqs if r.task_id in numbers]
        taken: set[int] = set()
        if ready:
            values: dict[str, Any] = {"state": ChangeState.APPLYING, "applying_at": now}
            if sequenced:  # the number just given to the request's task (a statement that compiles once, whatever the size)
                values["sequence_number"] = select(Task.sequence_number).where(Task.id == ChangeRequest.task_id).scalar_subquery()
            result = await session.execute(
                update(ChangeRequest)
                .where(ChangeRequest.id.in_([r.id for r in ready]), ChangeRequest.state == ChangeState.APPROVED)
                .values(**values)
                .returning(ChangeRequest.id)
                .execution_options(synchronize_session=False)
            )
            taken = {int(i) for i in result.scalars().all()}
    started: list[ChangeRequest] = []
    for req in ready:
        if req.id in taken:
            req.state, req.applying_at = ChangeState.APPLYING, now
            req.sequence_number = numbers[req.task_id] if sequenced else None
            started.append(req)
    return started, moved


async def finish_applied_many(
    sessions: Sessions,
    accepted: Sequence[tuple[ChangeRequest, str | None, AuditEvent]],
    *,
    now: datetime,
    notices_for: Callable[[Sequence[ChangeRequest]], Sequence[Notice]],
) -> list[ChangeRequest]:
    """applying -> applied for a batch of accepted answers (request, RequestId, its audit event): for each, what
    `change_requests.finish_applied` writes (the conditional move, the task's version + 1 and configuration, the
    configuration version, the request's result version, its audit event), for the batch in one transaction and
    a handful of statements. Returns the requests this call settled (one another process settled first is left
    out), and writes `notices_for` them."""
    if not accepted:
        return []
    rid = {req.id: (request_id[:128] if request_id else None) for req, request_id, _ in accepted}
    tasks_t, requests_t = cast(Table, Task.__table__), cast(Table, ChangeRequest.__table__)
    async with sessions.begin() as session:
        # Which are still applying, locked until the transaction ends (SQLite's write lock, taken at BEGIN, does
        # the same): then one statement, compiled once, moves them all, as many rows as it names.
        still = await session.scalars(
            select(ChangeRequest.id)
            .where(ChangeRequest.id.in_(list(rid)), ChangeRequest.state == ChangeState.APPLYING)
            .with_for_update()
        )
        ids = {int(i) for i in still.all()}
        done = [(req, audit) for req, _, audit in accepted if req.id in ids]
        if not done:
            return []
        await session.execute(
            sa_update(requests_t)
            .where(requests_t.c.id == bindparam("request"), requests_t.c.state == ChangeState.APPLYING.value)
            .values(
                state=ChangeState.APPLIED.value,
                open_slot=None,
                finished_at=bindparam("now"),
                provider_request_id=bindparam("rid"),
                error_code=None,
                error_message=None,
            ),
            [{"request": req.id, "now": now, "rid": rid[req.id]} for req, _ in done],
        )
        await session.execute(
            sa_update(tasks_t)
            .where(tasks_t.c.id == bindparam("task"))
            .values(version=tasks_t.c.version + 1, configuration=bindparam("desired")),
            [{"task": req.task_id, "desired": req.desired} for req, _ in done],
        )
        versions = dict(
            (await session.execute(select(Task.id, Task.version).where(Task.id.in_([req.task_id for req, _ in done])))).all()
        )
        await session.execute(
            sa_update(requests_t).where(requests_t.c.id == bindparam("request")).values(result_version=bindparam("version")),
            [{"request": req.id, "version": versions.get(req.task_id, req.base_version + 1)} for req, _ in done],
        )
        rows = [
            {
                "task_id": req.task_id,
                "version": versions[req.task_id],
                "configuration": req.desired,
                "applied_by_team": req.team_id,
                "applied_by": req.requester,
                "applied_at": now,
                "change_request_id": req.id,
                "note": req.summary[:200],
            }
            for req, _ in done
            if req.task_id in versions
        ]
        if rows:
            await session.execute(sa_insert(ConfigVersion), rows)
        for req, audit in done:
            version = versions.get(req.task_id, req.base_version + 1)
            audit.detail = f"version {version}" + (f", SequenceNumber {req.sequence_number}" if req.sequence_number else "")
        settled = [req for req, _ in done]
        await _insert_rows(session, [audit for _, audit in done])
        session.add_all(notices_for(settled))
    for req, _ in done:
        req.state, req.open_slot, req.finished_at = ChangeState.APPLIED, None, now
        req.provider_request_id = rid[req.id]
        req.error_code = req.error_message = None
        req.result_version = versions.get(req.task_id, req.base_version + 1)
    return [req for req, _ in done]


async def attach_message(sessions: Sessions, bulk_id: int, *, channel_id: str, message_ts: str, permalink: str | None) -> bool:
    async with sessions.begin() as session:
        result = await session.execute(
            update(Bulk)
            .where(Bulk.id == bulk_id)
            .values(channel_id=channel_id, message_ts=message_ts, permalink=permalink)
            .execution_options(synchronize_session=False)
        )
    return rowcount(result) == 1


async def add_notices(sessions: Sessions, bulk: Bulk, notices: Sequence[Notice]) -> None:
    """Notices of a bulk that record no move (the requester told that its message could not be posted)."""
    async with sessions.begin() as session:
        _aim(notices, bulk.id)
        session.add_all(notices)


async def finish(sessions: Sessions, bulk: Bulk, *, at: datetime, notices: Sequence[Notice] = ()) -> bool:
    """Marks an approved bulk finished (every member has its verdict), once: True for the one caller that did."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(Bulk)
            .where(Bulk.id == bulk.id, Bulk.state == BulkState.APPROVED, Bulk.finished_at.is_(None))
            .values(finished_at=at)
            .execution_options(synchronize_session=False)
        )
        if rowcount(result) != 1:
            return False
        _aim(notices, bulk.id)
        session.add_all(notices)
    bulk.finished_at = at
    return True


async def remind(sessions: Sessions, bulk: Bulk, *, at: datetime, notices: Sequence[Notice]) -> bool:
    """Marks a waiting bulk reminded, once."""
    async with sessions.begin() as session:
        moved = await session.execute(
            update(Bulk)
            .where(Bulk.id == bulk.id, Bulk.state == BulkState.PENDING, Bulk.reminded_at.is_(None))
            .values(reminded_at=at)
            .execution_options(synchronize_session=False)
        )
        if rowcount(moved) != 1:
            return False
        _aim(notices, bulk.id)
        session.add_all(notices)
    return True
