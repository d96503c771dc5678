"""What the Slack scenario tests share: the workspace's people and channels, the `Env` the `env` fixture yields,
and the walk that registers both provider tasks. A module of its own so that tests import it by a name that is
unique on sys.path, never `conftest`, which pytest imports once per directory under the same name.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from bot.config import Settings
from bot.sandbox import tencent_sim, volcengine_sim
from bot.sandbox.slack_api import FakeSlack, Message
from bot.sandbox.slack_signing import command_body, interaction_body, signed_headers
from bot.services.deps import Deps

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


APP_ID, ROOM_ID, TASK_ID = "app-finals", "room-finals", "mix-finals"
SDK_APP_ID = 1400000001
START = {
    "AppId": APP_ID,
    "RoomId": ROOM_ID,
    "TaskId": TASK_ID,
    "PushURL": "rtmp://cdn.example.com/live/finals",
    "TargetStreams": {"StreamList": [{"UserId": "a", "Index": 0}, {"UserId": "b", "Index": 1}]},
    "Layout": {
        "LayoutMode": 2,
        "CustomLayout": {
            "Canvas": {"Width": 1280, "Height": 720, "Background": "#000000"},
            "Regions": [
                {"StreamIndex": 0, "LocationX": 0.0, "LocationY": 0.0, "WidthProportion": 0.5, "HeightProportion": 1.0},
                {"StreamIndex": 1, "LocationX": 0.5, "LocationY": 0.0, "WidthProportion": 0.5, "HeightProportion": 1.0},
            ],
        },
    },
    "Encode": {"VideoWidth": 1280, "VideoHeight": 720, "VideoBitrate": 2500, "VideoFps": 25},
}


async def ephemeral_from(env: Env, user: str, needle: str) -> str:
    found = await eventually(
        lambda: [t for t in env.ephemeral_texts(user) if needle in t], f"ephemeral to {user} with {needle!r}"
    )
    return str(found[-1])


async def setup_tasks(env: Env) -> str:
    """Both provider tasks running in the simulators, registered and granted through /rtc by the admin."""
    await env.deps.providers.volcengine.start_push_mixed_stream_to_cdn(START)
    started = await env.deps.providers.tencent().start_stream_ingest(
        {
            "SdkAppId": SDK_APP_ID,
            "RoomId": "lobby",
            "RoomIdType": 0,
            "UserId": "ingest-lobby",
            "UserSig": "sig",
            "StreamUrl": "https://media.example.com/loop.mp4",
        }
    )
    tencent_task = started.result.task_id
    for text, needle in (
        (f"task add volcengine finals {APP_ID} {ROOM_ID} {TASK_ID} canvas=1280x720 channel=<#CTASKNOTE|finals-notify>", "finals"),
        (f"task add tencent lobby {SDK_APP_ID} {tencent_task}", "lobby"),
        (f"grant <@{U1}|operator> operator", U1),
        (f"grant <@{U2}|approver> approver task:finals", U2),
        (f"grant <@{U2}|approver> approver provider:tencent", "provider:tencent"),
    ):
        assert (await env.command("UADMIN", text)).status_code == 200
        await ephemeral_from(env, "UADMIN", needle)
    return tencent_task


def request_message(env: Env) -> Message | None:
    found = [m for m in env.fake.channel_messages(REQUEST_CHANNEL) if m.blocks and m.blocks[0]["type"] == "header"]
    return found[-1] if found else None


def has_buttons(message: Message) -> bool:
    return any(b["type"] == "actions" for b in message.blocks)
