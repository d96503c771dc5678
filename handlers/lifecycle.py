"""The life of a change in Slack: the outbox deliverer. Every thread post, parent update and notification line
is a notice the store wrote with the step it reports; this module turns each into words and one Web API call.

- A Slack failure delays a message and never loses one: a notice is marked delivered only once Slack took it,
  and retried otherwise (after Retry-After for a 429, with backoff for an error).
- Lanes keep order: the notices of one change go out one after another, so its thread reads as it happened;
  a 429 or an outage on one channel holds only the lanes that post there, never an answer elsewhere.
- Said once: a post whose earlier attempt may have reached Slack (a lost answer, a deliverer that died) is
  looked for first, by the notice id it carries in its message metadata.

It has its own Web API clients, without Bolt's 429 retries: a Retry-After of 30 s is waited out by the notice,
not by a task holding a connection. Each notice is said with the token of its team (`tokens`): with several
workspaces installed, a workspace's notices go out with that workspace's token, and a notice of a workspace
that uninstalled rtcops is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import ChangeState, NoticeKind
from bot.services import change_views, changes, grants, home, outbox, watch
from bot.services.deps import Actor, Deps
from bot.services.outbox import Pending
from bot.services.results import ChangeResult
from handlers import blocks, bulk_delivery, rundown_delivery

log = logging.getLogger("rtcops.delivery")

METADATA_EVENT = "rtcops_notice"
POLL_SECONDS = 0.5
CONCURRENCY = 8
BACKOFF_MAX_SECONDS = 60.0
CLIENT_TIMEOUT_SECONDS = 10
GONE = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "restricted_action",
        "cannot_dm_bot",
        "user_not_found",
        "account_inactive",
    }
)
"""Errors no retry will cure: the notice (and, for a request message, its thread) has nowhere to go."""
OURS = frozenset({"invalid_blocks", "invalid_arguments", "msg_too_long", "no_text", "invalid_metadata_format"})
"""Errors in what we sent: retrying sends the same thing again, so it is dropped and logged as a bug."""
NO_THREAD = frozenset({"thread_not_found", "message_not_found", "cant_update_message"})


class NoRequestMessage(Exception):
    """The request message was never posted (its channel refused it): thread notices have nowhere to go."""


class NowhereToSay(Exception):
    """An incident notice with nowhere to go: no notification channel, or its message was never posted."""


INCIDENT_NOTICES = frozenset({NoticeKind.INCIDENT, NoticeKind.INCIDENT_UPDATE, NoticeKind.INCIDENT_PREVIEW})


TokenFor = Callable[[str], Awaitable[str | None]]
"""A team's bot token, or None when rtcops is not installed there."""
NOT_INSTALLED = "rtcops is not installed in this workspace"


class Deliverer:
    def __init__(self, deps: Deps, tokens: TokenFor, *, concurrency: int = CONCURRENCY) -> None:
        self._deps = deps
        self._tokens = tokens
        self._clients: dict[str, AsyncWebClient] = {}
        self._slots = asyncio.Semaphore(concurrency)
        self._running: set[asyncio.Task[None]] = set()

    @classmethod
    def for_settings(cls, deps: Deps, token: str) -> Deliverer:
        """One workspace, one token (SLACK_BOT_TOKEN)."""

        async def only(team_id: str) -> str | None:
            return token

        return cls(deps, only)

    def _client(self, token: str) -> AsyncWebClient:
        client = self._clients.get(token)
        if client is None:
            url = self._deps.settings.slack_api_url.rstrip("/") + "/"
            client = self._clients[token] = AsyncWebClient(token=token, base_url=url, timeout=CLIENT_TIMEOUT_SECONDS)
        return client

    @property
    def busy(self) -> bool:
        return bool(self._running)

    @property
    def deps(self) -> Deps:
        return self._deps

    async def deliver_due(self) -> int:
        """Claims what is due and delivers it, each in a task of its own; returns how many it claimed. The
        scheduler runs this every POLL_SECONDS on the replica holding the outbox's lease, and at once wherever
        a notice was written."""
        free = CONCURRENCY - len(self._running)
        if free <= 0:
            return 0
        claimed = await outbox.claim(self._deps, limit=free)
        for pending in claimed:
            task = asyncio.get_running_loop().create_task(self._deliver(pending))
            self._running.add(task)
            task.add_done_callback(self._done)
        return len(claimed)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._deps.signals.deliver.set()  # its lane's next notice may be due now

    async def drain(self) -> None:
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def _deliver(self, notice: Pending) -> None:
        async with self._slots:
            try:
                token = await self._tokens(notice.team_id)
            except Exception as exc:  # the installations could not be read: try again later
                await outbox.later(self._deps, notice.id, seconds=_backoff(notice), error=f"no token: {type(exc).__name__}")
                return
            if token is None:
                log.warning("notice %s (%s) dropped: %s", notice.id, notice.kind, NOT_INSTALLED)
                await outbox.dropped(self._deps, notice.id, NOT_INSTALLED)
                return
            try:
                await self._send(notice, self._client(token))
            except SlackApiError as exc:
                await self._failed(notice, exc)
                return
            except (NoRequestMessage, bulk_delivery.NoBulkMessage, rundown_delivery.NoRundownMessage):
                await outbox.dropped(self._deps, notice.id, "no request message to reply under")
                return
            except NowhereToSay as exc:
                await outbox.dropped(self._deps, notice.id, str(exc))
                return
            except (aiohttp.ClientError, TimeoutError) as exc:
                await outbox.later(self._deps, notice.id, seconds=_backoff(notice), error=type(exc).__name__, uncertain=True)
                return
            except Exception as exc:
                log.exception("notice %s (%s) could not be rendered", notice.id, notice.kind)
                await outbox.later(self._deps, notice.id, seconds=_backoff(notice), error=f"{type(exc).__name__}: {exc}")
                return
            await outbox.delivered(self._deps, notice.id)

    async def _failed(self, notice: Pending, exc: SlackApiError) -> None:
        error = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
        if error == "ratelimited" or exc.response.status_code == 429:
            wait = _retry_after(exc)
            log.warning("Slack rate-limited notice %s (%s); retrying in %.0f s", notice.id, notice.kind, wait)
            await outbox.later(self._deps, notice.id, seconds=wait, error="ratelimited")
        elif error in GONE or error in NO_THREAD:
            log.warning("notice %s (%s) dropped: %s", notice.id, notice.kind, error)
            await outbox.dropped(self._deps, notice.id, error)
            if notice.kind == NoticeKind.BULK_POST:
                await bulk_delivery.undeliverable(self._deps, notice, error)
            if notice.kind == NoticeKind.POST and notice.change_request_id is not None:
                change = await change_views.result_of(self._deps, notice.change_request_id)
                await outbox.undeliverable(self._deps, change.request_id, channel=change.channel_id or "", error=error)
        elif error in OURS:
            log.error("notice %s (%s) refused by Slack as malformed: %s", notice.id, notice.kind, error)
            await outbox.dropped(self._deps, notice.id, error)
        else:
            await outbox.later(self._deps, notice.id, seconds=_backoff(notice), error=error)

    # --- what each notice says ---------------------------------------------------------------------

    async def _send(self, notice: Pending, client: AsyncWebClient) -> None:
        if notice.lane.startswith("bulk:") or notice.kind in bulk_delivery.KINDS:
            await bulk_delivery.send(_Speaker(self, client), notice)
            return
        if notice.lane.startswith("rundown:"):
            await rundown_delivery.send(_Speaker(self, client), notice)
            return
        if notice.kind in INCIDENT_NOTICES:
            await self._incident(client, notice)
            return
        change = await change_views.result_of(self._deps, notice.change_request_id or 0)
        kind = notice.kind
        if kind == NoticeKind.POST:
            await self._post_request(client, notice, change)
        elif kind == NoticeKind.PARENT:
            channel, ts = _thread(change)
            await client.chat_update(
                channel=channel, ts=ts, text=blocks.change_fallback(change), blocks=blocks.request_message(change)
            )
        elif kind == NoticeKind.NOTIFY:
            await self._notify(client, notice, change)
        elif kind == NoticeKind.UNDELIVERABLE:
            text = blocks.undeliverable(change, str(notice.payload.get("channel", "")), str(notice.payload.get("error", "")))
            await self._post(client, notice, channel=change.requester, text=text, blocks_=blocks.text_reply(text))
        elif kind == NoticeKind.PREVIEW:
            await self._preview(client, change)
        elif kind == NoticeKind.BREAK_GLASS:
            loud = change.notify_channel or self._deps.settings.notify_channel
            if loud:
                line = blocks.break_glass_notice(change, change.link)
                await self._post(client, notice, channel=loud, text=line, blocks_=blocks.text_reply(line), unfurl_links=False)
        else:
            text, blocks_ = await self._thread_words(notice, change)
            if not text:
                return
            channel, ts = _thread(change)
            await self._post(client, notice, channel=channel, thread_ts=ts, text=text, blocks_=blocks_)

    async def _thread_words(self, notice: Pending, change: ChangeResult) -> tuple[str, list[dict[str, Any]]]:
        kind, payload = notice.kind, notice.payload
        if kind == NoticeKind.OUTCOME:
            return blocks.change_fallback(change), blocks.thread_outcome(change)
        if kind == NoticeKind.WAITING:
            requester = Actor(change.team_id, change.requester)
            approvers = [blocks.mention(a.type, a.id) for a in await grants.approvers_for(self._deps, requester, change.alias)]
            text = blocks.waiting(approvers[:20], change.expires_at)
        elif kind == NoticeKind.DECIDED:
            text = blocks.decided(str(payload.get("what", "")), str(payload.get("by", "")))
        elif kind == NoticeKind.ENDED:
            text = f":warning: {blocks.escape(str(payload.get('reason', '')))}."
        elif kind == NoticeKind.APPLYING:
            text = f":arrows_counterclockwise: Applying request #{change.request_id}…"
        elif kind == NoticeKind.RESENDING:
            text = blocks.resending(str(payload.get("cause", "")), change.alias)
        elif kind == NoticeKind.RECOVERED:
            text = blocks.recovered()
        elif kind == NoticeKind.REMINDER:
            if change.state != ChangeState.PENDING:
                return "", []  # decided meanwhile: nothing to remind anyone of
            requester = Actor(change.team_id, change.requester)
            approvers = [blocks.mention(a.type, a.id) for a in await grants.approvers_for(self._deps, requester, change.alias)]
            text = blocks.reminder(approvers[:20], change.expires_at)
        elif kind == NoticeKind.SCHEDULE_SETTLED:
            text = blocks.schedule_settled(str(payload.get("what", "")), str(payload.get("detail", "")))
        else:
            raise ValueError(f"no words for notice kind {kind}")
        return text, blocks.text_reply(text)

    async def _post_request(self, client: AsyncWebClient, notice: Pending, change: ChangeResult) -> None:
        if change.channel_id is None:
            raise NoRequestMessage()
        ts = await self._find(client, notice, change.channel_id, None) if notice.uncertain else None
        if ts is None:
            text, blocks_ = blocks.change_fallback(change), blocks.request_message(change)
            posted = await self._post(client, notice, channel=change.channel_id, text=text, blocks_=blocks_)
            ts = str(posted["ts"])
        link = (await client.chat_getPermalink(channel=change.channel_id, message_ts=ts)).get("permalink")
        await changes.attach_message(self._deps, change.request_id, channel_id=change.channel_id, message_ts=ts, permalink=link)

    async def _preview(self, client: AsyncWebClient, change: ChangeResult) -> None:
        channel, ts = _thread(change)
        picture = await change_views.preview_of(self._deps, change.request_id)
        if picture is None:
            return
        await client.files_upload_v2(
            channel=channel,
            thread_ts=ts,
            content=picture,
            filename=f"{change.alias}-request-{change.request_id}.png",
            title=f"{change.alias}: now (left) and proposed (right)",
        )

    async def _notify(self, client: AsyncWebClient, notice: Pending, change: ChangeResult) -> None:
        channel = change.notify_channel or self._deps.settings.notify_channel
        if not channel or not change.state.verdict:
            return
        line = blocks.notify_line(change, change.link)
        await self._post(client, notice, channel=channel, text=line, blocks_=blocks.text_reply(line), unfurl_links=False)

    async def _incident(self, client: AsyncWebClient, notice: Pending) -> None:
        """An incident's one message: posted in the task's notification channel, then updated in place; a
        drift's picture goes into its thread."""
        view = await watch.delivery_view(self._deps, int(notice.payload.get("incident") or 0))
        if view is None:
            raise NowhereToSay("the incident is gone")
        text = blocks.incident_fallback(view)
        if notice.kind == NoticeKind.INCIDENT:
            channel = view.notify_channel or self._deps.settings.notify_channel
            if not channel:
                raise NowhereToSay("no notification channel for the task")
            posted = await self._post(
                client, notice, channel=channel, text=text, blocks_=blocks.incident_message(view), unfurl_links=False
            )
            ts = str(posted["ts"])
            link = (await client.chat_getPermalink(channel=channel, message_ts=ts)).get("permalink")
            await watch.attach_message(self._deps, view.id, channel_id=channel, message_ts=ts, permalink=link)
            return
        if view.channel_id is None or view.message_ts is None:
            raise NowhereToSay("the incident's message was never posted")
        if notice.kind == NoticeKind.INCIDENT_UPDATE:
            await client.chat_update(channel=view.channel_id, ts=view.message_ts, text=text, blocks=blocks.incident_message(view))
            return
        picture = await watch.incident_preview(self._deps, view.id)
        if picture is not None:
            await client.files_upload_v2(
                channel=view.channel_id,
                thread_ts=view.message_ts,
                content=picture,
                filename=f"{view.alias}-incident-{view.id}.png",
                title=f"{view.alias}: version {view.version} (left) and what is in force now (right)",
            )

    async def _post(
        self,
        client: AsyncWebClient,
        notice: Pending,
        *,
        channel: str,
        text: str,
        blocks_: list[dict[str, Any]],
        thread_ts: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """chat.postMessage, carrying the notice id; after an attempt that may have got through, Slack is asked
        first whether it did."""
        if notice.uncertain and (found := await self._find(client, notice, channel, thread_ts)) is not None:
            return {"ts": found}
        metadata = {"event_type": METADATA_EVENT, "event_payload": {"notice": notice.id}}
        reply = await client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, text=text, blocks=blocks_, metadata=metadata, **extra
        )
        return dict(reply.data) if isinstance(reply.data, dict) else {}

    async def _find(self, client: AsyncWebClient, notice: Pending, channel: str, thread_ts: str | None) -> str | None:
        """The ts of a message this notice already posted, if Slack has one."""
        if thread_ts is not None:
            reply = await client.conversations_replies(channel=channel, ts=thread_ts, include_all_metadata=True, limit=200)
        else:
            reply = await client.conversations_history(channel=channel, include_all_metadata=True, limit=100)
        for message in reply.get("messages") or []:
            meta = message.get("metadata") or {}
            if meta.get("event_type") == METADATA_EVENT and (meta.get("event_payload") or {}).get("notice") == notice.id:
                return str(message["ts"])
        return None

    find = _find


class _Speaker:
    """The deliverer as `handlers.bulk_delivery` and `handlers.rundown_delivery` use it: one notice's workspace
    client, and the deliverer's way of posting (the notice id in the metadata, looked for before a retry)."""

    def __init__(self, deliverer: Deliverer, client: AsyncWebClient) -> None:
        self._deliverer = deliverer
        self.client = client

    @property
    def deps(self) -> Deps:
        return self._deliverer.deps

    async def post(
        self,
        notice: Pending,
        *,
        channel: str,
        text: str,
        blocks_: list[dict[str, Any]],
        thread_ts: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        return await self._deliverer._post(
            self.client, notice, channel=channel, text=text, blocks_=blocks_, thread_ts=thread_ts, **extra
        )

    async def find(self, notice: Pending, channel: str, thread_ts: str | None) -> str | None:
        return await self._deliverer._find(self.client, notice, channel, thread_ts)


def _thread(change: ChangeResult) -> tuple[str, str]:
    if change.channel_id is None or change.message_ts is None:
        raise NoRequestMessage()
    return change.channel_id, change.message_ts


def _backoff(notice: Pending) -> float:
    return float(min(BACKOFF_MAX_SECONDS, 2 ** min(notice.attempts, 6)))


def _retry_after(exc: SlackApiError) -> float:
    headers = exc.response.headers or {}
    value: Any = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(1.0, float(str(value)))
    except ValueError:
        return 1.0


async def publish_home(deps: Deps, actor: Actor, client: AsyncWebClient) -> None:
    """App Home, rebuilt for one person (on opening it, and after they decided from it)."""
    found = await home.home(deps, actor)
    view = blocks.home_view(
        waiting=found.waiting,
        mine=found.mine,
        tasks=found.tasks,
        recent=found.recent,
        incidents=found.incidents,
        watching=found.watching,
    )
    await client.views_publish(user_id=actor.user_id, view=view)
