"""Watching live tasks: what a poll or a pushed event means, when that is an incident, and what people may do
about one. For every target alike; each target says how its provider's signals read (`Health`).

The rules:
- **A task's condition** (`Watch`) moves only on what the provider says: a poll (`observe`) or a verified
  pushed event (`receive`). Events are applied in the provider's order (an event older than the newest one
  applied changes nothing); an OK that cannot tell health apart (`Health.definite` False) never clears a
  failure a definite signal reported; UNKNOWN (the provider could not be asked) and NOT_OBSERVABLE change
  nothing and never open an incident.
- **Incidents.** Failed or ended opens one at once; reconnecting opens one once it has lasted
  RTCOPS_WATCH_RECONNECTING_SECONDS (`tick`); the configuration in force differing from the last version
  applied opens a drift incident, judged only while no change is approved or being applied and the task's
  version did not move during the read. A task has at most one health incident (it takes the worst kind seen)
  and one drift incident; going bad again within RTCOPS_WATCH_FLAP_SECONDS of recovering reopens the same one.
  The database decides all of it (`bot.store.incidents`): two replicas that see the same failure open one
  incident, and its message is asked for once.
- **Messages** go through the outbox: one post per incident in the task's notification channel, then updates of
  that same message (acknowledged, muted, escalated, recovered, reopened). While a task is muted, its new
  incidents are kept and listed but not posted; one still open when the mute ends is posted then.
- **Who may act:** acknowledge and mute need operator on the task (people who can act on the stream; a viewer
  only looks), restore and accept need approver (they decide what goes on air), watching on or off needs admin
  (it decides whether anyone hears of an outage), listing needs viewer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from bot.domain import ChangeState, Condition, IncidentKind, IncidentState, NoticeKind
from bot.services import audit, changes, idempotency, incident_views
from bot.services.deps import Actor, Deps
from bot.services.errors import BadInput, InvalidChange, Locked, NotFound, ServiceError, Stale
from bot.services.permissions import checker, require, require_somewhere
from bot.services.results import ChangeResult, IncidentView, WatchInfo
from bot.services.tasks import load_authorized, target_of, task_ref, task_scope
from bot.store import change_requests as transitions
from bot.store import incidents as store
from bot.store.models import ConfigVersion, IdempotencyKey, Incident, Notice, Task, Watch
from bot.store.outbox import pending_notice
from bot.targets.base import EventRefused, EventSource, Health, ProviderState
from bot.targets.config_json import contains
from bot.targets.registry import UnknownTarget, target_named

log = logging.getLogger("rtcops.watch")

MUTE = timedelta(hours=1)
_KIND = {
    Condition.RECONNECTING: IncidentKind.RECONNECTING,
    Condition.FAILED: IncidentKind.FAILED,
    Condition.ENDED: IncidentKind.ENDED,
}
_BUSY = (ChangeState.APPROVED, ChangeState.APPLYING)
_NOT_CLEARED_BY_EXISTING = (Condition.OK, Condition.FAILED, Condition.RECONNECTING)


class IncidentRefused(ServiceError):
    """A click on an incident that cannot be carried out as it stands (already acknowledged, over, not a drift)."""


def _notice(team_id: str, kind: NoticeKind, now: datetime) -> Notice:
    return pending_notice(team_id, "", kind.value, now, change_request_id=None)


# --- observing -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """A task as the watcher reads it before asking its provider: its row, what the watcher knows of it, whether
    a change on it is approved or being applied (what is in force may then be mid-change), and the incidents
    holding its two slots."""

    task: Task
    watch: Watch | None
    busy: bool
    health: Incident | None
    drift: Incident | None


async def snapshot(deps: Deps, task_id: int) -> Snapshot | None:
    """None for a task that is gone or removed. One query: the watcher takes one of these for every poll."""
    async with deps.sessions() as session:
        return await store.snapshot_row(session, task_id, busy=_BUSY, make=Snapshot)


def unchanged(snap: Snapshot, state: ProviderState) -> bool:
    """Whether `observe` would find nothing to do with this answer, judged against a snapshot taken at an
    earlier poll: the same health (or an OK that could not change it), no change in flight, and a configuration in
    force that is still the last one applied, with no drift incident open. The watcher skips the store for such
    an answer; for any other it takes a fresh snapshot and reads again (`bot.services.watcher`)."""
    watch = snap.watch
    if snap.busy or (watch is not None and not watch.enabled):
        return False
    health = state.health
    if health is not None and health.condition != Condition.UNKNOWN:
        condition, words = (watch.condition, watch.words) if watch is not None else (Condition.UNKNOWN, "")
        weak = not health.definite and health.condition == Condition.OK and condition in _NOT_CLEARED_BY_EXISTING
        if not weak and (health.condition != condition or health.words != words):
            return False
        if health.condition.bad and snap.health is None:
            return False  # bad with no incident yet: reconnecting may have lasted long enough
    if state.in_force is not None and snap.task.configuration is not None:
        if snap.drift is not None and snap.drift.state == IncidentState.OPEN:
            return False
        if not contains(state.in_force, snap.task.configuration):
            return False
    return True


async def observe(deps: Deps, snap: Snapshot, state: ProviderState) -> None:
    """One poll's answer: the task's health, and drift where the target reads the configuration in force."""
    if snap.watch is not None and not snap.watch.enabled:
        return
    if state.health is not None:
        await apply_health(deps, snap.task, snap.watch, state.health, at=deps.clock(), event_at=None, holder=snap.health)
    if target_of(snap.task).reads_configuration:
        await _check_drift(deps, snap, state)


async def apply_health(
    deps: Deps,
    task: Task,
    watch: Watch | None,
    health: Health,
    *,
    at: datetime,
    event_at: datetime | None,
    holder: Incident | None = None,
) -> None:
    """Move the task's condition to `health` (read at `at`, or pushed as an event of provider time `event_at`)
    and open or recover its health incident accordingly."""
    for _ in range(4):
        if watch is None:
            await store.ensure_watch(deps.sessions, task.id, now=deps.clock())
            async with deps.sessions() as session:
                watch = await store.watch_of(session, task.id)
            if watch is None:
                return
        if not watch.enabled or health.condition in (Condition.UNKNOWN,):
            return
        if event_at is not None and watch.event_at is not None and event_at < watch.event_at:
            return  # an older event, arriving late
        if not health.definite and health.condition == Condition.OK and watch.condition in _NOT_CLEARED_BY_EXISTING:
            return  # "it exists" clears "it is gone", but not a failure or a retry, and says no more than OK
        same = watch.condition == health.condition
        if same and watch.words == health.words:
            if same and health.condition.bad and holder is None:
                await _settle(deps, task, health, watch.since or at)  # e.g. watching was just turned on again
            return
        since = (watch.since or at) if same else (health.since or event_at or at)
        moved = await store.set_condition(
            deps.sessions,
            task.id,
            expected=(watch.condition, watch.words, watch.since),
            condition=health.condition,
            words=health.words,
            since=since,
            definite=health.definite,
            event_at=event_at,
            now=deps.clock(),
        )
        if moved:
            if not same:
                log.info("%s is %s: %s", task.alias, health.condition.words, health.words)
                await _settle(deps, task, health, since)
            return
        async with deps.sessions() as session:  # another writer moved it first: judge again on what it wrote
            watch = await store.watch_of(session, task.id)


async def _settle(deps: Deps, task: Task, health: Health, since: datetime) -> None:
    """The health incident after a change of condition: opened for failed and ended (and for reconnecting that
    has lasted), recovered for OK."""
    if health.condition in (Condition.FAILED, Condition.ENDED):
        await _open_health(deps, task, _KIND[health.condition], health.words, since)
    elif health.condition == Condition.RECONNECTING:
        if deps.clock() - since >= timedelta(seconds=deps.settings.watch_reconnecting_seconds):
            await _open_health(deps, task, IncidentKind.RECONNECTING, health.words, since)
    elif health.condition == Condition.OK:
        await _recover(deps, task, store.HEALTH, resolution="")


async def _muted(deps: Deps, task_id: int) -> bool:
    async with deps.sessions() as session:
        watch = await store.watch_of(session, task_id)
    return watch is not None and watch.muted_until is not None and watch.muted_until > deps.clock()


async def _open_health(deps: Deps, task: Task, kind: IncidentKind, words: str, since: datetime) -> None:
    slot = store.slot_of(task.id, store.HEALTH)
    for _ in range(4):
        async with deps.sessions() as session:
            holder = await store.slot_holder(session, slot)
            version = await session.scalar(select(Task.version).where(Task.id == task.id))
        now = deps.clock()
        if holder is None:
            muted = await _muted(deps, task.id)
            incident = Incident(
                task_id=task.id,
                team_id=task.team_id,
                slot=slot,
                kind=kind,
                state=IncidentState.OPEN,
                words=words[:300],
                since=since,
                opened_at=now,
                flaps=0,
                version=int(version or 0),
                diff=[],
                announced=not muted,
                resolution="",
            )
            told = [] if muted else [_notice(task.team_id, NoticeKind.INCIDENT, now)]
            if await store.open_incident(deps.sessions, incident, notices=told):
                log.info("incident #%s opened on %s: %s", incident.id, task.alias, kind.value)
                deps.signals.deliver.set()
                return
            continue
        update = [_notice(task.team_id, NoticeKind.INCIDENT_UPDATE, now)] if holder.announced else []
        if holder.state == IncidentState.OPEN:
            if kind.severity <= holder.kind.severity or await store.escalate(
                deps.sessions, holder, kind=kind, words=words, notices=update
            ):
                deps.signals.deliver.set()
                return
            continue
        if holder.state == IncidentState.RECOVERED:
            if await store.reopen(deps.sessions, holder, kind=kind, words=words, since=since, notices=update):
                log.info("incident #%s on %s reopened (flapping): %s", holder.id, task.alias, kind.value)
                deps.signals.deliver.set()
                return
            continue
        return


async def _recover(deps: Deps, task: Task, which: str, *, resolution: str) -> None:
    async with deps.sessions() as session:
        holder = await store.slot_holder(session, store.slot_of(task.id, which))
    if holder is None or holder.state != IncidentState.OPEN:
        return
    now = deps.clock()
    told = [_notice(task.team_id, NoticeKind.INCIDENT_UPDATE, now)] if holder.announced else []
    if await store.recover(deps.sessions, holder.id, now=now, resolution=resolution, notices=told):
        log.info("incident #%s on %s recovered after %.0f s", holder.id, task.alias, (now - holder.since).total_seconds())
        deps.signals.deliver.set()


async def _check_drift(deps: Deps, snap: Snapshot, state: ProviderState) -> None:
    """Drift: the configuration in force is not the last version applied. Judged only on a quiet task: no change
    approved or applying before the read, and the same version and none after it (a change applied meanwhile
    moves the version in the same transaction as its verdict)."""
    task = snap.task
    if task.configuration is None or state.in_force is None or snap.busy:
        return
    drifted = not contains(state.in_force, task.configuration)
    if not drifted:
        if snap.drift is not None and snap.drift.state == IncidentState.OPEN:
            how = f" (restored by request #{snap.drift.restore_request_id})" if snap.drift.restore_request_id else ""
            await _recover(deps, task, store.DRIFT, resolution=f"what is in force is version {task.version} again{how}")
        return
    after = await snapshot(deps, task.id)
    if after is None or after.busy or after.task.version != task.version:
        return
    in_force = dict(state.in_force)
    holder = after.drift
    if holder is not None and holder.state == IncidentState.OPEN and holder.in_force == in_force:
        return
    diff = target_of(task).describe(task.configuration, in_force)[:50]
    now = deps.clock()
    if holder is None:
        muted = await _muted(deps, task.id)
        incident = Incident(
            task_id=task.id,
            team_id=task.team_id,
            slot=store.slot_of(task.id, store.DRIFT),
            kind=IncidentKind.DRIFT,
            state=IncidentState.OPEN,
            words="the configuration in force is not the one rtcops last applied",
            since=now,
            opened_at=now,
            flaps=0,
            version=task.version,
            in_force=in_force,
            diff=diff,
            announced=not muted,
            resolution="",
        )
        told = [] if muted else [_notice(task.team_id, k, now) for k in (NoticeKind.INCIDENT, NoticeKind.INCIDENT_PREVIEW)]
        if await store.open_incident(deps.sessions, incident, notices=told):
            log.info("incident #%s opened on %s: drift from version %s", incident.id, task.alias, task.version)
            deps.signals.deliver.set()
        return
    update = [_notice(task.team_id, NoticeKind.INCIDENT_UPDATE, now)] if holder.announced else []
    if holder.state == IncidentState.RECOVERED:
        if await store.reopen(deps.sessions, holder, kind=IncidentKind.DRIFT, words=holder.words, since=now):
            await store.redrift(deps.sessions, holder, in_force=in_force, diff=diff, notices=update)
            await store.note(deps.sessions, holder.id, version=task.version, restore_request_id=None)
            deps.signals.deliver.set()
    elif holder.state == IncidentState.OPEN:
        await store.redrift(deps.sessions, holder, in_force=in_force, diff=diff, notices=update)
        deps.signals.deliver.set()


# --- pushed events ---------------------------------------------------------------------------------------------


async def receive(deps: Deps, provider: str, headers: Mapping[str, Sequence[str]], body: bytes) -> int:
    """One request a provider pushed to /providers/<provider>/events: verified by the provider's target, then
    refused as a replay if this exact request was seen before, and each event it carries applied once (a retry
    of an event already applied, with a new send stamp, is acknowledged and ignored). Returns how many events
    were applied. Raises EventRefused."""
    try:
        target = target_named(provider)
    except UnknownTarget:
        raise EventRefused(404, "no such provider") from None
    if not isinstance(target, EventSource):
        raise EventRefused(404, "this provider pushes no events")
    delivery = target.read_events(deps.settings, headers, body, deps.clock())
    if not await idempotency.claim(deps, delivery.fingerprint):
        raise EventRefused(401, "replayed: this exact signed request was received before")
    applied = 0
    for event in delivery.events:
        if not await idempotency.claim(deps, event.key):
            continue
        try:
            for task in await _tasks_named(deps, provider, event.ids):
                snap = await snapshot(deps, task.id)
                if snap is None or (snap.watch is not None and not snap.watch.enabled):
                    continue
                await apply_health(
                    deps, snap.task, snap.watch, event.health, at=deps.clock(), event_at=event.at, holder=snap.health
                )
                applied += 1
        except BaseException:
            await _forget_key(deps, event.key)  # not applied: the provider's retry must not be taken for a duplicate
            raise
    return applied


async def _forget_key(deps: Deps, key: str) -> None:
    try:
        async with deps.sessions.begin() as session:
            await session.execute(delete(IdempotencyKey).where(IdempotencyKey.key == transitions.bounded_key(key)))
    except Exception:  # the store is down: the retry will be ignored, and polling still finds the task's state
        log.exception("could not forget an event key after a failure")


async def _tasks_named(deps: Deps, provider: str, ids: Mapping[str, Any]) -> list[Task]:
    """The registered tasks (of any team) whose provider ids include `ids`."""
    async with deps.sessions() as session:
        rows = (await session.scalars(select(Task).where(Task.provider == provider, Task.removed_at.is_(None)))).all()
    return [t for t in rows if all((t.ids or {}).get(k) == v for k, v in ids.items())]


# --- the watcher's periodic work -----------------------------------------------------------------------------


async def tick(deps: Deps) -> None:
    """What no poll or event triggers: reconnecting that has now lasted long enough, incidents to post once a
    mute ended, recovered incidents whose flap window passed, incidents of tasks no longer watched."""
    now = deps.clock()
    threshold = now - timedelta(seconds=deps.settings.watch_reconnecting_seconds)
    async with deps.sessions() as session:
        lasting = (
            await session.execute(
                select(Task, Watch)
                .join(Watch, Watch.task_id == Task.id)
                .where(
                    Watch.enabled.is_(True),
                    Watch.condition == Condition.RECONNECTING,
                    Watch.since <= threshold,
                    Task.removed_at.is_(None),
                )
            )
        ).all()
        unannounced = (
            await session.execute(
                select(Incident, Watch)
                .outerjoin(Watch, Watch.task_id == Incident.task_id)
                .where(Incident.state == IncidentState.OPEN, Incident.announced.is_(False))
            )
        ).all()
        window = now - timedelta(seconds=deps.settings.watch_flap_seconds)
        expired = (
            await session.scalars(
                select(Incident.id).where(Incident.state == IncidentState.RECOVERED, Incident.recovered_at < window)
            )
        ).all()
        orphaned = (
            await session.execute(
                select(Incident, Task, Watch)
                .join(Task, Task.id == Incident.task_id)
                .outerjoin(Watch, Watch.task_id == Incident.task_id)
                .where(Incident.state != IncidentState.CLOSED)
                .where(Task.removed_at.is_not(None) | (Watch.enabled.is_(False)))
            )
        ).all()
    for task, watch in lasting:
        async with deps.sessions() as session:
            holder = await store.slot_holder(session, store.slot_of(task.id, store.HEALTH))
        if holder is None or holder.state != IncidentState.OPEN:
            await _open_health(deps, task, IncidentKind.RECONNECTING, watch.words, watch.since or now)
    for incident, watch in unannounced:
        if watch is not None and watch.muted_until is not None and watch.muted_until > now:
            continue
        if await store.announce(deps.sessions, incident.id, notices=_post(incident, now)):
            deps.signals.deliver.set()
    for incident_id in expired:
        await store.close(deps.sessions, incident_id, now=now, only_recovered_before=window)
    for incident, task, _ in orphaned:
        why = "the task was removed" if task.removed_at is not None else "watching was turned off"
        told = [_notice(incident.team_id, NoticeKind.INCIDENT_UPDATE, now)] if incident.announced else []
        if await store.close(deps.sessions, incident.id, now=now, resolution=f"closed: {why}", notices=told):
            deps.signals.deliver.set()


def _post(incident: Incident, now: datetime) -> list[Notice]:
    kinds = [NoticeKind.INCIDENT] + ([NoticeKind.INCIDENT_PREVIEW] if incident.kind == IncidentKind.DRIFT else [])
    return [_notice(incident.team_id, kind, now) for kind in kinds]


async def prune_keys(deps: Deps) -> int:
    """Event keys outlive the provider's retries by far; Slack's keys too (`idempotency.prune`)."""
    return await idempotency.prune(deps)


# --- what people do about an incident ----------------------------------------------------------------------


async def _incident(deps: Deps, actor: Actor, incident_id: int, action: str) -> tuple[Incident, Task]:
    async with deps.sessions() as session:
        incident = await session.get(Incident, incident_id)
        task = await session.get(Task, incident.task_id) if incident is not None else None
    if incident is None or task is None or incident.team_id != actor.team_id:
        await require_somewhere(deps, actor, "view", "see incidents")
        raise NotFound(f"incident #{incident_id}")
    await require(deps, actor, action, task_scope(task))
    return incident, task


async def _view(deps: Deps, incident_id: int) -> IncidentView:
    async with deps.sessions() as session:
        found = await incident_views.incident_view(session, incident_id)
    if found is None:
        raise NotFound(f"incident #{incident_id}")
    return found


async def acknowledge(deps: Deps, actor: Actor, incident_id: int) -> IncidentView:
    """Someone is on it: who and when go into the message. Once; a second click is told who was first."""
    incident, task = await _incident(deps, actor, incident_id, "propose")
    now = deps.clock()
    event = audit.event(
        deps, actor, "incident.ack", f"task:{task.alias}", task_alias=task.alias, detail=f"incident #{incident.id}"
    )
    told = [_notice(task.team_id, NoticeKind.INCIDENT_UPDATE, now)] if incident.announced else []
    if not await store.acknowledge(deps.sessions, incident.id, by=actor.user_id, at=now, audit=event, notices=told):
        current = await _view(deps, incident.id)
        if current.acked_by is not None:
            raise IncidentRefused(f"incident #{incident.id} on {task.alias} was already acknowledged by {current.acked_by}")
        raise IncidentRefused(f"incident #{incident.id} on {task.alias} is over")
    deps.signals.deliver.set()
    return await _view(deps, incident.id)


async def mute(deps: Deps, actor: Actor, incident_id: int) -> IncidentView:
    """The task's alerts go quiet for an hour: new incidents on it are kept and listed, not posted (one still
    open when the hour is up is posted then). Messages already posted keep being updated: an edit notifies
    nobody."""
    incident, task = await _incident(deps, actor, incident_id, "propose")
    now = deps.clock()
    await store.mute(deps.sessions, task.id, until=now + MUTE, by=actor.user_id, now=now)
    async with deps.sessions.begin() as session:
        audit.record(
            session,
            deps,
            actor,
            "incident.mute",
            f"task:{task.alias}",
            task_alias=task.alias,
            detail=f"until {now + MUTE:%Y-%m-%d %H:%M} UTC",
        )
    async with deps.sessions() as session:
        shown = (
            await session.scalars(
                select(Incident.id).where(
                    Incident.task_id == task.id, Incident.announced.is_(True), Incident.state != IncidentState.CLOSED
                )
            )
        ).all()
    for shown_id in shown:
        await store.note(deps.sessions, shown_id, notices=[_notice(task.team_id, NoticeKind.INCIDENT_UPDATE, now)])
    deps.signals.deliver.set()
    return await _view(deps, incident.id)


def _drift_incident(incident: Incident, task: Task) -> None:
    if incident.kind != IncidentKind.DRIFT:
        raise IncidentRefused(f"incident #{incident.id} on {task.alias} is not a drift")
    if incident.state == IncidentState.CLOSED:
        raise IncidentRefused(f"incident #{incident.id} on {task.alias} is closed")


async def restore(deps: Deps, actor: Actor, incident_id: int, *, channel: str | None) -> ChangeResult:
    """Proposes going back to the version rtcops last applied, through the usual approval (the request is
    posted in `channel`, where the button was clicked). Needs approver: it decides what goes on air."""
    incident, task = await _incident(deps, actor, incident_id, "approve")
    _drift_incident(incident, task)
    if incident.version < 1:
        raise IncidentRefused(f"{task.alias} has no version applied through rtcops to restore")
    proposed = await changes.propose(deps, actor, task.alias, changes.Rollback(incident.version), channel=channel)
    now = deps.clock()
    told = [_notice(task.team_id, NoticeKind.INCIDENT_UPDATE, now)] if incident.announced else []
    resolution = f"restore of version {incident.version} proposed by {actor.user_id}: request #{proposed.request_id}"
    await store.note(deps.sessions, incident.id, notices=told, restore_request_id=proposed.request_id, resolution=resolution)
    deps.signals.deliver.set()
    return proposed


async def accept(deps: Deps, actor: Actor, incident_id: int) -> int:
    """What is in force becomes the task's next version, with the difference, audited: the drift was wanted.
    Reads the provider again, so what is recorded is what is on air now. Returns the new version."""
    incident, task = await _incident(deps, actor, incident_id, "approve")
    _drift_incident(incident, task)
    target = target_of(task)
    state = await target.read(deps.providers, task_ref(task))
    if state.in_force is None:
        raise InvalidChange([f"the configuration in force on {task.alias} cannot be read ({state.error or state.state})"])
    async with deps.sessions() as session:
        holder = await transitions.lock_holder(session, task.id)
    if holder is not None:
        raise Locked(task.alias, holder.id, holder.requester, holder.permalink)
    now = deps.clock()
    update = [_notice(task.team_id, NoticeKind.INCIDENT_UPDATE, now)] if incident.announced else []
    if task.configuration is not None and contains(state.in_force, task.configuration):
        await store.recover(
            deps.sessions, incident.id, now=now, resolution=f"what is in force is version {task.version} again", notices=update
        )
        deps.signals.deliver.set()
        raise IncidentRefused(f"nothing to accept: what is in force on {task.alias} is version {task.version} again")
    in_force = dict(state.in_force)
    diff = target.describe(task.configuration, in_force)
    row = ConfigVersion(
        task_id=task.id,
        version=task.version + 1,
        configuration=in_force,
        applied_by_team=actor.team_id,
        applied_by=actor.user_id,
        applied_at=now,
        change_request_id=None,
        note=f"accepted from the provider (incident #{incident.id})",
    )
    event = audit.event(
        deps,
        actor,
        "task.accept",
        f"task:{task.alias}",
        task_alias=task.alias,
        before=task.configuration,
        after=in_force,
        detail="; ".join(diff)[:2000],
    )
    version = await store.accept_version(
        deps.sessions, task_id=task.id, from_version=task.version, configuration=in_force, version_row=row, audit=event
    )
    if version is None:
        raise Stale(f"{task.alias} changed while the configuration in force was being accepted")
    await store.recover(
        deps.sessions, incident.id, now=now, resolution=f"accepted as version {version} by {actor.user_id}", notices=update
    )
    deps.signals.deliver.set()
    return version


# --- listings and settings ---------------------------------------------------------------------------------


async def list_incidents(deps: Deps, actor: Actor) -> list[IncidentView]:
    """Open incidents on the tasks the actor may view, oldest first."""
    await require_somewhere(deps, actor, "view", "see incidents")
    return await visible_incidents(deps, actor)


async def visible_incidents(deps: Deps, actor: Actor) -> list[IncidentView]:
    """Never refuses (App Home shows none to someone with no role)."""
    may_view = await checker(deps, actor, "view")
    async with deps.sessions() as session:
        tasks = (await session.scalars(select(Task).where(Task.team_id == actor.team_id, Task.removed_at.is_(None)))).all()
        seen = [t.id for t in tasks if may_view(task_scope(t)).allowed]
        return await incident_views.open_incidents(session, seen)


async def set_watching(deps: Deps, actor: Actor, alias: str, on: bool) -> WatchInfo:
    """Admins turn a task's watching off (no polls, no events, its incidents closed) and on again."""
    task = await load_authorized(deps, actor, alias, "admin")
    event = audit.event(deps, actor, "task.watch", f"task:{task.alias}", task_alias=task.alias, after={"watch": on})
    await store.set_enabled(deps.sessions, task.id, on, now=deps.clock(), audit=event)
    if not on:
        await tick(deps)  # closes its incidents and updates their messages now, not at the next tick
    async with deps.sessions() as session:
        return await incident_views.watch_of(session, task)


async def delivery_view(deps: Deps, incident_id: int) -> IncidentView | None:
    """For the outbox: the incident as its message should now read."""
    async with deps.sessions() as session:
        return await incident_views.incident_view(session, incident_id)


async def attach_message(deps: Deps, incident_id: int, *, channel_id: str, message_ts: str, permalink: str | None) -> None:
    await store.note(
        deps.sessions,
        incident_id,
        channel_id=channel_id[:32],
        message_ts=message_ts[:32],
        permalink=(permalink or None) and permalink[:500],
    )


async def incident_preview(deps: Deps, incident_id: int) -> bytes | None:
    """A drift's before (the version last applied) and after (what was found in force) picture, where the
    target draws one."""
    async with deps.sessions() as session:
        incident = await session.get(Incident, incident_id)
        task = await session.get(Task, incident.task_id) if incident is not None else None
        if incident is None or task is None or incident.in_force is None:
            return None
        row = await session.scalar(
            select(ConfigVersion).where(ConfigVersion.task_id == task.id, ConfigVersion.version == incident.version)
        )
    if row is None:
        return None
    target = target_of(task)
    touched = target.touched(row.configuration, incident.in_force)
    return target.preview(task_ref(task), row.configuration, incident.in_force, touched)


def parse_switch(word: str) -> bool:
    if word.lower() not in ("on", "off"):
        raise BadInput(f"say on or off, not {word!r}")
    return word.lower() == "on"
