"""Wiring: one Bolt AsyncApp with every surface registered, plus what each listener needs from its context
(the services' Deps, the settings, and who is acting).

Listeners reach Deps through the Bolt context rather than module globals, so two apps (a test's and a
benchmark's, say) can live in one process without sharing state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.services.deps import Actor, Deps
from handlers.backlog import Backlog

log = logging.getLogger("rtcops.handlers")

GROUP_CACHE_SECONDS = 60.0


class GroupDirectory:
    """Which user groups each user is in, read from Slack and kept for a minute.

    Grants may name a user group; the permission function needs the actor's groups to honour them. One
    usergroups.list call serves every user, and a failed read means "no groups" (fail closed).
    """

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client
        self._members: dict[str, frozenset[str]] = {}
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()

    async def groups_of(self, user_id: str) -> frozenset[str]:
        async with self._lock:
            if time.monotonic() - self._read_at > GROUP_CACHE_SECONDS:
                await self._refresh()
        return self._members.get(user_id, frozenset())

    async def _refresh(self) -> None:
        by_user: dict[str, set[str]] = {}
        try:
            reply = await self._client.usergroups_list(include_users=True)
        except SlackApiError as exc:
            log.warning("user groups could not be read (%s); group grants do not apply until they can", exc.response.get("error"))
            self._members, self._read_at = {}, time.monotonic()
            return
        for group in reply.get("usergroups") or []:
            for user in group.get("users") or []:
                by_user.setdefault(user, set()).add(group["id"])
        self._members = {u: frozenset(g) for u, g in by_user.items()}
        self._read_at = time.monotonic()


def deps_of(context: AsyncBoltContext) -> Deps:
    deps: Deps = context["rtcops_deps"]
    return deps


async def actor_of(context: AsyncBoltContext, body: dict[str, Any]) -> Actor:
    """The Slack user behind this request, with their team and user groups; never a display name."""
    user_id = context.user_id or body.get("user_id") or (body.get("user") or {}).get("id")
    team = body.get("team") or {}
    team_id = context.team_id or body.get("team_id") or team.get("id") or (body.get("user") or {}).get("team_id")
    if not user_id or not team_id:
        raise ValueError("request carries no user or team")
    directory: GroupDirectory = context["rtcops_groups"]
    return Actor(team_id=team_id, user_id=user_id, group_ids=await directory.groups_of(user_id))


def use_settings(client: AsyncWebClient, settings: Settings) -> None:
    """Point Bolt's own Web API client at SLACK_API_URL and make it retry HTTP 429, honouring Retry-After.

    Bolt builds this client itself from `token=`; handing it one of ours instead makes Bolt warn on every
    start that the SLACK_BOT_TOKEN it reads from the environment is unused. Each request's client copies
    base_url and the retry handlers from it."""
    client.base_url = settings.slack_api_url.rstrip("/") + "/"
    client.retry_handlers = [AsyncRateLimitErrorRetryHandler(max_retry_count=3)]


def build_app(settings: Settings, deps: Deps, *, socket_mode: bool = False, backlog: Backlog | None = None) -> AsyncApp:
    """The whole Slack app. Over HTTP every request's signature is verified (SLACK_SIGNING_SECRET); in
    Socket Mode Slack authenticates the connection instead, so no signing secret is needed.

    process_before_response: Bolt answers as soon as a listener returns, instead of polling every 10 ms for
    an ack() made in a task of its own. Listeners ack and hand everything else to the backlog, so they
    return at once. Pass `backlog` to wait for that work (`Backlog.drain`), as tests and shutdown do."""
    from handlers import actions, commands, errors, home, views

    token = settings.require("slack_bot_token", "to run the Slack bot")
    secret = None if socket_mode else settings.require("slack_signing_secret", "to verify requests from Slack")
    app = AsyncApp(
        token=token, signing_secret=secret, request_verification_enabled=not socket_mode, process_before_response=True
    )
    use_settings(app.client, settings)
    directory = GroupDirectory(app.client)
    backlog = backlog or Backlog()

    @app.middleware
    async def provide(context: AsyncBoltContext, next: Callable[[], Awaitable[None]]) -> None:
        context["rtcops_deps"] = deps
        context["rtcops_groups"] = directory
        context["rtcops_backlog"] = backlog
        with backlog.acknowledging():
            await next()

    for surface in (errors, commands, views, actions, home):
        surface.register(app)
    return app
