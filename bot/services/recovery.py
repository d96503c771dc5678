"""Reconciling changes whose outcome we never saw: after a crash, or a timeout mid-call.

Where the provider reports the configuration in force (Volcengine Get), it decides: the desired
configuration in force means applied; the old one, once no answer can still arrive, means the update never
landed (failed). Anything else, and every Tencent ingest (Describe reports only a status), becomes
"unknown": reported, never dropped.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import or_, select, update

from bot.services import audit
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


async def reconcile(deps: Deps, req: ChangeRequest, task: Task, *, cause: str, in_flight: bool = False) -> RecoveryOutcome | None:
    """None when another process settled the request first: only one verdict is ever reported.

    `in_flight`: the answer was lost a moment ago (a timeout), so the provider may still be carrying the
    request out. Only "applied" can be concluded then; a configuration from before the change proves
    nothing yet, and the request stays applying (lock held) for the recovery sweep, which runs once no
    answer can still come. Tencent can never tell, so waiting gains nothing there."""
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
            if in_flight:
                await _defer(deps, actor, req, task, cause)
                return None
            if contains(in_force, req.baseline):
                detail = f"{cause}; the provider still shows the configuration from before the change"
                if not await _finish_failed(deps, actor, req, task, "NotApplied", detail, state.request_id):
                    return None
                return RecoveryOutcome(req.id, task.alias, "failed", detail)
            detail = f"{cause}; the configuration in force matches neither the old nor the new one"
        elif in_flight:
            await _defer(deps, actor, req, task, cause)
            return None
        else:
            detail = f"{cause}; the provider could not report the configuration ({state.error or state.state})"
    else:
        detail = f"{cause}; Tencent cannot report the ingest's settings, so whether it was applied is unknown"
    if not await _finish_failed(deps, actor, req, task, "Unknown", detail, None, state="unknown"):
        return None
    return RecoveryOutcome(req.id, task.alias, "unknown", detail)


async def _defer(deps: Deps, actor: Actor, req: ChangeRequest, task: Task, cause: str) -> None:
    """Says on the request (still applying) why its outcome is not known yet, and audits it."""
    code = cause.partition(": ")[0]
    detail = (
        f"{cause}; the provider does not show the change yet and may still be carrying it out: "
        "the outcome is settled once no answer can still arrive"
    )
    async with deps.sessions.begin() as session:
        moved = await session.execute(
            update(ChangeRequest)
            .where(ChangeRequest.id == req.id, ChangeRequest.state == "applying")
            .values(error_code=code[:128], error_message=detail)
            .execution_options(synchronize_session=False)
        )
        if int(getattr(moved, "rowcount", 0) or 0) == 1:
            audit.record(
                session,
                deps,
                actor,
                "change.apply",
                f"task:{task.alias}",
                task_alias=task.alias,
                change_request_id=req.id,
                outcome="applying",
                detail=detail,
            )
