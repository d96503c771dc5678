"""Breaking a task's lock (`/rtc unlock`, admins only): the change that holds it is cancelled.

A task held by a bulk change that still waits for its approval takes the whole bulk with it: its one approval
covers exactly the set it showed, and that set with a task taken out is not the one shown, so the bulk would
wait for an approval nobody could give. Cancelling it needs admin on every task it holds, as cancelling any
bulk someone else proposed does; the others propose again. Once a bulk is approved, only the unlocked task
leaves it: the rest apply as approved.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain import ChangeState
from bot.services import bulk_lifecycle, changes
from bot.services.deps import Actor, Deps
from bot.services.errors import BadInput
from bot.services.tasks import load_authorized
from bot.store import change_requests as transitions


@dataclass(frozen=True)
class Unlocked:
    alias: str
    request_id: int
    state: ChangeState
    bulk_id: int | None = None
    """The waiting bulk that went with it, when one did; its `tasks` were all cancelled."""
    tasks: int = 1


async def unlock(deps: Deps, actor: Actor, alias: str) -> Unlocked | None:
    """None when nothing holds the task; a change being applied right now is left alone."""
    task = await load_authorized(deps, actor, alias, "admin")
    async with deps.sessions() as session:
        req = await transitions.lock_holder(session, task.id)
    if req is None:
        return None
    if req.state == ChangeState.APPLYING:
        raise BadInput(f"request #{req.id} is being applied now; its outcome will unlock {task.alias}")
    if req.bulk_id is not None and req.state == ChangeState.PENDING:
        ended = await bulk_lifecycle.cancel_waiting(deps, actor, req.bulk_id, f"{task.alias} was unlocked")
        if ended is not None:
            return Unlocked(task.alias, req.id, ChangeState.CANCELLED, req.bulk_id, ended)
    cancelled = await changes.cancel_holder(deps, actor, task, req)
    return Unlocked(cancelled.alias, cancelled.request_id, cancelled.state)
