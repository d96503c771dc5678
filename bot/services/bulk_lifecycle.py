"""What happens to a bulk change once proposed: its request message attached, the decision (approve, reject,
cancel, one for every task at once), its end when nobody can approve it any more, and its finish once every task
has its verdict.

Approving checks the approver, the time, every member's payload and every task's version in the store; it does
not read every task from the provider again, which at Get's 60 calls a second would hold a 200-task change back
by over three seconds at the moment it is wanted: a bulk approval trusts what was read when it was proposed.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from bot.domain import BulkState, ChangeState, NoticeKind
from bot.services import audit, bulk_notices
from bot.services.bulk_members import (
    BULK,
    BulkResult,
    bulk_hash,
    bulk_result,
    load_bulk,
    require_all,
)
from bot.services.changes import decision_row
from bot.services.deps import Actor, Deps
from bot.services.errors import (
    Expired,
    InvalidState,
    NotFound,
    PayloadChanged,
    SelfApproval,
    Stale,
)
from bot.store import bulks as store
from bot.store import change_requests as transitions
from bot.store.models import Approval, AuditEvent, Bulk, ChangeRequest, IdempotencyKey, Task


def _events(
    deps: Deps, actor: Actor, rows: Sequence[tuple[ChangeRequest, Task]], action: str, outcome: str, detail: str = ""
) -> list[AuditEvent]:
    return [audit.change_event(deps, actor, req, task, action, outcome, detail) for req, task in rows]


async def _end(
    deps: Deps,
    actor: Actor,
    bulk: Bulk,
    rows: Sequence[tuple[ChangeRequest, Task]],
    to: BulkState,
    reason: str,
    *,
    by: str | None = None,
    add: Sequence[Approval | IdempotencyKey] = (),
) -> bool:
    now = deps.clock()
    members_to = ChangeState(to.value)
    waiting = [(r, t) for r, t in rows if r.state in (ChangeState.PENDING, ChangeState.APPROVED)]
    ended = await store.end(
        deps.sessions,
        bulk,
        to,
        members_to,
        at=now,
        by=by,
        audits=[
            *_events(deps, actor, waiting, f"change.{to.value}", members_to, reason),
            _bulk_event(deps, actor, bulk, to, reason),
        ],
        add=add,
        notices=bulk_notices.decided(bulk.team_id, bulk.id, now, by=by or actor.user_id, what=to.value, reason=reason),
    )
    deps.signals.deliver.set()
    return ended


async def end_bulk(deps: Deps, actor: Actor, bulk_id: int, to: BulkState, reason: str) -> bool:
    """A bulk ended by the bot (its schedule missed or cancelled): the bulk and every member not yet applying."""
    bulk, rows = await load_bulk(deps, None, bulk_id, light_tasks=True)
    if bulk.state not in (BulkState.PENDING, BulkState.APPROVED):
        return False
    return await _end(deps, actor, bulk, rows, to, reason)


def _bulk_event(deps: Deps, actor: Actor, bulk: Bulk, outcome: str, detail: str = "") -> AuditEvent:
    return audit.event(
        deps, actor, f"bulk.{outcome}", f"bulk:{bulk.id}", outcome=outcome, detail=f"{bulk.selector}: {detail}"[:1000]
    )


async def approve(
    deps: Deps, actor: Actor, bulk_id: int, *, expected_hash: str | None = None, idempotency_key: str | None = None
) -> BulkResult:
    """One approval for every task of the bulk, bound to the payloads shown (the button carries the bulk's
    hash, which covers each member's; each member's payload is checked against its own hash before it is
    sent): someone else than the requester, holding approver on every task, in time, while every task is at the
    version it was proposed against."""
    bulk, rows = await load_bulk(deps, actor, bulk_id, light_tasks=True)
    await require_all(deps, actor, "approve", rows)
    if bulk.state != BulkState.PENDING:
        raise InvalidState(bulk_id, bulk.state, "approved", noun=BULK)
    if actor.user_id == bulk.requester and actor.team_id == bulk.team_id:
        raise SelfApproval(bulk_id)
    now = deps.clock()
    if now >= bulk.expires_at:
        if bulk.not_before is not None:
            reason = "nobody approved it before its time"
            await _end(deps, actor, bulk, rows, BulkState.EXPIRED, reason)
            raise Stale(reason)
        minutes = deps.settings.request_ttl_minutes
        await _end(deps, actor, bulk, rows, BulkState.EXPIRED, f"nobody approved it within {minutes} min")
        raise Expired(bulk_id, minutes, noun=BULK)
    reqs = [req for req, _ in rows]
    # The bulk's hash covers every member's payload hash; that each member's payload still matches its own hash is
    # checked again right before it is sent (bot.services.bulk_apply), where the payload is read anyway.
    if bulk_hash(reqs) != bulk.payload_hash or (expected_hash is not None and expected_hash != bulk.payload_hash):
        await _end(deps, actor, bulk, rows, BulkState.STALE, "payload changed")
        raise PayloadChanged("the change is not the one that was shown for approval")
    async with deps.sessions() as session:
        versions = dict(
            (await session.execute(select(Task.id, Task.version).where(Task.id.in_([r.task_id for r in reqs])))).all()
        )
    # a scheduled bulk sets what was approved at its time, over whatever changed meanwhile (bot.services.schedules)
    moved = [task.alias for req, task in rows if versions.get(task.id) != req.base_version and req.not_before is None]
    if moved:
        reason = f"{', '.join(moved[:10])} changed since this was proposed"
        await _end(deps, actor, bulk, rows, BulkState.STALE, reason)
        raise Stale(reason)
    approvals = [decision_row(req, actor, "approve", now) for req in reqs]
    approved = await store.approve(
        deps.sessions,
        bulk,
        [req.id for req in reqs],
        by=actor.user_id,
        at=now,
        approvals=approvals,
        audits=[*_events(deps, actor, rows, "change.approve", ChangeState.APPROVED), _bulk_event(deps, actor, bulk, "approve")],
        idempotency_key=idempotency_key,
        notices=bulk_notices.decided(bulk.team_id, bulk.id, now, by=actor.user_id, what="approved"),
    )
    if not approved:
        async with deps.sessions() as session:
            again = await session.get(Bulk, bulk_id)
        raise InvalidState(bulk_id, again.state if again is not None else "gone", "approved", noun=BULK)
    for req in reqs:
        req.state, req.decided_by, req.decided_at = ChangeState.APPROVED, actor.user_id, now
    # The deliverer is not woken: the applier wakes it once the first sends are out (bot.services.bulk_apply), so
    # that the thread's "approved" does not take the store's lock from under the apply's first steps.
    deps.signals.apply.set()
    return bulk_result(bulk, rows, diffs=False)


async def reject(deps: Deps, actor: Actor, bulk_id: int, *, idempotency_key: str | None = None) -> BulkResult:
    bulk, rows = await load_bulk(deps, actor, bulk_id, light_tasks=True)
    await require_all(deps, actor, "approve", rows)
    if bulk.state != BulkState.PENDING:
        raise InvalidState(bulk_id, bulk.state, "rejected", noun=BULK)
    now = deps.clock()
    decisions: list[Approval | IdempotencyKey] = [decision_row(req, actor, "reject", now) for req, _ in rows]
    if idempotency_key:
        decisions.append(IdempotencyKey(key=transitions.bounded_key(idempotency_key), created_at=now))
    if not await _end(deps, actor, bulk, rows, BulkState.REJECTED, "rejected", by=actor.user_id, add=decisions):
        raise InvalidState(bulk_id, "decided", "rejected", noun=BULK)
    return bulk_result(bulk, rows, diffs=False)


async def cancel(deps: Deps, actor: Actor, bulk_id: int) -> BulkResult:
    """The requester withdraws their bulk while it waits; anyone else needs admin on every task."""
    bulk, rows = await load_bulk(deps, actor, bulk_id, light_tasks=True)
    own = actor.user_id == bulk.requester and actor.team_id == bulk.team_id
    await require_all(deps, actor, "propose" if own else "admin", rows)
    if bulk.state != BulkState.PENDING:
        raise InvalidState(bulk_id, bulk.state, "cancelled", noun=BULK)
    if not await _end(deps, actor, bulk, rows, BulkState.CANCELLED, "cancelled", by=actor.user_id):
        raise InvalidState(bulk_id, "decided", "cancelled", noun=BULK)
    return bulk_result(bulk, rows, diffs=False)


async def cancel_waiting(deps: Deps, actor: Actor, bulk_id: int, reason: str) -> int | None:
    """The whole bulk cancelled while it waits for its approval, by someone holding admin on every one of its
    tasks (`bot.services.locks`: one of them was unlocked); how many tasks it held, or None once it was decided."""
    bulk, rows = await load_bulk(deps, actor, bulk_id, light_tasks=True)
    await require_all(deps, actor, "admin", rows)
    if bulk.state != BulkState.PENDING:
        return None
    if not await _end(deps, actor, bulk, rows, BulkState.CANCELLED, reason, by=actor.user_id):
        return None
    return len(rows)


async def already_decided(deps: Deps, key: str) -> bool:
    async with deps.sessions() as session:
        return await session.get(IdempotencyKey, transitions.bounded_key(key)) is not None


async def attach_message(deps: Deps, bulk_id: int, *, channel_id: str, message_ts: str, permalink: str | None) -> None:
    if not await store.attach_message(
        deps.sessions,
        bulk_id,
        channel_id=channel_id[:32],
        message_ts=message_ts[:32],
        permalink=(permalink or None) and permalink[:500],
    ):
        raise NotFound(f"bulk change #{bulk_id}")


async def undeliverable(deps: Deps, bulk_id: int, *, error: str) -> None:
    """The request message could not be posted, for good: a bulk still waiting is cancelled (nobody there can
    approve it), and its requester is told in private either way, as for one change."""
    bulk, rows = await load_bulk(deps, None, bulk_id, light_tasks=True)
    now = deps.clock()
    told = [
        bulk_notices.notice(
            bulk.team_id, bulk.id, NoticeKind.BULK_UNDELIVERABLE, now, channel=bulk.channel_id or "", error=error[:200]
        )
    ]
    system = Actor(bulk.team_id, "rtcops")
    reason = f"the request message could not be posted in {bulk.channel_id}: {error}"
    if bulk.state == BulkState.PENDING:
        audits = [
            *_events(deps, system, rows, "change.cancel", ChangeState.CANCELLED, reason),
            _bulk_event(deps, system, bulk, "cancel", reason),
        ]
        if await store.end(deps.sessions, bulk, BulkState.CANCELLED, ChangeState.CANCELLED, at=now, audits=audits, notices=told):
            deps.signals.deliver.set()
            return
    await store.add_notices(deps.sessions, bulk, told)
    deps.signals.deliver.set()


async def finish_if_done(deps: Deps, bulk_id: int) -> bool:
    """Once every task of an approved bulk has its verdict: marks it finished and has the notification channels
    told, once (the mark is conditional, so two deliverers seeing the end together tell it once)."""
    async with deps.sessions() as session:
        bulk = await session.get(Bulk, bulk_id)
        states = (await session.scalars(select(ChangeRequest.state).where(ChangeRequest.bulk_id == bulk_id))).all()
    if bulk is None or bulk.state != BulkState.APPROVED or bulk.finished_at is not None or any(s.open for s in states):
        return False
    now = deps.clock()
    done = await store.finish(deps.sessions, bulk, at=now, notices=[bulk_notices.finished(bulk.team_id, bulk.id, now)])
    if done:
        deps.signals.deliver.set()
    return done
