"""Approve and Reject buttons, and the life of a change in Slack: the request message, its thread, the
final state of the parent, and the notification line.

Every click is acknowledged first and then checked again by the services (permission, requester, expiry,
payload hash): a button shown to someone proves nothing. A click that is refused gets an ephemeral answer
and leaves the message as it was. Repeated deliveries and double clicks are dropped by idempotency keys.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import changes, grants, idempotency
from bot.services.deps import Actor, Deps
from bot.services.errors import Expired, Stale
from bot.services.results import ChangeResult, RecoveryOutcome
from handlers import actor_of, blocks, deps_of, grammar
from handlers.errors import later
from handlers.home import publish_home

log = logging.getLogger("rtcops.handlers")


@dataclass(frozen=True)
class Thread:
    """Where a change's request message lives; everything after it goes into its thread."""

    channel: str
    ts: str


def thread_of(change: ChangeResult) -> Thread | None:
    return Thread(change.channel_id, change.message_ts) if change.channel_id and change.message_ts else None


async def publish(deps: Deps, actor: Actor, client: AsyncWebClient, channel: str, change: ChangeResult) -> None:
    """Post a fresh proposal: parent message, preview into the thread, then wait or apply at once."""
    try:
        posted = await client.chat_postMessage(
            channel=channel, text=blocks.change_fallback(change), blocks=blocks.request_message(change)
        )
    except SlackApiError:
        # Nobody could see or approve it; withdrawn, it does not hold the task's lock.
        await changes.cancel(deps, actor, change.request_id)
        raise
    thread = Thread(channel, str(posted["ts"]))
    link = (await client.chat_getPermalink(channel=channel, message_ts=thread.ts)).get("permalink")
    await changes.attach_message(deps, change.request_id, channel_id=channel, message_ts=thread.ts, permalink=link)
    if change.preview_png:
        await client.files_upload_v2(
            channel=channel,
            thread_ts=thread.ts,
            content=change.preview_png,
            filename=f"{change.alias}-request-{change.request_id}.png",
            title=f"{change.alias}: now (left) and proposed (right)",
        )
    if change.state == "pending":
        approvers = [blocks.mention(a.type, a.id) for a in await grants.approvers_for(deps, actor, change.alias)][:20]
        who = ", ".join(approvers) if approvers else "an approver (nobody holds approver on this task yet)"
        text = f":hourglass_flowing_sand: Waiting for approval from {who}. Expires {blocks.when(change.expires_at)}."
        await _say(client, thread, text)
    elif change.state == "approved":
        await carry_out(deps, actor, client, thread, change, link)


async def _say(client: AsyncWebClient, thread: Thread, text: str) -> None:
    await client.chat_postMessage(channel=thread.channel, thread_ts=thread.ts, text=text, blocks=blocks.text_reply(text))


async def show_state(client: AsyncWebClient, thread: Thread, change: ChangeResult) -> None:
    """The parent message mirrors the request's state; buttons only while it is pending."""
    await client.chat_update(
        channel=thread.channel, ts=thread.ts, text=blocks.change_fallback(change), blocks=blocks.request_message(change)
    )


async def carry_out(
    deps: Deps, actor: Actor, client: AsyncWebClient, thread: Thread, change: ChangeResult, link: str | None
) -> None:
    """Apply an approved change and report it: thread, parent, notification channel."""
    await _say(client, thread, f":arrows_counterclockwise: Applying request #{change.request_id}…")
    done = await changes.apply(deps, actor, change.request_id)
    await report_outcome(deps, client, thread, done, link or done.link)


async def report_outcome(
    deps: Deps, client: AsyncWebClient, thread: Thread | None, done: ChangeResult, link: str | None
) -> None:
    """A finished change: the outcome into its thread, the parent updated, one line in the notification channel."""
    if thread is not None:
        await client.chat_postMessage(
            channel=thread.channel, thread_ts=thread.ts, text=blocks.change_fallback(done), blocks=blocks.thread_outcome(done)
        )
        await show_state(client, thread, done)
    notify = done.notify_channel or deps.settings.notify_channel
    if notify and done.state in ("applied", "failed", "unknown"):
        line = blocks.notify_line(done, link)
        await client.chat_postMessage(channel=notify, text=line, blocks=blocks.text_reply(line), unfurl_links=False)


async def report_recovered(deps: Deps, client: AsyncWebClient, outcomes: list[RecoveryOutcome]) -> None:
    """Start-up recovery's verdicts, where people look for them: each request's thread and the notification
    channel, as any outcome is reported. One that cannot be posted is logged and the rest still go out."""
    for outcome in outcomes:
        done = outcome.change
        if done is None:
            continue
        thread = thread_of(done)
        try:
            if thread is not None:
                await _say(
                    client,
                    thread,
                    ":rotating_light: The provider's answer to this change never reached rtcops (a restart, or an answer "
                    f"lost on the way), so rtcops checked what is in force: {outcome.detail}.",
                )
            await report_outcome(deps, client, thread, done, done.link)
        except Exception as exc:  # start-up goes on: the verdict is in the store and the log already
            reason = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
            log.error("could not report the recovery of request #%s in Slack: %s", outcome.request_id, reason)


async def run_change_command(
    cmd: grammar.Command, deps: Deps, actor: Actor, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
) -> None:
    """The /rtc subcommands that make or end a change request."""
    channel = body["channel_id"]
    match cmd:
        case grammar.ProposeLayout(alias, preset, streams, options):
            change = await changes.propose_layout_preset(deps, actor, alias, preset, streams.split(","), options)
        case grammar.ProposeIngest(alias, url, volume, pause):
            change = await changes.propose_ingest(deps, actor, alias, stream_url=url, volume=volume, pause=pause)
        case grammar.Rollback(alias, version):
            change = await changes.propose_rollback(deps, actor, alias, version)
        case grammar.History(alias):
            found = await changes.history(deps, actor, alias)
            await respond(
                text=f"{alias} history", blocks=blocks.history(found), response_type="ephemeral", replace_original=False
            )
            return
        case grammar.Unlock(alias):
            cancelled = await changes.unlock(deps, actor, alias)
            if cancelled is None:
                text = f":unlock: {alias} was not locked."
            else:
                text = f":unlock: {alias} unlocked: request #{cancelled.request_id} cancelled."
                thread = thread_of(cancelled)
                if thread is not None:
                    await _say(
                        client, thread, f":heavy_multiplication_x: Cancelled by {blocks.who(actor.user_id)} (lock broken)."
                    )
                    await show_state(client, thread, cancelled)
            await respond(text=text, blocks=blocks.text_reply(text), response_type="ephemeral", replace_original=False)
            return
        case _:
            raise ValueError(f"no handler for {type(cmd).__name__}")
    await publish(deps, actor, client, channel, change)


def _decision(body: dict[str, Any]) -> tuple[int, str]:
    request_id, _, expected = str(body["actions"][0]["value"]).partition(":")
    return int(request_id), expected


def _click_thread(body: dict[str, Any], change: ChangeResult) -> Thread | None:
    container = body.get("container") or {}
    if container.get("type") == "message" and container.get("channel_id") and container.get("message_ts"):
        return Thread(container["channel_id"], container["message_ts"])
    return thread_of(change)


async def on_approve(deps: Deps, actor: Actor, client: AsyncWebClient, body: dict[str, Any]) -> ChangeResult | None:
    request_id, expected = _decision(body)
    if not await idempotency.claim(deps, f"approve:{request_id}:{actor.team_id}:{actor.user_id}"):
        return None
    try:
        approved = await changes.approve(deps, actor, request_id, expected_hash=expected or None)
    except (Stale, Expired) as exc:
        current = await changes.get_request(deps, actor, request_id)
        thread = _click_thread(body, current)
        if thread is not None:
            await _say(client, thread, f":warning: {exc}")
            await show_state(client, thread, current)
        raise
    thread = _click_thread(body, approved)
    if thread is None:
        raise ValueError(f"request #{request_id} has no Slack message to report into")
    await _say(client, thread, f":white_check_mark: Approved by {blocks.who(actor.user_id)}.")
    await show_state(client, thread, approved)
    await carry_out(deps, actor, client, thread, approved, approved.link)
    return approved


async def on_reject(deps: Deps, actor: Actor, client: AsyncWebClient, body: dict[str, Any]) -> ChangeResult | None:
    request_id, _ = _decision(body)
    if not await idempotency.claim(deps, f"reject:{request_id}:{actor.team_id}:{actor.user_id}"):
        return None
    rejected = await changes.reject(deps, actor, request_id)
    thread = _click_thread(body, rejected)
    if thread is not None:
        await _say(client, thread, f":no_entry: Rejected by {blocks.who(actor.user_id)}.")
        await show_state(client, thread, rejected)
    return rejected


Decide = Callable[[Deps, Actor, AsyncWebClient, dict[str, Any]], Awaitable[ChangeResult | None]]


async def _decide(decide: Decide, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
    deps = deps_of(context)
    actor = await actor_of(context, body)
    if await decide(deps, actor, client, body) is not None and (body.get("container") or {}).get("type") == "view":
        await publish_home(deps, actor, client)


def register(app: AsyncApp) -> None:
    @app.action(blocks.APPROVE)
    async def approve(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
        await ack()
        later(context, client, body, _decide(on_approve, body, context, client))

    @app.action(blocks.REJECT)
    async def reject(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
        await ack()
        later(context, client, body, _decide(on_reject, body, context, client))
