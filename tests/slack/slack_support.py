"""What the Slack scenario tests share: the workspace's people and channels, the `Env` the `env` fixture yields,
and the walk that registers both provider tasks. A module of its own so that tests import it by a name that is
unique on sys.path, never `conftest`, which pytest imports once per directory under the same name.
"""

from __future__ import annotations

import httpx

from bot.config import Settings
from bot.sandbox import tencent_sim, volcengine_sim
from bot.sandbox.slack_api import FakeSlack, Message
from bot.sandbox.slack_driver import SlackDriver, wait_for
from bot.services.deps import Deps

TEAM = "T0TEAM"
BOT_TOKEN = "xoxb-fake-bot-token"
SIGNING_SECRET = "fake-signing-secret-0123456789abcdef"
REQUEST_CHANNEL = "CREQUESTS"
NOTIFY_CHANNEL = "CNOTIFY"
U1, U2, U3, U4 = "U0OPERATOR1", "U0APPROVER2", "U0NOBODY03", "U0GROUPIE4"
USERS = {"UADMIN": "admin", U1: "operator", U2: "approver", U3: "bystander", U4: "groupie"}
GROUPS = {"S0APPROVERS": [U4]}


eventually = wait_for
"""Wait for the bot's post-acknowledgement work; fails with `what` if it never happens."""


class Env(SlackDriver):
    """The driver with this workspace's defaults (requests channel, signing secret), plus the simulators'
    state and the services' Deps for arranging and checking what HTTP alone cannot."""

    def __init__(
        self,
        url: str,
        fake: FakeSlack,
        volc: volcengine_sim.VolcengineState,
        tencent: tencent_sim.TencentState,
        deps: Deps,
        settings: Settings,
        http: httpx.AsyncClient,
    ) -> None:
        super().__init__(url, SIGNING_SECRET, fake, team=TEAM, http=http)
        self.volc, self.tencent, self.deps, self.settings = volc, tencent, deps, settings

    def command_fields(self, user: str, text: str, channel: str = REQUEST_CHANNEL, command: str = "/rtc") -> dict[str, str]:
        return super().command_fields(user, text, channel, command)

    async def command(
        self,
        user: str,
        text: str,
        channel: str = REQUEST_CHANNEL,
        *,
        retry_num: int | None = None,
        fields: dict[str, str] | None = None,
    ) -> httpx.Response:
        return await super().command(user, text, channel, retry_num=retry_num, fields=fields)


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
    found = env.request_messages(REQUEST_CHANNEL)
    return found[-1] if found else None


def has_buttons(message: Message) -> bool:
    return any(b["type"] == "actions" for b in message.blocks)
