"""Applying an approved change, and reaching a verdict that is true.

A verdict is given only when it is known:
- *applied*: the provider accepted the update (or, where it reports the configuration in force, shows it);
- *failed*: the provider definitively refused it before acting on it (a validation or auth error, a task
  that no longer exists, a rate limit every attempt met), so nothing changed on air;
- *unknown*: after every re-send the provider's answer never arrived; the thread says what to check and an
  approver can retry it.

An unanswered update (a timeout, a lost connection, a 5xx after sending, or a refusal that followed an
attempt that may have landed) is settled by sending the same configuration again while the task's lock is
held. Where the target orders updates by SequenceNumber, each re-send carries a higher number than any
before it: the provider takes the last one it sees and refuses a delayed earlier one by its lower number, so
one accepted re-send is a definite *applied*, exactly once in effect. Where it does not (a Tencent ingest),
every update sets absolute values, so sending the same body again sets the same thing.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from bot.domain import ChangeState
from bot.failpoints import failpoint
from bot.services import audit, notices
from bot.services.change_views import load, to_result
from bot.services.deps import Actor, Deps
from bot.services.errors import InvalidState, Stale
from bot.services.results import ChangeResult
from bot.services.tasks import target_of, task_ref
from bot.store import change_requests as transitions
from bot.store.models import AuditEvent, ChangeRequest, Task
from bot.targets.base import Applied, Refused, Sent, Target, Unanswered
from bot.targets.config_json import contains

SYSTEM = "rtcops"
RESENDS = 3
"""Re-sends after an unanswered update before the verdict is "unknown"."""
RESEND_BACKOFF_SECONDS = (0.5, 1.0, 2.0)
SEQUENCE_JUMPS = (1, 86_400)
"""How far past the clock floor a SequenceNumber the provider refused as already seen is moved: one (a task
registered again within the second of its last update), then a day (a tool that numbers above the clock)."""


def in_flight_limit(deps: Deps) -> timedelta:
    """How long one apply of ours can take from its start to its verdict: the first call and every re-send,
    each with its retries up to the deadline plus one last attempt's timeout. A request applying for longer
    lost its process; a younger one may belong to another replica, which will settle it."""
    settings = deps.settings
    per_call = settings.provider_deadline_seconds + settings.provider_timeout_seconds
    return timedelta(seconds=(RESENDS + 1) * per_call + sum(RESEND_BACKOFF_SECONDS) + 5)


async def apply(deps: Deps, actor: Actor, request_id: int) -> ChangeResult:
    """Sends an approved change and settles it. `actor` is who set it off (the approver, or the requester
    when no approval was needed); the decision was taken and checked already."""
    req, task = await load(deps, actor, request_id)
    if req.state != ChangeState.APPROVED:
        raise InvalidState(request_id, req.state, "applied")
    target = target_of(task)
    now = deps.clock()
    if now - approved_since(req) > timedelta(minutes=deps.settings.request_ttl_minutes):
        reason = "it was approved but could not be applied in time (rtcops was not running); propose again"
        await end_request(deps, actor, req, task, ChangeState.EXPIRED, reason, action="change.expire")
        raise Stale(reason)
    started = await transitions.begin_apply(
        deps.sessions, req, now=now, sequenced=target.uses_sequence_number, notices=notices.applying(req, now)
    )
    if started is False:
        raise InvalidState(request_id, (await load(deps, actor, request_id))[0].state, "applied")
    if started is None:
        reason = f"{task.alias} was changed since this was approved"
        await end_request(deps, actor, req, task, ChangeState.STALE, reason, action="change.stale")
        raise Stale(reason)
    deps.signals.deliver.set()
    sent = await target.send(deps.providers, task_ref(task), req.desired, req.baseline, req.sequence_number)
    failpoint("after-provider-answer")
    await settle(deps, actor, req, task, sent)
    return to_result(req, task)


def approved_since(req: ChangeRequest) -> datetime:
    """Since when an approved change has been due: its approval, or its time when it was scheduled."""
    decided = req.decided_at or req.created_at
    return max(decided, req.not_before) if req.not_before is not None else decided


async def end_request(
    deps: Deps, actor: Actor, req: ChangeRequest, task: Task, to: ChangeState, reason: str, *, action: str
) -> bool:
    """A request that can no longer go on (expired, stale) ended, and its thread told why; False when someone else
    moved it first (then nothing is written)."""
    now = deps.clock()
    moved = await transitions.move(
        deps.sessions,
        req,
        to,
        audit=audit.change_event(deps, actor, req, task, action, to, reason),
        notices=notices.ended(req, now, reason=reason),
        finished_at=now,
    )
    if moved:
        deps.signals.deliver.set()
    return moved


async def settle(deps: Deps, actor: Actor, req: ChangeRequest, task: Task, sent: Sent | None) -> None:
    """From an answer to a verdict, re-sending while the outcome is not known; `sent` None means nothing is
    known yet (a request found applying after a crash): start by sending again. Every move is conditional:
    when another process settles the request first, this one stops without a word."""
    target = target_of(task)
    recovered = uncertain = sent is None
    lows = 0
    last: Refused | Unanswered | None = None
    for attempt in range(RESENDS + 1):
        if sent is None:
            sent = await _resend(deps, req, task, target)
            if sent is None:
                return
        if isinstance(sent, Applied):
            note = " (confirmed by sending it again)" if uncertain else ""
            await _applied(deps, actor, req, task, sent.request_id, note, recovered=recovered)
            return
        if isinstance(sent, Refused) and sent.stale_sequence and not uncertain and lows < len(SEQUENCE_JUMPS):
            # Refused before acting, for a number the provider had seen (another tool, a task registered again):
            # a higher one cannot collide with anything of ours, since nothing of ours is in flight.
            sequence = await transitions.resequence(deps.sessions, req, now=deps.clock(), jump=SEQUENCE_JUMPS[lows])
            lows += 1
            if sequence is None:
                return
            sent = await target.send(deps.providers, task_ref(task), req.desired, req.baseline, sequence)
            continue
        if isinstance(sent, Refused) and not (uncertain and sent.transient):
            if uncertain and not sent.gone and await _in_force(deps, task, target, req):
                await _applied(deps, actor, req, task, None, " (the provider shows it in force)", recovered=recovered)
                return
            await _failed(deps, actor, req, task, sent, recovered=recovered)
            return
        first = last is None
        uncertain, last, sent = True, sent, None
        if attempt == RESENDS:
            break
        cause = f"{last.code}: {last.message}"
        now = deps.clock()
        if not await transitions.note(
            deps.sessions,
            req,
            code=last.code,
            message=f"{cause}; the provider may have applied it, so rtcops sends it again to find out",
            audit=audit.change_event(
                deps, actor, req, task, "change.apply", ChangeState.APPLYING, f"no definite answer ({cause}); sending again"
            ),
            notices=notices.resending(req, now, cause=cause) if first and not recovered else (),
        ):
            return
        deps.signals.deliver.set()
        await asyncio.sleep(RESEND_BACKOFF_SECONDS[min(attempt, len(RESEND_BACKOFF_SECONDS) - 1)])
    if await _in_force(deps, task, target, req):
        await _applied(deps, actor, req, task, None, " (the provider shows it in force)", recovered=recovered)
        return
    detail = (
        f"no definite answer after sending it {RESENDS + 1} times"
        + (f" (last: {last.code}: {last.message})" if last is not None else "")
        + f"; check what {task.alias} shows now before proposing again"
    )
    await _finish(deps, actor, req, task, ChangeState.UNKNOWN, "Unknown", detail, None, recovered=recovered)


async def _resend(deps: Deps, req: ChangeRequest, task: Task, target: Target) -> Sent | None:
    """The same configuration again, fenced by a higher SequenceNumber where the target uses one; None when
    the request was settled elsewhere meanwhile."""
    sequence: int | None = None
    if target.uses_sequence_number:
        sequence = await transitions.resequence(deps.sessions, req, now=deps.clock())
        if sequence is None:
            return None
    return await target.send(deps.providers, task_ref(task), req.desired, req.baseline, sequence)


async def _in_force(deps: Deps, task: Task, target: Target, req: ChangeRequest) -> bool:
    if not target.reads_configuration:
        return False
    state = await target.read(deps.providers, task_ref(task))
    return state.in_force is not None and contains(state.in_force, req.desired)


def applied_event(deps: Deps, actor: Actor, req: ChangeRequest, task: Task, provider_request_id: str | None) -> AuditEvent:
    """The audit event of an accepted apply, with the configuration before and after: one change's or a bulk
    member's alike."""
    return audit.change_event(
        deps,
        actor,
        req,
        task,
        "change.apply",
        ChangeState.APPLIED,
        before=req.baseline,
        after=req.desired,
        provider_request_id=provider_request_id,
    )


async def _applied(
    deps: Deps, actor: Actor, req: ChangeRequest, task: Task, provider_request_id: str | None, note: str, *, recovered: bool
) -> None:
    now = deps.clock()
    await transitions.finish_applied(
        deps.sessions,
        req,
        provider_request_id=provider_request_id,
        now=now,
        audit=applied_event(deps, actor, req, task, provider_request_id),
        note=note,
        notices=notices.verdict(req, now, recovered=recovered),
    )
    deps.signals.deliver.set()


async def _failed(deps: Deps, actor: Actor, req: ChangeRequest, task: Task, refused: Refused, *, recovered: bool) -> None:
    code, message, rid = refused.code, refused.message, refused.request_id
    await _finish(deps, actor, req, task, ChangeState.FAILED, code, message, rid, gone=refused.gone, recovered=recovered)


async def _finish(
    deps: Deps,
    actor: Actor,
    req: ChangeRequest,
    task: Task,
    to: ChangeState,
    code: str,
    message: str,
    provider_request_id: str | None,
    *,
    gone: bool = False,
    recovered: bool,
) -> bool:
    now = deps.clock()
    moved = await transitions.move(
        deps.sessions,
        req,
        to,
        audit=audit.change_event(
            deps, actor, req, task, "change.apply", to, f"{code}: {message}"[:1000], provider_request_id=provider_request_id
        ),
        notices=notices.verdict(req, now, recovered=recovered),
        error_code=code[:128],
        error_message=message,
        provider_request_id=provider_request_id and provider_request_id[:128],
        gone=gone,
        finished_at=now,
    )
    deps.signals.deliver.set()
    return moved


def system_actor(team_id: str) -> Actor:
    return Actor(team_id=team_id, user_id=SYSTEM)
