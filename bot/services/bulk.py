"""Bulk changes: one change over every task a selector matches, with one approval and one thread.

Each task's change is an ordinary ChangeRequest (its own lock, SequenceNumber, verdict and exactly-once rules,
through the same moves, applier and verdict code as a change of one task); the bulk groups them and carries what
they share: the decision, bound to every member's payload hash at once, the request message and its thread, the
progress, and the matched tasks the change does not cover, each with why.

This module proposes. Proposing reads every matched task as a single proposal does (concurrently; the pacer keeps
the reads within the providers' Get limits) and builds and checks each task's change on its own. Tasks the change
cannot cover (the caller may not change them, the command is another target's, the result is invalid or changes
nothing, another request holds the lock) are listed as refused; when there are any, nothing is stored until the
caller confirms the rest (`BulkPreview.token`), so a selector that reaches further than meant is noticed before it
is proposed. Retry failed and Roll back applied propose the same way. What a bulk is made of and how it is shown
is in `bot.services.bulk_members`; its decision and what follows in `bot.services.bulk_lifecycle`.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.domain import BulkPurpose, BulkState, ChangeState
from bot.services import audit, bulk_notices, editors, schedule_rows, selectors
from bot.services.bulk_members import (
    MAX_PICTURES,
    BulkPreview,
    BulkResult,
    Refusal,
    bulk_hash,
    bulk_result,
    load_bulk,
    picture_key,
    require_all,
)
from bot.services.changes import Change, Patch, Rollback, draft, new_request
from bot.services.changes import request_hash as member_hash
from bot.services.deps import Actor, Deps
from bot.services.errors import (
    BadInput,
    InvalidChange,
    Locked,
    ServiceError,
    Stale,
)
from bot.services.permissions import checker
from bot.services.policy import break_glass_allowed, effective_policy, needs_approval
from bot.services.tasks import target_of, task_scope
from bot.services.when import Timing
from bot.store import bulks as store
from bot.store import change_requests as transitions
from bot.store.models import Bulk, ChangeRequest, Task
from bot.targets.base import Editor
from bot.targets.config_json import payload_hash

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
    return bulk_result(bulk, [(d.req, d.task) for d in drafts])


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
    return _Draft(task, req, needs, picture_key(task, desired, touched))


# ---------------------------------------------------------------- after a partial failure


async def retry_failed(deps: Deps, actor: Actor, bulk_id: int, *, confirm: str | None = None) -> BulkResult | BulkPreview:
    """The tasks of a finished bulk that did not apply (failed or unknown), proposed again with the same values,
    merged onto what is in force now, as a new bulk through the same approval rules."""
    bulk, rows = await load_bulk(deps, actor, bulk_id)
    await require_all(deps, actor, "view", rows)
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
    bulk, rows = await load_bulk(deps, actor, bulk_id)
    await require_all(deps, actor, "view", rows)
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
