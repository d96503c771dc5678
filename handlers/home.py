"""App Home: what waits for the user's approval, their own open requests, the tasks they may see with the
version in force, and the last ten changes. Rebuilt on every app_home_opened, so it is never stale for long.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from handlers import lifecycle
from handlers.context import actor_of, deps_of
from handlers.errors import later


def register(app: AsyncApp) -> None:
    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        later(context, client, body, _publish_for(context, body, client))


async def _publish_for(context: AsyncBoltContext, body: dict[str, Any], client: AsyncWebClient) -> None:
    await lifecycle.publish_home(deps_of(context), await actor_of(context, body), client)
