"""Change requests: propose, approve, reject, cancel, apply, roll back.

State machine of a change request (the only transitions there are; each is one conditional UPDATE that
names the state it leaves, so two racing callers cannot both make it):

    pending  --approve-->  approved      (approver in scope, not the requester, in time, same payload,
                                          task unchanged since the proposal)
    pending  --reject--->  rejected
    pending  --cancel--->  cancelled     (requester or admin; `unlock` is an admin's cancel)
    pending  --approve-->  expired       (too late)      pending --approve--> stale (task or payload moved)
    (proposal that policy lets through starts in `approved`)
    approved --cancel--->  cancelled
    approved --apply---->  applying      (the SequenceNumber is allocated in the same transaction, only if the
                                          task's version is still the one proposed against; else -> stale)
    applying --provider ok-------> applied   (task version + 1, configuration version recorded)
    applying --provider refused--> failed    (code, message, RequestId recorded)
    applying --answer lost-------> applied if the provider already shows the change; otherwise it stays applying
                                   (the provider may still be working on it) until the recovery sweep settles it
    applying --start-up recovery-> applied | failed | unknown

`pending`, `approved` and `applying` are open: while one is open the request holds the task's lock
(change_requests.open_slot = task id), which a unique constraint keeps to one per task. Every terminal
transition clears open_slot in the same UPDATE.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.layouts.presets import PresetError, StreamRef, build_preset, parse_stream_ref
from bot.layouts.preview import preview_pair
from bot.providers.errors import InvalidRequest, ProviderError, validation_problems
from bot.services import audit
from bot.services.deps import Actor, Deps
from bot.services.describe import describe_changes
from bot.services.errors import (
    BadInput,
    Expired,
    InvalidChange,
    InvalidState,
    Locked,
    NotFound,
    PayloadChanged,
    PermissionDenied,
    SelfApproval,
    Stale,
)
from bot.services.merge import contains, merge_patch, payload_hash
from bot.services.permissions import checker, require
from bot.services.policy import check_kind, effective_policy, needs_approval, touched_kinds
from bot.services.provider_ops import canvas_of, read_state, send, tencent_body, updatable, volcengine_body
from bot.services.results import ChangeResult, ChangeSummary, History, TaskInfo, VersionInfo
from bot.services.tasks import load_authorized, load_task, task_info, task_target
from bot.store.models import Approval, ChangeRequest, ConfigVersion, Task

OPEN_STATES = ("pending", "approved", "applying")
AMBIGUOUS_CODES = frozenset({"Timeout", "NetworkError"})
"""Provider failures after which the request may or may not have been carried out."""


# ---------------------------------------------------------------- proposing


async def propose_layout_preset(
    deps: Deps,
    actor: Actor,
    alias: str,
    preset: str,
    streams: Sequence[StreamRef | str],
    options: Mapping[str, Any] | None = None,
) -> ChangeResult:
    """A preset sets TargetStreams and the regions; the canvas background, Encode and Control stay."""
    try:
        refs = [parse_stream_ref(s) if isinstance(s, str) else s for s in streams]
    except PresetError as exc:
        raise InvalidChange([str(exc)]) from None

    def build(baseline: dict[str, Any], task: Task) -> tuple[dict[str, Any], dict[str, Any]]:
        canvas = canvas_of(task)
        if canvas is None:
            raise InvalidChange([f"{alias} has no known canvas size; register it with canvas=WxH"])
        try:
            patch = build_preset(preset, canvas, refs, **dict(options or {})).config_patch()
        except PresetError as exc:
            raise InvalidChange([str(exc)]) from None
        patch["Layout"].pop("MainVideoStream", None)
        return patch, _with_whole_arrays(baseline, patch)

    names = ", ".join(r.label for r in refs)
    return await _propose(deps, actor, alias, "layout", f"layout {preset}: {names}", build, volcengine_only=True)


async def propose_region_edit(deps: Deps, actor: Actor, alias: str, stream_index: int, fields: Mapping[str, Any]) -> ChangeResult:
    """Changes one region (found by its StreamIndex); every other region is sent back exactly as it was."""

    def build(baseline: dict[str, Any], task: Task) -> tuple[dict[str, Any], dict[str, Any]]:
        desired = copy.deepcopy(baseline)
        regions = (desired.get("Layout") or {}).get("CustomLayout", {}).get("Regions")
        if not isinstance(regions, list):
            raise InvalidChange([f"{alias} has no regions in force to edit"])
        found = [r for r in regions if isinstance(r, dict) and r.get("StreamIndex") == stream_index]
        if not found:
            have = [r.get("StreamIndex") for r in regions if isinstance(r, dict)]
            raise InvalidChange([f"no region shows StreamIndex {stream_index} (regions: {have})"])
        found[0].update(merge_patch(found[0], dict(fields)))
        for key in [k for k, v in fields.items() if v is None]:
            found[0].pop(key, None)
        change = {"StreamIndex": stream_index, **dict(fields)}
        return change, desired

    summary = f"region {stream_index}: " + ", ".join(f"{k}={v}" for k, v in fields.items())
    return await _propose(deps, actor, alias, "layout", summary[:300], build, volcengine_only=True)


async def propose_ingest(
    deps: Deps,
    actor: Actor,
    alias: str,
    *,
    stream_url: str | None = None,
    volume: int | None = None,
    pause: bool | None = None,
    extra: Mapping[str, Any] | None = None,
) -> ChangeResult:
    """Tencent ingest: whatever is not given keeps its last applied value. `extra` takes China-only fields."""
    patch: dict[str, Any] = dict(extra or {})
    if stream_url is not None:
        patch["StreamUrl"] = stream_url
    if volume is not None:
        patch["Volume"] = volume
    if pause is not None:
        patch["IsPause"] = pause
    if not patch:
        raise InvalidChange(["nothing to change: give url=, volume=, pause or resume"])
    words = [f"url={stream_url}" if stream_url else "", f"volume={volume}" if volume is not None else ""]
    words.append({True: "pause", False: "resume", None: ""}[pause])
    summary = "ingest " + " ".join(w for w in [*words, *(f"{k}={v}" for k, v in (extra or {}).items())] if w)
    return await _propose(
        deps, actor, alias, "ingest", summary[:300], lambda b, _t: (patch, merge_patch(b, patch)), tencent_only=True
    )


async def propose_patch(
    deps: Deps, actor: Actor, alias: str, patch: Mapping[str, Any], *, summary: str | None = None
) -> ChangeResult:
    """A provider-JSON merge patch (RFC 7386): objects merge, arrays are replaced whole, null removes."""
    if not isinstance(patch, Mapping) or not patch:
        raise InvalidChange(["the patch is empty; give a JSON object of the fields to change"])
    given = dict(patch)
    return await _propose(
        deps,
        actor,
        alias,
        "patch",
        (summary or "patch " + ", ".join(sorted(given)))[:300],
        lambda b, _t: (given, merge_patch(b, given)),
    )


async def propose_rollback(deps: Deps, actor: Actor, alias: str, version: int) -> ChangeResult:
    """Proposes version N's configuration, whole, through the same approvals as any change."""
    task = await load_authorized(deps, actor, alias, "propose")
    async with deps.sessions() as session:
        row = await session.scalar(
            select(ConfigVersion).where(ConfigVersion.task_id == task.id, ConfigVersion.version == version)
        )
    if row is None:
        raise NotFound(f"version {version} of {alias} (`/rtc history {alias}` lists them)")
    if not row.configuration:
        raise InvalidChange([f"version {version} holds no configuration; sending it would reset every field"])
    target = copy.deepcopy(row.configuration)
    return await _propose(
        deps,
        actor,
        alias,
        "rollback",
        f"roll back to version {version}",
        lambda _b, _t: ({"RollbackTo": version}, target),
        rollback_to=version,
    )


Builder = Callable[[dict[str, Any], Task], tuple[dict[str, Any], dict[str, Any]]]


def _with_whole_arrays(baseline: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    return merge_patch(baseline, patch)


async def _propose(
    deps: Deps,
    actor: Actor,
    alias: str,
    kind: str,
    summary: str,
    build: Builder,
    *,
    volcengine_only: bool = False,
    tencent_only: bool = False,
    rollback_to: int | None = None,
) -> ChangeResult:
    task = await load_authorized(deps, actor, alias, "propose")
    async with deps.sessions() as session:
        await _raise_if_locked(session, task)
    if volcengine_only and task.provider != "volcengine":
        raise BadInput(f"{alias} is a {task.provider} task; layouts apply to Volcengine mixed pushes")
    if tencent_only and task.provider != "tencent":
        raise BadInput(f"{alias} is a {task.provider} task; ingest changes apply to Tencent stream ingests")
    baseline, source, drift = await _baseline(deps, task)
    change, desired = build(baseline, task)
    _validate(task, desired)
    touched = touched_kinds(baseline, desired)
    if not touched:
        raise InvalidChange(["nothing would change: the result equals the configuration in force"])
    needs = needs_approval(effective_policy(task.policy), touched)
    now = deps.clock()
    req = ChangeRequest(
        task_id=task.id,
        team_id=actor.team_id,
        requester=actor.user_id,
        kind=kind,
        summary=summary,
        touched=touched,
        change=change,
        baseline=baseline,
        baseline_source=source,
        desired=desired,
        drift=drift,
        base_version=task.version,
        rollback_to=rollback_to,
        needs_approval=needs,
        state="pending" if needs else "approved",
        open_slot=task.id,
        created_at=now,
        expires_at=now + timedelta(minutes=deps.settings.request_ttl_minutes),
    )
    req.payload_hash = _hash(req)
    try:
        async with deps.sessions.begin() as session:
            current = await session.get(Task, task.id)
            if current is None or current.version != task.version:
                raise Stale(f"{alias} changed while the proposal was being prepared")
            session.add(req)
            await session.flush()
            audit.record(
                session,
                deps,
                actor,
                "change.propose",
                f"task:{alias}",
                task_alias=alias,
                change_request_id=req.id,
                before=baseline,
                after=desired,
                outcome=req.state,
                detail=summary,
            )
    except IntegrityError:
        async with deps.sessions() as session:
            await _raise_if_locked(session, task)
        raise
    return _result(req, task, preview=_preview(task, baseline, desired, touched))


async def _raise_if_locked(session: AsyncSession, task: Task) -> None:
    holder = await session.scalar(select(ChangeRequest).where(ChangeRequest.open_slot == task.id))
    if holder is not None:
        raise Locked(task.alias, holder.id, holder.requester, holder.permalink)


async def _baseline(deps: Deps, task: Task) -> tuple[dict[str, Any], str, list[str]]:
    """What the change is merged onto: the configuration in force where the provider reports it."""
    if task.provider != "volcengine":
        return copy.deepcopy(task.configuration or {}), "store", []
    state = await read_state(deps, task)
    if state.in_force:
        in_force = updatable(state.in_force)
        drift: list[str] = []
        if task.configuration is not None and not contains(in_force, task.configuration):
            drift = describe_changes(task.provider, task.configuration, in_force)
        return in_force, "provider", drift
    if task.configuration:
        return copy.deepcopy(task.configuration), "store", []
    raise InvalidChange(
        [
            f"the configuration in force cannot be read ({state.error or state.state}) and none was applied through "
            "the bot; an update would reset every field it leaves out, so nothing is proposed"
        ]
    )


def _validate(task: Task, desired: dict[str, Any]) -> None:
    try:
        if task.provider == "volcengine":
            volcengine_body(task, desired, None)
        else:
            tencent_body(task, desired)
    except ValidationError as exc:
        raise InvalidChange(validation_problems(exc)) from None
    except ValueError as exc:
        raise InvalidChange([str(exc)]) from None


def _hash(req: ChangeRequest) -> str:
    return payload_hash({"task": req.task_id, "base_version": req.base_version, "baseline": req.baseline, "desired": req.desired})


def _preview(task: Task, before: dict[str, Any], after: dict[str, Any], touched: list[str]) -> bytes | None:
    if task.provider != "volcengine" or not {"layout", "streams"} & set(touched):
        return None
    return preview_pair(before, after, canvas_of(task))


def _result(req: ChangeRequest, task: Task, *, preview: bytes | None = None) -> ChangeResult:
    return ChangeResult(
        request_id=req.id,
        alias=task.alias,
        provider=task.provider,
        kind=req.kind,
        state=req.state,
        summary=req.summary,
        requester=req.requester,
        team_id=req.team_id,
        needs_approval=req.needs_approval,
        touched=list(req.touched),
        diff_lines=describe_changes(task.provider, req.baseline, req.desired),
        drift_lines=list(req.drift),
        baseline_source=req.baseline_source,
        payload_hash=req.payload_hash,
        base_version=req.base_version,
        created_at=req.created_at,
        expires_at=req.expires_at,
        desired=req.desired,
        baseline=req.baseline,
        canvas=canvas_of(task),
        preview_png=preview,
        rollback_to=req.rollback_to,
        decided_by=req.decided_by,
        link=req.permalink,
        channel_id=req.channel_id,
        message_ts=req.message_ts,
        notify_channel=task.notify_channel,
        sequence_number=req.sequence_number,
        provider_request_id=req.provider_request_id,
        error_code=req.error_code,
        error_message=req.error_message,
        result_version=req.result_version,
    )


# ---------------------------------------------------------------- deciding


async def _load_authorized(
    deps: Deps, actor: Actor, request_id: int, action: str | Callable[[ChangeRequest], str]
) -> tuple[ChangeRequest, Task]:
    """The request and its task, once the actor may do `action` on that task. A request id that does not
    exist (or belongs to another team) is checked as a task nobody scoped, before "not found" is said."""
    try:
        req, task = await _load(deps, actor, request_id)
    except NotFound:
        await require(deps, actor, action if isinstance(action, str) else "propose", None)
        raise
    await require(deps, actor, action if isinstance(action, str) else action(req), task_target(task))
    return req, task


async def _load(deps: Deps, actor: Actor, request_id: int) -> tuple[ChangeRequest, Task]:
    async with deps.sessions() as session:
        req = await session.get(ChangeRequest, request_id)
        if req is None or (req.team_id != actor.team_id and not actor.system):
            raise NotFound(f"request #{request_id}")
        task = await session.get(Task, req.task_id)
        if task is None:
            raise NotFound(f"the task of request #{request_id}")
    return req, task


async def _move(
    deps: Deps,
    actor: Actor,
    req: ChangeRequest,
    task: Task,
    to: str,
    *,
    audit_action: str,
    detail: str = "",
    **values: Any,
) -> bool:
    """One conditional transition from the state `req` was read in; False when someone else moved it first."""
    closing = to not in OPEN_STATES
    async with deps.sessions.begin() as session:
        result = await session.execute(
            update(ChangeRequest)
            .where(ChangeRequest.id == req.id, ChangeRequest.state == req.state)
            .values(state=to, **({"open_slot": None} if closing else {}), **values)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(result) != 1:
            return False
        audit.record(
            session,
            deps,
            actor,
            audit_action,
            f"task:{task.alias}",
            task_alias=task.alias,
            change_request_id=req.id,
            outcome=to,
            detail=detail,
        )
    req.state = to
    for key, value in values.items():
        setattr(req, key, value)
    return True


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def _moved_away(deps: Deps, actor: Actor, request_id: int, wanted: str) -> InvalidState:
    req, _ = await _load(deps, actor, request_id)
    return InvalidState(request_id, req.state, wanted)


async def approve(deps: Deps, actor: Actor, request_id: int, *, expected_hash: str | None = None) -> ChangeResult:
    """`expected_hash` is the payload hash the approver was shown (carry it in the button value)."""
    req, task = await _load_authorized(deps, actor, request_id, "approve")
    if req.state != "pending":
        raise InvalidState(request_id, req.state, "approved")
    if actor.user_id == req.requester and actor.team_id == req.team_id:
        raise SelfApproval()
    now = deps.clock()
    if now >= req.expires_at:
        if not await _move(deps, actor, req, task, "expired", audit_action="change.expire", finished_at=now):
            raise await _moved_away(deps, actor, request_id, "approved")
        raise Expired(request_id, deps.settings.request_ttl_minutes)
    if _hash(req) != req.payload_hash or (expected_hash is not None and expected_hash != req.payload_hash):
        if not await _move(
            deps, actor, req, task, "stale", audit_action="change.stale", detail="payload changed", finished_at=now
        ):
            raise await _moved_away(deps, actor, request_id, "approved")
        raise PayloadChanged("the change is not the one that was shown for approval")
    reason = await _task_moved(deps, req, task)
    if reason is not None:
        # another approver may have approved and applied meanwhile: then that, not staleness, is the answer
        if not await _move(deps, actor, req, task, "stale", audit_action="change.stale", detail=reason, finished_at=now):
            raise await _moved_away(deps, actor, request_id, "approved")
        raise Stale(reason)
    async with deps.sessions.begin() as session:
        result = await session.execute(
            update(ChangeRequest)
            .where(ChangeRequest.id == req.id, ChangeRequest.state == "pending", ChangeRequest.payload_hash == req.payload_hash)
            .values(state="approved", decided_by=actor.user_id, decided_at=now)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(result) == 1:
            session.add(_decision(req, actor, "approve", now))
            audit.record(
                session,
                deps,
                actor,
                "change.approve",
                f"task:{task.alias}",
                task_alias=task.alias,
                change_request_id=req.id,
                outcome="approved",
            )
    if _rowcount(result) != 1:
        raise await _moved_away(deps, actor, request_id, "approved")
    req.state, req.decided_by, req.decided_at = "approved", actor.user_id, now
    return _result(req, task)


def _decision(req: ChangeRequest, actor: Actor, decision: str, now: datetime) -> Approval:
    """An approver's verdict, tied to the payload hash they were shown."""
    return Approval(
        change_request_id=req.id,
        team_id=actor.team_id,
        user_id=actor.user_id,
        decision=decision,
        payload_hash=req.payload_hash,
        at=now,
    )


async def _task_moved(deps: Deps, req: ChangeRequest, task: Task) -> str | None:
    async with deps.sessions() as session:
        current = await session.get(Task, task.id)
    if current is None or current.version != req.base_version:
        now_at = current.version if current else "removed"
        return f"{task.alias} was changed since this was proposed (version {req.base_version} -> {now_at})"
    if req.baseline_source != "provider":
        return None
    state = await read_state(deps, task)
    if state.in_force is not None and updatable(state.in_force) != req.baseline:
        return f"the configuration in force on {task.alias} changed outside the bot since this was proposed"
    return None


async def reject(deps: Deps, actor: Actor, request_id: int, reason: str | None = None) -> ChangeResult:
    req, task = await _load_authorized(deps, actor, request_id, "approve")
    if req.state != "pending":
        raise InvalidState(request_id, req.state, "rejected")
    now = deps.clock()
    if not await _move(
        deps,
        actor,
        req,
        task,
        "rejected",
        audit_action="change.reject",
        detail=reason or "",
        decided_by=actor.user_id,
        decided_at=now,
        finished_at=now,
    ):
        raise await _moved_away(deps, actor, request_id, "rejected")
    async with deps.sessions.begin() as session:
        session.add(_decision(req, actor, "reject", now))
    return _result(req, task)


async def cancel(deps: Deps, actor: Actor, request_id: int) -> ChangeResult:
    """The requester may withdraw their own change; anyone else needs admin."""

    def needed(req: ChangeRequest) -> str:
        own = actor.user_id == req.requester and actor.team_id == req.team_id
        return "propose" if own else "admin"

    req, task = await _load_authorized(deps, actor, request_id, needed)
    if req.state not in ("pending", "approved"):
        raise InvalidState(request_id, req.state, "cancelled")
    now = deps.clock()
    if not await _move(
        deps,
        actor,
        req,
        task,
        "cancelled",
        audit_action="change.cancel",
        decided_by=actor.user_id,
        decided_at=now,
        finished_at=now,
    ):
        raise await _moved_away(deps, actor, request_id, "cancelled")
    return _result(req, task)


async def unlock(deps: Deps, actor: Actor, alias: str) -> ChangeResult | None:
    """Admins break a task's lock by cancelling its open change; one being applied right now is left alone."""
    task = await load_authorized(deps, actor, alias, "admin")
    async with deps.sessions() as session:
        req = await session.scalar(select(ChangeRequest).where(ChangeRequest.open_slot == task.id))
    if req is None:
        return None
    if req.state == "applying":
        raise BadInput(f"request #{req.id} is being applied now; its outcome will unlock {alias}")
    now = deps.clock()
    if not await _move(
        deps,
        actor,
        req,
        task,
        "cancelled",
        audit_action="change.unlock",
        detail="lock broken by admin",
        decided_by=actor.user_id,
        decided_at=now,
        finished_at=now,
    ):
        raise await _moved_away(deps, actor, req.id, "cancelled")
    return _result(req, task)


# ---------------------------------------------------------------- applying


async def apply(deps: Deps, actor: Actor, request_id: int) -> ChangeResult:
    """Sends an approved change exactly once and records what the provider said.

    `actor` is who triggered it (the approver, or the requester when no approval was needed); the decision
    was already taken, so the permission that matters here is the one checked at approve/propose time.
    """
    req, task = await _load(deps, actor, request_id)
    if req.state != "approved":
        raise InvalidState(request_id, req.state, "applied")
    now = deps.clock()
    async with deps.sessions.begin() as session:
        moved = await session.execute(
            update(ChangeRequest)
            .where(ChangeRequest.id == req.id, ChangeRequest.state == "approved")
            .values(state="applying", applying_at=now)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(moved) != 1:
            sequence = None
        else:
            sequence = await session.scalar(
                update(Task)
                .where(Task.id == task.id, Task.version == req.base_version)
                .values(sequence_number=Task.sequence_number + 1)
                .returning(Task.sequence_number)
                .execution_options(synchronize_session=False)
            )
            if sequence is not None:
                await session.execute(
                    update(ChangeRequest)
                    .where(ChangeRequest.id == req.id)
                    .values(sequence_number=sequence)
                    .execution_options(synchronize_session=False)
                )
    if _rowcount(moved) != 1:
        raise await _moved_away(deps, actor, request_id, "applied")
    req.state, req.applying_at = "applying", now
    if sequence is None:
        reason = f"{task.alias} was changed since this was approved"
        await _move(deps, actor, req, task, "stale", audit_action="change.stale", detail=reason, finished_at=now)
        raise Stale(reason)
    req.sequence_number = sequence
    try:
        reply = await send(deps, task, req.desired, sequence if task.provider == "volcengine" else None)
    except ProviderError as exc:
        if exc.code in AMBIGUOUS_CODES:
            from bot.services.recovery import reconcile

            await reconcile(deps, req, task, cause=f"{exc.code}: {exc.message}", in_flight=True)
            return await get_request(deps, actor, request_id)
        await _finish_failed(deps, actor, req, task, exc.code, exc.message, exc.request_id)
        return _result(req, task)
    except InvalidRequest as exc:
        await _finish_failed(deps, actor, req, task, "InvalidRequest", "; ".join(exc.problems), None)
        return _result(req, task)
    except Exception as exc:
        await _finish_failed(deps, actor, req, task, type(exc).__name__, str(exc)[:500], None, state="unknown")
        return _result(req, task)
    await finish_applied(deps, actor, req, task, reply.request_id)
    return _result(req, task)


async def finish_applied(deps: Deps, actor: Actor, req: ChangeRequest, task: Task, provider_request_id: str | None) -> bool:
    """applying -> applied, the task's version + 1 and the configuration version, in one transaction;
    False when another process settled the request first."""
    now = deps.clock()
    async with deps.sessions.begin() as session:
        moved = await session.execute(
            update(ChangeRequest)
            .where(ChangeRequest.id == req.id, ChangeRequest.state == "applying")
            .values(
                state="applied",
                open_slot=None,
                finished_at=now,
                provider_request_id=provider_request_id,
                error_code=None,
                error_message=None,
            )
            .execution_options(synchronize_session=False)
        )
        if _rowcount(moved) != 1:
            return False
        version = await session.scalar(
            update(Task)
            .where(Task.id == task.id)
            .values(version=Task.version + 1, configuration=req.desired)
            .returning(Task.version)
            .execution_options(synchronize_session=False)
        )
        assert version is not None
        await session.execute(
            update(ChangeRequest)
            .where(ChangeRequest.id == req.id)
            .values(result_version=version)
            .execution_options(synchronize_session=False)
        )
        session.add(
            ConfigVersion(
                task_id=task.id,
                version=version,
                configuration=req.desired,
                applied_by_team=req.team_id,
                applied_by=req.requester,
                applied_at=now,
                change_request_id=req.id,
                note=req.summary[:200],
            )
        )
        audit.record(
            session,
            deps,
            actor,
            "change.apply",
            f"task:{task.alias}",
            task_alias=task.alias,
            change_request_id=req.id,
            before=req.baseline,
            after=req.desired,
            provider_request_id=provider_request_id,
            outcome="applied",
            detail=f"version {version}, SequenceNumber {req.sequence_number}",
        )
    req.state, req.provider_request_id, req.result_version, req.finished_at = "applied", provider_request_id, version, now
    req.error_code = req.error_message = None
    task.version, task.configuration = version, req.desired
    return True


async def _finish_failed(
    deps: Deps,
    actor: Actor,
    req: ChangeRequest,
    task: Task,
    code: str,
    message: str,
    provider_request_id: str | None,
    *,
    state: str = "failed",
) -> bool:
    return await _move(
        deps,
        actor,
        req,
        task,
        state,
        audit_action="change.apply",
        detail=f"{code}: {message}"[:1000],
        error_code=code[:128],
        error_message=message,
        provider_request_id=provider_request_id,
        finished_at=deps.clock(),
    )


# ---------------------------------------------------------------- reading and settings


async def get_request(deps: Deps, actor: Actor, request_id: int) -> ChangeResult:
    req, task = await _load_authorized(deps, actor, request_id, "view")
    return _result(req, task)


async def history(deps: Deps, actor: Actor, alias: str, *, limit: int = 20) -> History:
    limit = max(1, min(limit, 200))
    task = await load_authorized(deps, actor, alias, "view")
    async with deps.sessions() as session:
        versions = (
            await session.scalars(
                select(ConfigVersion).where(ConfigVersion.task_id == task.id).order_by(ConfigVersion.version.desc()).limit(limit)
            )
        ).all()
        changes = (
            await session.scalars(
                select(ChangeRequest).where(ChangeRequest.task_id == task.id).order_by(ChangeRequest.id.desc()).limit(limit)
            )
        ).all()
    return History(
        alias=alias,
        current_version=task.version,
        versions=[
            VersionInfo(v.version, v.applied_by, v.applied_at, v.change_request_id, v.note, v.configuration) for v in versions
        ],
        changes=[_summary(c, alias) for c in changes],
    )


async def set_policy(deps: Deps, actor: Actor, alias: str, kind: str, needs_approval: bool) -> TaskInfo:
    check_kind(kind)
    await load_authorized(deps, actor, alias, "admin")
    async with deps.sessions.begin() as session:
        task = await load_task(session, actor.team_id, alias)
        before = effective_policy(task.policy)
        task.policy = {**(task.policy or {}), kind: needs_approval}
        audit.record(
            session,
            deps,
            actor,
            "task.policy",
            f"task:{alias}",
            task_alias=alias,
            before={kind: before[kind]},
            after={kind: needs_approval},
        )
    return task_info(task)


async def pending_for_approver(deps: Deps, actor: Actor) -> list[ChangeResult]:
    """Open requests this actor could approve now (not their own, not expired), oldest first."""
    now = deps.clock()
    async with deps.sessions() as session:
        rows = (
            await session.execute(
                select(ChangeRequest, Task)
                .join(Task, Task.id == ChangeRequest.task_id)
                .where(ChangeRequest.team_id == actor.team_id, ChangeRequest.state == "pending", ChangeRequest.expires_at > now)
                .order_by(ChangeRequest.id)
            )
        ).all()
    may_approve = await checker(deps, actor, "approve")
    return [_result(req, task) for req, task in rows if req.requester != actor.user_id and may_approve(task_target(task)).allowed]


async def my_open_requests(deps: Deps, actor: Actor) -> list[ChangeResult]:
    """The actor's own requests that are still open (pending, approved or applying), oldest first; only on
    tasks they may still view."""
    async with deps.sessions() as session:
        rows = (
            await session.execute(
                select(ChangeRequest, Task)
                .join(Task, Task.id == ChangeRequest.task_id)
                .where(
                    ChangeRequest.team_id == actor.team_id,
                    ChangeRequest.requester == actor.user_id,
                    ChangeRequest.open_slot.is_not(None),
                )
                .order_by(ChangeRequest.id)
            )
        ).all()
    may_view = await checker(deps, actor, "view")
    return [_result(req, task) for req, task in rows if may_view(task_target(task)).allowed]


RECENT_BATCH = 200


async def recent_changes(deps: Deps, actor: Actor, limit: int = 10) -> list[ChangeSummary]:
    """The newest changes across the tasks the actor may view, newest first.

    Read in batches, newest first, until `limit` visible ones are found: someone who sees one quiet task
    still gets its changes however busy the others are."""
    limit = max(1, min(limit, 100))
    may_view = await checker(deps, actor, "view")
    found: list[ChangeSummary] = []
    before: int | None = None
    while len(found) < limit:
        query = (
            select(ChangeRequest, Task)
            .join(Task, Task.id == ChangeRequest.task_id)
            .where(ChangeRequest.team_id == actor.team_id)
            .order_by(ChangeRequest.id.desc())
            .limit(RECENT_BATCH)
        )
        if before is not None:
            query = query.where(ChangeRequest.id < before)
        async with deps.sessions() as session:
            rows = (await session.execute(query)).all()
        found += [_summary(req, task.alias) for req, task in rows if may_view(task_target(task)).allowed]
        if len(rows) < RECENT_BATCH:
            break
        before = rows[-1][0].id
    return found[:limit]


def _summary(c: ChangeRequest, alias: str) -> ChangeSummary:
    return ChangeSummary(
        c.id, c.kind, c.state, c.requester, c.summary, c.created_at, c.result_version, c.provider_request_id, c.error_code, alias
    )


async def result_of(deps: Deps, request_id: int) -> ChangeResult:
    """A request as it stands, read without an actor: for the bot's own reports (start-up recovery)."""
    async with deps.sessions() as session:
        req = await session.get(ChangeRequest, request_id)
        task = await session.get(Task, req.task_id) if req is not None else None
    if req is None or task is None:
        raise NotFound(f"request #{request_id}")
    return _result(req, task)


async def attach_message(deps: Deps, request_id: int, *, channel_id: str, message_ts: str, permalink: str | None) -> None:
    """The Slack layer records where the request was posted; the lock message then links to it."""
    async with deps.sessions.begin() as session:
        result = await session.execute(
            update(ChangeRequest)
            .where(ChangeRequest.id == request_id)
            .values(channel_id=channel_id, message_ts=message_ts, permalink=permalink)
            .execution_options(synchronize_session=False)
        )
    if _rowcount(result) != 1:
        raise NotFound(f"request #{request_id}")


__all__ = [
    "PermissionDenied",
    "apply",
    "approve",
    "attach_message",
    "cancel",
    "get_request",
    "history",
    "my_open_requests",
    "pending_for_approver",
    "propose_ingest",
    "propose_layout_preset",
    "propose_patch",
    "propose_region_edit",
    "propose_rollback",
    "recent_changes",
    "reject",
    "result_of",
    "set_policy",
    "unlock",
]
