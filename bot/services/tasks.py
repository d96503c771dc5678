"""Registering, listing, showing and removing tasks, for every target alike.

Registration is parsed once, here and by the task's target, whether it comes from `/rtc task add` or from
`rtcops task add`. Where the provider can report the configuration in force it becomes version 1, so the
first change merges onto what is really on air and there is a version to roll back to; a target that cannot
read it may take it as stated by the admin.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import names
from bot.domain import BaselineSource
from bot.services import audit, incident_views
from bot.services.deps import Actor, Deps
from bot.services.errors import BadInput, NoProvider, OpenChange, TaskExists, TaskNotFound, UnknownAtProvider
from bot.services.permissions import Target as Scope
from bot.services.permissions import checker, parse_scope, require, require_somewhere, scope_matches, unknown_task
from bot.services.policy import break_glass_allowed, effective_policy
from bot.services.results import ProviderState, TaskAdded, TaskInfo, TaskPage, TaskStatus
from bot.store import change_requests as transitions
from bot.store.models import ConfigVersion, Task, removed_alias
from bot.targets.base import Registration, RegistrationError, TaskRef
from bot.targets.base import Target as ProviderTarget
from bot.targets.registry import UnknownTarget, target_named

COMMON_OPTIONS = frozenset({"channel", "tags"})
"""Options every registration takes, whatever its target."""


def target_of(task: Task) -> ProviderTarget:
    try:
        return target_named(task.provider)
    except UnknownTarget:
        raise NoProvider(task.alias, task.provider) from None


def task_ref(task: Task) -> TaskRef:
    return TaskRef(task.alias, task.provider, dict(task.ids or {}), dict(task.facts or {}), task.configuration)


def task_info(task: Task, open_request_id: int | None = None) -> TaskInfo:
    return TaskInfo(
        alias=task.alias,
        team_id=task.team_id,
        provider=task.provider,
        identifiers={k: "" if v is None else str(v) for k, v in (task.ids or {}).items()},
        facts=dict(task.facts or {}),
        tags=tuple(task.tags or ()),
        notify_channel=task.notify_channel,
        policy=effective_policy(task.policy),
        version=task.version,
        sequence_number=task.sequence_number,
        configuration=task.configuration,
        open_request_id=open_request_id,
        break_glass=break_glass_allowed(task.policy),
    )


def task_scope(task: Task) -> Scope:
    return Scope(task.alias, task.provider, tuple(task.tags or ()))


async def load_task(session: AsyncSession, team_id: str, alias: str) -> Task:
    task = await session.scalar(select(Task).where(Task.team_id == team_id, Task.alias == alias))
    if task is None:
        raise TaskNotFound(alias)
    return task


async def load_authorized(deps: Deps, actor: Actor, alias: str, action: str) -> Task:
    """The task, once the actor may do `action` on it. Permission comes first: for an alias with no task
    behind it the actor is checked as if it existed with no provider or tag (`unknown_task`), so that
    someone without a role gets the same denial whether or not the alias exists."""
    try:
        alias = names.alias(alias)
    except names.InvalidName as exc:
        await require(deps, actor, action, unknown_task(alias))
        raise BadInput(str(exc)) from None
    async with deps.sessions() as session:
        task = await session.scalar(select(Task).where(Task.team_id == actor.team_id, Task.alias == alias))
    await require(deps, actor, action, task_scope(task) if task is not None else unknown_task(alias))
    if task is None:
        raise TaskNotFound(alias)
    return task


async def read_state(deps: Deps, task: Task) -> ProviderState:
    """What the provider says now; never raises for provider trouble."""
    return await target_of(task).read(deps.providers, task_ref(task))


def _common(options: Mapping[str, str]) -> tuple[tuple[str, ...], str | None]:
    try:
        tags = names.tags(options.get("tags"))
        channel = names.channel(options["channel"]) if options.get("channel") else None
    except names.InvalidName as exc:
        raise BadInput(str(exc)) from None
    return tags, channel


async def add_task(
    deps: Deps,
    actor: Actor,
    provider: str,
    alias: str,
    ids: Sequence[str],
    options: Mapping[str, str] | None = None,
    *,
    force: bool = False,
) -> TaskAdded:
    """A task the provider says does not exist is refused unless `force` (a typo in an id must not go
    unnoticed); what the provider can only warn about is registered with `TaskAdded.warnings`."""
    options = dict(options or {})
    try:
        alias = names.alias(alias)
        target = target_named(provider)
    except names.InvalidName as exc:
        raise BadInput(str(exc)) from None
    except UnknownTarget:
        raise BadInput(f"unknown provider {provider!r}: use one of {', '.join(_target_names())}") from None
    unknown = sorted(set(options) - COMMON_OPTIONS - target.registration_options)
    if unknown:
        allowed = ", ".join(f"{o}=" for o in sorted(COMMON_OPTIONS | target.registration_options))
        raise BadInput(f"unknown option {unknown[0]}= for a {target.name} task: use {allowed}")
    tags, channel = _common(options)
    await require(deps, actor, "admin", Scope(alias, target.name, tags))
    try:
        registration = target.parse_registration(
            ids, {k: v for k, v in options.items() if k not in COMMON_OPTIONS}, deps.settings
        )
    except RegistrationError as exc:
        raise BadInput(str(exc)) from None
    try:
        checked = await target.check_registration(deps.providers, alias, registration)
    except RegistrationError as exc:
        raise BadInput(str(exc)) from None
    warnings = list(checked.warnings)
    if checked.missing is not None:
        if not force:
            raise UnknownAtProvider(alias, checked.missing)
        warnings.append(f"{checked.missing}; registered anyway")
    now = deps.clock()
    task = Task(
        team_id=actor.team_id,
        alias=alias,
        provider=target.name,
        ids=checked.ids,
        facts=checked.facts,
        tags=list(tags),
        notify_channel=channel,
        policy={},
        version=0,
        sequence_number=_first_sequence(target, registration, now),
        created_by=actor.user_id,
        created_at=now,
    )
    known = checked.baseline is not None and checked.source != BaselineSource.NONE
    if known:
        task.configuration, task.version = checked.baseline, 1
    try:
        async with deps.sessions.begin() as session:
            session.add(task)
            await session.flush()
            if known and checked.baseline is not None:
                note = "read from provider" if checked.source == BaselineSource.PROVIDER else "as stated"
                session.add(
                    ConfigVersion(
                        task_id=task.id,
                        version=1,
                        configuration=checked.baseline,
                        applied_by_team=actor.team_id,
                        applied_by=actor.user_id,
                        applied_at=now,
                        change_request_id=None,
                        note=f"registered ({note})",
                    )
                )
            audit.record(session, deps, actor, "task.add", f"task:{alias}", task_alias=alias, after=task_info(task).identifiers)
    except IntegrityError:
        raise TaskExists(alias) from None
    source = checked.source if known else BaselineSource.NONE
    return TaskAdded(task=task_info(task), baseline_source=source, provider=checked.state, warnings=tuple(warnings))


def _first_sequence(target: ProviderTarget, registration: Registration, now: datetime) -> int:
    """Past the clock floor at registration: a task removed and registered again within the second of its
    last update still gets a number the provider has not seen."""
    if not target.uses_sequence_number:
        return registration.sequence_start
    return max(registration.sequence_start, transitions.sequence_floor(now) + 1)


def _target_names() -> list[str]:
    from bot.targets.registry import names as registered

    return list(registered())


async def list_tasks(deps: Deps, actor: Actor) -> list[TaskInfo]:
    """Only the tasks the actor may view; no provider calls, so it is quick enough for a modal. Someone
    with no role anywhere is refused (PermissionDenied naming the viewer role), not shown an empty list."""
    await require_somewhere(deps, actor, "view", "list tasks")
    return await visible_tasks(deps, actor)


async def visible_tasks(deps: Deps, actor: Actor) -> list[TaskInfo]:
    """The tasks the actor may view, possibly none; never refuses (App Home shows an empty list)."""
    may_view = await checker(deps, actor, "view")
    async with deps.sessions() as session:
        tasks = (
            await session.scalars(
                select(Task).where(Task.team_id == actor.team_id, Task.removed_at.is_(None)).order_by(Task.alias)
            )
        ).all()
        opens = await transitions.open_requests(session)
    return [task_info(t, opens.get(t.id)) for t in tasks if may_view(task_scope(t)).allowed]


PAGE_SIZE = 20


async def list_statuses(
    deps: Deps, actor: Actor, *, page: int = 1, selector: str | None = None, page_size: int = PAGE_SIZE
) -> TaskPage:
    """`/rtc tasks`: one page of the visible tasks (optionally only a tag's or a provider's), each with what
    its provider says now; the page's providers are asked at once, and the pacer keeps that within each
    provider's rate limit."""
    infos = await list_tasks(deps, actor)
    if selector:
        scope = parse_scope(selector)
        infos = [i for i in infos if scope_matches(scope, i)]
    pages = max(1, -(-len(infos) // page_size))
    page = min(max(1, page), pages)
    shown = infos[(page - 1) * page_size : page * page_size]
    statuses = list(await asyncio.gather(*(_status(deps, info) for info in shown)))
    return TaskPage(statuses, page, pages, len(infos), selector)


async def show_task(deps: Deps, actor: Actor, alias: str) -> TaskStatus:
    task = await load_authorized(deps, actor, alias, "view")
    async with deps.sessions() as session:
        info = task_info(task, (await transitions.open_requests(session)).get(task.id))
    return await _status(deps, info, task)


async def _status(deps: Deps, info: TaskInfo, task: Task | None = None) -> TaskStatus:
    if task is None:
        async with deps.sessions() as session:
            task = await load_task(session, info.team_id, info.alias)
    target = target_of(task)
    state = await target.read(deps.providers, task_ref(task))
    drift: list[str] = []
    if state.in_force is not None and task.configuration is not None:
        drift = target.describe(task.configuration, state.in_force)
    config = state.in_force or task.configuration
    summary = target.summarize(task_ref(task), config) if config else []
    async with deps.sessions() as session:
        watching = await incident_views.watch_of(session, task)
    return TaskStatus(task=info, provider=state, drift_lines=drift, summary_lines=summary, watch=watching)


async def remove_task(deps: Deps, actor: Actor, alias: str) -> TaskInfo:
    """Refused while a change is open. The task stops being listed or changed and its alias is free again;
    its versions, requests and audit trail are kept (see `Task.removed_at`)."""
    alias = (await load_authorized(deps, actor, alias, "admin")).alias
    async with deps.sessions.begin() as session:
        task = await load_task(session, actor.team_id, alias)
        holder = await transitions.lock_holder(session, task.id)
        if holder is not None:
            raise OpenChange(alias, holder.id)
        info = task_info(task)
        task.removed_at, task.alias = deps.clock(), removed_alias(task.id, task.alias)
        audit.record(session, deps, actor, "task.remove", f"task:{alias}", task_alias=alias, before=info.identifiers)
    return info
