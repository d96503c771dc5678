"""Reconciling changes whose outcome we never saw: after a crash, or a timeout mid-call.

Where the provider reports the configuration in force (Volcengine Get), it decides: the desired
configuration in force means applied; the old one means the update never landed (failed). Anything else,
and every Tencent ingest (Describe reports only a status), becomes "unknown": reported, never dropped.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from bot.services.deps import Actor, Deps
from bot.services.merge import contains
from bot.services.provider_ops import read_state, updatable
from bot.services.results import RecoveryOutcome
from bot.store.models import ChangeRequest, Task

SYSTEM = "rtcops"


async def recover_applying(deps: Deps) -> list[RecoveryOutcome]:
    """Run at start-up, before the bot takes requests, so no apply of ours is in flight. Each outcome carries
    the request as it now stands, so the caller can report it where the request was posted."""
    async with deps.sessions() as session:
        rows = (
            await session.execute(
                select(ChangeRequest, Task).join(Task, Task.id == ChangeRequest.task_id).where(ChangeRequest.state == "applying")
            )
        ).all()
    from bot.services.changes import result_of

    outcomes: list[RecoveryOutcome] = []
    for req, task in rows:
        found = await reconcile(deps, req, task, cause="found applying at start-up")
        outcomes.append(replace(found, change=await result_of(deps, req.id)))
    return outcomes


async def reconcile(deps: Deps, req: ChangeRequest, task: Task, *, cause: str) -> RecoveryOutcome:
    from bot.services.changes import _finish_failed, finish_applied

    actor = Actor(team_id=req.team_id, user_id=SYSTEM)
    if task.provider == "volcengine":
        state = await read_state(deps, task)
        if state.in_force is not None:
            in_force = updatable(state.in_force)
            if contains(in_force, req.desired):
                await finish_applied(deps, actor, req, task, None)
                return RecoveryOutcome(req.id, task.alias, "applied", f"{cause}; the provider shows the change in force")
            if contains(in_force, req.baseline):
                detail = f"{cause}; the provider still shows the configuration from before the change"
                await _finish_failed(deps, actor, req, task, "NotApplied", detail, state.request_id)
                return RecoveryOutcome(req.id, task.alias, "failed", detail)
            detail = f"{cause}; the configuration in force matches neither the old nor the new one"
        else:
            detail = f"{cause}; the provider could not report the configuration ({state.error or state.state})"
    else:
        detail = f"{cause}; Tencent cannot report the ingest's settings, so whether it was applied is unknown"
    await _finish_failed(deps, actor, req, task, "Unknown", detail, None, state="unknown")
    return RecoveryOutcome(req.id, task.alias, "unknown", detail)
