"""Reading what the watcher stored: one incident as its message shows it, a task's watch, the open incidents of a
team. Nothing here moves anything, and nothing here calls a provider, so `/rtc status`, App Home and the outbox
can all use it (`bot.services.watch` holds the rules)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import Condition, IncidentState
from bot.services.results import IncidentView, WatchInfo
from bot.store.models import ConfigVersion, Incident, Task, Watch
from bot.targets.registry import UnknownTarget, target_named


def _title(provider: str) -> str:
    try:
        return target_named(provider).title
    except UnknownTarget:
        return provider


async def view(session: AsyncSession, incident: Incident, task: Task) -> IncidentView:
    version = await session.scalar(
        select(ConfigVersion).where(ConfigVersion.task_id == task.id, ConfigVersion.version == incident.version)
    )
    watch = await session.get(Watch, task.id)
    return IncidentView(
        id=incident.id,
        team_id=incident.team_id,
        alias=task.alias,
        provider=task.provider,
        title=_title(task.provider),
        kind=incident.kind,
        state=incident.state,
        words=incident.words,
        since=incident.since,
        opened_at=incident.opened_at,
        recovered_at=incident.recovered_at,
        flaps=incident.flaps,
        version=incident.version,
        version_by=version.applied_by if version is not None else None,
        version_at=version.applied_at if version is not None else None,
        version_note=version.note if version is not None else "",
        diff_lines=list(incident.diff or []),
        notify_channel=task.notify_channel,
        channel_id=incident.channel_id,
        message_ts=incident.message_ts,
        link=incident.permalink,
        acked_by=incident.acked_by,
        acked_at=incident.acked_at,
        muted_until=watch.muted_until if watch is not None else None,
        muted_by=watch.muted_by if watch is not None else None,
        resolution=incident.resolution,
        restore_request_id=incident.restore_request_id,
    )


async def incident_view(session: AsyncSession, incident_id: int) -> IncidentView | None:
    incident = await session.get(Incident, incident_id)
    task = await session.get(Task, incident.task_id) if incident is not None else None
    if incident is None or task is None:
        return None
    return await view(session, incident, task)


async def open_incidents(session: AsyncSession, task_ids: Iterable[int]) -> list[IncidentView]:
    """The open incidents of these tasks, oldest first."""
    ids = list(task_ids)
    if not ids:
        return []
    rows = (
        await session.execute(
            select(Incident, Task)
            .join(Task, Task.id == Incident.task_id)
            .where(Incident.state == IncidentState.OPEN, Incident.task_id.in_(ids))
            .order_by(Incident.since, Incident.id)
        )
    ).all()
    return [await view(session, incident, task) for incident, task in rows]


def watch_info(task: Task, watch: Watch | None, open_count: int = 0) -> WatchInfo:
    if watch is None:
        return WatchInfo(task.alias, True, Condition.UNKNOWN, "", None, None, open_count)
    return WatchInfo(task.alias, watch.enabled, watch.condition, watch.words, watch.since, watch.muted_until, open_count)


async def watch_of(session: AsyncSession, task: Task) -> WatchInfo:
    watch = await session.get(Watch, task.id)
    count = await session.scalar(
        select(func.count(Incident.id)).where(Incident.task_id == task.id, Incident.state == IncidentState.OPEN)
    )
    return watch_info(task, watch, int(count or 0))


async def watches_of(session: AsyncSession, tasks: Iterable[Task]) -> dict[str, WatchInfo]:
    """alias -> what the watcher knows, for several tasks at once."""
    by_id = {t.id: t for t in tasks}
    if not by_id:
        return {}
    rows = {w.task_id: w for w in (await session.scalars(select(Watch).where(Watch.task_id.in_(list(by_id))))).all()}
    counts = dict(
        (
            await session.execute(
                select(Incident.task_id, func.count(Incident.id))
                .where(Incident.task_id.in_(list(by_id)), Incident.state == IncidentState.OPEN)
                .group_by(Incident.task_id)
            )
        ).all()
    )
    return {t.alias: watch_info(t, rows.get(t.id), int(counts.get(t.id, 0))) for t in by_id.values()}
