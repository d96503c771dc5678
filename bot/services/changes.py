"""Proposing and deciding changes: the rules, for every target alike.

A proposal is merged onto the configuration in force (read from the provider where the target can), checked
whole by the target, classified by what it touches, and stored with a hash of its exact payload. An approval
must come from someone else, in scope, in time, for that payload, while the task is still what was shown.
The moves themselves are `bot.store.change_requests`; applying is `bot.services.applying`.
"""

from __future__ import annotations

import copy
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.domain import BaselineSource, ChangeKind, ChangeState, Touch
from bot.failpoints import failpoint
from bot.services import audit, notices, schedule_rows
from bot.services.applying import end_request
from bot.services.change_views import load_authorized_request, to_result
from bot.services.deps import Actor, Deps
from bot.services.errors import (
    BreakGlassOff,
    Expired,
    InvalidChange,
    InvalidState,
    Locked,
    NotFound,
    PayloadChanged,
    SelfApproval,
    Stale,
    VersionNotFound,
    WrongTarget,
)
from bot.services.policy import BREAK_GLASS, break_glass_allowed, effective_policy, needs_approval, parse_touch
from bot.services.results import ChangeResult, TaskInfo
from bot.services.tasks import load_authorized, load_task, read_state, target_of, task_info, task_ref
from bot.services.when import Timing
from bot.store import change_requests as transitions
from bot.store.models import Approval, ChangeRequest, ConfigVersion, IdempotencyKey, Task
from bot.targets.base import ChangeSyntax, Config, TargetChange
from bot.targets.base import Target as ProviderTarget
from bot.targets.config_json import contains, merge_patch, payload_hash


@dataclass(frozen=True)
class Patch:
    """A provider-JSON merge patch (RFC 7386): objects merge, arrays are replaced whole, null removes."""

    patch: dict[str, Any]
    summary_text: str | None = None

    @property
    def summary(self) -> str:
        return self.summary_text or "patch " + ", ".join(sorted(self.patch))


@dataclass(frozen=True)
class Rollback:
    """Version N's configuration, whole, through the same approvals as any change."""

    version: int

    @property
    def summary(self) -> str:
        return f"roll back to version {self.version}"


Change = TargetChange | Patch | Rollback


# ---------------------------------------------------------------- proposing


async def propose(
    deps: Deps, actor: Actor, alias: str, change: Change, *, channel: str | None = None, timing: Timing | None = None
) -> ChangeResult:
    """`channel`: where the request message is to be posted (its thread then gets every later word); without
    one (the CLI, a test) only the notification channel hears of it. `timing`: at a time (approved like any
    change before it, applied at it), or break-glass (applied at once by an approver, loudly)."""
    timing = timing or Timing()
    glass = timing.break_glass
    task = await load_authorized(deps, actor, alias, "approve" if glass else "propose")
    if glass is not None and not break_glass_allowed(task.policy):
        raise BreakGlassOff(task.alias)
    target = target_of(task)
    if timing.at is None:
        async with deps.sessions() as session:
            holder = await transitions.lock_holder(session, task.id)
        if holder is not None and glass is not None and holder.state == ChangeState.PENDING and holder.bulk_id is None:
            await supersede(deps, actor, holder, task, "a break-glass change")
        elif holder is not None:
            raise Locked(task.alias, holder.id, holder.requester, holder.permalink)
    drafted = await draft(deps, task, target, change)
    if drafted.problems:
        raise InvalidChange(drafted.problems)
    baseline, desired, touched = drafted.baseline, drafted.desired, drafted.touched
    needs = needs_approval(effective_policy(task.policy), touched)
    now = deps.clock()
    summary = change.summary[:300]
    waits = needs and glass is None
    expires = now + timedelta(minutes=deps.settings.request_ttl_minutes)
    req = new_request(
        actor,
        task,
        change,
        drafted,
        summary=summary,
        now=now,
        channel=channel,
        needs_approval=needs,
        state=ChangeState.PENDING if waits else ChangeState.APPROVED,
        # a scheduled change may be approved until its time; any other for the request lifetime
        expires_at=timing.at if timing.at is not None else expires,
        not_before=timing.at,
        break_glass=glass.strip() if glass else None,
        decided_by=actor.user_id if glass else None,
        decided_at=now if glass else None,
    )
    req.payload_hash = request_hash(req)
    preview = target.preview(task_ref(task), baseline, desired, touched)
    told = notices.proposed(req, now, preview=preview is not None) if channel else []
    if glass:
        told += notices.break_glass(req, now)
    schedule = schedule_rows.for_change(actor, req, timing, summary=f"{task.alias}: {summary}") if timing.at else None
    event = audit.event(
        deps,
        actor,
        "change.break_glass" if glass else "change.propose",
        f"task:{task.alias}",
        task_alias=task.alias,
        before=baseline,
        after=desired,
        outcome=req.state,
        detail=f"break-glass: {glass.strip()} | {summary}"[:1000] if glass else _scheduled(summary, timing),
    )
    try:
        await transitions.insert(deps.sessions, req, task_version=task.version, audit=event, notices=told, schedule=schedule)
    except transitions.TaskMoved:
        raise Stale(f"{task.alias} changed while the proposal was being prepared") from None
    except transitions.LockTaken as exc:
        raise Locked(task.alias, exc.holder.id, exc.holder.requester, exc.holder.permalink) from None
    deps.signals.deliver.set()
    if req.state == ChangeState.APPROVED and timing.at is None:
        deps.signals.apply.set()
    return to_result(req, task, preview=preview, schedule_tz=timing.tz if timing.at else None)


def _scheduled(summary: str, timing: Timing) -> str:
    return f"{summary} | at {timing.at.isoformat()}"[:1000] if timing.at else summary


async def supersede(deps: Deps, actor: Actor, holder: ChangeRequest, task: Task, by_what: str) -> None:
    """A change waiting for approval on a task that something decided already must change now (break-glass, a
    rundown's cue): that request is cancelled, said in its thread, and the other takes its place. Raises Locked
    when the request moved on first (approved or applying: it is not superseded)."""
    now = deps.clock()
    if not await transitions.move(
        deps.sessions,
        holder,
        ChangeState.CANCELLED,
        audit=audit.change_event(deps, actor, holder, task, "change.cancel", ChangeState.CANCELLED, f"superseded by {by_what}"),
        notices=notices.decided(holder, now, by=actor.user_id, what=f"superseded by {by_what}"),
        decided_by=actor.user_id,
        decided_at=now,
        finished_at=now,
    ):
        raise Locked(task.alias, holder.id, holder.requester, holder.permalink)


@dataclass(frozen=True)
class Draft:
    """A change to one task worked out but not stored: merged onto what is in force, and checked. `problems` says
    why it cannot be proposed (the target's refusals, or that nothing would change); empty when it can."""

    kind: ChangeKind
    baseline: Config
    source: BaselineSource
    drift: list[str]
    record: Config
    desired: Config
    touched: list[Touch]
    problems: list[str]


async def draft(deps: Deps, task: Task, target: ProviderTarget, change: Change) -> Draft:
    """What `change` would make of `task`: for one change (`propose`) and for each task of a bulk alike."""
    kind = await change_kind(deps, task, target, change)
    baseline, source, drift = await read_baseline(deps, task, target)
    record, desired = await build_change(deps, task, target, change, baseline)
    problems = target.validate(task_ref(task), desired)
    touched = list(target.touched(baseline, desired)) if not problems else []
    if not problems and not touched:
        problems = ["nothing would change: the result equals the configuration in force"]
    return Draft(kind, baseline, source, drift, record, desired, touched, problems)


def new_request(
    actor: Actor, task: Task, change: Change, drafted: Draft, *, summary: str, now: datetime, channel: str | None, **fields: Any
) -> ChangeRequest:
    """The request row for a drafted change; `fields` holds what differs between a single change and a bulk's
    member (approval, state, expiry, timing)."""
    return ChangeRequest(
        task_id=task.id,
        team_id=actor.team_id,
        requester=actor.user_id,
        kind=drafted.kind,
        summary=summary,
        touched=drafted.touched,
        change=drafted.record,
        baseline=drafted.baseline,
        baseline_source=drafted.source,
        desired=drafted.desired,
        drift=drafted.drift,
        base_version=task.version,
        rollback_to=change.version if isinstance(change, Rollback) else None,
        created_at=now,
        channel_id=channel[:32] if channel else None,
        **fields,
    )


async def change_kind(deps: Deps, task: Task, target: ProviderTarget, change: Change) -> ChangeKind:
    if isinstance(change, Rollback):
        return ChangeKind.ROLLBACK
    if isinstance(change, Patch):
        if not change.patch:
            raise InvalidChange(["the patch is empty; give a JSON object of the fields to change"])
        return ChangeKind.PATCH
    verb = next((v for v in target.verbs if v.name == change.verb), None)
    if verb is None:
        raise WrongTarget(task.alias, task.provider, change.verb, tuple(v.name for v in target.verbs))
    return verb.kind


async def build_change(deps: Deps, task: Task, target: ProviderTarget, change: Change, baseline: Config) -> tuple[Config, Config]:
    if isinstance(change, Rollback):
        if not 1 <= change.version <= transitions.INT32_MAX:
            raise VersionNotFound(task.alias, change.version)
        async with deps.sessions() as session:
            row = await session.scalar(
                select(ConfigVersion).where(ConfigVersion.task_id == task.id, ConfigVersion.version == change.version)
            )
        if row is None:
            raise VersionNotFound(task.alias, change.version)
        if not row.configuration:
            raise InvalidChange([f"version {change.version} holds no configuration; sending it would reset every field"])
        return {"RollbackTo": change.version}, copy.deepcopy(row.configuration)
    if isinstance(change, Patch):
        return dict(change.patch), merge_patch(baseline, change.patch)
    try:
        return target.build(change, baseline, task_ref(task))
    except ChangeSyntax as exc:
        raise InvalidChange([str(exc)]) from None


async def read_baseline(deps: Deps, task: Task, target: ProviderTarget) -> tuple[Config, BaselineSource, list[str]]:
    """What the change is merged onto: the configuration in force where the provider reports it, else the
    last one applied through rtcops."""
    stored = copy.deepcopy(task.configuration) if task.configuration else None
    if not target.reads_configuration:
        return stored or {}, BaselineSource.STORE, []
    state = await target.read(deps.providers, task_ref(task))
    if state.in_force:
        drift: list[str] = []
        if stored is not None and not contains(state.in_force, stored):
            drift = target.describe(stored, state.in_force)
        return state.in_force, BaselineSource.PROVIDER, drift
    if stored:
        return stored, BaselineSource.STORE, []
    raise InvalidChange(
        [
            f"the configuration in force cannot be read ({state.error or state.state}) and none was applied through "
            "the bot; an update would reset every field it leaves out, so nothing is proposed"
        ]
    )


def request_hash(req: ChangeRequest) -> str:
    return payload_hash({"task": req.task_id, "base_version": req.base_version, "baseline": req.baseline, "desired": req.desired})


# ---------------------------------------------------------------- deciding


async def _moved_away(deps: Deps, actor: Actor, request_id: int, wanted: str) -> InvalidState:
    async with deps.sessions() as session:
        req = await session.get(ChangeRequest, request_id)
    return InvalidState(request_id, req.state if req is not None else "gone", wanted)


def decision_row(req: ChangeRequest, actor: Actor, decision: str, at: datetime) -> Approval:
    """An approver's verdict, tied to the payload hash they were shown."""
    return Approval(
        change_request_id=req.id,
        team_id=actor.team_id,
        user_id=actor.user_id,
        decision=decision,
        payload_hash=req.payload_hash,
        at=at,
    )


async def _end(deps: Deps, actor: Actor, req: ChangeRequest, task: Task, to: ChangeState, action: str, reason: str) -> None:
    """A refusal that ends the request (expired, stale) at approval; someone else may have moved it first."""
    if not await end_request(deps, actor, req, task, to, reason, action=action):
        raise await _moved_away(deps, actor, req.id, "approved")


async def approve(
    deps: Deps, actor: Actor, request_id: int, *, expected_hash: str | None = None, idempotency_key: str | None = None
) -> ChangeResult:
    """`expected_hash` is the payload hash the approver was shown (the button carries it); `idempotency_key`
    is written with the approval, so a click that was refused can be made again."""
    req, task = await load_authorized_request(deps, actor, request_id, "approve")
    _alone(req, "approved")
    if req.state != ChangeState.PENDING:
        raise InvalidState(request_id, req.state, "approved")
    if actor.user_id == req.requester and actor.team_id == req.team_id:
        raise SelfApproval(request_id)
    now = deps.clock()
    if now >= req.expires_at:
        if req.not_before is not None:
            reason = "nobody approved it before its time"
            await _end(deps, actor, req, task, ChangeState.EXPIRED, "change.expire", reason)
            raise Stale(reason)
        minutes = deps.settings.request_ttl_minutes
        await _end(deps, actor, req, task, ChangeState.EXPIRED, "change.expire", f"nobody approved it within {minutes} min")
        raise Expired(request_id, minutes)
    if request_hash(req) != req.payload_hash or (expected_hash is not None and expected_hash != req.payload_hash):
        await _end(deps, actor, req, task, ChangeState.STALE, "change.stale", "payload changed")
        raise PayloadChanged("the change is not the one that was shown for approval")
    # a scheduled change sets what was approved at its time, over whatever changed meanwhile (bot.services.schedules)
    moved = await _task_moved(deps, req, task) if req.not_before is None else None
    if moved is not None:
        await _end(deps, actor, req, task, ChangeState.STALE, "change.stale", moved)
        raise Stale(moved)
    approved = await transitions.approve(
        deps.sessions,
        req,
        approval=decision_row(req, actor, "approve", now),
        audit=audit.change_event(deps, actor, req, task, "change.approve", ChangeState.APPROVED),
        idempotency_key=idempotency_key,
        notices=notices.decided(req, now, by=actor.user_id, what="approved"),
    )
    if not approved:
        raise await _moved_away(deps, actor, request_id, "approved")
    failpoint("after-approve-commit")
    deps.signals.apply.set()
    deps.signals.deliver.set()
    return to_result(req, task)


def _alone(req: ChangeRequest, wanted: str) -> None:
    """A task's request that is part of a bulk change is decided with the bulk, by one decision for all of them."""
    if req.bulk_id is not None:
        raise InvalidState(req.id, f"part of bulk change #{req.bulk_id}, decided as a whole", wanted)


async def already_decided(deps: Deps, key: str) -> bool:
    """Whether a click with this key was already carried out (a redelivery or a double click)."""
    async with deps.sessions() as session:
        return await session.get(IdempotencyKey, transitions.bounded_key(key)) is not None


async def _task_moved(deps: Deps, req: ChangeRequest, task: Task) -> str | None:
    async with deps.sessions() as session:
        current = await session.get(Task, task.id)
    if current is None or current.version != req.base_version:
        now_at = current.version if current else "removed"
        return f"{task.alias} was changed since this was proposed (version {req.base_version} -> {now_at})"
    if req.baseline_source != BaselineSource.PROVIDER:
        return None
    state = await read_state(deps, task)
    if state.in_force is not None and state.in_force != req.baseline:
        return f"the configuration in force on {task.alias} changed outside the bot since this was proposed"
    return None


async def reject(
    deps: Deps, actor: Actor, request_id: int, reason: str | None = None, *, idempotency_key: str | None = None
) -> ChangeResult:
    req, task = await load_authorized_request(deps, actor, request_id, "approve")
    _alone(req, "rejected")
    if req.state != ChangeState.PENDING:
        raise InvalidState(request_id, req.state, "rejected")
    now = deps.clock()
    keys = [IdempotencyKey(key=transitions.bounded_key(idempotency_key), created_at=now)] if idempotency_key else []
    if not await transitions.move(
        deps.sessions,
        req,
        ChangeState.REJECTED,
        audit=audit.change_event(deps, actor, req, task, "change.reject", ChangeState.REJECTED, reason or ""),
        add=[decision_row(req, actor, "reject", now), *keys],
        notices=notices.decided(req, now, by=actor.user_id, what="rejected"),
        decided_by=actor.user_id,
        decided_at=now,
        finished_at=now,
    ):
        raise await _moved_away(deps, actor, request_id, "rejected")
    deps.signals.deliver.set()
    return to_result(req, task)


async def cancel(deps: Deps, actor: Actor, request_id: int) -> ChangeResult:
    """The requester may withdraw their own change; anyone else needs admin."""

    def needed(req: ChangeRequest) -> str:
        own = actor.user_id == req.requester and actor.team_id == req.team_id
        return "propose" if own else "admin"

    req, task = await load_authorized_request(deps, actor, request_id, needed)
    _alone(req, "cancelled")
    if req.state not in (ChangeState.PENDING, ChangeState.APPROVED):
        raise InvalidState(request_id, req.state, "cancelled")
    now = deps.clock()
    if not await transitions.move(
        deps.sessions,
        req,
        ChangeState.CANCELLED,
        audit=audit.change_event(deps, actor, req, task, "change.cancel", ChangeState.CANCELLED),
        notices=notices.decided(req, now, by=actor.user_id, what="cancelled"),
        decided_by=actor.user_id,
        decided_at=now,
        finished_at=now,
    ):
        raise await _moved_away(deps, actor, request_id, "cancelled")
    deps.signals.deliver.set()
    return to_result(req, task)


async def cancel_holder(deps: Deps, actor: Actor, task: Task, req: ChangeRequest) -> ChangeResult:
    """The change `req` holding `task`'s lock cancelled by an admin (`bot.services.locks`, which checked them)."""
    now = deps.clock()
    if not await transitions.move(
        deps.sessions,
        req,
        ChangeState.CANCELLED,
        audit=audit.change_event(deps, actor, req, task, "change.unlock", ChangeState.CANCELLED, "lock broken by admin"),
        notices=notices.decided(req, now, by=actor.user_id, what="unlocked"),
        decided_by=actor.user_id,
        decided_at=now,
        finished_at=now,
    ):
        raise await _moved_away(deps, actor, req.id, "cancelled")
    deps.signals.deliver.set()
    return to_result(req, task)


async def set_policy(deps: Deps, actor: Actor, alias: str, kind: str, required: bool) -> TaskInfo:
    touch = parse_touch(kind)
    task = await load_authorized(deps, actor, alias, "admin")
    async with deps.sessions.begin() as session:
        task = await load_task(session, actor.team_id, task.alias)
        before = effective_policy(task.policy)
        task.policy = {**(task.policy or {}), touch.value: required}
        audit.record(
            session,
            deps,
            actor,
            "task.policy",
            f"task:{task.alias}",
            task_alias=task.alias,
            before={touch.value: before[touch]},
            after={touch.value: required},
        )
    return task_info(task)


async def attach_message(deps: Deps, request_id: int, *, channel_id: str, message_ts: str, permalink: str | None) -> None:
    """The Slack layer records where the request was posted; the lock message then links to it."""
    if not await transitions.attach_message(
        deps.sessions,
        request_id,
        channel_id=channel_id[:32],
        message_ts=message_ts[:32],
        permalink=(permalink or None) and permalink[:500],
    ):
        raise NotFound(f"request #{request_id}")


async def set_approvals(deps: Deps, actor: Actor, alias: str, required: Collection[str]) -> TaskInfo:
    """Which changes on a task need a second person: exactly the kinds given (`none`: no kind). Admin only,
    and audited with the whole policy before and after."""
    wanted = {parse_touch(kind) for kind in required if kind.strip().lower() != "none"}
    task = await load_authorized(deps, actor, alias, "admin")
    async with deps.sessions.begin() as session:
        task = await load_task(session, actor.team_id, task.alias)
        before = {k.value: v for k, v in effective_policy(task.policy).items()}
        task.policy = {
            **{touch.value: touch in wanted for touch in Touch},
            BREAK_GLASS: break_glass_allowed(task.policy),
        }
        audit.record(
            session, deps, actor, "task.policy", f"task:{task.alias}", task_alias=task.alias, before=before, after=task.policy
        )
    return task_info(task)


async def set_break_glass(deps: Deps, actor: Actor, alias: str, allowed: bool) -> TaskInfo:
    """Whether approvers may apply a change on this task at once without a second person. Admin only, audited."""
    task = await load_authorized(deps, actor, alias, "admin")
    async with deps.sessions.begin() as session:
        task = await load_task(session, actor.team_id, task.alias)
        before = break_glass_allowed(task.policy)
        task.policy = {**(task.policy or {}), BREAK_GLASS: allowed}
        audit.record(
            session, deps, actor, "task.policy", f"task:{task.alias}", task_alias=task.alias,
            before={BREAK_GLASS: before}, after={BREAK_GLASS: allowed},
        )  # fmt: skip
    return task_info(task)


async def retry(deps: Deps, actor: Actor, request_id: int, *, idempotency_key: str | None = None) -> ChangeResult:
    """One click for an approver after an outcome stayed unknown: the same configuration, approved by them,
    as a new request in the same channel (merged onto what is known now, checked again, the lock taken)."""
    old, task = await load_authorized_request(deps, actor, request_id, "approve")
    if old.state != ChangeState.UNKNOWN:
        raise InvalidState(request_id, old.state, "retried")
    if actor.user_id == old.requester and actor.team_id == old.team_id:
        raise SelfApproval(request_id)
    target = target_of(task)
    async with deps.sessions() as session:
        holder = await transitions.lock_holder(session, task.id)
    if holder is not None:
        raise Locked(task.alias, holder.id, holder.requester, holder.permalink)
    baseline, source, drift = await read_baseline(deps, task, target)
    desired = copy.deepcopy(old.desired)
    problems = target.validate(task_ref(task), desired)
    if problems:
        raise InvalidChange(problems)
    touched = target.touched(baseline, desired)
    if not touched:
        raise InvalidChange(["nothing would change: what it sets is in force already"])
    now = deps.clock()
    req = ChangeRequest(
        task_id=task.id,
        team_id=actor.team_id,
        requester=old.requester,
        kind=old.kind,
        summary=f"retry of #{old.id}: {old.summary}"[:300],
        touched=list(touched),
        change=old.change,
        baseline=baseline,
        baseline_source=source,
        desired=desired,
        drift=drift,
        base_version=task.version,
        rollback_to=old.rollback_to,
        needs_approval=True,
        state=ChangeState.APPROVED,
        created_at=now,
        expires_at=now + timedelta(minutes=deps.settings.request_ttl_minutes),
        decided_by=actor.user_id,
        decided_at=now,
        channel_id=old.channel_id,
    )
    req.payload_hash = request_hash(req)
    told = [*notices.proposed(req, now, preview=False), *notices.decided(req, now, by=actor.user_id, what="approved")]
    if not old.channel_id:
        told = [n for n in told if n.kind not in ("post", "preview", "waiting")]
    keys = [IdempotencyKey(key=transitions.bounded_key(idempotency_key), created_at=now)] if idempotency_key else []
    event = audit.event(
        deps, actor, "change.retry", f"task:{task.alias}", task_alias=task.alias, before=baseline, after=desired,
        outcome=ChangeState.APPROVED, detail=f"retry of request #{old.id}",
    )  # fmt: skip
    try:
        await transitions.insert(
            deps.sessions,
            req,
            task_version=task.version,
            audit=event,
            notices=told,
            add=[decision_row(req, actor, "approve", now), *keys],
        )
    except transitions.TaskMoved:
        raise Stale(f"{task.alias} changed while the retry was being prepared") from None
    except transitions.LockTaken as exc:
        raise Locked(task.alias, exc.holder.id, exc.holder.requester, exc.holder.permalink) from None
    deps.signals.apply.set()
    deps.signals.deliver.set()
    return to_result(req, task)
