"""Registering, listing, showing and removing tasks.

Registration reads the configuration in force where the provider can report it (Volcengine Get), and keeps
it as version 1: the first change then merges onto what is really on air, and there is a version to roll
back to. Tencent cannot report it, so the operator may state it (stream URL, volume, pause) at registration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.providers.errors import validation_problems
from bot.providers.tencent_models import START_UPDATE_REGIONS, TaskRef, UpdateStreamIngest
from bot.providers.volcengine_models import GetPushMixedStreamToCDNTask
from bot.services import audit
from bot.services.deps import Actor, Deps
from bot.services.describe import describe_changes
from bot.services.errors import BadInput, InvalidChange, TaskExists, TaskNotFound, UnknownAtProvider
from bot.services.permissions import Target, checker, require, require_somewhere, unknown_task
from bot.services.policy import effective_policy
from bot.services.provider_ops import (
    NOT_EXIST,
    NOT_FOUND,
    canvas_of,
    layout_mode,
    read_state,
    started_audio_profile,
    started_canvas,
    updatable,
)
from bot.services.results import ProviderState, TaskAdded, TaskInfo, TaskStatus
from bot.store.models import ChangeRequest, ConfigVersion, Task

_ALIAS = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_TAG = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,31}$")


@dataclass(frozen=True)
class VolcengineTask:
    alias: str
    app_id: str
    room_id: str
    task_id: str
    business_id: str | None = None
    canvas: tuple[int, int] | None = None  # used only when Get cannot report it
    tags: tuple[str, ...] = ()
    notify_channel: str | None = None
    sequence_start: int = 0  # last SequenceNumber already used on this task outside the bot, if any


@dataclass(frozen=True)
class TencentTask:
    alias: str
    sdk_app_id: int
    task_id: str
    region: str | None = None  # default TENCENTCLOUD_REGION
    site: str | None = None  # default RTCOPS_TENCENT_SITE
    tags: tuple[str, ...] = ()
    notify_channel: str | None = None
    configuration: dict[str, Any] = field(default_factory=dict)  # known StreamUrl / Volume / IsPause


def check_alias(alias: str) -> str:
    if not _ALIAS.match(alias):
        raise BadInput(f"alias {alias!r} is not valid: use 1-64 lowercase letters, digits, '-', '_' or '.'")
    return alias


def _check_common(alias: str, tags: tuple[str, ...], channel: str | None) -> None:
    check_alias(alias)
    bad = [t for t in tags if not _TAG.match(t)]
    if bad:
        raise BadInput(f"tag {bad[0]!r} is not valid: use letters, digits, '-', '_', '.' or '@'")
    if channel is not None and not _CHANNEL.match(channel):
        raise BadInput(f"channel {channel!r} is not a Slack channel ID (like C0123456789)")


def task_info(task: Task, open_request_id: int | None = None) -> TaskInfo:
    if task.provider == "volcengine":
        ids = {"AppId": task.app_id or "", "RoomId": task.room_id or "", "TaskId": task.provider_task_id}
        if task.business_id:
            ids["BusinessId"] = task.business_id
    else:
        ids = {
            "SdkAppId": task.sdk_app_id or "",
            "TaskId": task.provider_task_id,
            "Region": task.region or "",
            "Site": task.site or "",
        }
    return TaskInfo(
        alias=task.alias,
        team_id=task.team_id,
        provider=task.provider,
        identifiers=ids,
        canvas=canvas_of(task),
        tags=tuple(task.tags or ()),
        notify_channel=task.notify_channel,
        policy=effective_policy(task.policy),
        version=task.version,
        sequence_number=task.sequence_number,
        configuration=task.configuration,
        open_request_id=open_request_id,
    )


async def load_task(session: AsyncSession, team_id: str, alias: str) -> Task:
    task = await session.scalar(select(Task).where(Task.team_id == team_id, Task.alias == alias))
    if task is None:
        raise TaskNotFound(alias)
    return task


async def load_authorized(deps: Deps, actor: Actor, alias: str, action: str) -> Task:
    """The task, once the actor may do `action` on it. Permission comes first: for an alias with no task
    behind it the actor is checked as if it existed with no provider or tag (`unknown_task`), so that
    someone without a role gets the same denial whether or not the alias exists."""
    async with deps.sessions() as session:
        task = await session.scalar(select(Task).where(Task.team_id == actor.team_id, Task.alias == alias))
    await require(deps, actor, action, task_target(task) if task is not None else unknown_task(alias))
    if task is None:
        raise TaskNotFound(alias)
    return task


def task_target(task: Task) -> Target:
    return Target(task.alias, task.provider, tuple(task.tags or ()))


async def open_request_id(session: AsyncSession, task_id: int) -> int | None:
    return await session.scalar(select(ChangeRequest.id).where(ChangeRequest.open_slot == task_id))


async def add_task(deps: Deps, actor: Actor, spec: VolcengineTask | TencentTask, *, force: bool = False) -> TaskAdded:
    """A Tencent task whose Describe answers NotExist is refused unless `force`: a typo in an id must not
    go unnoticed. Volcengine's Get cannot tell a typo from a task started more than 72 h ago, so a task it
    does not find is registered with a warning instead."""
    provider = "volcengine" if isinstance(spec, VolcengineTask) else "tencent"
    _check_common(spec.alias, spec.tags, spec.notify_channel)
    await require(deps, actor, "admin", Target(spec.alias, provider, spec.tags))
    now = deps.clock()
    task = Task(
        team_id=actor.team_id,
        alias=spec.alias,
        provider=provider,
        provider_task_id=spec.task_id,
        tags=list(spec.tags),
        notify_channel=spec.notify_channel,
        policy={},
        version=0,
        sequence_number=0,
        created_by=actor.user_id,
        created_at=now,
    )
    state: ProviderState | None
    warnings: list[str] = []
    baseline: dict[str, Any] = {}
    source = "none"
    if isinstance(spec, VolcengineTask):
        try:
            GetPushMixedStreamToCDNTask.model_validate({"AppId": spec.app_id, "RoomId": spec.room_id, "TaskId": spec.task_id})
        except ValidationError as exc:
            raise InvalidChange(validation_problems(exc)) from None
        if spec.sequence_start < 0 or spec.sequence_start >= 2**31 - 1:
            raise BadInput("sequence_start must be in [0, 2147483646]")
        task.app_id, task.room_id, task.business_id = spec.app_id, spec.room_id, spec.business_id
        task.sequence_number = spec.sequence_start
        state = await read_state(deps, task)
        if state.state == NOT_FOUND:
            warnings.append(
                f"Get does not find TaskId {spec.task_id} in room {spec.room_id} of AppId {spec.app_id}; it only sees "
                "tasks started in the last 72 hours, so an older task looks the same as a typo: check the ids. "
                "Without the configuration in force a change can only be proposed once one is known"
            )
        mode = layout_mode(state.in_force)
        if mode is not None and mode != 2:
            raise BadInput(
                f"{spec.alias}: the task runs with Layout.LayoutMode {mode}; Update works only on tasks started "
                "with LayoutMode 2 (custom)"
            )
        canvas = started_canvas(state.in_force) or spec.canvas
        if canvas is not None:
            task.canvas_width, task.canvas_height = canvas
        task.audio_profile = started_audio_profile(state.in_force)
        if state.in_force:
            baseline, source = updatable(state.in_force), "provider"
    else:
        site = spec.site or deps.settings.tencent_site
        region = spec.region or deps.settings.tencentcloud_region
        if site not in ("intl", "china"):
            raise BadInput(f"site {site!r} is not valid: use intl or china")
        if region not in START_UPDATE_REGIONS:
            raise BadInput(f"region {region!r} is not valid for ingest updates: use one of {', '.join(START_UPDATE_REGIONS)}")
        try:
            TaskRef.model_validate({"SdkAppId": spec.sdk_app_id, "TaskId": spec.task_id})
            if spec.configuration:
                UpdateStreamIngest.model_validate(
                    {"SdkAppId": spec.sdk_app_id, "TaskId": spec.task_id, **spec.configuration}, context={"site": site}
                )
        except ValidationError as exc:
            raise InvalidChange(validation_problems(exc)) from None
        task.sdk_app_id, task.region, task.site = str(spec.sdk_app_id), region, site
        state = await read_state(deps, task)
        if state.state == NOT_EXIST:
            missing = (
                f"Tencent says task {spec.task_id} of SdkAppId {spec.sdk_app_id} does not exist in {region} "
                f"(DescribeStreamIngest: NotExist); check the ids and the region"
            )
            if not force:
                raise UnknownAtProvider(missing)
            warnings.append(f"{missing}; registered anyway")
        if spec.configuration:
            baseline, source = dict(spec.configuration), "given"
    if source != "none":
        task.configuration, task.version = baseline, 1
    try:
        async with deps.sessions.begin() as session:
            session.add(task)
            await session.flush()
            if source != "none":
                session.add(
                    ConfigVersion(
                        task_id=task.id,
                        version=1,
                        configuration=baseline,
                        applied_by_team=actor.team_id,
                        applied_by=actor.user_id,
                        applied_at=now,
                        change_request_id=None,
                        note=f"registered ({'read from provider' if source == 'provider' else 'as stated'})",
                    )
                )
            audit.record(
                session, deps, actor, "task.add", f"task:{spec.alias}", task_alias=spec.alias, after=task_info(task).identifiers
            )
    except IntegrityError:
        raise TaskExists(spec.alias) from None
    if state is not None and state.error:
        warnings.append(f"the provider could not be asked about the task: {state.error}")
    return TaskAdded(task=task_info(task), baseline_source=source, provider=state, warnings=tuple(warnings))


async def list_tasks(deps: Deps, actor: Actor) -> list[TaskInfo]:
    """Only the tasks the actor may view; no provider calls, so it is quick enough for a modal. Someone
    with no role anywhere is refused (PermissionDenied naming the viewer role), not shown an empty list."""
    await require_somewhere(deps, actor, "view", "list tasks")
    return await visible_tasks(deps, actor)


async def visible_tasks(deps: Deps, actor: Actor) -> list[TaskInfo]:
    """The tasks the actor may view, possibly none; never refuses (App Home shows an empty list)."""
    may_view = await checker(deps, actor, "view")
    async with deps.sessions() as session:
        tasks = (await session.scalars(select(Task).where(Task.team_id == actor.team_id).order_by(Task.alias))).all()
        rows = await session.execute(
            select(ChangeRequest.open_slot, ChangeRequest.id).where(ChangeRequest.open_slot.is_not(None))
        )
        opens = {slot: rid for slot, rid in rows.all()}
    return [task_info(t, opens.get(t.id)) for t in tasks if may_view(task_target(t)).allowed]


async def list_statuses(deps: Deps, actor: Actor) -> list[TaskStatus]:
    """`/rtc tasks`: the visible tasks with the provider state of each."""
    return [await _status(deps, info) for info in await list_tasks(deps, actor)]


async def show_task(deps: Deps, actor: Actor, alias: str) -> TaskStatus:
    task = await load_authorized(deps, actor, alias, "view")
    async with deps.sessions() as session:
        info = task_info(task, await open_request_id(session, task.id))
    return await _status(deps, info)


async def _status(deps: Deps, info: TaskInfo) -> TaskStatus:
    async with deps.sessions() as session:
        task = await load_task(session, info.team_id, info.alias)
    state = await read_state(deps, task)
    drift: list[str] = []
    if state.in_force is not None and task.configuration is not None:
        drift = describe_changes(task.provider, task.configuration, updatable(state.in_force))
    return TaskStatus(task=info, provider=state, drift_lines=drift)


async def remove_task(deps: Deps, actor: Actor, alias: str) -> TaskInfo:
    """Refused while a change is open; its versions and requests go with it, the audit trail stays."""
    await load_authorized(deps, actor, alias, "admin")
    async with deps.sessions.begin() as session:
        task = await load_task(session, actor.team_id, alias)
        open_id = await open_request_id(session, task.id)
        if open_id is not None:
            raise BadInput(
                f"{alias} has an open change (request #{open_id}); cancel it or `/rtc unlock {alias}` first",
                terminal=f"{alias} has an open change (request #{open_id}); it must be cancelled or finished in Slack first",
            )
        info = task_info(task)
        await session.delete(task)
        audit.record(session, deps, actor, "task.remove", f"task:{alias}", task_alias=alias, before=info.identifiers)
    return info
