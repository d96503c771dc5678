"""App Home in one call: what waits for the user, their own open requests, what they may see, and what
changed lately. One call so the Slack layer renders and decides nothing."""

from __future__ import annotations

from sqlalchemy import select

from bot.services import change_views, incident_views, tasks, watch
from bot.services.deps import Actor, Deps
from bot.services.results import HomeSummary
from bot.store.models import Task


async def home(deps: Deps, actor: Actor, *, recent: int = 10) -> HomeSummary:
    visible = await tasks.visible_tasks(deps, actor)
    async with deps.sessions() as session:
        rows = (
            await session.scalars(select(Task).where(Task.team_id == actor.team_id, Task.alias.in_([t.alias for t in visible])))
        ).all()
        watching = await incident_views.watches_of(session, rows)
    return HomeSummary(
        waiting=await change_views.pending_for_approver(deps, actor),
        mine=await change_views.my_open_requests(deps, actor),
        tasks=visible,
        recent=await change_views.recent_changes(deps, actor, recent),
        incidents=await watch.visible_incidents(deps, actor),
        watching=watching,
    )
