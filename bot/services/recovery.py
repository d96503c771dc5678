"""Changes whose apply lost its process: approved but never started, or applying with no verdict.

Approved requests are applied by whichever replica finds them first (the move to applying is conditional).
A request applying longer than any apply can take lost its process (a crash, a kill); it is settled by
sending its configuration again, fenced by a higher SequenceNumber where the target uses one, exactly as an
unanswered apply is: never by guessing from a configuration that an earlier attempt may still change.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select

from bot.domain import ChangeState
from bot.services.applying import apply, in_flight_limit, settle, system_actor
from bot.services.change_views import to_result
from bot.services.deps import Deps
from bot.services.errors import ServiceError
from bot.services.results import RecoveryOutcome
from bot.store.models import ChangeRequest, Task


async def apply_approved(deps: Deps) -> list[int]:
    """Applies every approved request nobody has started; returns their ids."""
    async with deps.sessions() as session:
        ids = list(
            (
                await session.scalars(
                    select(ChangeRequest.id).where(ChangeRequest.state == ChangeState.APPROVED).order_by(ChangeRequest.id)
                )
            ).all()
        )
    done: list[int] = []
    for request_id in ids:
        async with deps.sessions() as session:
            req = await session.get(ChangeRequest, request_id)
        if req is None or req.state != ChangeState.APPROVED:
            continue
        try:
            await apply(deps, system_actor(req.team_id), request_id)
        except ServiceError:
            continue  # moved meanwhile, or stale: the request says so itself
        done.append(request_id)
    return done


async def recover_applying(deps: Deps, *, older_than: timedelta | None = None) -> list[RecoveryOutcome]:
    """Settles requests left applying. `rtcops serve` passes `older_than=in_flight_limit(deps)`, at start-up
    and periodically, so a replica never settles a request another replica is applying right now. Each
    outcome carries the request as it now stands, for reporting where it was posted."""
    query = (
        select(ChangeRequest, Task)
        .join(Task, Task.id == ChangeRequest.task_id)
        .where(ChangeRequest.state == ChangeState.APPLYING)
    )
    if older_than is not None:
        cutoff = deps.clock() - older_than
        query = query.where(or_(ChangeRequest.applying_at.is_(None), ChangeRequest.applying_at <= cutoff))
    async with deps.sessions() as session:
        rows = (await session.execute(query)).all()
    outcomes: list[RecoveryOutcome] = []
    for req, task in rows:
        await settle(deps, system_actor(req.team_id), req, task, None)
        if req.state != ChangeState.APPLYING and req.state.verdict:
            outcomes.append(RecoveryOutcome(req.id, task.alias, req.state, _detail(req), to_result(req, task)))
    return outcomes


def _detail(req: ChangeRequest) -> str:
    if req.state == ChangeState.APPLIED:
        return "sent again and accepted: the change is in force"
    return f"{req.error_code}: {req.error_message}"


__all__ = ["apply_approved", "in_flight_limit", "recover_applying"]
