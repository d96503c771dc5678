"""Bulk changes: one change over every task a selector matches, with one approval and one thread.

Each task's change is an ordinary ChangeRequest (its own lock, SequenceNumber, verdict and exactly-once rules,
through the same moves, applier and verdict code as a change of one task); the bulk groups them and carries what
they share: the decision, bound to every member's payload hash at once, the request message and its thread, the
progress, and the matched tasks the change does not cover, each with why.

Proposing reads every matched task as a single proposal does (concurrently; the pacer keeps the reads within the
providers' Get limits) and builds and checks each task's change on its own. Tasks the change cannot cover (the
caller may not change them, the command is another target's, the result is invalid or changes nothing, another
request holds the lock) are listed as refused; when there are any, nothing is stored until the caller confirms
the rest (`BulkPreview.token`), so a selector that reaches further than meant is noticed before it is proposed.

Approving checks the approver, the time, every member's payload and every task's version in the store; it does
not read every task from the provider again, which at Get's 60 calls a second would hold a 200-task change back
by over three seconds at the moment it is wanted: a bulk approval trusts what was read when it was proposed.
"""

from __future__ import annotations

import asyncio
import copy
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import defer

from bot.domain import OPEN_STATES, BulkPurpose, BulkState, ChangeState, NoticeKind, Touch
from bot.services import audit, bulk_notices, editors, schedule_rows, selectors
from bot.services.changes import Change, Patch, Rollback, draft, new_request
from bot.services.changes import request_hash as member_hash
from bot.services.deps import Actor, Deps
from bot.services.errors import (
    BadInput,
    Expired,
    InvalidChange,
    InvalidState,
    Locked,
    NotFound,
    PayloadChanged,
    PermissionDenied,
    SelfApproval,
    ServiceError,
    Stale,
)
from bot.services.permissions import checker
from bot.services.policy import break_glass_allowed, effective_policy, needs_approval
from bot.services.tasks import target_of, task_ref, task_scope
from bot.services.when import Timing
from bot.store import bulks as store
from bot.store import change_requests as transitions
from bot.store.models import Approval, AuditEvent, Bulk, ChangeRequest, IdempotencyKey, Task
from bot.targets.base import Editor, Pictured
from bot.targets.config_json import payload_hash

BULK = "bulk change"
"""What a refusal calls a bulk (its number is not a request's)."""
MAX_PICTURES = 10
"""Pictures drawn for one bulk; further distinct layouts are counted, not drawn."""


@dataclass(frozen=True)
class Refusal:
    alias: str
    reason: str


@dataclass(frozen=True)
class BulkPreview:
    """The selector matched tasks the change does not cover: nothing is stored until the caller confirms the
    rest. `token` names exactly the tasks shown (and their versions); a confirmation with another token is shown
    the set again."""

    selector: str
    summary: str
    included: list[str]
    refused: list[Refusal]
    token: str


@dataclass(frozen=True)
class Member:
    request_id: int
    alias: str
    provider: str
    state: ChangeState
    diff_lines: list[str]
    base_version: int
    error_code: str | None = None
    error_message: str | None = None
    provider_request_id: str | None = None
    result_version: int | None = None
    sequence_number: int | None = None
    gone: bool = False


@dataclass(frozen=True)
class Picture:
    """One distinct resulting layout: the tasks that share it; the first one's before/after is drawn."""

    aliases: list[str]


@dataclass(frozen=True)
class BulkResult:
    bulk_id: int
    team_id: str
    requester: str
    purpose: BulkPurpose
    selector: str
    summary: str
    state: BulkState
    needs_approval: bool
    payload_hash: str
    created_at: datetime
    expires_at: datetime
    members: list[Member]
    refused: list[Refusal]
    pictures: list[Picture] = field(default_factory=list)
    undrawn: int = 0  # distinct layouts beyond MAX_PICTURES
    decided_by: str | None = None
    parent_id: int | None = None
    channel_id: str | None = None
    message_ts: str | None = None
    link: str | None = None
    finished_at: datetime | None = None
    not_before: datetime | None = None  # scheduled: applied at this time, once approved
    schedule_id: int | None = None
    break_glass: str | None = None  # applied at once without a second person, for this reason
    cue: tuple[int, int] | None = None  # (rundown id, position): a rundown's cue

    def count(self, *states: ChangeState) -> int:
        return sum(1 for m in self.members if m.state in states)

    @property
    def applied(self) -> int:
        return self.count(ChangeState.APPLIED)

    @property
    def failed(self) -> int:
        """Did not apply and never will by itself: failed, unknown, or ended before it was sent (stale, expired,
        cancelled by an admin's unlock)."""
        return len(self.members) - self.applied - self.pending

    @property
    def pending(self) -> int:
        return self.count(*OPEN_STATES)

    @property
    def done(self) -> bool:
        """Every task has its verdict (or the bulk was refused as a whole)."""
        return self.pending == 0

    @property
    def retryable(self) -> list[Member]:
        return [m for m in self.members if m.state in (ChangeState.FAILED, ChangeState.UNKNOWN)]

    @property
    def rollbackable(self) -> list[Member]:
        return [m for m in self.members if m.state == ChangeState.APPLIED]


# ---------------------------------------------------------------- proposing

Plan = Callable[[Task], "Change | Refusal"]
"""What to propose on one matched task: its change, or why this bulk cannot change it."""


@dataclass
class _Draft:
    task: Task
    req: ChangeRequest
    needs: bool
    picture: str | None


def same_change(change: Change) -> Plan:
    """The plan of a command on a selector: the same change on every task."""
    return lambda _task: change


async def propose(
    deps: Deps,
    actor: Actor,
    selector: selectors.Selector,
    plan: Plan,
    *,
    summary: str,
    channel: str | None,
    confirm: str | None = None,
    purpose: BulkPurpose = BulkPurpose.CHANGE,
    parent_id: int | None = None,
    scene_version_id: int | None = None,
    timing: Timing | None = None,
) -> BulkResult | BulkPreview:
    """One request over every task `selector` matches (see the module docstring). `channel`: where the request
    message goes. Returns the preview instead while some matched task is refused and `confirm` is not its token.
    `timing`: at a time (its tasks' locks are taken then), or break-glass (approver on every task, at once)."""
    timing = timing or Timing()
    glass = timing.break_glass
    matched = await selectors.resolve(deps, actor, selector)
    refused = [Refusal(alias, "no task by that name that you may see") for alias in matched.missing]
    if not matched.tasks:
        raise BadInput(f"no task you may see matches {selector.text}")
    may_propose = await checker(deps, actor, "approve" if glass else "propose")
    async with deps.sessions() as session:
        opens = await transitions.open_requests(session)
    candidates: list[tuple[Task, Change]] = []
    for task in matched.tasks:
        decision = may_propose(task_scope(task))
        planned = plan(task) if decision.allowed else Refusal(task.alias, decision.reason)
        if isinstance(planned, Refusal):
            refused.append(planned)
        elif glass is not None and not break_glass_allowed(task.policy):
            refused.append(Refusal(task.alias, "its policy turns break-glass off"))
        elif task.id in opens and timing.at is None:
            refused.append(Refusal(task.alias, f"request #{opens[task.id]} holds its lock"))
        else:
            candidates.append((task, planned))
    now = deps.clock()
    drafted = await asyncio.gather(*(_draft(deps, actor, task, change, now, summary, channel) for task, change in candidates))
    drafts = [d for d in drafted if isinstance(d, _Draft)]
    refused += [d for d in drafted if isinstance(d, Refusal)]
    refused.sort(key=lambda r: r.alias)
    if not drafts:
        raise InvalidChange([f"{r.alias}: {r.reason}" for r in refused] or ["no task to change"])
    token = payload_hash(
        {
            "selector": selector.text,
            "tasks": [(d.task.alias, d.task.version) for d in drafts],
            "refused": [r.alias for r in refused],
        }
    )
    if refused and confirm != token:
        return BulkPreview(selector.text, summary, [d.task.alias for d in drafts], refused, token)
    needs = any(d.needs for d in drafts)
    waits = needs and glass is None
    state = ChangeState.PENDING if waits else ChangeState.APPROVED
    for d in drafts:
        d.req.state, d.req.needs_approval = state, needs
        d.req.not_before = timing.at
        if timing.at is not None:
            d.req.expires_at = timing.at
        if glass is not None:
            d.req.decided_by, d.req.break_glass = actor.user_id, glass.strip()
        if not waits:
            d.req.decided_at = now
    bulk = Bulk(
        team_id=actor.team_id,
        requester=actor.user_id,
        purpose=purpose,
        selector=selector.text[:300],
        summary=summary[:300],
        parent_id=parent_id,
        scene_version_id=scene_version_id,
        refused=[{"alias": r.alias, "reason": r.reason[:500]} for r in refused],
        payload_hash=bulk_hash(d.req for d in drafts),
        needs_approval=needs,
        state=BulkState.PENDING if waits else BulkState.APPROVED,
        created_at=now,
        expires_at=timing.at or now + timedelta(minutes=deps.settings.request_ttl_minutes),
        channel_id=channel[:32] if channel else None,
        not_before=timing.at,
        break_glass=glass.strip() if glass else None,
        decided_by=actor.user_id if glass else None,
        decided_at=now if glass else None,
    )
    pictures = len({d.picture for d in drafts if d.picture is not None})
    told = bulk_notices.proposed(actor.team_id, now, pictures=min(pictures, MAX_PICTURES), waiting=waits) if channel else []
    if glass is not None:
        told.append(bulk_notices.break_glass(actor.team_id, now))
    schedule = schedule_rows.for_bulk(actor, timing, summary=f"{selector.text}: {summary}", now=now) if timing.at else None
    audits = [
        audit.event(
            deps,
            actor,
            "change.propose",
            f"task:{d.task.alias}",
            task_alias=d.task.alias,
            before=d.req.baseline,
            after=d.req.desired,
            outcome=state,
            detail=d.req.summary,
        )
        for d in drafts
    ]
    bulk_audit = audit.event(
        deps,
        actor,
        "bulk.break_glass" if glass else "bulk.propose",
        f"selector:{selector.text}"[:200],
        outcome=bulk.state,
        after={"tasks": [d.task.alias for d in drafts], "refused": bulk.refused},
        detail=f"break-glass: {glass.strip()} | {summary}"[:1000] if glass else summary,
    )
    try:
        await store.insert(
            deps.sessions,
            bulk,
            [(d.req, d.task.version) for d in drafts],
            audits=audits,
            bulk_audit=bulk_audit,
            notices=told,
            also=store.scheduled(schedule) if schedule is not None else None,
        )
    except transitions.TaskMoved:
        raise Stale("a task changed while the proposal was being prepared; propose again") from None
    except transitions.LockTaken as exc:
        holder = exc.holder
        alias = next((d.task.alias for d in drafts if d.task.id == holder.task_id), "a task")
        raise Locked(alias, holder.id, holder.requester, holder.permalink) from None
    deps.signals.deliver.set()
    if not waits and timing.at is None:
        deps.signals.apply.set()
    return _result(bulk, [(d.req, d.task) for d in drafts])


async def _draft(
    deps: Deps, actor: Actor, task: Task, change: Change, now: datetime, summary: str, channel: str | None
) -> _Draft | Refusal:
    """One task's change, proposed as `changes.propose` does it but not stored; a refusal says why not."""
    target = target_of(task)
    try:
        drafted = await draft(deps, task, target, change)
    except ServiceError as exc:
        return Refusal(task.alias, str(exc))
    if drafted.problems:
        return Refusal(task.alias, "; ".join(drafted.problems))
    desired, touched = drafted.desired, drafted.touched
    req = new_request(
        actor,
        task,
        change,
        drafted,
        summary=(change.summary or summary)[:300],
        now=now,
        channel=channel,
        needs_approval=True,
        state=ChangeState.PENDING,
        expires_at=now + timedelta(minutes=deps.settings.request_ttl_minutes),
    )
    req.payload_hash = member_hash(req)
    needs = needs_approval(effective_policy(task.policy), touched)
    return _Draft(task, req, needs, _picture_key(task, desired, touched))


def _picture_key(task: Task, desired: dict[str, Any], touched: Sequence[Touch]) -> str | None:
    target = target_of(task)
    if not isinstance(target, Pictured):
        return None
    key = target.picture_key(task_ref(task), desired, touched)
    return None if key is None else f"{task.provider}:{key}"


def bulk_hash(members: Any) -> str:
    return payload_hash({"members": sorted((r.task_id, r.payload_hash) for r in members)})


# ---------------------------------------------------------------- reading


async def _load(
    deps: Deps, actor: Actor | None, bulk_id: int, *, light_tasks: bool = False
) -> tuple[Bulk, list[tuple[ChangeRequest, Task]]]:
    """The bulk and its members with their tasks; `light_tasks` leaves every configuration unread (the tasks'
    and the requests' own: a decision needs the tasks' scopes and the requests' payload hashes only)."""
    options = (
        [
            defer(Task.configuration), defer(Task.ids), defer(Task.facts), defer(Task.policy), defer(ChangeRequest.change),
            defer(ChangeRequest.baseline), defer(ChangeRequest.desired), defer(ChangeRequest.drift),
        ]
        if light_tasks
        else []
    )  # fmt: skip
    async with deps.sessions() as session:
        bulk = await session.get(Bulk, bulk_id)
        if bulk is None or (actor is not None and bulk.team_id != actor.team_id and not actor.system):
            raise NotFound(f"bulk change #{bulk_id}")
        rows = (
            await session.execute(
                select(ChangeRequest, Task)
                .join(Task, Task.id == ChangeRequest.task_id)
                .where(ChangeRequest.bulk_id == bulk_id)
                .order_by(Task.alias)
                .options(*options)
            )
        ).all()
    return bulk, list(rows)


_DIFFS: OrderedDict[tuple[str, str], list[str]] = OrderedDict()
DIFF_CACHE = 5000
"""Diff lines by payload hash (which covers the baseline and the payload): they never change once a request is
stored, and the progress message is redrawn about once a second with every task's diff."""


def _diff(req: ChangeRequest, task: Task) -> list[str]:
    key = (task.provider, req.payload_hash)
    lines = _DIFFS.get(key)
    if lines is None:
        lines = _DIFFS[key] = target_of(task).describe(req.baseline, req.desired)
        while len(_DIFFS) > DIFF_CACHE:
            _DIFFS.popitem(last=False)
    return lines


def _member(req: ChangeRequest, task: Task) -> Member:
    return Member(
        request_id=req.id,
        alias=task.alias,
        provider=task.provider,
        state=req.state,
        diff_lines=_diff(req, task),
        base_version=req.base_version,
        error_code=req.error_code,
        error_message=req.error_message,
        provider_request_id=req.provider_request_id,
        result_version=req.result_version,
        sequence_number=req.sequence_number,
        gone=req.gone,
    )


def _result(bulk: Bulk, rows: Sequence[tuple[ChangeRequest, Task]], *, diffs: bool = True) -> BulkResult:
    """`diffs` False: without each task's diff and the pictures (what a decision answers with)."""
    groups = _groups(rows) if diffs else []
    return BulkResult(
        bulk_id=bulk.id,
        team_id=bulk.team_id,
        requester=bulk.requester,
        purpose=bulk.purpose,
        selector=bulk.selector,
        summary=bulk.summary,
        state=bulk.state,
        needs_approval=bulk.needs_approval,
        payload_hash=bulk.payload_hash,
        created_at=bulk.created_at,
        expires_at=bulk.expires_at,
        members=[_member(req, task) if diffs else _bare(req, task) for req, task in sorted(rows, key=lambda r: r[1].alias)],
        refused=[Refusal(str(r.get("alias", "")), str(r.get("reason", ""))) for r in bulk.refused or []],
        pictures=[Picture([task.alias for _, task in group]) for group in groups[:MAX_PICTURES]],
        undrawn=max(0, len(groups) - MAX_PICTURES),
        decided_by=bulk.decided_by,
        parent_id=bulk.parent_id,
        channel_id=bulk.channel_id,
        message_ts=bulk.message_ts,
        link=bulk.permalink,
        finished_at=bulk.finished_at,
        **_extras(bulk),
    )


def _extras(bulk: Bulk) -> dict[str, Any]:
    return {
        "not_before": bulk.not_before,
        "schedule_id": bulk.schedule_id,
        "break_glass": bulk.break_glass,
        "cue": (bulk.rundown_id, bulk.cue_position) if bulk.rundown_id is not None and bulk.cue_position else None,
    }


def _bare(req: ChangeRequest, task: Task) -> Member:
    """A member without its diff: the progress and the outcomes never show it, and describing 200 diffs a
    second would cost more than the provider calls they report."""
    return Member(
        req.id,
        task.alias,
        task.provider,
        req.state,
        [],
        req.base_version,
        req.error_code,
        req.error_message,
        req.provider_request_id,
        req.result_version,
        req.sequence_number,
        req.gone,
    )


def _groups(rows: Sequence[tuple[ChangeRequest, Task]]) -> list[list[tuple[ChangeRequest, Task]]]:
    """The members by distinct resulting picture, in the order of their first task's alias."""
    found: dict[str, list[tuple[ChangeRequest, Task]]] = {}
    for req, task in sorted(rows, key=lambda r: r[1].alias):
        key = _picture_key(task, req.desired, [Touch(t) for t in req.touched])
        if key is not None:
            found.setdefault(key, []).append((req, task))
    return list(found.values())


async def get(deps: Deps, actor: Actor, bulk_id: int) -> BulkResult:
    bulk, rows = await _load(deps, actor, bulk_id)
    may_view = await checker(deps, actor, "view")
    if not rows or not all(may_view(task_scope(task)).allowed for _, task in rows):
        raise NotFound(f"bulk change #{bulk_id}")
    return _result(bulk, rows)


async def result_of(deps: Deps, bulk_id: int, *, diffs: bool = True) -> BulkResult:
    """A bulk as it stands, read without an actor: for the bot's own reports."""
    bulk, rows = await _load(deps, None, bulk_id)
    return _result(bulk, rows, diffs=diffs)


async def progress_of(deps: Deps, bulk_id: int) -> BulkResult:
    """A bulk as its progress message shows it, read without the tasks' configurations: the diffs come from
    the cache of diffs (read and described only for the requests it lacks), the pictures are left out. The
    progress message is redrawn about once a second while hundreds of tasks are being applied."""
    async with deps.sessions() as session:
        bulk = await session.get(Bulk, bulk_id)
        if bulk is None:
            raise NotFound(f"bulk change #{bulk_id}")
        rows = (
            await session.execute(
                select(
                    ChangeRequest.id,
                    ChangeRequest.state,
                    ChangeRequest.payload_hash,
                    ChangeRequest.base_version,
                    ChangeRequest.error_code,
                    ChangeRequest.error_message,
                    ChangeRequest.provider_request_id,
                    ChangeRequest.result_version,
                    ChangeRequest.sequence_number,
                    ChangeRequest.gone,
                    Task.alias,
                    Task.provider,
                )
                .join(Task, Task.id == ChangeRequest.task_id)
                .where(ChangeRequest.bulk_id == bulk_id)
                .order_by(Task.alias)
            )
        ).all()
        missing = [r.id for r in rows if (r.provider, r.payload_hash) not in _DIFFS]
        if missing:
            payloads = (
                await session.execute(
                    select(ChangeRequest, Task).join(Task, Task.id == ChangeRequest.task_id).where(ChangeRequest.id.in_(missing))
                )
            ).all()
            for req, task in payloads:
                _diff(req, task)
    members = [
        Member(
            r.id, r.alias, r.provider, r.state, _DIFFS.get((r.provider, r.payload_hash), []), r.base_version, r.error_code,
            r.error_message, r.provider_request_id, r.result_version, r.sequence_number, r.gone,
        )
        for r in rows
    ]  # fmt: skip
    return BulkResult(
        bulk_id=bulk.id, team_id=bulk.team_id, requester=bulk.requester, purpose=bulk.purpose, selector=bulk.selector,
        summary=bulk.summary, state=bulk.state, needs_approval=bulk.needs_approval, payload_hash=bulk.payload_hash,
        created_at=bulk.created_at, expires_at=bulk.expires_at, members=members,
        refused=[Refusal(str(r.get("alias", "")), str(r.get("reason", ""))) for r in bulk.refused or []],
        decided_by=bulk.decided_by, parent_id=bulk.parent_id, channel_id=bulk.channel_id, message_ts=bulk.message_ts,
        link=bulk.permalink, finished_at=bulk.finished_at, **_extras(bulk),
    )  # fmt: skip


async def picture(deps: Deps, bulk_id: int, index: int) -> tuple[bytes | None, list[str]]:
    """The before/after picture of the first task of the `index`-th distinct resulting layout, and the tasks that
    share it; drawn again from what the requests store (the same every time)."""
    _, rows = await _load(deps, None, bulk_id)
    groups = _groups(rows)
    if index >= len(groups):
        return None, []
    req, task = groups[index][0]
    drawn = target_of(task).preview(task_ref(task), req.baseline, req.desired, [Touch(t) for t in req.touched])
    return drawn, [t.alias for _, t in groups[index]]


# ---------------------------------------------------------------- deciding


async def _require_all(deps: Deps, actor: Actor, action: str, rows: Sequence[tuple[ChangeRequest, Task]]) -> None:
    """The actor may do `action` on every task of the bulk, or on none of them as far as this bulk goes."""
    check = await checker(deps, actor, action)
    denied = [(task.alias, d) for _, task in rows if not (d := check(task_scope(task))).allowed]
    if denied:
        aliases = ", ".join(alias for alias, _ in denied[:10]) + (f" and {len(denied) - 10} more" if len(denied) > 10 else "")
        raise PermissionDenied(action, f"{denied[0][1].reason} (also needed on {aliases})", denied[0][1].missing_role)


def _events(
    deps: Deps, actor: Actor, rows: Sequence[tuple[ChangeRequest, Task]], action: str, outcome: str, detail: str = ""
) -> list[AuditEvent]:
    return [
        audit.event(
            deps,
            actor,
            action,
            f"task:{task.alias}",
            task_alias=task.alias,
            change_request_id=req.id,
            outcome=outcome,
            detail=detail,
        )
        for req, task in rows
    ]


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
    bulk, rows = await _load(deps, None, bulk_id, light_tasks=True)
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
    bulk, rows = await _load(deps, actor, bulk_id, light_tasks=True)
    await _require_all(deps, actor, "approve", rows)
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
    approvals = [
        Approval(
            change_request_id=req.id,
            team_id=actor.team_id,
            user_id=actor.user_id,
            decision="approve",
            payload_hash=req.payload_hash,
            at=now,
        )
        for req in reqs
    ]
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
    return _result(bulk, rows, diffs=False)


async def reject(deps: Deps, actor: Actor, bulk_id: int, *, idempotency_key: str | None = None) -> BulkResult:
    bulk, rows = await _load(deps, actor, bulk_id, light_tasks=True)
    await _require_all(deps, actor, "approve", rows)
    if bulk.state != BulkState.PENDING:
        raise InvalidState(bulk_id, bulk.state, "rejected", noun=BULK)
    now = deps.clock()
    decisions: list[Approval | IdempotencyKey] = [
        Approval(
            change_request_id=req.id,
            team_id=actor.team_id,
            user_id=actor.user_id,
            decision="reject",
            payload_hash=req.payload_hash,
            at=now,
        )
        for req, _ in rows
    ]
    if idempotency_key:
        decisions.append(IdempotencyKey(key=transitions.bounded_key(idempotency_key), created_at=now))
    if not await _end(deps, actor, bulk, rows, BulkState.REJECTED, "rejected", by=actor.user_id, add=decisions):
        raise InvalidState(bulk_id, "decided", "rejected", noun=BULK)
    return _result(bulk, rows, diffs=False)


async def cancel(deps: Deps, actor: Actor, bulk_id: int) -> BulkResult:
    """The requester withdraws their bulk while it waits; anyone else needs admin on every task."""
    bulk, rows = await _load(deps, actor, bulk_id, light_tasks=True)
    own = actor.user_id == bulk.requester and actor.team_id == bulk.team_id
    await _require_all(deps, actor, "propose" if own else "admin", rows)
    if bulk.state != BulkState.PENDING:
        raise InvalidState(bulk_id, bulk.state, "cancelled", noun=BULK)
    if not await _end(deps, actor, bulk, rows, BulkState.CANCELLED, "cancelled", by=actor.user_id):
        raise InvalidState(bulk_id, "decided", "cancelled", noun=BULK)
    return _result(bulk, rows, diffs=False)


async def cancel_waiting(deps: Deps, actor: Actor, bulk_id: int, reason: str) -> int | None:
    """The whole bulk cancelled while it waits for its approval, by someone holding admin on every one of its
    tasks (`bot.services.locks`: one of them was unlocked); how many tasks it held, or None once it was decided."""
    bulk, rows = await _load(deps, actor, bulk_id, light_tasks=True)
    await _require_all(deps, actor, "admin", rows)
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
    bulk, rows = await _load(deps, None, bulk_id, light_tasks=True)
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


async def notify_targets(deps: Deps, bulk_id: int) -> list[str]:
    """The notification channels of a bulk's tasks (each task's own, else the default), each once."""
    async with deps.sessions() as session:
        found = (
            await session.scalars(
                select(Task.notify_channel)
                .join(ChangeRequest, ChangeRequest.task_id == Task.id)
                .where(ChangeRequest.bulk_id == bulk_id)
            )
        ).all()
    return list(dict.fromkeys(c for c in (c or deps.settings.notify_channel for c in found) if c))


# ---------------------------------------------------------------- after a partial failure


async def retry_failed(deps: Deps, actor: Actor, bulk_id: int, *, confirm: str | None = None) -> BulkResult | BulkPreview:
    """The tasks of a finished bulk that did not apply (failed or unknown), proposed again with the same values,
    merged onto what is in force now, as a new bulk through the same approval rules."""
    bulk, rows = await _load(deps, actor, bulk_id)
    await _require_all(deps, actor, "view", rows)
    failed = {task.id: req for req, task in rows if req.state in (ChangeState.FAILED, ChangeState.UNKNOWN)}
    if not failed:
        raise BadInput(f"bulk change #{bulk_id} has no failed task to retry")

    def plan(task: Task) -> Change | Refusal:
        old = failed[task.id]
        return Patch(copy.deepcopy(old.desired), f"retry of #{old.id}: {old.summary}"[:300])

    aliases = ",".join(task.alias for req, task in rows if task.id in failed)
    return await propose(
        deps,
        actor,
        selectors.Selector(aliases, tuple(t.alias for r, t in rows if t.id in failed)),
        plan,
        summary=f"retry the failed tasks of bulk #{bulk_id}: {bulk.summary}",
        channel=bulk.channel_id,
        confirm=confirm,
        purpose=BulkPurpose.RETRY,
        parent_id=bulk_id,
        scene_version_id=bulk.scene_version_id,
    )


async def rollback_applied(deps: Deps, actor: Actor, bulk_id: int, *, confirm: str | None = None) -> BulkResult | BulkPreview:
    """The tasks a bulk applied, each proposed back to the version it had before the bulk, as a new bulk through
    the same approval rules."""
    bulk, rows = await _load(deps, actor, bulk_id)
    await _require_all(deps, actor, "view", rows)
    applied = {task.id: req for req, task in rows if req.state == ChangeState.APPLIED}
    if not applied:
        raise BadInput(f"bulk change #{bulk_id} applied no task to roll back")

    def plan(task: Task) -> Change | Refusal:
        old = applied[task.id]
        if old.base_version < 1:
            return Refusal(task.alias, "it had no version before this bulk to go back to")
        return Rollback(old.base_version)

    aliases = tuple(t.alias for r, t in rows if t.id in applied)
    return await propose(
        deps,
        actor,
        selectors.Selector(",".join(aliases), aliases),
        plan,
        summary=f"roll back what bulk #{bulk_id} applied: {bulk.summary}",
        channel=bulk.channel_id,
        confirm=confirm,
        purpose=BulkPurpose.ROLLBACK,
        parent_id=bulk_id,
    )


__all__ = [
    "BulkPreview",
    "BulkResult",
    "Member",
    "Picture",
    "Refusal",
    "approve",
    "cancel",
    "get",
    "open_editor",
    "propose",
    "reject",
    "retry_failed",
    "rollback_applied",
    "same_change",
]


async def open_editor(deps: Deps, actor: Actor, selector_text: str, verb: str) -> Editor:
    """The editor of the first matched task the actor may change with `verb`, saying that what is changed in it
    is proposed on every matched task (merged onto what each runs), as `/rtc <verb> <selector> …` would."""
    selector = selectors.parse(selector_text)
    matched = await selectors.resolve(deps, actor, selector)
    may = await checker(deps, actor, "propose")
    owners = [
        t for t in matched.tasks if may(task_scope(t)).allowed and any(v.name == verb and v.editor for v in target_of(t).verbs)
    ]
    if not owners:
        raise BadInput(f"no task in {selector.text} that you may change takes {verb}")
    editor = await editors.open_editor(deps, actor, owners[0].alias, verb)
    note = (
        f"{len(matched.tasks)} tasks match {selector.text}; the fields show {owners[0].alias}. What you change here is "
        f"proposed on each of them, merged onto what each runs, with one approval. "
    )
    return replace(editor, intro=note + editor.intro)
