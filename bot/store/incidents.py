"""The moves of the watcher's state: a task's watch row, its incidents, and the polling lease. The only code that
writes `Watch`, `Incident` and `WatchLease`.

As with change requests (`bot.store.change_requests`), every move is one conditional UPDATE naming what it
expects to find, or an INSERT that a unique column refuses, so replicas and double clicks settle in the
database: at most one incident per task and slot exists (`Incident.slot`), it is announced once (`announced`
flips once, with its notice in the same transaction), acknowledged once, recovered once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bot.domain import ChangeState, Condition, IncidentKind, IncidentState
from bot.store.change_requests import lock_holder, rowcount
from bot.store.models import AuditEvent, ChangeRequest, ConfigVersion, Incident, Notice, Task, Watch, WatchLease

Sessions = async_sessionmaker[AsyncSession]
HEALTH, DRIFT = "health", "drift"
S = TypeVar("S")
_HEALTH_SLOT, _DRIFT_SLOT = aliased(Incident, name="health_slot"), aliased(Incident, name="drift_slot")
"""Made once: an alias built per query costs more than the query (its columns are copied each time)."""


def slot_of(task_id: int, which: str) -> str:
    """`which`: HEALTH (reconnecting, failed, ended) or DRIFT."""
    return f"{task_id}:{which}"


def lane_of(incident_id: int) -> str:
    """The outbox lane of an incident's notices: its post comes before any update of it."""
    return f"incident:{incident_id}"


def _lane(incident_id: int, notices: Sequence[Notice]) -> None:
    for notice in notices:
        notice.lane = lane_of(incident_id)
        notice.payload = {**(notice.payload or {}), "incident": incident_id}


async def snapshot_row(
    session: AsyncSession,
    task_id: int,
    *,
    busy: Collection[ChangeState],
    make: Callable[[Task, Watch | None, bool, Incident | None, Incident | None], S],
) -> S | None:
    """A task, its watch row, whether its open change (if any) is in one of the `busy` states, and the incidents
    holding its two slots, in one query; None for a task that is gone or removed."""
    health, drift = _HEALTH_SLOT, _DRIFT_SLOT
    row = (
        await session.execute(
            select(Task, Watch, ChangeRequest.state, health, drift)
            .outerjoin(Watch, Watch.task_id == Task.id)
            .outerjoin(ChangeRequest, ChangeRequest.open_slot == Task.id)
            .outerjoin(health, health.slot == slot_of(task_id, HEALTH))
            .outerjoin(drift, drift.slot == slot_of(task_id, DRIFT))
            .where(Task.id == task_id, Task.removed_at.is_(None))
        )
    ).first()
    if row is None:
        return None
    task, watch, state, health_row, drift_row = row
    return make(task, watch, state is not None and state in busy, health_row, drift_row)


# --- watches -------------------------------------------------------------------------------------------


async def watch_of(session: AsyncSession, task_id: int) -> Watch | None:
    return await session.get(Watch, task_id)


async def ensure_watch(sessions: Sessions, task_id: int, *, now: datetime) -> None:
    """A watch row for the task: watched, not observed yet. Losing the race to another writer is fine."""
    try:
        async with sessions.begin() as session:
            if await session.get(Watch, task_id) is None:
                session.add(
                    Watch(task_id=task_id, enabled=True, condition=Condition.UNKNOWN, words="", definite=True, changed_at=now)
                )
    except IntegrityError:
        pass


async def set_condition(
    sessions: Sessions,
    task_id: int,
    *,
    expected: tuple[Condition, str, datetime | None],
    condition: Condition,
    words: str,
    since: datetime,
    definite: bool,
    event_at: datetime | None,
    now: datetime,
) -> bool:
    """From the (condition, words, since) it was read with to the new one; False if another writer moved it
    first (the caller reads again). `event_at` is raised, never lowered."""
    old_condition, old_words, old_since = expected
    where = [Watch.task_id == task_id, Watch.condition == old_condition, Watch.words == old_words]
    where.append(Watch.since.is_(None) if old_since is None else Watch.since == old_since)
    values: dict[str, Any] = {
        "condition": condition,
        "words": words[:300],
        "since": since,
        "definite": definite,
        "changed_at": now,
    }
    if event_at is not None:
        values["event_at"] = event_at
    async with sessions.begin() as session:
        result = await session.execute(update(Watch).where(*where).values(**values).execution_options(synchronize_session=False))
    return rowcount(result) == 1


async def set_enabled(sessions: Sessions, task_id: int, enabled: bool, *, now: datetime, audit: AuditEvent) -> None:
    """Watching on or off; off forgets what was observed, so turning it on again starts afresh."""
    async with sessions.begin() as session:
        watch = await session.get(Watch, task_id)
        if watch is None:
            session.add(
                Watch(task_id=task_id, enabled=enabled, condition=Condition.UNKNOWN, words="", definite=True, changed_at=now)
            )
        else:
            watch.enabled = enabled
            watch.condition, watch.words, watch.since, watch.event_at, watch.changed_at = Condition.UNKNOWN, "", None, None, now
        session.add(audit)


async def mute(sessions: Sessions, task_id: int, *, until: datetime, by: str, now: datetime) -> None:
    async with sessions.begin() as session:
        watch = await session.get(Watch, task_id)
        if watch is None:
            session.add(
                Watch(
                    task_id=task_id,
                    enabled=True,
                    condition=Condition.UNKNOWN,
                    words="",
                    definite=True,
                    changed_at=now,
                    muted_until=until,
                    muted_by=by,
                )
            )
        else:
            watch.muted_until, watch.muted_by = until, by


# --- incidents -----------------------------------------------------------------------------------------


async def slot_holder(session: AsyncSession, slot: str) -> Incident | None:
    return await session.scalar(select(Incident).where(Incident.slot == slot))


async def open_incident(sessions: Sessions, incident: Incident, *, notices: Sequence[Notice] = ()) -> bool:
    """Insert a new open incident holding its slot, with its notices; False if the slot is taken (another
    replica, or an incident still within its flap window: the caller reopens or escalates that one)."""
    try:
        async with sessions.begin() as session:
            session.add(incident)
            await session.flush()
            _lane(incident.id, notices)
            session.add_all(notices)
    except IntegrityError:
        return False
    return True


async def reopen(
    sessions: Sessions, incident: Incident, *, kind: IncidentKind, words: str, since: datetime, notices: Sequence[Notice] = ()
) -> bool:
    """recovered -> open again (flapping): the same incident and message, one flap more."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(Incident)
            .where(Incident.id == incident.id, Incident.state == IncidentState.RECOVERED)
            .values(
                state=IncidentState.OPEN,
                kind=kind,
                words=words[:300],
                since=since,
                recovered_at=None,
                flaps=Incident.flaps + 1,
                resolution="",
            )
            .execution_options(synchronize_session=False)
        )
        if rowcount(result) != 1:
            return False
        _lane(incident.id, notices)
        session.add_all(notices)
    return True


async def escalate(
    sessions: Sessions, incident: Incident, *, kind: IncidentKind, words: str, notices: Sequence[Notice] = ()
) -> bool:
    """An open incident takes a worse kind (reconnecting -> failed)."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(Incident)
            .where(Incident.id == incident.id, Incident.state == IncidentState.OPEN, Incident.kind == incident.kind)
            .values(kind=kind, words=words[:300])
            .execution_options(synchronize_session=False)
        )
        if rowcount(result) != 1:
            return False
        _lane(incident.id, notices)
        session.add_all(notices)
    return True


async def redrift(
    sessions: Sessions, incident: Incident, *, in_force: dict[str, Any], diff: list[str], notices: Sequence[Notice] = ()
) -> bool:
    """An open drift incident whose configuration in force changed again: the message shows the new one."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(Incident)
            .where(Incident.id == incident.id, Incident.state == IncidentState.OPEN)
            .values(in_force=in_force, diff=diff)
            .execution_options(synchronize_session=False)
        )
        if rowcount(result) != 1:
            return False
        _lane(incident.id, notices)
        session.add_all(notices)
    return True


async def recover(
    sessions: Sessions, incident_id: int, *, now: datetime, resolution: str = "", notices: Sequence[Notice] = ()
) -> bool:
    """open -> recovered: it keeps its slot through the flap window."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(Incident)
            .where(Incident.id == incident_id, Incident.state == IncidentState.OPEN)
            .values(state=IncidentState.RECOVERED, recovered_at=now, resolution=resolution[:300])
            .execution_options(synchronize_session=False)
        )
        if rowcount(result) != 1:
            return False
        _lane(incident_id, notices)
        session.add_all(notices)
    return True


async def close(
    sessions: Sessions,
    incident_id: int,
    *,
    now: datetime,
    resolution: str | None = None,
    notices: Sequence[Notice] = (),
    only_recovered_before: datetime | None = None,
) -> bool:
    """-> closed, freeing the slot: after the flap window (`only_recovered_before`), or at once (watching
    turned off, the task removed)."""
    where = [Incident.id == incident_id, Incident.state != IncidentState.CLOSED]
    if only_recovered_before is not None:
        where += [Incident.state == IncidentState.RECOVERED, Incident.recovered_at < only_recovered_before]
    values: dict[str, Any] = {"state": IncidentState.CLOSED, "slot": None, "closed_at": now}
    if resolution is not None:
        values["resolution"] = resolution[:300]
    async with sessions.begin() as session:
        result = await session.execute(
            update(Incident).where(*where).values(**values).execution_options(synchronize_session=False)
        )
        if rowcount(result) != 1:
            return False
        _lane(incident_id, notices)
        session.add_all(notices)
    return True


async def announce(sessions: Sessions, incident_id: int, *, notices: Sequence[Notice]) -> bool:
    """Its message is asked for, once: the first caller writes the post notice, every later one gets False."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(Incident)
            .where(Incident.id == incident_id, Incident.announced.is_(False), Incident.state == IncidentState.OPEN)
            .values(announced=True)
            .execution_options(synchronize_session=False)
        )
        if rowcount(result) != 1:
            return False
        _lane(incident_id, notices)
        session.add_all(notices)
    return True


async def acknowledge(
    sessions: Sessions, incident_id: int, *, by: str, at: datetime, audit: AuditEvent, notices: Sequence[Notice] = ()
) -> bool:
    """Once: a second acknowledgement (another person, a double click) gets False."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(Incident)
            .where(Incident.id == incident_id, Incident.acked_by.is_(None), Incident.state != IncidentState.CLOSED)
            .values(acked_by=by, acked_at=at)
            .execution_options(synchronize_session=False)
        )
        if rowcount(result) != 1:
            return False
        _lane(incident_id, notices)
        session.add_all([audit, *notices])
    return True


async def note(sessions: Sessions, incident_id: int, *, notices: Sequence[Notice] = (), **values: Any) -> None:
    """Facts that move no state (where its message is, the rollback proposed from it), with their notices."""
    async with sessions.begin() as session:
        if values:
            await session.execute(
                update(Incident).where(Incident.id == incident_id).values(**values).execution_options(synchronize_session=False)
            )
        _lane(incident_id, notices)
        session.add_all(notices)


async def accept_version(
    sessions: Sessions,
    *,
    task_id: int,
    from_version: int,
    configuration: dict[str, Any],
    version_row: ConfigVersion,
    audit: AuditEvent,
) -> int | None:
    """What is in force becomes the task's next version, if the task is still at `from_version` and no change
    holds its lock (checked in the same transaction as the write). Returns the new version, or None."""
    async with sessions.begin() as session:
        if await lock_holder(session, task_id) is not None:
            return None
        version = await session.scalar(
            update(Task)
            .where(Task.id == task_id, Task.version == from_version, Task.removed_at.is_(None))
            .values(version=Task.version + 1, configuration=configuration)
            .returning(Task.version)
            .execution_options(synchronize_session=False)
        )
        if version is None:
            return None
        version_row.task_id, version_row.version = task_id, int(version)
        session.add_all([version_row, audit])
    return int(version)


# --- the polling lease ---------------------------------------------------------------------------------


async def take_lease(sessions: Sessions, name: str, holder: str, *, now: datetime, until: datetime) -> bool:
    """Hold (or renew) the lease `name` until `until` if it is free, lapsed or already ours."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(WatchLease)
            .where(WatchLease.name == name, (WatchLease.holder == holder) | (WatchLease.until < now))
            .values(holder=holder, until=until)
            .execution_options(synchronize_session=False)
        )
        if rowcount(result) == 1:
            return True
    try:
        async with sessions.begin() as session:
            session.add(WatchLease(name=name, holder=holder, until=until))
    except IntegrityError:
        return False
    return True


async def release_lease(sessions: Sessions, name: str, holder: str, *, now: datetime) -> None:
    """Given up at a clean stop, so another replica takes over at its next tick instead of after the lease."""
    async with sessions.begin() as session:
        await session.execute(
            update(WatchLease)
            .where(WatchLease.name == name, WatchLease.holder == holder)
            .values(holder="", until=now)
            .execution_options(synchronize_session=False)
        )
