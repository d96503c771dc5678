"""Reading change requests: one request as the surfaces show it, a task's history, and the listings of
App Home. Nothing here moves a request."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from bot.domain import ChangeState, Touch
from bot.services.deps import Actor, Deps
from bot.services.errors import NotFound
from bot.services.permissions import checker, require
from bot.services.results import ChangeResult, ChangeSummary, History, VersionInfo
from bot.services.tasks import load_authorized, target_of, task_ref, task_scope
from bot.store.models import ChangeRequest, ConfigVersion, Schedule, Task

RECENT_BATCH = 200


def to_result(req: ChangeRequest, task: Task, *, preview: bytes | None = None, schedule_tz: str | None = None) -> ChangeResult:
    target = target_of(task)
    return ChangeResult(
        request_id=req.id,
        alias=task.alias,
        provider=task.provider,
        kind=req.kind,
        state=req.state,
        summary=req.summary,
        requester=req.requester,
        team_id=req.team_id,
        needs_approval=req.needs_approval,
        touched=[Touch(t) for t in req.touched],
        diff_lines=target.describe(req.baseline, req.desired),
        drift_lines=list(req.drift),
        baseline_source=req.baseline_source,
        payload_hash=req.payload_hash,
        base_version=req.base_version,
        created_at=req.created_at,
        expires_at=req.expires_at,
        desired=req.desired,
        baseline=req.baseline,
        preview_png=preview,
        rollback_to=req.rollback_to,
        decided_by=req.decided_by,
        link=req.permalink,
        channel_id=req.channel_id,
        message_ts=req.message_ts,
        notify_channel=task.notify_channel,
        uses_sequence_number=target.uses_sequence_number,
        gone=req.gone,
        sequence_number=req.sequence_number,
        provider_request_id=req.provider_request_id,
        error_code=req.error_code,
        error_message=req.error_message,
        result_version=req.result_version,
        not_before=req.not_before,
        schedule_id=req.schedule_id,
        schedule_tz=schedule_tz,
        break_glass=req.break_glass,
        reminded=req.reminded_at is not None,
    )


async def load(deps: Deps, actor: Actor, request_id: int) -> tuple[ChangeRequest, Task]:
    async with deps.sessions() as session:
        req = await session.get(ChangeRequest, request_id)
        if req is None or (req.team_id != actor.team_id and not actor.system):
            raise NotFound(f"request #{request_id}")
        task = await session.get(Task, req.task_id)
        if task is None:
            raise NotFound(f"the task of request #{request_id}")
    return req, task


async def load_authorized_request(
    deps: Deps, actor: Actor, request_id: int, action: str | Callable[[ChangeRequest], str]
) -> tuple[ChangeRequest, Task]:
    """The request and its task, once the actor may do `action` on that task. A request id that does not
    exist (or belongs to another team) is checked as a task nobody scoped, before "not found" is said."""
    try:
        req, task = await load(deps, actor, request_id)
    except NotFound:
        await require(deps, actor, action if isinstance(action, str) else "propose", None)
        raise
    await require(deps, actor, action if isinstance(action, str) else action(req), task_scope(task))
    return req, task


async def get_request(deps: Deps, actor: Actor, request_id: int) -> ChangeResult:
    req, task = await load_authorized_request(deps, actor, request_id, "view")
    return to_result(req, task)


async def result_of(deps: Deps, request_id: int) -> ChangeResult:
    """A request as it stands, read without an actor: for the bot's own reports."""
    async with deps.sessions() as session:
        req = await session.get(ChangeRequest, request_id)
        task = await session.get(Task, req.task_id) if req is not None else None
        schedule = await session.get(Schedule, req.schedule_id) if req is not None and req.schedule_id else None
    if req is None or task is None:
        raise NotFound(f"request #{request_id}")
    return to_result(req, task, schedule_tz=schedule.tz if schedule is not None else None)


def summary_of(c: ChangeRequest, alias: str) -> ChangeSummary:
    return ChangeSummary(
        c.id, c.kind, c.state, c.requester, c.summary, c.created_at, c.result_version, c.provider_request_id, c.error_code, alias
    )


async def history(deps: Deps, actor: Actor, alias: str, *, limit: int = 20) -> History:
    limit = max(1, min(limit, 200))
    task = await load_authorized(deps, actor, alias, "view")
    async with deps.sessions() as session:
        versions = (
            await session.scalars(
                select(ConfigVersion).where(ConfigVersion.task_id == task.id).order_by(ConfigVersion.version.desc()).limit(limit)
            )
        ).all()
        changes = (
            await session.scalars(
                select(ChangeRequest).where(ChangeRequest.task_id == task.id).order_by(ChangeRequest.id.desc()).limit(limit)
            )
        ).all()
    return History(
        alias=task.alias,
        current_version=task.version,
        versions=[
            VersionInfo(v.version, v.applied_by, v.applied_at, v.change_request_id, v.note, v.configuration) for v in versions
        ],
        changes=[summary_of(c, task.alias) for c in changes],
    )


async def pending_for_approver(deps: Deps, actor: Actor) -> list[ChangeResult]:
    """Open requests this actor could approve now (not their own, not expired), oldest first."""
    now = deps.clock()
    async with deps.sessions() as session:
        rows = (
            await session.execute(
                select(ChangeRequest, Task)
                .join(Task, Task.id == ChangeRequest.task_id)
                .where(
                    ChangeRequest.team_id == actor.team_id,
                    ChangeRequest.state == ChangeState.PENDING,
                    ChangeRequest.expires_at > now,
                    ChangeRequest.bulk_id.is_(None),  # a bulk change is approved as a whole, on its request message
                )
                .order_by(ChangeRequest.id)
            )
        ).all()
    may_approve = await checker(deps, actor, "approve")
    return [
        to_result(req, task) for req, task in rows if req.requester != actor.user_id and may_approve(task_scope(task)).allowed
    ]


async def my_open_requests(deps: Deps, actor: Actor) -> list[ChangeResult]:
    """The actor's own requests that are still open, oldest first; only on tasks they may still view."""
    async with deps.sessions() as session:
        rows = (
            await session.execute(
                select(ChangeRequest, Task)
                .join(Task, Task.id == ChangeRequest.task_id)
                .where(
                    Task.removed_at.is_(None),
                    ChangeRequest.team_id == actor.team_id,
                    ChangeRequest.requester == actor.user_id,
                    ChangeRequest.open_slot.is_not(None),
                )
                .order_by(ChangeRequest.id)
            )
        ).all()
    may_view = await checker(deps, actor, "view")
    return [to_result(req, task) for req, task in rows if may_view(task_scope(task)).allowed]


async def recent_changes(deps: Deps, actor: Actor, limit: int = 10) -> list[ChangeSummary]:
    """The newest changes across the tasks the actor may view, newest first.

    Read in batches, newest first, until `limit` visible ones are found: someone who sees one quiet task
    still gets its changes however busy the others are."""
    limit = max(1, min(limit, 100))
    may_view = await checker(deps, actor, "view")
    found: list[ChangeSummary] = []
    before: int | None = None
    while len(found) < limit:
        query = (
            select(ChangeRequest, Task)
            .join(Task, Task.id == ChangeRequest.task_id)
            .where(ChangeRequest.team_id == actor.team_id, Task.removed_at.is_(None))
            .order_by(ChangeRequest.id.desc())
            .limit(RECENT_BATCH)
        )
        if before is not None:
            query = query.where(ChangeRequest.id < before)
        async with deps.sessions() as session:
            rows = (await session.execute(query)).all()
        found += [summary_of(req, task.alias) for req, task in rows if may_view(task_scope(task)).allowed]
        if len(rows) < RECENT_BATCH:
            break
        before = rows[-1][0].id
    return found[:limit]


async def preview_of(deps: Deps, request_id: int) -> bytes | None:
    """The before/after picture of a request, drawn again from what it stores (the same every time)."""
    async with deps.sessions() as session:
        req = await session.get(ChangeRequest, request_id)
        task = await session.get(Task, req.task_id) if req is not None else None
    if req is None or task is None:
        return None
    return target_of(task).preview(task_ref(task), req.baseline, req.desired, [Touch(t) for t in req.touched])
