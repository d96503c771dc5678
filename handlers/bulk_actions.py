"""The buttons of bulk changes: Approve all / Reject on the request message, Retry failed / Roll back applied on
a finished one, and the confirmation of a selector that reached tasks the change does not cover.

As with one change (`handlers.actions`), every click is acknowledged first and checked again by the services; a
refused click leaves no trace, a click already carried out (a redelivery, a double click) is dropped. Retry
failed and Roll back applied only propose: the new bulk goes through the same approval rules as any change.
Registered before `handlers.actions`, whose catch-all answers buttons nobody knows.
"""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.services import bulk, bulk_lifecycle, bulk_members, scenes, selectors
from bot.services.deps import Actor, Deps
from bot.services.errors import InvalidState
from handlers import bulk_blocks, grammar, show_commands
from handlers.context import actor_of, deps_of
from handlers.errors import StaleButton, later


def _value(body: dict[str, Any]) -> str:
    actions = body.get("actions")
    value = actions[0].get("value") if isinstance(actions, list) and actions and isinstance(actions[0], dict) else None
    return str(value or "")


def _decision(body: dict[str, Any]) -> tuple[int, str]:
    bulk_id, _, expected = _value(body).partition(":")
    if not bulk_id.isdigit() or len(bulk_id) > 9 or (expected and len(expected) != 64):
        raise StaleButton()
    return int(bulk_id), expected


def _channel(body: dict[str, Any]) -> str | None:
    return (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")


async def _private(body: dict[str, Any], blocks_: list[dict[str, Any]], text: str, *, replace: bool = False) -> None:
    """An answer to the person who clicked, through the click's response_url."""
    url = body.get("response_url")
    if url:
        await AsyncWebhookClient(url).send(text=text, blocks=blocks_, response_type="ephemeral", replace_original=replace)


async def on_approve(deps: Deps, actor: Actor, body: dict[str, Any], client: AsyncWebClient) -> None:
    bulk_id, expected = _decision(body)
    key = f"bulk-approve:{bulk_id}:{actor.team_id}:{actor.user_id}"
    if await bulk_lifecycle.already_decided(deps, key):
        return
    try:
        await bulk_lifecycle.approve(deps, actor, bulk_id, expected_hash=expected or None, idempotency_key=key)
    except InvalidState:
        if not await bulk_lifecycle.already_decided(deps, key):
            raise


async def on_reject(deps: Deps, actor: Actor, body: dict[str, Any], client: AsyncWebClient) -> None:
    bulk_id, _ = _decision(body)
    key = f"bulk-reject:{bulk_id}:{actor.team_id}:{actor.user_id}"
    try:
        await bulk_lifecycle.reject(deps, actor, bulk_id, idempotency_key=key)
    except InvalidState:
        if not await bulk_lifecycle.already_decided(deps, key):
            raise


async def on_after(deps: Deps, actor: Actor, body: dict[str, Any], what: str, confirm: str | None = None) -> None:
    """Retry failed / Roll back applied: a new bulk proposal in the same channel."""
    bulk_id, _ = _decision(body) if confirm is None else (int(json.loads(_value(body))["b"]), "")
    propose = bulk.retry_failed if what == "retry" else bulk.rollback_applied
    result = await propose(deps, actor, bulk_id, confirm=confirm)
    if isinstance(result, bulk_members.BulkPreview):
        await _private(body, bulk_blocks.preview_reply(result, {"r": what, "b": bulk_id}), "tasks not covered")


async def on_confirm(deps: Deps, actor: Actor, body: dict[str, Any], client: AsyncWebClient) -> None:
    """Propose again what the preview showed, on the tasks it covered, if the set is still exactly that one."""
    try:
        replay = json.loads(_value(body))
        token = str(replay["t"])
    except (ValueError, KeyError, TypeError):
        raise StaleButton() from None
    if "r" in replay:
        if replay["r"] not in ("retry", "rollback") or not isinstance(replay.get("b"), int):
            raise StaleButton()
        await on_after(deps, actor, body, str(replay["r"]), confirm=token)
        return
    try:
        cmd = grammar.parse(str(replay.get("c", "")))
    except grammar.UsageError:
        raise StaleButton() from None
    channel = _channel(body)
    result: object
    if isinstance(cmd, grammar.ProposeBulk):
        change = cmd.change
        result = await bulk.propose(
            deps,
            actor,
            selectors.parse(cmd.selector),
            bulk.same_change(change),
            summary=change.summary,
            channel=channel,
            confirm=token,
            timing=await show_commands.timing_of(deps, client, actor, cmd.when),
        )
    elif isinstance(cmd, grammar.SceneApply):
        timing = await show_commands.timing_of(deps, client, actor, cmd.when)
        result = await scenes.apply(deps, actor, cmd.name, cmd.where, channel=channel, confirm=token, timing=timing)
    else:
        raise StaleButton()
    if isinstance(result, bulk_members.BulkPreview):
        text = ":information_source: The set changed since it was shown; check it again."
        await _private(body, bulk_blocks.preview_reply(result, {"c": replay.get("c", "")}), text, replace=True)
    elif isinstance(result, bulk_members.BulkResult):
        text = bulk_blocks.proposed_reply(result)
        await _private(body, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}], text, replace=True)


def register(app: AsyncApp) -> None:
    def listener(action_id: str, work: Any) -> None:
        @app.action(action_id)
        async def clicked(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
            await ack()
            later(context, client, body, _run(work, body, context, client))

    listener(bulk_blocks.APPROVE, on_approve)
    listener(bulk_blocks.REJECT, on_reject)
    listener(bulk_blocks.CONFIRM, on_confirm)
    listener(bulk_blocks.RETRY, lambda deps, actor, body, _client: on_after(deps, actor, body, "retry"))
    listener(bulk_blocks.ROLLBACK, lambda deps, actor, body, _client: on_after(deps, actor, body, "rollback"))


async def _run(work: Any, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
    await work(deps_of(context), await actor_of(context, body), body, client)
