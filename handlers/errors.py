"""The one error handler: typed service errors become a sentence for the person who acted; anything else
becomes a short error id, with the detail logged under that id and nowhere else.

Listeners never catch failures themselves: their work runs under `guarded` (queued by `later`), which
hands every failure to `report`, so every surface answers the same way and no listener can swallow one.
Bolt's own error hook routes here too, for anything that fails before a listener runs.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Coroutine
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.services.errors import PermissionDenied, ProviderError, ServiceError
from handlers.backlog import Backlog
from handlers.blocks import parse_editor_metadata, text_reply

log = logging.getLogger("rtcops.handlers")


def message_for(error: BaseException) -> tuple[str, str | None]:
    """(text for the user, error id or None). Expected failures carry no id: there is nothing to look up."""
    if isinstance(error, PermissionDenied):
        role = f" (missing role: *{error.missing_role}*)" if error.missing_role else ""
        return f":no_entry: Not allowed to {error.action}: {error.reason}{role}", None
    if isinstance(error, ServiceError):
        return f":warning: {error}", None
    if isinstance(error, ProviderError):
        rid = error.request_id or "none"
        return f":red_circle: {error.provider} said `{error.code}`: {error.message} (RequestId `{rid}`)", None
    error_id = secrets.token_hex(4)
    if isinstance(error, SlackApiError):
        log.error("error %s: Slack API call failed: %s", error_id, error.response.get("error"))
    else:
        log.error("error %s: unexpected failure", error_id, exc_info=error)
    text = f":boom: Something went wrong on our side (error id `{error_id}`). An admin can find the details under that id."
    return text, error_id


def _where(body: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(channel, user, thread_ts) of the interaction, whatever its kind."""
    user = body.get("user_id") or (body.get("user") or {}).get("id") or body.get("event", {}).get("user")
    channel = body.get("channel_id") or (body.get("channel") or {}).get("id")
    if channel is None and body.get("type") == "view_submission":
        channel = parse_editor_metadata((body.get("view") or {}).get("private_metadata") or "")[1]
    thread = (body.get("container") or {}).get("thread_ts")
    return channel, user, thread


async def tell(client: AsyncWebClient, body: dict[str, Any], text: str) -> None:
    """Answer only the person who acted: ephemeral in the channel, or in the app's DM when there is none."""
    channel, user, thread = _where(body)
    if user is None:
        return
    blocks = text_reply(text)
    response_url = body.get("response_url")
    if response_url:
        await AsyncWebhookClient(response_url).send(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
    elif channel:
        await client.chat_postEphemeral(channel=channel, user=user, text=text, blocks=blocks, thread_ts=thread)
    else:
        await client.chat_postMessage(channel=user, text=text, blocks=blocks)


async def report(client: AsyncWebClient, body: dict[str, Any], error: BaseException) -> None:
    text, _ = message_for(error)
    try:
        await tell(client, body, text)
    except Exception as exc:  # the user cannot be told; the log must still say why
        log.error("could not tell the user about %s: %s", type(error).__name__, exc)


def later(context: AsyncBoltContext, client: AsyncWebClient, body: dict[str, Any], work: Coroutine[Any, Any, None]) -> None:
    """Queue a listener's post-acknowledgement work on the app's backlog, failures going to `report`.

    The listener returns at once, so Bolt sends the acknowledgement without waiting for the work."""
    backlog: Backlog = context["rtcops_backlog"]
    backlog.start(guarded(client, body, work))


async def guarded(client: AsyncWebClient, body: dict[str, Any], work: Awaitable[None]) -> None:
    """Run post-acknowledgement work, sending any failure to `report`: nothing is left to Bolt, which has
    already answered Slack."""
    try:
        await work
    except Exception as exc:
        await report(client, body, exc)


def register(app: AsyncApp) -> None:
    @app.error
    async def on_error(error: Exception, body: dict[str, Any], client: AsyncWebClient) -> None:
        await report(client, body, error)
