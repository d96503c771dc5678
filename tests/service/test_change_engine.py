"""The change engine end to end: real store, real clients, the simulators over loopback HTTP."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select, update
from svc_support import APP_ID, BOOT_ADMIN, ROOM_ID, START_CONFIG, TEAM, Clock, Sims, make_settings, sent_updates

from bot.providers.registry import ProviderRegistry
from bot.services import applying, change_views, changes, grants, idempotency, locks, recovery, tasks
from bot.services.changes import Patch, Rollback
from bot.services.deps import Actor, Deps
from bot.services.errors import (
    Expired,
    InvalidChange,
    InvalidState,
    Locked,
    PayloadChanged,
    PermissionDenied,
    SelfApproval,
    Stale,
)
from bot.store.change_requests import sequence_floor
from bot.store.models import AuditEvent, ChangeRequest, Task
from bot.targets.layout_changes import LayoutPreset, RegionEdit
from bot.targets.tencent import IngestChange
from bot.targets.volcengine import updatable

OPERATOR = Actor(TEAM, "UOPER")
APPROVER = Actor(TEAM, "UAPPR")
UPDATE = "UpdatePushMixedStreamToCDN"


@pytest.fixture
async def people(deps: Deps) -> None:
    await grants.grant(deps, BOOT_ADMIN, OPERATOR.user_id, "operator")
    await grants.grant(deps, BOOT_ADMIN, APPROVER.user_id, "approver")


def in_force(sims: Any, alias: str) -> dict[str, Any]:
    task = sims.volc.task(APP_ID, ROOM_ID, f"t-{alias}")
    return updatable(task.config)


async def test_registration_reads_the_configuration_in_force(deps: Deps, start_volc: Any, sims: Any) -> None:
    added = await start_volc("stage")
    assert added.baseline_source == "provider"
    assert added.task.version == 1 and added.task.facts["Canvas"] == [1280, 720]
    assert added.task.configuration == in_force(sims, "stage")
    assert added.task.configuration["Encode"]["VideoBitrate"] == 2500
    assert "VideoCodec" not in added.task.configuration["Encode"]  # start-only fields are not kept


async def test_region_edit_changes_one_region_and_resets_nothing(deps: Deps, start_volc: Any, sims: Any, people: None) -> None:
    await start_volc("stage")
    before = in_force(sims, "stage")
    proposed = await changes.propose(deps, OPERATOR, "stage", RegionEdit(1, {"Alpha": 0.5, "ZOrder": 7}))
    assert proposed.state == "pending" and proposed.needs_approval and proposed.touched == ["layout"]
    await changes.approve(deps, APPROVER, proposed.request_id, expected_hash=proposed.payload_hash)
    applied = await applying.apply(deps, APPROVER, proposed.request_id)
    assert applied.state == "applied" and applied.result_version == 2 and applied.provider_request_id

    sent = sent_updates(sims.volc)[-1]
    assert {k: sent[k] for k in ("TargetStreams", "Layout", "Encode")} == {
        k: proposed.desired[k] for k in ("TargetStreams", "Layout", "Encode")
    }
    after = in_force(sims, "stage")
    assert after["Encode"] == before["Encode"]
    assert after["TargetStreams"] == before["TargetStreams"]
    regions_before = before["Layout"]["CustomLayout"]["Regions"]
    regions_after = after["Layout"]["CustomLayout"]["Regions"]
    assert regions_after[0] == regions_before[0]
    assert regions_after[1] == {**regions_before[1], "Alpha": 0.5, "ZOrder": 7}
    assert after["Layout"]["CustomLayout"]["Canvas"] == before["Layout"]["CustomLayout"]["Canvas"]
    assert sims.volc.silent_resets() == []


async def test_preset_keeps_encode_and_background_and_gives_a_preview(
    deps: Deps, start_volc: Any, sims: Any, people: None, clock: Clock
) -> None:
    await start_volc("stage")
    before = in_force(sims, "stage")
    proposed = await changes.propose(
        deps,
        OPERATOR,
        "stage",
        LayoutPreset(
            "pip",
            (
                "bob",
                "alice",
            ),
        ),
    )
    assert proposed.preview_png is not None and proposed.preview_png.startswith(b"\x89PNG")
    assert proposed.diff_lines
    await changes.approve(deps, APPROVER, proposed.request_id)
    result = await applying.apply(deps, APPROVER, proposed.request_id)
    assert result.state == "applied"
    sent = sent_updates(sims.volc)[-1]
    assert sent["Encode"] == before["Encode"]
    assert sent["Layout"]["CustomLayout"]["Canvas"]["Background"] == "#112233"
    assert sent["SequenceNumber"] > sequence_floor(clock()), "numbers start past the clock floor"
    assert in_force(sims, "stage") == updatable({**sims.volc.task(APP_ID, ROOM_ID, "t-stage").config})
    assert in_force(sims, "stage")["Encode"] == before["Encode"]


async def test_patch_merges_objects_and_replaces_arrays_whole(deps: Deps, start_volc: Any, sims: Any, people: None) -> None:
    await start_volc("stage")
    patch = {"Encode": {"VideoFps": 25}}
    proposed = await changes.propose(deps, OPERATOR, "stage", Patch(patch))
    assert proposed.touched == ["encode"]
    assert proposed.desired["Encode"] == {**proposed.baseline["Encode"], "VideoFps": 25}
    assert proposed.desired["Layout"] == proposed.baseline["Layout"]
    await changes.cancel(deps, OPERATOR, proposed.request_id)
    streams = {"TargetStreams": {"StreamList": [{"UserId": "carol", "Index": 0}, {"UserId": "bob", "Index": 1}]}}
    swapped = await changes.propose(deps, OPERATOR, "stage", Patch(streams))
    assert swapped.desired["TargetStreams"] == streams["TargetStreams"]


async def test_invalid_changes_are_refused_with_field_paths(deps: Deps, start_volc: Any, people: None) -> None:
    await start_volc("stage")
    with pytest.raises(InvalidChange) as caught:
        await changes.propose(deps, OPERATOR, "stage", Patch({"Encode": {"VideoFps": 90}}))
    assert any("Encode.VideoFps" in p for p in caught.value.problems)
    with pytest.raises(InvalidChange, match="cannot be changed by Update"):
        await changes.propose(deps, OPERATOR, "stage", Patch({"Encode": {"VideoCodec": 1}}))
    with pytest.raises(InvalidChange, match="nothing would change"):
        await changes.propose(deps, OPERATOR, "stage", Patch({"Encode": {"VideoFps": 30}}))
    with pytest.raises(InvalidChange, match="StreamIndex 5"):
        await changes.propose(deps, OPERATOR, "stage", RegionEdit(5, {"Alpha": 0.5}))


async def test_policy_volume_and_pause_skip_approval_url_does_not(
    deps: Deps, start_tencent: Any, sims: Any, people: None
) -> None:
    added = await start_tencent("backup")
    quiet = await changes.propose(deps, OPERATOR, "backup", IngestChange(volume=40))
    assert quiet.state == "approved" and not quiet.needs_approval
    result = await applying.apply(deps, OPERATOR, quiet.request_id)
    assert result.state == "applied" and result.result_version == 2
    sent = sent_updates(sims.tencent, "UpdateStreamIngest")[-1]
    ids = added.task.identifiers
    # only what changes is sent: an unchanged StreamUrl is left out (what Tencent does with a repeated one is undocumented)
    assert sent == {"SdkAppId": int(ids["SdkAppId"]), "TaskId": ids["TaskId"], "Volume": 40}
    assert result.sequence_number is None and not result.uses_sequence_number
    ids = added.task.identifiers
    task = sims.tencent.task(int(ids["SdkAppId"]), ids["TaskId"])
    assert task.volume == 40

    loud = await changes.propose(deps, OPERATOR, "backup", IngestChange(url="https://media.example.com/b.mp4"))
    assert loud.needs_approval and loud.state == "pending"
    await changes.cancel(deps, OPERATOR, loud.request_id)
    await changes.set_policy(deps, BOOT_ADMIN, "backup", "url", False)
    relaxed = await changes.propose(deps, OPERATOR, "backup", IngestChange(url="https://media.example.com/b.mp4"))
    assert not relaxed.needs_approval
    with pytest.raises(PermissionDenied):
        await changes.set_policy(deps, OPERATOR, "backup", "volume", True)


async def test_self_approval_is_refused(deps: Deps, start_volc: Any, people: None) -> None:
    await start_volc("stage")
    await grants.grant(deps, BOOT_ADMIN, OPERATOR.user_id, "approver")
    proposed = await changes.propose(deps, OPERATOR, "stage", RegionEdit(0, {"Alpha": 0.9}))
    with pytest.raises(SelfApproval):
        await changes.approve(deps, OPERATOR, proposed.request_id)


async def test_approver_must_hold_approver_in_scope(deps: Deps, start_volc: Any, people: None) -> None:
    await start_volc("stage")
    await start_volc("other")
    outsider = Actor(TEAM, "UOUT")
    await grants.grant(deps, BOOT_ADMIN, outsider.user_id, "approver", "task:other")
    proposed = await changes.propose(deps, OPERATOR, "stage", RegionEdit(0, {"Alpha": 0.9}))
    with pytest.raises(PermissionDenied) as caught:
        await changes.approve(deps, outsider, proposed.request_id)
    assert caught.value.missing_role == "approver"
    assert [r.request_id for r in await change_views.pending_for_approver(deps, APPROVER)] == [proposed.request_id]
    assert await change_views.pending_for_approver(deps, outsider) == []
    assert await change_views.pending_for_approver(deps, OPERATOR) == []


async def test_expired_approval(deps: Deps, start_volc: Any, clock: Clock, people: None) -> None:
    await start_volc("stage")
    proposed = await changes.propose(deps, OPERATOR, "stage", RegionEdit(0, {"Alpha": 0.9}))
    clock.advance(minutes=deps.settings.request_ttl_minutes, seconds=1)
    with pytest.raises(Expired):
        await changes.approve(deps, APPROVER, proposed.request_id)
    assert (await change_views.get_request(deps, APPROVER, proposed.request_id)).state == "expired"
    again = await changes.propose(deps, OPERATOR, "stage", RegionEdit(0, {"Alpha": 0.9}))  # lock released
    assert again.state == "pending"


async def test_approval_after_the_payload_changed(deps: Deps, start_volc: Any, people: None) -> None:
    await start_volc("stage")
    proposed = await changes.propose(deps, OPERATOR, "stage", RegionEdit(0, {"Alpha": 0.9}))
    tampered = copy.deepcopy(proposed.desired)
    tampered["Encode"]["VideoBitrate"] = 9000
    async with deps.sessions.begin() as session:
        await session.execute(update(ChangeRequest).where(ChangeRequest.id == proposed.request_id).values(desired=tampered))
    with pytest.raises(PayloadChanged):
        await changes.approve(deps, APPROVER, proposed.request_id, expected_hash=proposed.payload_hash)
    assert (await change_views.get_request(deps, APPROVER, proposed.request_id)).state == "stale"


async def test_approval_of_a_different_payload_than_shown(deps: Deps, start_volc: Any, people: None) -> None:
    await start_volc("stage")
    proposed = await changes.propose(deps, OPERATOR, "stage", RegionEdit(0, {"Alpha": 0.9}))
    with pytest.raises(PayloadChanged):
        await changes.approve(deps, APPROVER, proposed.request_id, expected_hash="0" * 64)


async def test_stale_when_changed_outside_the_bot(deps: Deps, start_volc: Any, sims: Any, people: None) -> None:
    await start_volc("stage")
    proposed = await changes.propose(deps, OPERATOR, "stage", RegionEdit(0, {"Alpha": 0.9}))
    outside = {"AppId": APP_ID, "RoomId": ROOM_ID, "TaskId": "t-stage", **copy.deepcopy(START_CONFIG)}
    outside["Encode"]["VideoFps"] = 20
    del outside["Layout"]["LayoutMode"]
    await deps.providers.volcengine.update_push_mixed_stream_to_cdn(outside)
    with pytest.raises(Stale, match="outside the bot"):
        await changes.approve(deps, APPROVER, proposed.request_id)
    # the next proposal shows the drift and merges onto what is really in force
    again = await changes.propose(deps, OPERATOR, "stage", RegionEdit(0, {"Alpha": 0.9}))
    assert again.drift_lines
    assert again.desired["Encode"]["VideoFps"] == 20


async def test_stale_when_the_task_version_moved(deps: Deps, start_tencent: Any, people: None) -> None:
    await start_tencent("backup")
    proposed = await changes.propose(deps, OPERATOR, "backup", IngestChange(url="https://media.example.com/c.mp4"))
    async with deps.sessions.begin() as session:
        await session.execute(update(Task).where(Task.alias == "backup").values(version=Task.version + 1))
    with pytest.raises(Stale):
        await changes.approve(deps, APPROVER, proposed.request_id)


async def test_one_open_change_per_task_and_admin_unlock(deps: Deps, start_volc: Any, people: None) -> None:
    await start_volc("stage")
    first = await changes.propose(deps, OPERATOR, "stage", RegionEdit(0, {"Alpha": 0.9}))
    await changes.attach_message(deps, first.request_id, channel_id="C1", message_ts="1.2", permalink="https://x.slack.com/p1")
    with pytest.raises(Locked) as caught:
        await changes.propose(deps, APPROVER, "stage", RegionEdit(1, {"Alpha": 0.9}))
    assert caught.value.by == OPERATOR.user_id and caught.value.link == "https://x.slack.com/p1"
    assert "<@" not in str(caught.value)  # worded for Slack by the handlers, not here
    with pytest.raises(PermissionDenied):
        await locks.unlock(deps, APPROVER, "stage")
    broken = await locks.unlock(deps, BOOT_ADMIN, "stage")
    assert broken is not None and broken.state == "cancelled"
    assert await locks.unlock(deps, BOOT_ADMIN, "stage") is None
    second = await changes.propose(deps, APPROVER, "stage", RegionEdit(1, {"Alpha": 0.9}))
    assert second.state == "pending"


async def test_reject_and_cancel_and_repeated_clicks(deps: Deps, start_volc: Any, people: None) -> None:
    await start_volc("stage")
    proposed = await changes.propose(deps, OPERATOR, "stage", RegionEdit(0, {"Alpha": 0.9}))
    rejected = await changes.reject(deps, APPROVER, proposed.request_id, "not now")
    assert rejected.state == "rejected"
    for call in (changes.approve, changes.reject):
        with pytest.raises(InvalidState):
            await call(deps, APPROVER, proposed.request_id)
    with pytest.raises(InvalidState):
        await applying.apply(deps, APPROVER, proposed.request_id)
    other = await changes.propose(deps, OPERATOR, "stage", RegionEdit(0, {"Alpha": 0.8}))
    with pytest.raises(PermissionDenied):
        await changes.cancel(deps, Actor(TEAM, "USTRANGER"), other.request_id)
    await changes.approve(deps, APPROVER, other.request_id)
    cancelled = await changes.cancel(deps, OPERATOR, other.request_id)
    assert cancelled.state == "cancelled"


async def test_apply_is_exactly_once(deps: Deps, start_volc: Any, sims: Any, people: None) -> None:
    await start_volc("stage")
    proposed = await changes.propose(deps, OPERATOR, "stage", RegionEdit(0, {"Alpha": 0.9}))
    await changes.approve(deps, APPROVER, proposed.request_id)
    await applying.apply(deps, APPROVER, proposed.request_id)
    with pytest.raises(InvalidState, match="applied"):
        await applying.apply(deps, APPROVER, proposed.request_id)
    assert len(sent_updates(sims.volc)) == 1


async def test_provider_refusal_is_recorded_and_releases_the_lock(deps: Deps, start_volc: Any, sims: Any, people: None) -> None:
    await start_volc("stage")
    proposed = await changes.propose(deps, OPERATOR, "stage", RegionEdit(0, {"Alpha": 0.9}))
    await changes.approve(deps, APPROVER, proposed.request_id)
    sims.volc.end_task(APP_ID, ROOM_ID, "t-stage")
    failed = await applying.apply(deps, APPROVER, proposed.request_id)
    assert failed.state == "failed"
    assert failed.error_code == "InvalidParameter.ErrorActiveTaskNotFound" and failed.provider_request_id
    assert failed.gone
    history = await change_views.history(deps, OPERATOR, "stage")
    assert history.current_version == 1 and [c.state for c in history.changes] == ["failed"]


async def test_rollback_sends_exactly_version_n(deps: Deps, start_volc: Any, sims: Any, people: None) -> None:
    await start_volc("stage")
    for alpha in (0.9, 0.8):
        p = await changes.propose(deps, OPERATOR, "stage", RegionEdit(0, {"Alpha": alpha}))
        await changes.approve(deps, APPROVER, p.request_id)
        assert (await applying.apply(deps, APPROVER, p.request_id)).state == "applied"
    history = await change_views.history(deps, OPERATOR, "stage")
    assert [v.version for v in history.versions] == [3, 2, 1]
    version_2 = next(v.configuration for v in history.versions if v.version == 2)

    back = await changes.propose(deps, OPERATOR, "stage", Rollback(2))
    assert back.needs_approval and back.rollback_to == 2
    await changes.approve(deps, APPROVER, back.request_id)
    done = await applying.apply(deps, APPROVER, back.request_id)
    assert done.state == "applied" and done.result_version == 4
    sent = sent_updates(sims.volc)[-1]
    assert {k: v for k, v in sent.items() if k in ("TargetStreams", "Layout", "Encode", "Control")} == version_2
    numbers = [s["SequenceNumber"] for s in sent_updates(sims.volc)]
    assert numbers == sorted(set(numbers)) and len(numbers) == 3
    with pytest.raises(Exception, match="version 9"):
        await changes.propose(deps, OPERATOR, "stage", Rollback(9))


async def test_recovery_after_a_crash_mid_apply(
    deps: Deps, start_volc: Any, start_tencent: Any, sims: Any, people: None, clock: Clock
) -> None:
    """The crash is simulated: each request is left applying. For one the provider got the update. Recovery
    never guesses from what is in force (an earlier attempt might still land): it sends the same configuration
    again, fenced by a higher SequenceNumber where there is one, and each accepted re-send is applied."""
    await start_volc("landed")
    await start_volc("lost")
    await start_tencent("ingest")
    ids = {}
    for alias, change in (
        ("landed", RegionEdit(0, {"Alpha": 0.7})),
        ("lost", RegionEdit(0, {"Alpha": 0.7})),
        ("ingest", IngestChange(url="https://media.example.com/z.mp4")),
    ):
        proposed = await changes.propose(deps, OPERATOR, alias, change)
        await changes.approve(deps, APPROVER, proposed.request_id)
        ids[alias] = proposed.request_id
        async with deps.sessions.begin() as session:
            await session.execute(
                update(ChangeRequest).where(ChangeRequest.id == proposed.request_id).values(state="applying", sequence_number=1)
            )
        if alias == "landed":
            task = (await tasks.show_task(deps, OPERATOR, alias)).task
            body = {"AppId": APP_ID, "RoomId": ROOM_ID, "TaskId": task.identifiers["TaskId"], **proposed.desired}
            await deps.providers.volcengine.update_push_mixed_stream_to_cdn({**body, "SequenceNumber": 1})

    outcomes = {o.alias: o for o in await recovery.recover_applying(deps)}
    assert {alias: o.state for alias, o in outcomes.items()} == {"landed": "applied", "lost": "applied", "ingest": "applied"}
    for alias in ("landed", "lost"):
        assert (await tasks.show_task(deps, OPERATOR, alias)).task.version == 2
        assert in_force(sims, alias)["Layout"]["CustomLayout"]["Regions"][0]["Alpha"] == 0.7
    fences = [s["SequenceNumber"] for s in sent_updates(sims.volc)]
    assert fences[0] == 1 and all(n >= sequence_floor(clock()) for n in fences[1:]) and len(fences) == 3
    for alias in ids:  # every lock released, nothing left applying
        assert (await tasks.show_task(deps, OPERATOR, alias)).task.open_request_id is None
    assert await recovery.recover_applying(deps) == []


async def test_recovery_leaves_an_apply_in_flight_on_another_replica_alone(
    deps: Deps, start_volc: Any, sims: Any, people: None, clock: Clock
) -> None:
    """A replica starting up must not settle a request another replica is applying right now; once that
    apply is older than any apply can take, the sweep settles it, and only one of two sweeps reports it."""
    await start_volc("busy")
    proposed = await changes.propose(deps, OPERATOR, "busy", RegionEdit(0, {"Alpha": 0.5}))
    await changes.approve(deps, APPROVER, proposed.request_id)
    async with deps.sessions.begin() as session:
        await session.execute(
            update(ChangeRequest)
            .where(ChangeRequest.id == proposed.request_id)
            .values(state="applying", applying_at=clock(), sequence_number=1)
        )
    limit = recovery.in_flight_limit(deps)
    assert await recovery.recover_applying(deps, older_than=limit) == []
    assert (await change_views.get_request(deps, OPERATOR, proposed.request_id)).state == "applying"
    assert sent_updates(sims.volc) == []
    clock.advance(seconds=limit.total_seconds() + 1)
    first, second = await asyncio.gather(
        recovery.recover_applying(deps, older_than=limit), recovery.recover_applying(deps, older_than=limit)
    )
    assert len(first) + len(second) == 1, (first, second)
    assert (first or second)[0].state == "applied"
    done = await change_views.get_request(deps, OPERATOR, proposed.request_id)
    assert done.state == "applied" and done.result_version == 2


@pytest.fixture
async def impatient(deps: Deps, db_url: str, sims: Sims) -> AsyncIterator[Deps]:
    """The same store, with a provider client that gives up after 0.3 s and never retries."""
    settings = make_settings(db_url, sims, provider_timeout_seconds=0.3, provider_max_attempts=1)
    providers = ProviderRegistry.from_settings(settings)
    yield Deps(deps.sessions, providers, settings, deps.clock)
    await providers.aclose()


async def _held_update_finished(sims: Sims) -> Any:
    """Waits (bounded) until the simulator has answered the Update it was holding; returns its record."""
    for _ in range(400):
        held = [r for r in sims.volc.requests.all(UPDATE) if r.faults]
        if held and held[0].status:
            return held[0]
        await asyncio.sleep(0.025)
    raise AssertionError("the simulator never finished the held Update")


async def test_a_timed_out_update_is_settled_by_a_fenced_resend(
    impatient: Deps, start_volc: Any, sims: Sims, people: None
) -> None:
    """The client gives up after 0.3 s; the simulator holds the Update 1 s and then carries it out. rtcops
    sends the same configuration again with a higher SequenceNumber: accepted, so applied, at once; the held
    Update, arriving later with its lower number, is refused and changes nothing."""
    await start_volc("stage")
    proposed = await changes.propose(impatient, OPERATOR, "stage", RegionEdit(0, {"Alpha": 0.6}))
    await changes.approve(impatient, APPROVER, proposed.request_id)
    sims.volc.add_timeout(seconds=1.0, action=UPDATE, times=1)
    done = await applying.apply(impatient, APPROVER, proposed.request_id)
    assert (done.state, done.result_version, done.error_code) == ("applied", 2, None)
    held = await _held_update_finished(sims)
    held_number = json.loads(held.body)["SequenceNumber"]
    assert held.code == "InvalidParameter.SequenceNumber"
    accepted = [s for s in sent_updates(sims.volc)]
    assert [s["SequenceNumber"] for s in accepted] == [held_number + 1]
    assert in_force(sims, "stage") == proposed.desired
    async with impatient.sessions() as session:
        trail = (await session.scalars(select(AuditEvent).where(AuditEvent.change_request_id == proposed.request_id))).all()
    assert any("sending again" in e.detail for e in trail)
    assert not any(e.outcome == "failed" for e in trail)


async def test_a_timed_out_update_on_a_task_that_ended_meanwhile_is_failed_as_gone(
    impatient: Deps, start_volc: Any, sims: Sims, people: None
) -> None:
    """While the simulator holds the Update the push ends: the re-send is refused because the task is gone,
    which is definite (nothing can be on air), so the verdict is failed, with the task-gone flag."""
    await start_volc("stage")
    proposed = await changes.propose(impatient, OPERATOR, "stage", RegionEdit(0, {"Alpha": 0.6}))
    await changes.approve(impatient, APPROVER, proposed.request_id)
    sims.volc.add_timeout(seconds=1.0, action=UPDATE, times=1)
    task = asyncio.create_task(applying.apply(impatient, APPROVER, proposed.request_id))
    await asyncio.sleep(0.1)
    assert sims.volc.end_task(APP_ID, ROOM_ID, "t-stage")
    done = await task
    assert (done.state, done.error_code, done.gone) == ("failed", "InvalidParameter.ErrorActiveTaskNotFound", True)
    held = await _held_update_finished(sims)
    assert held.code == "InvalidParameter.ErrorActiveTaskNotFound"
    history = await change_views.history(impatient, OPERATOR, "stage")
    assert history.current_version == 1
    assert (await tasks.show_task(impatient, OPERATOR, "stage")).task.open_request_id is None


async def test_approved_then_stale_when_the_task_moved_before_apply(
    deps: Deps, start_tencent: Any, sims: Sims, people: None
) -> None:
    """The task's version moved between approval and apply (another replica settled an older change):
    apply sends nothing, uses no SequenceNumber, marks the request stale and releases the lock."""
    await start_tencent("backup")
    proposed = await changes.propose(deps, OPERATOR, "backup", IngestChange(url="https://media.example.com/c.mp4"))
    await changes.approve(deps, APPROVER, proposed.request_id, expected_hash=proposed.payload_hash)
    async with deps.sessions.begin() as session:
        await session.execute(update(Task).where(Task.alias == "backup").values(version=Task.version + 1))
    with pytest.raises(Stale, match="changed since this was approved"):
        await applying.apply(deps, APPROVER, proposed.request_id)
    stale = await change_views.get_request(deps, APPROVER, proposed.request_id)
    assert stale.state == "stale" and stale.sequence_number is None
    assert sent_updates(sims.tencent, "UpdateStreamIngest") == []
    info = (await tasks.show_task(deps, OPERATOR, "backup")).task
    assert info.open_request_id is None and info.sequence_number == 0 and info.version == 2
    async with deps.sessions() as session:
        query = select(AuditEvent.action).where(AuditEvent.change_request_id == proposed.request_id).order_by(AuditEvent.id)
        trail = (await session.scalars(query)).all()
    assert list(trail) == ["change.propose", "change.approve", "change.stale"]
    with pytest.raises(InvalidState, match="stale"):
        await applying.apply(deps, APPROVER, proposed.request_id)


async def test_audit_trail_of_a_change(deps: Deps, start_volc: Any, people: None) -> None:
    await start_volc("stage")
    proposed = await changes.propose(deps, OPERATOR, "stage", RegionEdit(0, {"Alpha": 0.9}))
    await changes.approve(deps, APPROVER, proposed.request_id)
    await applying.apply(deps, APPROVER, proposed.request_id)
    async with deps.sessions() as session:
        rows = (await session.scalars(select(AuditEvent).where(AuditEvent.task_alias == "stage").order_by(AuditEvent.id))).all()
    assert [(e.action, e.outcome) for e in rows] == [
        ("task.add", "ok"),
        ("change.propose", "pending"),
        ("change.approve", "approved"),
        ("change.apply", "applied"),
    ]
    assert rows[-1].provider_request_id and rows[-1].after == proposed.desired


async def test_claim_is_first_wins(deps: Deps) -> None:
    assert await idempotency.claim(deps, "click:1:123.456")
    assert not await idempotency.claim(deps, "click:1:123.456")
    assert await idempotency.claim(deps, "click:1:123.457")


async def test_tasks_are_listed_by_permission_and_removed_by_admins(deps: Deps, start_volc: Any, start_tencent: Any) -> None:
    await start_volc("stage", tags=("live",))
    await start_tencent("backup")
    viewer = Actor(TEAM, "UVIEW")
    await grants.grant(deps, BOOT_ADMIN, viewer.user_id, "viewer", "tag:live")
    assert [t.alias for t in await tasks.list_tasks(deps, viewer)] == ["stage"]
    status = await tasks.show_task(deps, viewer, "stage")
    assert status.provider.running and status.provider.state.startswith("running")
    statuses = (await tasks.list_statuses(deps, BOOT_ADMIN)).statuses
    assert {s.task.alias: s.provider.state for s in statuses}["backup"] == "InProgress"
    with pytest.raises(PermissionDenied):
        await tasks.remove_task(deps, viewer, "stage")
    removed = await tasks.remove_task(deps, BOOT_ADMIN, "stage")
    assert removed.alias == "stage"
    assert [t.alias for t in await tasks.list_tasks(deps, BOOT_ADMIN)] == ["backup"]
