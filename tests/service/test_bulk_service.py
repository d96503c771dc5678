"""Bulk changes at the service level, on SQLite and PostgreSQL: the batched moves keep every single-change rule
(one approval for the exact payloads, the lock, the version check, one Update each), and two approvals of one
bulk make one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select
from svc_support import TEAM, sent_updates

from bot.domain import BulkState, ChangeState
from bot.services import bulk, bulk_lifecycle, bulk_members, changes, grants, scenes, selectors
from bot.services.deps import Actor, Deps
from bot.services.errors import BadInput, InvalidState, PayloadChanged, PermissionDenied, Stale
from bot.services.grants import Subject
from bot.services.worker import Applier
from bot.store.models import ChangeRequest, Task
from bot.targets.layout_changes import LayoutPreset

OPERATOR, APPROVER = Actor(TEAM, "UOPS"), Actor(TEAM, "UAPP")
PIP = LayoutPreset("pip", ("alice", "bob"))


async def _setup(deps: Deps, start_volc: Any, start_tencent: Any) -> None:
    for alias in ("a1", "a2", "a3"):
        await start_volc(alias, tags=("night",))
    await start_tencent("t1", tags=("night",))
    admin = Actor(TEAM, "UBOOT")
    await grants.grant(deps, admin, Subject("user", OPERATOR.user_id), "operator", "tag:night")
    await grants.grant(deps, admin, Subject("user", APPROVER.user_id), "approver", "tag:night")


async def _propose(deps: Deps, change: Any = PIP, confirm: str | None = None) -> Any:
    return await bulk.propose(
        deps, OPERATOR, selectors.parse("tag:night"), bulk.same_change(change), summary="pip", channel=None, confirm=confirm
    )


async def test_one_approval_applies_each_task_once_and_refuses_what_it_cannot_cover(
    deps: Deps, start_volc: Any, start_tencent: Any, sims: Any
) -> None:
    await _setup(deps, start_volc, start_tencent)
    preview = await _propose(deps)
    assert isinstance(preview, bulk_members.BulkPreview)
    assert preview.included == ["a1", "a2", "a3"] and [r.alias for r in preview.refused] == ["t1"]
    async with deps.sessions() as session:
        assert (await session.scalars(select(ChangeRequest))).all() == []  # nothing stored before confirmation
    proposed = await _propose(deps, confirm=preview.token)
    assert isinstance(proposed, bulk_members.BulkResult) and proposed.state == BulkState.PENDING and len(proposed.members) == 3
    with pytest.raises(PermissionDenied):  # the operator holds no approver role on the tasks
        await bulk_lifecycle.approve(deps, OPERATOR, proposed.bulk_id)
    with pytest.raises(PayloadChanged):
        await bulk_lifecycle.approve(deps, APPROVER, proposed.bulk_id, expected_hash="0" * 64)
    again = await _propose(deps, confirm=preview.token)  # the first one went stale and let go of the locks
    assert isinstance(again, bulk_members.BulkResult)
    results = await asyncio.gather(
        bulk_lifecycle.approve(deps, APPROVER, again.bulk_id, expected_hash=again.payload_hash),
        bulk_lifecycle.approve(deps, APPROVER, again.bulk_id, expected_hash=again.payload_hash),
        return_exceptions=True,
    )
    assert sum(isinstance(r, bulk_members.BulkResult) for r in results) == 1
    assert all(isinstance(r, bulk_members.BulkResult | InvalidState) for r in results)
    applier = Applier(deps)
    await applier.start_approved()
    await applier.drain()
    done = await bulk_members.get(deps, APPROVER, again.bulk_id)
    assert [m.state for m in done.members] == [ChangeState.APPLIED] * 3
    assert sorted(b["TaskId"] for b in sent_updates(sims.volc)) == ["t-a1", "t-a2", "t-a3"]
    async with deps.sessions() as session:
        rows = (await session.scalars(select(ChangeRequest).where(ChangeRequest.bulk_id == again.bulk_id))).all()
        versions = {t.alias: t.version for t in (await session.scalars(select(Task))).all()}
    assert all(r.open_slot is None and r.result_version == 2 and r.provider_request_id for r in rows)
    assert versions == {"a1": 2, "a2": 2, "a3": 2, "t1": 1}


async def test_a_task_changed_after_the_proposal_makes_the_bulk_stale(deps: Deps, start_volc: Any, start_tencent: Any) -> None:
    await _setup(deps, start_volc, start_tencent)
    preview = await _propose(deps)
    proposed = await _propose(deps, confirm=preview.token)
    assert isinstance(proposed, bulk_members.BulkResult)
    async with deps.sessions.begin() as session:
        task = (await session.scalars(select(Task).where(Task.alias == "a2"))).one()
        task.version += 1
    with pytest.raises(Stale):
        await bulk_lifecycle.approve(deps, APPROVER, proposed.bulk_id)
    after = await bulk_members.get(deps, APPROVER, proposed.bulk_id)
    assert after.state == BulkState.STALE and {m.state for m in after.members} == {ChangeState.STALE}
    single = await changes.propose(deps, OPERATOR, "a1", PIP)  # the locks were let go
    assert single.state == ChangeState.PENDING


async def test_a_scene_holds_one_change_per_command_and_is_versioned(deps: Deps, start_volc: Any, start_tencent: Any) -> None:
    await _setup(deps, start_volc, start_tencent)
    first = await scenes.save_change(deps, OPERATOR, "tag:night", "night", ["layout", "pip", "alice,bob", "ingest", "volume=30"])
    assert first.version == 1 and first.changes == {"layout": ["pip", "alice,bob"], "ingest": ["volume=30"]}
    second = await scenes.save_change(deps, OPERATOR, "tag:night", "night", ["layout", "pip", "bob,alice"])
    assert second.version == 2
    shown, _ = await scenes.show(deps, OPERATOR, "night", 1)
    assert shown.changes == first.changes
    proposed = await scenes.apply(deps, OPERATOR, "night", None, channel=None)
    assert isinstance(proposed, bulk_members.BulkPreview)  # version 2 has no ingest change: t1 is not covered
    assert [r.alias for r in proposed.refused] == ["t1"]
    await scenes.save_change(deps, OPERATOR, "tag:night", "night", ["layout", "pip", "alice,bob", "ingest", "volume=30"])
    both = await scenes.apply(deps, OPERATOR, "night", None, channel=None)
    assert isinstance(both, bulk_members.BulkResult) and sorted(m.alias for m in both.members) == ["a1", "a2", "a3", "t1"]


async def test_a_member_whose_payload_no_longer_matches_its_hash_is_not_sent(
    deps: Deps, start_volc: Any, start_tencent: Any, sims: Any
) -> None:
    await _setup(deps, start_volc, start_tencent)
    preview = await _propose(deps)
    proposed = await _propose(deps, confirm=preview.token)
    assert isinstance(proposed, bulk_members.BulkResult)
    async with deps.sessions.begin() as session:
        req = (await session.scalars(select(ChangeRequest).where(ChangeRequest.bulk_id == proposed.bulk_id))).first()
        assert req is not None
        req.desired = {**req.desired, "Encode": {**req.desired["Encode"], "VideoBitrate": 999}}  # not what was shown
    await bulk_lifecycle.approve(deps, APPROVER, proposed.bulk_id, expected_hash=proposed.payload_hash)
    applier = Applier(deps)
    await applier.start_approved()
    await applier.drain()
    done = await bulk_members.get(deps, APPROVER, proposed.bulk_id)
    assert sorted(m.state for m in done.members) == [ChangeState.APPLIED, ChangeState.APPLIED, ChangeState.STALE]
    assert len(sent_updates(sims.volc)) == 2 and all(b["Encode"]["VideoBitrate"] != 999 for b in sent_updates(sims.volc))


async def test_a_task_of_a_bulk_is_decided_only_with_the_bulk(deps: Deps, start_volc: Any, start_tencent: Any) -> None:
    await _setup(deps, start_volc, start_tencent)
    preview = await _propose(deps)
    proposed = await _propose(deps, confirm=preview.token)
    assert isinstance(proposed, bulk_members.BulkResult)
    member = proposed.members[0].request_id
    for decide in (changes.approve, changes.reject):
        with pytest.raises(InvalidState, match="part of bulk change"):
            await decide(deps, APPROVER, member)
    with pytest.raises(InvalidState, match="part of bulk change"):
        await changes.cancel(deps, OPERATOR, member)
    from bot.services.change_views import pending_for_approver

    assert await pending_for_approver(deps, APPROVER) == []  # App Home offers no button for one task of it
    assert (await bulk_lifecycle.approve(deps, APPROVER, proposed.bulk_id)).state == BulkState.APPROVED


async def test_a_provider_selector_and_a_comma_list_match_what_they_name(
    deps: Deps, start_volc: Any, start_tencent: Any, sims: Any
) -> None:
    await _setup(deps, start_volc, start_tencent)
    await start_volc("b1", tags=("day",))  # a Volcengine task the operator may not see: no selector reaches it for them
    by_provider = await bulk.propose(
        deps, OPERATOR, selectors.parse("provider:volcengine"), bulk.same_change(PIP), summary="pip", channel=None
    )
    assert isinstance(by_provider, bulk_members.BulkResult)
    assert [m.alias for m in by_provider.members] == ["a1", "a2", "a3"] and by_provider.refused == []
    await bulk_lifecycle.cancel(deps, OPERATOR, by_provider.bulk_id)

    listed = selectors.parse(" A2 ,t1,tag:night,provider:VOLCENGINE,a2")
    assert listed.text == "tag:night,provider:volcengine,a2,t1"
    mixed = await bulk.propose(deps, OPERATOR, selectors.parse("a2,t1,nope"), bulk.same_change(PIP), summary="pip", channel=None)
    assert isinstance(mixed, bulk_members.BulkPreview) and mixed.included == ["a2"]
    assert {r.alias: r.reason for r in mixed.refused}.keys() == {"t1", "nope"}
    assert "no task by that name" in {r.alias: r.reason for r in mixed.refused}["nope"]
    for bad, says in (
        ("colour:red", "unknown selector item"),
        ("tag:", "unknown selector item"),
        (" , ", "empty selector"),
        (",".join(f"x{i}" for i in range(500)), "at most"),
    ):
        with pytest.raises(BadInput, match=says):
            selectors.parse(bad)
