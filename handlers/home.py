"""App Home: what waits for the user's approval, their own open requests, the tasks they may see with the
version in force, and the last ten changes. Rebuilt on every app_home_opened, so it is never stale for long.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import home
from bot.services.deps import Actor, Deps
from handlers import actor_of, blocks, deps_of
from handlers.errors import later


async def publish_home(deps: Deps, actor: Actor, client: AsyncWebClient) -> None:
    found = await home.home(deps, actor)
    view = blocks.home_view(waiting=found.waiting, mine=found.mine, tasks=found.tasks, recent=found.recent)
    await client.views_publish(user_id=actor.user_id, view=view)


def register(app: AsyncApp) -> None:
    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        later(context, client, body, _publish_for(context, body, client))


async def _publish_for(context: AsyncBoltContext, body: dict[str, Any], client: AsyncWebClient) -> None:
    await publish_home(deps_of(context), await actor_of(context, body), client)
