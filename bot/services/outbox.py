"""The outbox, as the Slack layer uses it: claim what is due, and say how each delivery went.

Notices are written by the store with the state change they report (`bot.services.notices`); this module
hands them out and takes their fate back. A notice claimed by a deliverer that died is claimed again once its
lease runs out; one whose previous attempt may have reached Slack says so (`uncertain`), so the deliverer
checks before saying it twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.domain import ChangeState, NoticeKind
from bot.services import audit, notices
from bot.services.deps import Actor, Deps
from bot.store import change_requests as transitions
from bot.store import outbox as store
from bot.store.models import ChangeRequest, Notice, Task

LEASE = timedelta(seconds=15)
"""Longest one delivery may take (the deliverer's Slack client gives up after 10 s)."""
UNCERTAIN = "uncertain: "
"""How a failure that may have reached Slack is recorded, so the next attempt checks first."""


@dataclass(frozen=True)
class Pending:
    id: int
    team_id: str
    lane: str
    kind: NoticeKind
    change_request_id: int | None
    payload: dict[str, Any]
    attempts: int
    last_error: str | None
    audit_event_id: int | None = None

    @property
    def uncertain(self) -> bool:
        """An earlier attempt may have been delivered: it died mid-call, or its answer was lost."""
        return self.attempts > 1 and (self.last_error is None or self.last_error.startswith(UNCERTAIN))


async def claim(deps: Deps, *, limit: int, webhook: bool = False) -> list[Pending]:
    """Due notices for Slack, or (`webhook`) audit events for the audit webhook."""
    claimed = await store.claim(deps.sessions, now=deps.clock(), lease=LEASE, limit=limit, webhook=webhook)
    return [_pending(n) for n in claimed]


async def delivered(deps: Deps, notice_id: int) -> None:
    await store.settle(deps.sessions, notice_id, state=store.DELIVERED, now=deps.clock())


async def dropped(deps: Deps, notice_id: int, reason: str) -> None:
    """Never to be delivered: what it would say has nowhere to go (no request message, a deleted channel)."""
    await store.settle(deps.sessions, notice_id, state=store.DROPPED, now=deps.clock(), error=reason)


async def later(deps: Deps, notice_id: int, *, seconds: float, error: str, uncertain: bool = False) -> None:
    at = deps.clock() + timedelta(seconds=seconds)
    await store.retry(deps.sessions, notice_id, at=at, error=(UNCERTAIN if uncertain else "") + error)


async def backlog(deps: Deps, *, webhook: bool = False) -> tuple[int, float]:
    """(pending notices for Slack, or for the audit webhook; age in seconds of the oldest), for /readyz and
    metrics."""
    return await store.backlog(deps.sessions, now=deps.clock(), webhook=webhook)


async def quiet(deps: Deps, *, webhook: bool = False) -> bool:
    """Nothing is due or being delivered."""
    return not await store.due_soon(deps.sessions, now=deps.clock(), webhook=webhook)


async def undeliverable(deps: Deps, request_id: int, *, channel: str, error: str) -> None:
    """The request message could not be posted, for good (a channel the bot is not in, say). Nobody there can
    approve it: a request still waiting is cancelled. Its requester is told in private either way."""
    async with deps.sessions() as session:
        req = await session.get(ChangeRequest, request_id)
        task = await session.get(Task, req.task_id) if req is not None else None
    if req is None or task is None:
        return
    now = deps.clock()
    told = notices.undeliverable(req, now, channel=channel, error=error)
    if req.state == ChangeState.PENDING:
        system = Actor(req.team_id, "rtcops")
        event = audit.event(
            deps,
            system,
            "change.cancel",
            f"task:{task.alias}",
            task_alias=task.alias,
            change_request_id=req.id,
            outcome=ChangeState.CANCELLED,
            detail=f"the request message could not be posted in {channel}: {error}",
        )
        if await transitions.move(deps.sessions, req, ChangeState.CANCELLED, audit=event, notices=told, finished_at=now):
            deps.signals.deliver.set()
            return
    await store.add(deps.sessions, told)
    deps.signals.deliver.set()


async def covered_with(deps: Deps, head: Pending, *, ids_limit: int) -> list[Pending]:
    """The notices of the head's kind and lane that one coalesced delivery says together with it: the pending
    ones right after it that are due now, in id order up to the first that is not, holding up to `ids_limit`
    request ids in all with the head's. The first attempt fixes the set (kept in the head's payload as
    `covered`), so a retry covers exactly what the first attempt may already have said."""
    fixed = head.payload.get("covered")
    if isinstance(fixed, list):
        wanted = {i for i in fixed if isinstance(i, int)}
        rows = await store.pending_in_lane(deps.sessions, head.lane, head.kind.value, after=head.id)
        return [_pending(n) for n in rows if n.id in wanted]
    now = deps.clock()
    rows = await store.pending_in_lane(deps.sessions, head.lane, head.kind.value, after=head.id)
    taken: list[Pending] = []
    count = len(head.payload.get("ids") or [])
    for row in rows:
        more = len((row.payload or {}).get("ids") or [])
        if row.next_at > now or count + more > ids_limit:
            break
        taken.append(_pending(row))
        count += more
    await store.remember(deps.sessions, head.id, {**head.payload, "covered": [n.id for n in taken]})
    return taken


async def more_due(deps: Deps, head: Pending, covered: list[Pending]) -> bool:
    """Whether a notice of the head's kind and lane beyond those covered is due already: the delivery that
    covers it comes at once, so this one may leave what both would redraw to it."""
    after = max([head.id, *(n.id for n in covered)])
    rows = await store.pending_in_lane(deps.sessions, head.lane, head.kind.value, after=after, limit=1)
    return bool(rows) and rows[0].next_at <= deps.clock()


async def delivered_with(deps: Deps, covered: list[Pending]) -> None:
    """The notices a coalesced delivery covered, settled once it is done (its head is settled by its own)."""
    await store.settle_many(deps.sessions, [n.id for n in covered], now=deps.clock())


def _pending(n: Notice) -> Pending:
    payload = dict(n.payload or {})
    return Pending(
        n.id, n.team_id, n.lane, NoticeKind(n.kind), n.change_request_id, payload, n.attempts, n.last_error, n.audit_event_id
    )
