"""What every listener needs from the Bolt context: the services' Deps, who is acting (with their user
groups), and the backlog that runs work after the acknowledgement.

Listeners reach these through the context rather than module globals, so two apps (a test's and a
benchmark's, say) can live in one process without sharing state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from slack_bolt.async_app import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.deps import Actor, Deps
from handlers.backlog import Backlog

log = logging.getLogger("rtcops.handlers")

GROUP_CACHE_SECONDS = 60.0
DEPS, GROUPS, BACKLOG = "rtcops_deps", "rtcops_groups", "rtcops_backlog"


class GroupDirectory:
    """Which user groups each user is in, read from Slack and kept for a minute, per workspace.

    Grants may name a user group; the permission function needs the actor's groups to honour them. One
    usergroups.list call serves every user of a workspace, made with the request's client (so with that
    workspace's token when several are installed), and a failed read means "no groups" (fail closed).
    """

    def __init__(self, client: AsyncWebClient | None = None) -> None:
        self._client = client
        self._members: dict[str, dict[str, frozenset[str]]] = {}
        self._read_at: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def groups_of(self, user_id: str, team_id: str = "", client: AsyncWebClient | None = None) -> frozenset[str]:
        async with self._lock:
            if time.monotonic() - self._read_at.get(team_id, float("-inf")) > GROUP_CACHE_SECONDS:
                await self._refresh(team_id, client or self._client)
        return self._members.get(team_id, {}).get(user_id, frozenset())

    async def _refresh(self, team_id: str, client: AsyncWebClient | None) -> None:
        by_user: dict[str, set[str]] = {}
        try:
            if client is None:
                raise ValueError("no Slack client")
            reply = await client.usergroups_list(include_users=True)
        except (SlackApiError, ValueError) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else str(exc)
            log.warning("user groups could not be read (%s); group grants do not apply until they can", error)
            self._members[team_id], self._read_at[team_id] = {}, time.monotonic()
            return
        for group in reply.get("usergroups") or []:
            for user in group.get("users") or []:
                by_user.setdefault(user, set()).add(group["id"])
        self._members[team_id] = {u: frozenset(g) for u, g in by_user.items()}
        self._read_at[team_id] = time.monotonic()


def deps_of(context: AsyncBoltContext) -> Deps:
    deps: Deps = context[DEPS]
    return deps


def backlog_of(context: AsyncBoltContext) -> Backlog:
    backlog: Backlog = context[BACKLOG]
    return backlog


def tenant_of(context: AsyncBoltContext, body: dict[str, Any]) -> str | None:
    """The id this request's data is scoped by: the organisation (E…) under an org-wide Enterprise Grid install,
    else the workspace (T…). See bot/slack_install.py."""
    if context.is_enterprise_install and context.enterprise_id:
        return context.enterprise_id
    team = body.get("team") or {}
    found = context.team_id or body.get("team_id") or team.get("id") or (body.get("user") or {}).get("team_id")
    return str(found) if found else None


async def actor_of(context: AsyncBoltContext, body: dict[str, Any]) -> Actor:
    """The Slack user behind this request, with their tenant and user groups; never a display name."""
    user_id = context.user_id or body.get("user_id") or (body.get("user") or {}).get("id")
    team_id = tenant_of(context, body)
    if not user_id or not team_id:
        raise ValueError("request carries no user or team")
    directory: GroupDirectory = context[GROUPS]
    return Actor(team_id=team_id, user_id=user_id, group_ids=await directory.groups_of(user_id, team_id, context.client))
