"""What the Slack scenario tests share: the workspace's people and channels, the `Env` the `env` fixture yields,
and the walk that registers both provider tasks. A module of its own so that tests import it by a name that is
unique on sys.path, never `conftest`, which pytest imports once per directory under the same name.
"""

from __future__ import annotations

import asyncio
import time

import httpx
from sqlalchemy import select

from bot.app import Bot
from bot.sandbox import tencent_sim, volcengine_sim
from bot.sandbox.examples import APP_ID, ROOM_ID, TASK_ID, side_by_side_start
from bot.sandbox.slack_api import FakeSlack, Message
from bot.sandbox.slack_driver import NotSeen, SlackDriver, wait_for
from bot.store.models import ChangeRequest

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
    state, the services' Deps and the bot's backlog for arranging and checking what HTTP alone cannot."""

    def __init__(
        self,
        url: str,
        fake: FakeSlack,
        volc: volcengine_sim.VolcengineState,
        tencent: tencent_sim.TencentState,
        bot: Bot,
        http: httpx.AsyncClient,
    ) -> None:
        super().__init__(url, SIGNING_SECRET, fake, team=TEAM, http=http)
        self.volc, self.tencent, self.bot = volc, tencent, bot
        self.deps, self.settings, self.backlog = bot.deps, bot.settings, bot.backlog

    async def settled(self, seconds: float = 15.0) -> None:
        """Wait until all the work the bot took on for the requests sent so far has finished: acknowledged
        work, applies, and every notice delivered (or waiting out a retry). Then whatever those requests were
        going to cause has happened, so a check that something did not happen is definite."""
        try:
            async with asyncio.timeout(seconds):
                for _ in iter(int, 1):  # until quiet twice in a row: a notice may be written as the first check ends
                    if await self._quiet() and await self._quiet():
                        return
                    await asyncio.sleep(0.02)
        except TimeoutError:
            raise NotSeen(f"the bot's work did not finish within {seconds:g} s") from None

    async def _quiet(self) -> bool:
        await self.backlog.drain()
        self.deps.signals.deliver.set()
        await asyncio.sleep(0)
        return await self.bot.settled()

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


SDK_APP_ID = 1400000001
START = side_by_side_start(users=("a", "b"))  # the people the scenarios name in their /rtc commands


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


async def stored_permalink(env: Env, message: Message, seconds: float = 15.0) -> str:
    """The permalink the bot stored for the request posted as `message`. The bot stores it after posting
    the message, so a test that needs it (the lock answer links to it) waits for this, not for the message."""
    query = select(ChangeRequest.permalink).where(
        ChangeRequest.channel_id == message.channel, ChangeRequest.message_ts == message.ts
    )
    deadline = time.monotonic() + seconds
    while True:
        async with env.deps.sessions() as session:
            link = (await session.execute(query)).scalar_one_or_none()
        if link:
            return str(link)
        if time.monotonic() > deadline:
            raise NotSeen(f"timed out waiting for the permalink of the request message {message.ts} to be stored")
        await asyncio.sleep(0.02)  # polls the store, as `eventually` polls the fake


def request_message(env: Env) -> Message | None:
    found = env.request_messages(REQUEST_CHANNEL)
    return found[-1] if found else None


def has_buttons(message: Message) -> bool:
    return any(b["type"] == "actions" for b in message.blocks)
