"""Races settled by PostgreSQL itself: every coroutine below works on its own pooled connection."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from svc_support import BOOT_ADMIN, TEAM, sent_updates, truncate_all

from bot.services import changes, grants
from bot.services.deps import Actor, Deps
from bot.services.errors import InvalidState, Locked, ServiceError

pytestmark = pytest.mark.postgres
OPERATOR = Actor(TEAM, "UOPER")
APPROVERS = [Actor(TEAM, f"UAPP{i:02d}") for i in range(20)]


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
    proposed = await changes.propose_region_edit(deps, OPERATOR, "stage", 0, {"Alpha": 0.5})

    async def click(actor: Actor) -> str:
        try:
            await changes.approve(deps, _approver(actor), proposed.request_id, expected_hash=proposed.payload_hash)
        except InvalidState:
            return "lost"
        result = await changes.apply(deps, _approver(actor), proposed.request_id)
        return result.state

    outcomes = await asyncio.gather(*(click(a) for a in APPROVERS))
    assert sorted(outcomes) == ["applied"] + ["lost"] * 19
    assert len(sent_updates(sims.volc)) == 1
    assert (await changes.history(deps, OPERATOR, "stage")).current_version == 2


async def test_twenty_concurrent_applies_of_one_request_make_one_call(deps: Deps, start_volc: Any, sims: Any) -> None:
    await _setup(deps)
    await start_volc("stage")
    proposed = await changes.propose_region_edit(deps, OPERATOR, "stage", 0, {"Alpha": 0.5})
    await changes.approve(deps, _approver(APPROVERS[0]), proposed.request_id)
    results = await asyncio.gather(
        *(changes.apply(deps, _approver(a), proposed.request_id) for a in APPROVERS), return_exceptions=True
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
            changes.propose_region_edit(deps, OPERATOR, "stage", 0, {"Alpha": 0.5}),
            changes.propose_region_edit(deps, second, "stage", 1, {"Alpha": 0.5}),
            return_exceptions=True,
        )
        winners = [r for r in results if not isinstance(r, BaseException)]
        locked = [r for r in results if isinstance(r, Locked)]
        assert len(winners) == 1 and len(locked) == 1, results
        assert locked[0].by == winners[0].requester and locked[0].request_id == winners[0].request_id
        await changes.unlock(deps, BOOT_ADMIN, "stage")


async def test_fifty_concurrent_applies_across_tasks_keep_sequence_numbers_increasing(
    deps: Deps, start_volc: Any, sims: Any
) -> None:
    """10 tasks, 5 rounds: each round proposes, approves and applies on all 10 tasks at once (50 applies)."""
    await _setup(deps)
    aliases = [f"live-{i}" for i in range(10)]
    for alias in aliases:
        await start_volc(alias)

    async def change(alias: str, round_no: int) -> str:
        p = await changes.propose_region_edit(deps, OPERATOR, alias, 0, {"Alpha": round(0.5 + round_no / 20, 2)})
        await changes.approve(deps, _approver(APPROVERS[round_no]), p.request_id)
        return (await changes.apply(deps, _approver(APPROVERS[round_no]), p.request_id)).state

    for round_no in range(5):
        states = await asyncio.gather(*(change(a, round_no) for a in aliases), return_exceptions=True)
        assert all(s == "applied" for s in states), [s for s in states if s != "applied"]

    per_task: dict[str, list[int]] = {}
    for body in sent_updates(sims.volc):
        per_task.setdefault(body["TaskId"], []).append(body["SequenceNumber"])
    assert len(per_task) == 10
    for numbers in per_task.values():
        assert numbers == [1, 2, 3, 4, 5]
    refused = [r for r in sims.volc.requests.all("UpdatePushMixedStreamToCDN") if r.status != 200]
    assert refused == []
    for alias in aliases:
        assert (await changes.history(deps, OPERATOR, alias)).current_version == 6


async def test_concurrent_claims_of_one_key_have_one_winner(deps: Deps) -> None:
    from bot.services import idempotency

    wins = await asyncio.gather(*(idempotency.claim(deps, "delivery:Ev123") for _ in range(20)))
    assert wins.count(True) == 1


def test_service_error_base_class_covers_locked() -> None:
    assert issubclass(Locked, ServiceError)
