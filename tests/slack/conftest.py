"""The whole bot on loopback: uvicorn serving `build_app`, the fake Slack Web API, both provider
simulators and a real SQLite store, all on 127.0.0.1 with port 0. Requests go in signed, exactly as Slack
sends them; everything the bot says comes out through the fake Web API, which checks it as Slack would.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.config import Settings
from bot.providers.registry import ProviderRegistry
from bot.sandbox import tencent_sim, volcengine_sim
from bot.sandbox.serve import serve_in_loop
from bot.sandbox.slack_api import FakeSlack, Message
from bot.sandbox.slack_signing import command_body, interaction_body, signed_headers
from bot.server import create_server
from bot.services.deps import Deps
from bot.store.engine import create_engine, session_factory
from bot.store.schema import upgrade
from handlers import build_app

TEAM = "T0TEAM"
BOT_TOKEN = "xoxb-fake-bot-token"
SIGNING_SECRET = "fake-signing-secret-0123456789abcdef"
REQUEST_CHANNEL = "CREQUESTS"
NOTIFY_CHANNEL = "CNOTIFY"
U1, U2, U3, U4 = "U0OPERATOR1", "U0APPROVER2", "U0NOBODY03", "U0GROUPIE4"
USERS = {"UADMIN": "admin", U1: "operator", U2: "approver", U3: "bystander", U4: "groupie"}
GROUPS = {"S0APPROVERS": [U4]}


async def eventually(check: Callable[[], Any], what: str, wait_seconds: float = 15.0) -> Any:
    """Wait for the bot's post-acknowledgement work; fails with `what` if it never happens."""
    deadline = time.monotonic() + wait_seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await asyncio.sleep(0.02)


@dataclass
class Env:
    url: str
    fake: FakeSlack
    volc: volcengine_sim.VolcengineState
    tencent: tencent_sim.TencentState
    deps: Deps
    settings: Settings
    http: httpx.AsyncClient

    # -- sending as Slack does ---------------------------------------------------------------------
    async def post(
        self, body: bytes, *, retry_num: int | None = None, timestamp: int | None = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        sent = signed_headers(SIGNING_SECRET, body, timestamp=timestamp, retry_num=retry_num)
        sent.update(headers or {})
        return await self.http.post(f"{self.url}/slack/events", content=body, headers=sent)

    def command_fields(self, user: str, text: str, channel: str = REQUEST_CHANNEL) -> dict[str, str]:
        return {
            "token": "legacy-verification-token",
            "team_id": TEAM,
            "team_domain": "fake",
            "channel_id": channel,
            "channel_name": self.fake.channels.get(channel, channel),
            "user_id": user,
            "user_name": USERS.get(user, user),
            "command": "/rtc",
            "text": text,
            "api_app_id": "AFAKE",
            "is_enterprise_install": "false",
            "response_url": self.fake.response_url(channel, user),
            "trigger_id": self.fake.issue_trigger(),
        }

    async def command(
        self,
        user: str,
        text: str,
        channel: str = REQUEST_CHANNEL,
        *,
        retry_num: int | None = None,
        fields: dict[str, str] | None = None,
    ) -> httpx.Response:
        body = command_body(fields or self.command_fields(user, text, channel))
        return await self.post(body, retry_num=retry_num)

    def click_payload(self, user: str, message: Message, action_id: str) -> dict[str, Any]:
        action = next(
            el for b in message.blocks if b["type"] == "actions" for el in b["elements"] if el["action_id"] == action_id
        )
        block = next(b for b in message.blocks if b["type"] == "actions" and action in b["elements"])
        return {
            "type": "block_actions",
            "team": {"id": TEAM, "domain": "fake"},
            "user": {"id": user, "username": USERS.get(user, user), "team_id": TEAM},
            "api_app_id": "AFAKE",
            "token": "legacy-verification-token",
            "container": {"type": "message", "message_ts": message.ts, "channel_id": message.channel, "is_ephemeral": False},
            "trigger_id": self.fake.issue_trigger(),
            "channel": {"id": message.channel, "name": "requests"},
            "message": {"type": "message", "ts": message.ts, "text": message.text, "blocks": message.blocks},
            "response_url": self.fake.response_url(message.channel, user, message.ts),
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": block["block_id"],
                    "value": action["value"],
                    "text": action["text"],
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }

    async def click(
        self, user: str, message: Message, action_id: str, *, payload: dict[str, Any] | None = None
    ) -> httpx.Response:
        return await self.post(interaction_body(payload or self.click_payload(user, message, action_id)))

    async def submit(self, user: str, view_id: str, values: dict[str, dict[str, Any]]) -> httpx.Response:
        """A view_submission: `values` maps block_id to the element state, as Slack sends it."""
        stored = self.fake.views[view_id]
        view = {
            **stored.view,
            "id": stored.id,
            "hash": stored.hash,
            "team_id": TEAM,
            "type": "modal",
            "private_metadata": stored.view.get("private_metadata", ""),
            "callback_id": stored.view.get("callback_id", ""),
            "state": {"values": {block: {"value": state} for block, state in values.items()}},
        }
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM, "domain": "fake"},
            "user": {"id": user, "username": USERS.get(user, user), "team_id": TEAM},
            "api_app_id": "AFAKE",
            "token": "legacy-verification-token",
            "trigger_id": self.fake.issue_trigger(),
            "view": view,
            "response_urls": [],
        }
        return await self.post(interaction_body(payload))

    async def home_opened(self, user: str) -> httpx.Response:
        event = {
            "token": "legacy-verification-token",
            "team_id": TEAM,
            "api_app_id": "AFAKE",
            "type": "event_callback",
            "event_id": f"Ev{time.time_ns()}",
            "event_time": int(time.time()),
            "event": {
                "type": "app_home_opened",
                "user": user,
                "channel": "DHOME",
                "tab": "home",
                "event_ts": f"{time.time():.6f}",
            },
        }
        body = json.dumps(event).encode()
        return await self.post(body, headers={"Content-Type": "application/json"})

    # -- reading what the bot did ------------------------------------------------------------------
    def ephemeral_texts(self, user: str) -> list[str]:
        return [e.text + " " + json.dumps(e.blocks) for e in self.fake.ephemerals_for(user)]

    def assert_slack_accepted_everything(self) -> None:
        failed = [(c.method, c.error, c.args) for c in self.fake.failed_calls() if c.error != "ratelimited"]
        assert not failed, failed


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    fake = FakeSlack(
        bot_token=BOT_TOKEN,
        team_id=TEAM,
        users=USERS,
        usergroups=GROUPS,
        channels={REQUEST_CHANNEL: "rtc-requests", NOTIFY_CHANNEL: "rtc-notify", "CTASKNOTE": "finals-notify"},
    )
    volc_app, volc_state = volcengine_sim.create_volcengine_sim()
    tencent_app, tencent_state = tencent_sim.create_tencent_sim(site="intl")
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'rtcops.db'}")
    await upgrade(engine)
    async with serve_in_loop(fake.app) as slack_url, serve_in_loop(volc_app) as volc_url, serve_in_loop(tencent_app) as tc_url:
        fake.base_url = slack_url
        settings = Settings(
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=f"{slack_url}/api/",
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'rtcops.db'}",
            admin_users="UADMIN",
            notify_channel=NOTIFY_CHANNEL,
            volc_accesskey=volcengine_sim.DEFAULT_ACCESS_KEY,
            volc_secretkey=volcengine_sim.DEFAULT_SECRET_KEY,
            volcengine_endpoint=volc_url,
            tencentcloud_secret_id=tencent_sim.DEFAULT_SECRET_ID,
            tencentcloud_secret_key=tencent_sim.DEFAULT_SECRET_KEY,
            tencent_endpoint=tc_url,
            tencent_site="intl",
        )  # type: ignore[call-arg]
        deps = Deps(sessions=session_factory(engine), providers=ProviderRegistry.from_settings(settings), settings=settings)
        bolt = build_app(settings, deps)
        async with serve_in_loop(create_server(bolt)) as bot_url, httpx.AsyncClient(timeout=30) as http:
            yield Env(bot_url, fake, volc_state, tencent_state, deps, settings, http)
        await deps.providers.aclose()
    await engine.dispose()
