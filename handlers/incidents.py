"""The buttons of an incident message: Acknowledge, Mute 1 h, Restore vN, Accept as new version.

Registered before `handlers.actions`, whose catch-all answers buttons nobody else takes. Each click is
acknowledged at once and checked again by the services (`bot.services.watch`: operator for
acknowledge and mute, approver for restore and accept): a button shown to someone proves nothing. The message
itself changes through the outbox, from the store; here the person who clicked is only told what became of a
click whose effect is elsewhere (a rollback request posted, a version recorded) or why it was refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import watch
from handlers import blocks
from handlers.context import actor_of, deps_of
from handlers.errors import StaleButton, later, tell


def _incident_id(body: dict[str, Any]) -> int:
    """The incident a button names (`<id>` or `<id>:<version>`); StaleButton for anything else."""
    actions = body.get("actions")
    value = actions[0].get("value") if isinstance(actions, list) and actions and isinstance(actions[0], dict) else None
    incident = str(value or "").partition(":")[0]
    if not incident.isdigit() or len(incident) > 9:
        raise StaleButton()
    return int(incident)


def _channel(body: dict[str, Any]) -> str | None:
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    return str(channel) if channel else None


async def _acknowledge(body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
    await watch.acknowledge(deps_of(context), await actor_of(context, body), _incident_id(body))


async def _mute(body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
    found = await watch.mute(deps_of(context), await actor_of(context, body), _incident_id(body))
    until = blocks.when(found.muted_until) if found.muted_until else "in an hour"
    await tell(
        client, body, f":mute: New alerts on *{found.alias}* are muted until {until}; they are still recorded (`/rtc incidents`)."
    )


async def _restore(body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
    proposed = await watch.restore(deps_of(context), await actor_of(context, body), _incident_id(body), channel=_channel(body))
    state = "it waits for approval" if proposed.needs_approval else "no approval is needed, it is being applied"
    await tell(
        client,
        body,
        f":leftwards_arrow_with_hook: Request #{proposed.request_id} proposes restoring *{proposed.alias}*; {state}.",
    )


async def _accept(body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
    version = await watch.accept(deps_of(context), await actor_of(context, body), _incident_id(body))
    await tell(client, body, f":white_check_mark: What is on air is now recorded as version {version}; `/rtc history` shows it.")


Work = Callable[[dict[str, Any], AsyncBoltContext, AsyncWebClient], Coroutine[Any, Any, None]]


def _listener(work: Work) -> Callable[[AsyncAck, dict[str, Any], AsyncBoltContext, AsyncWebClient], Awaitable[None]]:
    async def on_click(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
        await ack()
        later(context, client, body, work(body, context, client))

    return on_click


def register(app: AsyncApp) -> None:
    app.action(blocks.INCIDENT_ACK)(_listener(_acknowledge))
    app.action(blocks.INCIDENT_MUTE)(_listener(_mute))
    app.action(blocks.INCIDENT_RESTORE)(_listener(_restore))
    app.action(blocks.INCIDENT_ACCEPT)(_listener(_accept))
