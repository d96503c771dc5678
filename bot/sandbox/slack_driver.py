"""Talk to the bot as Slack does, and read back what it said through the fake Web API.

Tests, the acknowledgement benchmark and `rtcops demo` all send their traffic through this one class, so the
request shapes they exercise are the same: signed form bodies for slash commands, `payload=<JSON>` for
interactions, and JSON for Events API callbacks, with the fields Slack fills in (trigger_id, response_url,
the clicked message) coming from the FakeSlack that later receives the bot's answers.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import httpx

from bot.sandbox.slack_api import FakeSlack, Message
from bot.sandbox.slack_signing import command_body, interaction_body, signed_headers

APP_ID = "AFAKE"
LEGACY_TOKEN = "legacy-verification-token"  # Slack still sends it; Bolt ignores it when signing is on


class NotSeen(AssertionError):
    """What the caller waited for did not happen in time; the message says what it was."""


async def wait_for(check: Callable[[], Any], what: str, seconds: float = 15.0) -> Any:
    """Poll `check` until it returns something truthy: the bot answers Slack after acknowledging, so its
    messages arrive some time after the HTTP response that triggered them."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise NotSeen(f"timed out waiting for: {what}")
        await asyncio.sleep(0.02)


class SlackDriver:
    """One workspace's Slack, pointed at one bot (`url` is the bot's base URL, without /slack/events)."""

    def __init__(
        self,
        url: str,
        signing_secret: str,
        fake: FakeSlack,
        *,
        team: str | None = None,
        http: httpx.AsyncClient | None = None,
        enterprise: str | None = None,
        org_install: bool = False,
    ) -> None:
        """`team` is the workspace the requests come from; `enterprise` its Enterprise Grid organisation, and
        `org_install` whether the app is installed for the whole organisation there."""
        self.url = url.rstrip("/")
        self.events_url = f"{self.url}/slack/events"
        self.fake = fake
        self.team = team or fake.team_id
        self.enterprise = enterprise
        self.org_install = org_install
        self._secret = signing_secret
        self._given_http = http
        self._own_http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        """The caller's client, or one of our own made on first use (so building bodies needs no loop)."""
        if self._given_http is not None:
            return self._given_http
        if self._own_http is None:
            self._own_http = httpx.AsyncClient(timeout=30)
        return self._own_http

    async def aclose(self) -> None:
        if self._own_http is not None:
            await self._own_http.aclose()
            self._own_http = None

    async def __aenter__(self) -> SlackDriver:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    # -- request bodies, as Slack builds them ------------------------------------------------------
    def headers(self, body: bytes, *, timestamp: int | None = None, retry_num: int | None = None) -> dict[str, str]:
        return signed_headers(self._secret, body, timestamp=timestamp, retry_num=retry_num)

    def _user(self, user: str) -> dict[str, str]:
        return {"id": user, "username": self.fake.users.get(user, user), "team_id": self.team}

    def command_fields(self, user: str, text: str, channel: str, command: str = "/rtc") -> dict[str, str]:
        return {
            "token": LEGACY_TOKEN,
            "team_id": self.team,
            "team_domain": "fake",
            "channel_id": channel,
            "channel_name": self.fake.channels.get(channel, channel),
            "user_id": user,
            "user_name": self.fake.users.get(user, user),
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "true" if self.org_install else "false",
            **({"enterprise_id": self.enterprise, "enterprise_name": "Org"} if self.enterprise else {}),
            "response_url": self.fake.response_url(channel, user),
            "trigger_id": self.fake.issue_trigger(),
        }

    def button_payload(
        self, user: str, channel: str, message_ts: str, button: dict[str, Any], block_id: str, message: Message | None = None
    ) -> dict[str, Any]:
        """A block_actions click on `button` (an element as the bot posted it) in the message at `message_ts`."""
        payload: dict[str, Any] = {
            "type": "block_actions",
            "team": {"id": self.team, "domain": "fake"},
            "user": self._user(user),
            "api_app_id": APP_ID,
            **self._grid(),
            "token": LEGACY_TOKEN,
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
            "trigger_id": self.fake.issue_trigger(),
            "channel": {"id": channel, "name": self.fake.channels.get(channel, channel)},
            "response_url": self.fake.response_url(channel, user, message_ts),
            "actions": [
                {
                    "type": "button",
                    "action_id": button["action_id"],
                    "block_id": block_id,
                    "value": button.get("value", ""),
                    "text": button.get("text", {"type": "plain_text", "text": button["action_id"]}),
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        if message is not None:
            payload["message"] = {"type": "message", "ts": message.ts, "text": message.text, "blocks": message.blocks}
        return payload

    def click_payload(self, user: str, message: Message, action_id: str) -> dict[str, Any]:
        """A click on the button `action_id` of a message the bot posted; KeyError if it has no such button."""
        for block in message.blocks:
            if block["type"] != "actions":
                continue
            for element in block["elements"]:
                if element.get("action_id") == action_id:
                    return self.button_payload(user, message.channel, message.ts, element, block["block_id"], message)
        raise KeyError(f"no button {action_id!r} on message {message.ts}")

    def submission_payload(self, user: str, view_id: str, values: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """A view_submission of the modal `view_id`; `values` maps block_id to the element state."""
        stored = self.fake.views[view_id]
        view = {
            **stored.view,
            "id": stored.id,
            "hash": stored.hash,
            "team_id": self.team,
            "type": "modal",
            "private_metadata": stored.view.get("private_metadata", ""),
            "callback_id": stored.view.get("callback_id", ""),
            "state": {"values": {block: {"value": state} for block, state in values.items()}},
        }
        return {
            "type": "view_submission",
            "team": {"id": self.team, "domain": "fake"},
            "user": self._user(user),
            "api_app_id": APP_ID,
            "token": LEGACY_TOKEN,
            "trigger_id": self.fake.issue_trigger(),
            "view": view,
            "response_urls": [],
        }

    def _grid(self) -> dict[str, Any]:
        """An interaction's Enterprise Grid fields, as Slack adds them."""
        if self.enterprise is None:
            return {"is_enterprise_install": False}
        return {"enterprise": {"id": self.enterprise, "name": "Org"}, "is_enterprise_install": self.org_install}

    def event_body(self, event: dict[str, Any]) -> dict[str, Any]:
        """An Events API callback carrying `event`, with the authorizations Slack lists for it."""
        body: dict[str, Any] = {
            "token": LEGACY_TOKEN,
            "team_id": self.team,
            "api_app_id": APP_ID,
            "type": "event_callback",
            "event_id": f"Ev{time.time_ns()}",
            "event_time": int(time.time()),
            "event": {"event_ts": f"{time.time():.6f}", **event},
            "authorizations": [
                {
                    "enterprise_id": self.enterprise,
                    "team_id": None if self.org_install else self.team,
                    "user_id": self.fake.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": self.org_install,
                }
            ],
        }
        if self.enterprise is not None:
            body["enterprise_id"] = self.enterprise
        return body

    def home_opened_event(self, user: str) -> dict[str, Any]:
        return self.event_body({"type": "app_home_opened", "user": user, "channel": "DHOME", "tab": "home"})

    # -- sending -----------------------------------------------------------------------------------
    async def post(
        self, body: bytes, *, retry_num: int | None = None, timestamp: int | None = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        sent = self.headers(body, timestamp=timestamp, retry_num=retry_num)
        sent.update(headers or {})
        return await self.http.post(self.events_url, content=body, headers=sent)

    async def command(
        self, user: str, text: str, channel: str, *, retry_num: int | None = None, fields: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.post(command_body(fields or self.command_fields(user, text, channel)), retry_num=retry_num)

    async def click(
        self, user: str, message: Message, action_id: str, *, payload: dict[str, Any] | None = None
    ) -> httpx.Response:
        return await self.post(interaction_body(payload or self.click_payload(user, message, action_id)))

    async def submit(self, user: str, view_id: str, values: dict[str, dict[str, Any]]) -> httpx.Response:
        return await self.post(interaction_body(self.submission_payload(user, view_id, values)))

    async def home_opened(self, user: str) -> httpx.Response:
        return await self.event(self.home_opened_event(user))

    async def event(self, body: dict[str, Any]) -> httpx.Response:
        return await self.post(json.dumps(body).encode(), headers={"Content-Type": "application/json"})

    # -- reading what the bot said -----------------------------------------------------------------
    def ephemeral_texts(self, user: str) -> list[str]:
        """Each ephemeral to `user`: its fallback text and its blocks as JSON, for substring checks."""
        return [e.text + " " + json.dumps(e.blocks) for e in self.fake.ephemerals_for(user)]

    def request_messages(self, channel: str) -> list[Message]:
        """Top-level messages in `channel` that start with a header block: the bot's change requests."""
        return [m for m in self.fake.channel_messages(channel) if m.blocks and m.blocks[0]["type"] == "header"]

    def thread(self, message: Message) -> list[Message]:
        return self.fake.thread(message.channel, message.ts)

    def uploaded_file(self, file_id: str) -> bytes | None:
        upload = self.fake.uploads.get(file_id)
        return None if upload is None else upload.get("data")

    def refusals(self) -> list[tuple[str, str | None, dict[str, Any]]]:
        """Web API calls the fake refused other than for rate limiting: a bot bug, never an expected outcome."""
        return [(c.method, c.error, c.args) for c in self.fake.failed_calls() if c.error != "ratelimited"]


def plain_text(blocks: list[dict[str, Any]], fallback: str = "") -> str:
    """Blocks as a person reads them in the client: one line per text, mrkdwn left as written."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind in ("header", "section"):
            if block.get("text"):
                lines.append(block["text"]["text"])
            lines.extend(f["text"] for f in block.get("fields") or [])
        elif kind == "context":
            lines.append("  ".join(e.get("text", "") for e in block.get("elements") or [] if "text" in e))
        elif kind == "actions":
            lines.append(" ".join(f"[{e['text']['text']}]" for e in block.get("elements") or [] if e.get("text")))
        elif kind == "rich_text":
            lines.append(json.dumps(block.get("elements")))
    return "\n".join(line for line in lines if line) or fallback


_EMOJI = {
    "large_green_circle": "●",
    "red_circle": "●",
    "white_check_mark": "✓",
    "arrows_counterclockwise": "↻",
    "hourglass_flowing_sand": "⧗",
    "no_entry": "⛔",
    "heavy_multiplication_x": "✗",
    "warning": "!",
    "lock": "🔒",
    "unlock": "🔓",
    "key": "🔑",
    "large_orange_circle": "●",
    "black_circle": "●",
    "white_circle": "○",
    "twisted_rightwards_arrows": "⇄",
    "eyes": "👀",
    "eye": "👁",
    "mute": "🔇",
}
_STYLE = re.compile(r"[*`]([^*`\n]+)[*`]")
_TOKEN = re.compile(r"<([@#!])([^>|]+)(?:\|([^>]*))?>|<(https?://[^>|]+)\|([^>]*)>|:([a-z0-9_+-]+):")


def readable(text: str, users: dict[str, str] | None = None) -> str:
    """mrkdwn as the Slack client would show it, in plain text: @names, #channels, dates in their fallback,
    link labels, and bold or code without their markers."""
    names = users or {}

    def one(m: re.Match[str]) -> str:
        sigil, ref, label, url, url_label, emoji = m.groups()
        if emoji is not None:
            return _EMOJI.get(emoji, m.group(0))
        if url is not None:
            return f"{url_label} ({url})"
        if sigil == "@":
            return "@" + names.get(ref, label or ref)
        if sigil == "#":
            return "#" + (label or ref)
        if ref.startswith("subteam^"):
            return "@" + (label or ref.removeprefix("subteam^"))
        return label or ref.split("^")[-1]

    return _STYLE.sub(r"\1", _TOKEN.sub(one, text))
