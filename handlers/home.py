"""App Home: what waits for the user's approval, their own open requests, the tasks they may see with the
version in force, and the last ten changes. Rebuilt on every app_home_opened, so it is never stale for long.
"""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import changes, tasks
from bot.services.deps import Actor, Deps
from bot.services.results import ChangeResult, ChangeSummary, TaskInfo
from handlers import actor_of, blocks, deps_of
from handlers.errors import guarded


async def _mine(deps: Deps, actor: Actor, visible: list[TaskInfo]) -> list[ChangeResult]:
    """ADAPTER: no service lists "my open requests"; each visible task holds at most one open request,
    so reading those through get_request and keeping the actor's own is exact."""
    found = await asyncio.gather(*(changes.get_request(deps, actor, t.open_request_id) for t in visible if t.open_request_id))
    return [c for c in found if c.requester == actor.user_id]


async def _recent(deps: Deps, actor: Actor, visible: list[TaskInfo], limit: int = 10) -> list[ChangeSummary]:
    """ADAPTER: no service lists recent changes across tasks; the newest `limit` of each visible task's
    history, merged, give the newest `limit` overall."""
    histories = await asyncio.gather(*(changes.history(deps, actor, t.alias, limit=limit) for t in visible))
    merged = [c for h in histories for c in h.changes]
    return sorted(merged, key=lambda c: (c.created_at, c.request_id), reverse=True)[:limit]


async def publish_home(deps: Deps, actor: Actor, client: AsyncWebClient) -> None:
    visible = await tasks.list_tasks(deps, actor)
    waiting = await changes.pending_for_approver(deps, actor)
    view = blocks.home_view(
        waiting=waiting, mine=await _mine(deps, actor, visible), tasks=visible, recent=await _recent(deps, actor, visible)
    )
    await client.views_publish(user_id=actor.user_id, view=view)


def register(app: AsyncApp) -> None:
    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        await guarded(context, client, body, _publish_for(context, body, client))


async def _publish_for(context: AsyncBoltContext, body: dict[str, Any], client: AsyncWebClient) -> None:
    await publish_home(deps_of(context), await actor_of(context, body), client)
