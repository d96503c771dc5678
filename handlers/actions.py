"""Approve and Reject buttons.

Every click is acknowledged first and then checked again by the services (permission, requester, expiry,
payload hash): a button shown to someone proves nothing. A click that is refused gets an ephemeral answer and
leaves the message as it was, and leaves no trace: the same click made again once the person may make it is
carried out. A click that was carried out (a redelivery, a double click) is dropped. What the thread says
afterwards comes from the store (`lifecycle`), not from here.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import changes
from bot.services.deps import Actor, Deps
from bot.services.errors import InvalidState
from bot.services.results import ChangeResult
from handlers import blocks, lifecycle
from handlers.context import actor_of, deps_of
from handlers.errors import StaleButton, later


def _decision(body: dict[str, Any]) -> tuple[int, str]:
    actions = body.get("actions")
    value = actions[0].get("value") if isinstance(actions, list) and actions and isinstance(actions[0], dict) else None
    request_id, _, expected = str(value or "").partition(":")
    if not request_id.isdigit() or len(request_id) > 9 or (expected and len(expected) != 64):
        raise StaleButton()
    return int(request_id), expected


async def on_approve(deps: Deps, actor: Actor, client: AsyncWebClient, body: dict[str, Any]) -> ChangeResult | None:
    """Approving only records the decision: the applier starts the apply at once, and the thread, the parent
    message and the notification channel hear each step from the store, Slack hiccups or not."""
    request_id, expected = _decision(body)
    key = f"approve:{request_id}:{actor.team_id}:{actor.user_id}"
    if await changes.already_decided(deps, key):
        return None
    try:
        return await changes.approve(deps, actor, request_id, expected_hash=expected or None, idempotency_key=key)
    except InvalidState:
        if await changes.already_decided(deps, key):
            return None  # this person's own click, delivered twice at once: the first one carried it out
        raise


async def on_reject(deps: Deps, actor: Actor, client: AsyncWebClient, body: dict[str, Any]) -> ChangeResult | None:
    request_id, _ = _decision(body)
    key = f"reject:{request_id}:{actor.team_id}:{actor.user_id}"
    try:
        return await changes.reject(deps, actor, request_id, idempotency_key=key)
    except InvalidState:
        if await changes.already_decided(deps, key):
            return None
        raise


async def on_retry(deps: Deps, actor: Actor, client: AsyncWebClient, body: dict[str, Any]) -> ChangeResult | None:
    request_id, _ = _decision(body)
    key = f"retry:{request_id}:{actor.team_id}:{actor.user_id}"
    if await changes.already_decided(deps, key):
        return None
    return await changes.retry(deps, actor, request_id, idempotency_key=key)


Decide = Callable[[Deps, Actor, AsyncWebClient, dict[str, Any]], Awaitable[ChangeResult | None]]


async def _decide(decide: Decide, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
    deps = deps_of(context)
    actor = await actor_of(context, body)
    if await decide(deps, actor, client, body) is not None and (body.get("container") or {}).get("type") == "view":
        await lifecycle.publish_home(deps, actor, client)


def register(app: AsyncApp) -> None:
    """Register last of the action listeners: the catch-all answers any button rtcops does not know."""

    @app.action(blocks.APPROVE)
    async def approve(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
        await ack()
        later(context, client, body, _decide(on_approve, body, context, client))

    @app.action(blocks.REJECT)
    async def reject(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
        await ack()
        later(context, client, body, _decide(on_reject, body, context, client))

    @app.action(blocks.RETRY)
    async def retry(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
        await ack()
        later(context, client, body, _decide(on_retry, body, context, client))

    @app.action(re.compile(".*"))
    async def unknown(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
        await ack()
        later(context, client, body, _stale(body))


async def _stale(body: dict[str, Any]) -> None:
    raise StaleButton()
