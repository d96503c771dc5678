"""Races settled by PostgreSQL itself: every coroutine below works on its own pooled connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from svc_support import APP_ID, BOOT_ADMIN, ROOM_ID, TEAM, Sims, make_settings, sent_updates, truncate_all

from bot.providers.registry import ProviderRegistry
from bot.services import applying, change_views, changes, grants, locks, tasks
from bot.services.changes import Patch
from bot.services.deps import Actor, Deps
from bot.services.errors import InvalidState, Locked, ServiceError
from bot.store import create_engine, session_factory
from bot.store.change_requests import sequence_floor
from bot.targets.layout_changes import RegionEdit

pytestmark = pytest.mark.postgres
OPERATOR = Actor(TEAM, "UOPER")
APPROVERS = [Actor(TEAM, f"UAPP{i:02d}") for i in range(20)]
UPDATE = "UpdatePushMixedStreamToCDN"


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> str:
    db = request.getfixturevalue("pg_database")
    return str(db.url)


@pytest.fixture
def db_url(pg_url: str, request: pytest.FixtureRequest) -> str:
    """Only PostgreSQL here: SQLite serialises writers, so these races cannot happen on it."""
    asyncio.run(truncate_all(pg_url))
    return pg_url


async def _setup(deps: Deps) -> None:
    await grants.grant(deps, BOOT_ADMIN, OPERATOR.user_id, "operator")
    await grants.grant(deps, BOOT_ADMIN, "SAPPROVERS", "approver")


def _approver(actor: Actor) -> Actor:
    return Actor(actor.team_id, actor.user_id, frozenset({"SAPPROVERS"}))


async def test_twenty_concurrent_approvals_make_one_provider_call(deps: Deps, start_volc: Any, sims: Any) -> None:
    await _setup(deps)
    await start_volc("stage")
    proposed = await changes.propose(deps, OPERATOR, "stage", RegionEdit(0, {"Alpha": 0.5}))

    async def click(actor: Actor) -> str:
        try:
            await changes.approve(deps, _approver(actor), proposed.request_id, expected_hash=proposed.payload_hash)
        except InvalidState:
            return "lost"
        result = await applying.apply(deps, _approver(actor), proposed.request_id)
        return result.state

    outcomes = await asyncio.gather(*(click(a) for a in APPROVERS))
    assert sorted(outcomes) == ["applied"] + ["lost"] * 19
    assert len(sent_updates(sims.volc)) == 1
    assert (await change_views.history(deps, OPERATOR, "stage")).current_version == 2


async def test_twenty_concurrent_applies_of_one_request_make_one_call(deps: Deps, start_volc: Any, sims: Any) -> None:
    await _setup(deps)
    await start_volc("stage")
    proposed = await changes.propose(deps, OPERATOR, "stage", RegionEdit(0, {"Alpha": 0.5}))
    await changes.approve(deps, _approver(APPROVERS[0]), proposed.request_id)
    results = await asyncio.gather(
        *(applying.apply(deps, _approver(a), proposed.request_id) for a in APPROVERS), return_exceptions=True
    )
    assert sum(1 for r in results if not isinstance(r, BaseException) and r.state == "applied") == 1
    assert all(isinstance(r, InvalidState) for r in results if isinstance(r, BaseException))
    assert len(sent_updates(sims.volc)) == 1


async def test_two_concurrent_proposals_one_wins_one_is_locked(deps: Deps, start_volc: Any) -> None:
    await _setup(deps)
    await start_volc("stage")
    second = Actor(TEAM, "UOPER2")
    await grants.grant(deps, BOOT_ADMIN, second.user_id, "operator")
    for _round in range(5):
        results = await asyncio.gather(
            changes.propose(deps, OPERATOR, "stage", RegionEdit(0, {"Alpha": 0.5})),
            changes.propose(deps, second, "stage", RegionEdit(1, {"Alpha": 0.5})),
            return_exceptions=True,
        )
        winners = [r for r in results if not isinstance(r, BaseException)]
        locked = [r for r in results if isinstance(r, Locked)]
        assert len(winners) == 1 and len(locked) == 1, results
        assert locked[0].by == winners[0].requester and locked[0].request_id == winners[0].request_id
        await locks.unlock(deps, BOOT_ADMIN, "stage")


TASKS = 50


@pytest.fixture
async def wide_deps(db_url: str, sims: Sims, clock: Any) -> AsyncIterator[Deps]:
    """A pool of 60 connections, so that 50 applies really hold 50 connections at once, and pacing
    loose enough that Get's documented 60 QPS does not serialise the setup."""
    engine = create_engine(db_url, pool_size=TASKS + 10, max_overflow=0)
    settings = make_settings(db_url, sims, volcengine_get_qps=10_000.0, volcengine_update_qps=10_000.0)
    providers = ProviderRegistry.from_settings(settings)
    yield Deps(session_factory(engine), providers, settings, clock)
    await providers.aclose()
    await engine.dispose()


async def _watch_in_flight(sims: Sims, done: asyncio.Event) -> int:
    """The most Updates the simulator held unanswered at one moment while the applies ran."""
    most = 0
    while not done.is_set():
        most = max(most, sum(1 for r in sims.volc.requests.all(UPDATE) if r.status == 0))
        await asyncio.sleep(0.01)
    return most


async def test_fifty_concurrent_applies_across_tasks_keep_sequence_numbers_increasing(
    wide_deps: Deps, start_volc: Any, sims: Sims
) -> None:
    """Phase 1: 50 tasks, each with one approved change, applied by one gather of 50 (each apply on its own
    pooled connection); the simulator holds every Update 1.5 s, so all 50 are at the provider at once.
    Phase 2: two more waves where each task's next change goes through propose, approve and apply, all 50
    tasks concurrently (Encode changes: approval needed, as for layouts, but no preview to draw). Each task
    starts from its own SequenceNumber (above the clock floor, 1000 x i apart), so a number taken from another
    task's counter, a repeat or a skip would show in what the simulator received per task."""
    deps = wide_deps
    await _setup(deps)
    aliases = [f"live-{i:02d}" for i in range(TASKS)]
    floor = sequence_floor(deps.clock())
    starts = {f"t-{alias}": floor + 1000 * (i + 1) for i, alias in enumerate(aliases)}

    async def ready(alias: str) -> int:
        await start_volc(alias, register=False)
        ids = (APP_ID, ROOM_ID, f"t-{alias}")
        await tasks.add_task(deps, BOOT_ADMIN, "volcengine", alias, ids, {"sequence-start": str(starts[f"t-{alias}"])})
        p = await changes.propose(deps, OPERATOR, alias, Patch({"Encode": {"VideoBitrate": 3000}}))
        return (await changes.approve(deps, _approver(APPROVERS[0]), p.request_id)).request_id

    approved = await asyncio.gather(*(ready(alias) for alias in aliases))

    sims.volc.add_latency(1.5, action=UPDATE, times=TASKS)
    done = asyncio.Event()
    watcher = asyncio.create_task(_watch_in_flight(sims, done))
    try:
        results = await asyncio.gather(*(applying.apply(deps, _approver(APPROVERS[1]), rid) for rid in approved))
    finally:
        done.set()
    assert await watcher == TASKS, "the 50 applies did not reach the provider at the same time"
    assert [r.state for r in results] == ["applied"] * TASKS
    assert {r.alias: r.sequence_number for r in results} == {a: starts[f"t-{a}"] + 1 for a in aliases}

    async def cycle(alias: str, wave: int) -> str:
        p = await changes.propose(deps, OPERATOR, alias, Patch({"Encode": {"VideoBitrate": 3100 + 100 * wave}}))
        await changes.approve(deps, _approver(APPROVERS[2 + wave]), p.request_id, expected_hash=p.payload_hash)
        return (await applying.apply(deps, _approver(APPROVERS[2 + wave]), p.request_id)).state

    for wave in range(2):
        states = await asyncio.gather(*(cycle(a, wave) for a in aliases))
        assert states == ["applied"] * TASKS

    per_task: dict[str, list[int]] = {}
    for body in sent_updates(sims.volc):
        per_task.setdefault(body["TaskId"], []).append(body["SequenceNumber"])
    assert per_task == {tid: [start + 1, start + 2, start + 3] for tid, start in starts.items()}
    refused = [r.code for r in sims.volc.requests.all(UPDATE) if r.status != 200]
    assert refused == []
    for tid, start in starts.items():
        assert sims.volc.task(APP_ID, ROOM_ID, tid).last_sequence == start + 3
    for alias in aliases:
        info = (await change_views.history(deps, OPERATOR, alias)).current_version
        assert info == 4


async def test_concurrent_claims_of_one_key_have_one_winner(deps: Deps) -> None:
    from bot.services import idempotency

    wins = await asyncio.gather(*(idempotency.claim(deps, "delivery:Ev123") for _ in range(20)))
    assert wins.count(True) == 1


def test_service_error_base_class_covers_locked() -> None:
    assert issubclass(Locked, ServiceError)
