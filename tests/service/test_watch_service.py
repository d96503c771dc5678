"""The watcher's rules on both databases, with the simulators' real answers and a hand-moved clock: flapping
stays one incident, reconnecting counts only once it lasts, events apply in the provider's order, a task Get
cannot see is never an outage, a mute holds posts back, drift is not judged mid-change, and replicas racing on
one failure open one incident."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from svc_support import APP_ID, BOOT_ADMIN, ROOM_ID, SDK_APP_ID, TEAM, Clock, Sims

from bot.domain import Condition, IncidentKind, IncidentState, NoticeKind
from bot.providers.tencent_events import callback_sign
from bot.services import changes, grants, tasks, watch
from bot.services.deps import Actor, Deps
from bot.services.errors import PermissionDenied
from bot.services.watcher import Watcher
from bot.store import create_engine, session_factory
from bot.store.models import Incident, Notice, Task, Watch
from bot.targets.base import Health
from bot.targets.layout_changes import RegionEdit

KEY = "service-test-callback-key"
OPERATOR = Actor(TEAM, "UOPER")
APPROVER = Actor(TEAM, "UAPPR")


async def task_id(deps: Deps, alias: str) -> int:
    async with deps.sessions() as session:
        found = await session.scalar(select(Task.id).where(Task.alias == alias))
    assert found is not None
    return int(found)


async def rows(deps: Deps) -> tuple[list[Incident], list[Notice]]:
    async with deps.sessions() as session:
        found = list((await session.scalars(select(Incident).order_by(Incident.id))).all())
        told = list((await session.scalars(select(Notice).where(Notice.lane.like("incident:%")).order_by(Notice.id))).all())
    return found, told


def posts(told: list[Notice]) -> list[int]:
    return [n.payload["incident"] for n in told if n.kind == NoticeKind.INCIDENT]


async def condition(deps: Deps, alias: str) -> Condition | None:
    async with deps.sessions() as session:
        row = await session.get(Watch, await task_id(deps, alias))
    return None if row is None else row.condition


async def test_flapping_within_the_window_stays_one_incident_and_a_new_one_opens_after_it(
    deps: Deps, start_volc: Any, sims: Sims, clock: Clock
) -> None:
    await start_volc("finals")
    tid, watcher = await task_id(deps, "finals"), Watcher(deps)
    window = deps.settings.watch_flap_seconds
    try:
        await watcher.poll(tid)
        assert await condition(deps, "finals") == Condition.OK
        for _ in range(3):  # fails, recovers, fails again 30 s later: the same incident, reopened
            sims.volc.set_task_health(APP_ID, ROOM_ID, "t-finals", status=4, stop_reason="PushStreamFailed")
            await watcher.poll(tid)
            sims.volc.recover_task(APP_ID, ROOM_ID, "t-finals")
            await watcher.poll(tid)
            clock.advance(seconds=30)
        [incident], told = await rows(deps)
        assert incident.state == IncidentState.RECOVERED and incident.flaps == 2 and posts(told) == [incident.id]
        assert [n.kind for n in told].count(NoticeKind.INCIDENT_UPDATE) == 5  # recovered, reopened, recovered, …

        clock.advance(seconds=window + 1)
        await watch.tick(deps)
        [closed], _ = await rows(deps)
        assert closed.state == IncidentState.CLOSED and closed.slot is None
        sims.volc.set_task_health(APP_ID, ROOM_ID, "t-finals", status=4)
        await watcher.poll(tid)
        found, told = await rows(deps)
        assert [i.state for i in found] == [IncidentState.CLOSED, IncidentState.OPEN]
        assert posts(told) == [found[0].id, found[1].id]
    finally:
        await watcher.aclose()


async def test_reconnecting_is_an_incident_only_once_it_lasts_and_then_takes_the_worse_kind(
    deps: Deps, start_volc: Any, sims: Sims, clock: Clock
) -> None:
    await start_volc("finals")
    tid, watcher = await task_id(deps, "finals"), Watcher(deps)
    try:
        await watcher.poll(tid)
        sims.volc.set_task_health(APP_ID, ROOM_ID, "t-finals", push_stream_state=3)
        await watcher.poll(tid)
        clock.advance(seconds=deps.settings.watch_reconnecting_seconds - 1)
        await watch.tick(deps)
        await watcher.poll(tid)
        assert await condition(deps, "finals") == Condition.RECONNECTING
        assert (await rows(deps))[0] == []

        clock.advance(seconds=2)
        await watch.tick(deps)
        await watch.tick(deps)
        [incident], told = await rows(deps)
        assert incident.kind == IncidentKind.RECONNECTING and posts(told) == [incident.id]
        assert "reconnecting (PushStreamState 3)" in incident.words

        sims.volc.set_task_health(APP_ID, ROOM_ID, "t-finals", status=4)
        await watcher.poll(tid)
        [worse], told = await rows(deps)
        assert worse.id == incident.id and worse.kind == IncidentKind.FAILED and posts(told) == [incident.id]
    finally:
        await watcher.aclose()


def _callback(task: str, status: int, event_ms: int, sent_ms: int) -> tuple[dict[str, list[str]], bytes]:
    body = json.dumps(
        {
            "EventGroupId": 7,
            "EventType": 701,
            "CallbackMsTs": sent_ms,
            "EventInfo": {"EventMsTs": event_ms, "TaskId": task, "Status": status},
        }
    ).encode()
    return {"sdkappid": [str(SDK_APP_ID)], "sign": [callback_sign(KEY, body)]}, body


async def test_events_apply_in_the_providers_order_and_a_late_one_changes_nothing(
    deps: Deps, start_tencent: Any, clock: Clock
) -> None:
    added = await start_tencent("lobby")
    ingest = added.task.identifiers["TaskId"]
    keyed = Deps(deps.sessions, deps.providers, deps.settings.model_copy(update={"tencent_callback_key": SecretStr(KEY)}), clock)
    now_ms = int(clock.now.timestamp() * 1000)
    assert await watch.receive(keyed, "tencent", *_callback(ingest, 0, now_ms, now_ms)) == 1
    late = _callback(ingest, 1, now_ms - 5_000, now_ms + 1)  # a failure from before the start, delivered after it
    assert await watch.receive(keyed, "tencent", *late) == 1
    assert await condition(deps, "lobby") == Condition.OK
    assert (await rows(deps))[0] == []
    retried = _callback(ingest, 1, now_ms - 5_000, now_ms + 2)  # TRTC's retry of that event: a new stamp, same event
    assert await watch.receive(keyed, "tencent", *retried) == 0

    failed = _callback(ingest, 1, now_ms + 10, now_ms + 20)
    assert await watch.receive(keyed, "tencent", *failed) == 1
    [incident], _ = await rows(deps)
    assert incident.kind == IncidentKind.FAILED and incident.since == clock.now + timedelta(milliseconds=10)
    watcher = Watcher(deps)  # Describe says InProgress: it exists, which does not clear a reported failure
    try:
        await watcher.poll(await task_id(deps, "lobby"))
    finally:
        await watcher.aclose()
    assert await condition(deps, "lobby") == Condition.FAILED


async def test_a_task_get_cannot_see_is_not_observable_and_never_an_outage(deps: Deps, clock: Clock) -> None:
    added = await tasks.add_task(
        deps, BOOT_ADMIN, "volcengine", "old", (APP_ID, ROOM_ID, "started-days-ago"), {"canvas": "1280x720"}
    )
    assert any("72 hours" in w for w in added.warnings)
    watcher = Watcher(deps)
    try:
        for _ in range(3):
            await watcher.poll(await task_id(deps, "old"))
            clock.advance(minutes=10)
            await watch.tick(deps)
    finally:
        await watcher.aclose()
    assert await condition(deps, "old") == Condition.NOT_OBSERVABLE
    assert await rows(deps) == ([], [])
    status = await tasks.show_task(deps, BOOT_ADMIN, "old")
    assert status.watch is not None and status.watch.condition == Condition.NOT_OBSERVABLE
    assert status.provider.health is not None and "72 hours" in status.provider.health.words


async def test_a_mute_holds_new_alerts_back_and_one_still_open_is_posted_when_it_ends(
    deps: Deps, start_volc: Any, sims: Sims, clock: Clock
) -> None:
    await grants.grant(deps, BOOT_ADMIN, OPERATOR.user_id, "operator")
    await start_volc("finals")
    tid, watcher = await task_id(deps, "finals"), Watcher(deps)
    try:
        sims.volc.set_task_health(APP_ID, ROOM_ID, "t-finals", status=4)
        await watcher.poll(tid)
        [first], _ = await rows(deps)
        with pytest.raises(PermissionDenied):
            await watch.mute(deps, Actor(TEAM, "UNOBODY"), first.id)
        await watch.mute(deps, OPERATOR, first.id)
        sims.volc.recover_task(APP_ID, ROOM_ID, "t-finals")
        await watcher.poll(tid)
        clock.advance(seconds=deps.settings.watch_flap_seconds + 1)
        await watch.tick(deps)  # the first one is closed; the next failure is a new incident, while muted
        sims.volc.set_task_health(APP_ID, ROOM_ID, "t-finals", status=3)
        await watcher.poll(tid)
        found, told = await rows(deps)
        assert len(found) == 2 and found[1].announced is False and posts(told) == [first.id]
        clock.advance(minutes=61)
        await watch.tick(deps)
        await watch.tick(deps)
        found, told = await rows(deps)
        assert found[1].announced is True and posts(told) == [first.id, found[1].id]
    finally:
        await watcher.aclose()


async def test_drift_is_not_judged_while_a_change_is_approved_and_is_once_it_is_settled(
    deps: Deps, start_volc: Any, sims: Sims
) -> None:
    await grants.grant(deps, BOOT_ADMIN, OPERATOR.user_id, "operator")
    await grants.grant(deps, BOOT_ADMIN, APPROVER.user_id, "approver")
    await start_volc("finals")
    tid, watcher = await task_id(deps, "finals"), Watcher(deps)
    try:
        proposed = await changes.propose(deps, OPERATOR, "finals", RegionEdit(0, {"Alpha": 0.9}))
        await changes.approve(deps, APPROVER, proposed.request_id)  # approved, not applied: the applier is not running
        sims.volc.drift_task(APP_ID, ROOM_ID, "t-finals", {"Encode": {"VideoFps": 20}})
        await watcher.poll(tid)
        assert (await rows(deps))[0] == []
        await changes.cancel(deps, OPERATOR, proposed.request_id)
        await watcher.poll(tid)
        [drift], told = await rows(deps)
        assert drift.kind == IncidentKind.DRIFT and drift.version == 1 and posts(told) == [drift.id]
        assert any("20" in line for line in drift.diff)
    finally:
        await watcher.aclose()


async def test_replicas_that_see_the_same_failure_open_one_incident_and_ask_for_one_message(
    deps: Deps, db_url: str, start_volc: Any, clock: Clock
) -> None:
    await start_volc("finals")
    tid = await task_id(deps, "finals")
    engines = [create_engine(db_url) for _ in range(2)]
    replicas = [Deps(session_factory(e), deps.providers, deps.settings, clock) for e in engines]
    try:
        async with deps.sessions() as session:
            task = await session.get(Task, tid)
        assert task is not None
        failed = Health(Condition.FAILED, "push to CDN failed (Status 4)")
        await asyncio.gather(
            *(watch.apply_health(replicas[i % 2], task, None, failed, at=clock.now, event_at=None) for i in range(8))
        )
        found, told = await rows(deps)
        assert len(found) == 1 and found[0].state == IncidentState.OPEN and posts(told) == [found[0].id]
    finally:
        for engine in engines:
            await engine.dispose()


async def test_removing_a_task_or_turning_its_watching_off_closes_its_incidents(deps: Deps, start_volc: Any, sims: Sims) -> None:
    await start_volc("finals")
    await start_volc("semis")
    watcher = Watcher(deps)
    try:
        for alias in ("finals", "semis"):
            sims.volc.set_task_health(APP_ID, ROOM_ID, f"t-{alias}", status=4)
            await watcher.poll(await task_id(deps, alias))
        await tasks.remove_task(deps, BOOT_ADMIN, "finals")
        await watch.set_watching(deps, BOOT_ADMIN, "semis", False)
        await watch.tick(deps)
        found, told = await rows(deps)
        assert [(i.state, i.slot, i.resolution) for i in found] == [
            (IncidentState.CLOSED, None, "closed: the task was removed"),
            (IncidentState.CLOSED, None, "closed: watching was turned off"),
        ]
        assert [n.kind for n in told].count(NoticeKind.INCIDENT_UPDATE) == 2
        semis = await task_id(deps, "semis")
        await watcher.poll(semis)  # not watched: nothing is read or judged
        assert len((await rows(deps))[0]) == 2
        info = await watch.set_watching(deps, BOOT_ADMIN, "semis", True)
        assert info.enabled and info.condition == Condition.UNKNOWN
        await watcher.poll(semis)
        assert [i.state for i in (await rows(deps))[0]] == [IncidentState.CLOSED, IncidentState.CLOSED, IncidentState.OPEN]
    finally:
        await watcher.aclose()
