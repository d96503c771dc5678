"""Reconciling changes whose outcome we never saw: after a crash, or a timeout mid-call.

Where the provider reports the configuration in force (Volcengine Get), it decides: the desired
configuration in force means applied; the old one means the update never landed (failed). Anything else,
and every Tencent ingest (Describe reports only a status), becomes "unknown": reported, never dropped.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import or_, select

from bot.services.deps import Actor, Deps
from bot.services.merge import contains
from bot.services.provider_ops import read_state, updatable
from bot.services.results import RecoveryOutcome
from bot.store.models import ChangeRequest, Task

SYSTEM = "rtcops"


def in_flight_limit(deps: Deps) -> timedelta:
    """How long an apply of ours can still be waiting for the provider: past the retry deadline plus one
    last attempt's timeout, its answer is lost. Younger "applying" requests may belong to another replica."""
    settings = deps.settings
    return timedelta(seconds=settings.provider_deadline_seconds + settings.provider_timeout_seconds + 5)


async def recover_applying(deps: Deps, *, older_than: timedelta | None = None) -> list[RecoveryOutcome]:
    """Reconcile requests left "applying". `rtcops serve` passes `older_than=in_flight_limit(deps)`, at start-up
    and then periodically, so that a replica never settles a request another replica is applying right now.
    Each outcome carries the request as it now stands, so the caller can report it where it was posted."""
    query = select(ChangeRequest, Task).join(Task, Task.id == ChangeRequest.task_id).where(ChangeRequest.state == "applying")
    if older_than is not None:
        cutoff = deps.clock() - older_than
        query = query.where(or_(ChangeRequest.applying_at.is_(None), ChangeRequest.applying_at <= cutoff))
    async with deps.sessions() as session:
        rows = (await session.execute(query)).all()
    from bot.services.changes import result_of

    outcomes: list[RecoveryOutcome] = []
    for req, task in rows:
        found = await reconcile(deps, req, task, cause="found applying after a restart or a lost answer")
        if found is not None:
            outcomes.append(replace(found, change=await result_of(deps, req.id)))
    return outcomes


async def reconcile(deps: Deps, req: ChangeRequest, task: Task, *, cause: str) -> RecoveryOutcome | None:
    """None when another process settled the request first: only one verdict is ever reported."""
    from bot.services.changes import _finish_failed, finish_applied

    actor = Actor(team_id=req.team_id, user_id=SYSTEM)
    if task.provider == "volcengine":
        state = await read_state(deps, task)
        if state.in_force is not None:
            in_force = updatable(state.in_force)
            if contains(in_force, req.desired):
                if not await finish_applied(deps, actor, req, task, None):
                    return None
                return RecoveryOutcome(req.id, task.alias, "applied", f"{cause}; the provider shows the change in force")
            if contains(in_force, req.baseline):
                detail = f"{cause}; the provider still shows the configuration from before the change"
                if not await _finish_failed(deps, actor, req, task, "NotApplied", detail, state.request_id):
                    return None
                return RecoveryOutcome(req.id, task.alias, "failed", detail)
            detail = f"{cause}; the configuration in force matches neither the old nor the new one"
        else:
            detail = f"{cause}; the provider could not report the configuration ({state.error or state.state})"
    else:
        detail = f"{cause}; Tencent cannot report the ingest's settings, so whether it was applied is unknown"
    if not await _finish_failed(deps, actor, req, task, "Unknown", detail, None, state="unknown"):
        return None
    return RecoveryOutcome(req.id, task.alias, "unknown", detail)
