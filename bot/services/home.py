"""App Home in one call: what waits for the user, their own open requests, what they may see, and what
changed lately. One call so the Slack layer renders and decides nothing."""

from __future__ import annotations

from bot.services import changes, tasks
from bot.services.deps import Actor, Deps
from bot.services.results import HomeSummary


async def home(deps: Deps, actor: Actor, *, recent: int = 10) -> HomeSummary:
    return HomeSummary(
        waiting=await changes.pending_for_approver(deps, actor),
        mine=await changes.my_open_requests(deps, actor),
        tasks=await tasks.visible_tasks(deps, actor),
        recent=await changes.recent_changes(deps, actor, recent),
    )
