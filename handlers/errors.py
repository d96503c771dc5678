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

from bot.services.errors import (
    BreakGlassOff,
    Expired,
    InvalidChange,
    InvalidState,
    Locked,
    NoProvider,
    NotFound,
    OpenChange,
    PermissionDenied,
    ProviderError,
    SelfApproval,
    ServiceError,
    Stale,
    TaskNotFound,
    UnknownAtProvider,
    VersionNotFound,
    WrongTarget,
)
from handlers.blocks import escape, parse_editor_metadata, text_reply, who
from handlers.context import backlog_of

log = logging.getLogger("rtcops.handlers")


def refusal(error: ServiceError) -> str:
    """A service's refusal in Slack's words: mrkdwn, pointing at the /rtc command that helps."""
    match error:
        case PermissionDenied(action=action, reason=reason, missing_role=role):
            missing = f" (missing role: *{role}*)" if role else ""
            return f":no_entry: Not allowed to {escape(action)}: {escape(reason)}{missing}"
        case TaskNotFound(alias=alias):
            return f":warning: No task called `{escape(alias)}`; `/rtc tasks` lists the tasks you can see."
        case VersionNotFound(alias=alias, version=version):
            return f":warning: {escape(alias)} has no version {version}; `/rtc history {escape(alias)}` lists them."
        case Locked(alias=alias, request_id=rid, by=by, link=link):
            where = f", {link}" if link else f" (request #{rid})"
            return f":lock: {escape(alias)} is locked by {who(by)}{where}: finish or cancel that change first."
        case OpenChange(alias=alias, request_id=rid):
            unlock = f"`/rtc unlock {escape(alias)}`"
            return f":warning: {escape(alias)} has an open change (request #{rid}); cancel it or {unlock} first."
        case Stale(reason=reason):
            return f":warning: Stale: {escape(reason)}; propose again."
        case Expired(request_id=rid, minutes=minutes, noun=noun):
            return f":alarm_clock: {noun.capitalize()} #{rid} expired (requests live {minutes} min); propose again."
        case SelfApproval():
            return ":no_entry: You cannot approve your own change; ask another approver."
        case InvalidState(request_id=rid, state=state, wanted=wanted, noun=noun):
            return f":information_source: {noun.capitalize()} #{rid} is {escape(str(state))}; it cannot be {wanted}."
        case InvalidChange(problems=problems):
            return ":warning: The change is invalid:\n" + "\n".join(f"• {escape(p)}" for p in problems[:20])
        case WrongTarget(alias=alias, provider=provider, verb=verb, own_verbs=own):
            instead = " or ".join(f"`/rtc {v} {escape(alias)}`" for v in own)
            hint = f"; use {instead}" if instead else ""
            return f":warning: {escape(alias)} is a {escape(provider)} task: `{escape(verb)}` does not apply to it{hint}."
        case UnknownAtProvider(detail=detail):
            return f":warning: {escape(detail)}. Check the ids; an admin can force it with `rtcops task add --force`."
        case NoProvider(alias=alias, provider=provider):
            return f":warning: {escape(alias)} belongs to `{escape(provider)}`, which this version of rtcops does not know."
        case NotFound(what=what):
            return f":warning: {escape(what)} not found."
        case BreakGlassOff(alias=alias):
            return (
                f":no_entry: Break-glass is turned off on {escape(alias)}: every change there waits for a second person. "
                f"An admin can turn it on with `/rtc policy {escape(alias)} breakglass=on`."
            )
    return f":warning: {escape(str(error))}"


STALE_BUTTON = ":information_source: This button is no longer valid. Use the buttons on the latest message, or `/rtc help`."


class StaleButton(Exception):
    """A click whose button rtcops cannot read (an old message, a hand-made payload)."""


def message_for(error: BaseException) -> tuple[str, str | None]:
    """(text for the user, error id or None). Expected failures carry no id: there is nothing to look up."""
    if isinstance(error, StaleButton):
        return STALE_BUTTON, None
    if isinstance(error, ServiceError):
        return refusal(error), None
    if isinstance(error, ProviderError):
        rid = escape(error.request_id or "none")
        return f":red_circle: {error.provider} said `{escape(error.code)}`: {escape(error.message)} (RequestId `{rid}`)", None
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
        meta = parse_editor_metadata((body.get("view") or {}).get("private_metadata") or "")
        channel = meta.channel if meta is not None else None
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
    backlog_of(context).start(guarded(client, body, work))


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
