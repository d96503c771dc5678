"""Real `rtcops serve` processes against the provider simulators and the fake Slack Web API, for the fault
scenarios: kill -9 at a step, two replicas on one PostgreSQL database, Slack failing or rate-limiting.

The simulators and the fake Slack run in this process (each on its own thread and loop, over loopback), so a
test arranges faults and reads what happened directly; the bot runs as `rtcops serve` children, which a test
can kill with SIGKILL and start again on the same database.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bot.config import Settings
from bot.providers.registry import ProviderRegistry
from bot.sandbox import tencent_sim, volcengine_sim
from bot.sandbox.examples import APP_ID, ROOM_ID, TASK_ID, side_by_side_start
from bot.sandbox.serve import BackgroundServer
from bot.sandbox.slack_api import FakeSlack, Message
from bot.sandbox.slack_driver import SlackDriver, plain_text

RTCOPS = str(Path(sys.executable).with_name("rtcops"))
TEAM = "T0E2E"
TOKEN = "xoxb-e2e-outcomes"
SECRET = "e2e-outcomes-signing-secret"
ADMIN, OPERATOR, APPROVER, LATECOMER = "U0ADMIN01", "U0OPERATOR", "U0APPROVER", "U0LATECOMER"
USERS = {ADMIN: "admin", OPERATOR: "operator", APPROVER: "approver", LATECOMER: "latecomer"}
REQUESTS, OTHER, NOTIFY = "C0REQUESTS", "C0ELSEWHERE", "C0NOTIFY"
SDK_APP_ID = 1400000077
TIMEOUT, DEADLINE = 0.5, 1.0
"""Provider client settings of the served bots: short, so that a held Update outlives every timeout, and the
in-flight limit (how long before an orphaned apply is settled) is about 15 s rather than minutes."""


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class World:
    tmp: Path
    fake: FakeSlack
    slack_url: str
    volc: volcengine_sim.VolcengineState
    volc_url: str
    tencent: tencent_sim.TencentState
    tencent_url: str
    database_url: str
    bots: list[Served] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        base = {
            k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "RTCOPS_", "DATABASE_URL", "VOLC_", "TENCENT"))
        }
        return {
            **base,
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": f"{self.slack_url}/api/",
            "DATABASE_URL": self.database_url,
            "RTCOPS_ADMIN_USERS": ADMIN,
            "RTCOPS_NOTIFY_CHANNEL": NOTIFY,
            "VOLC_ACCESSKEY": volcengine_sim.DEFAULT_ACCESS_KEY,
            "VOLC_SECRETKEY": volcengine_sim.DEFAULT_SECRET_KEY,
            "RTCOPS_VOLCENGINE_ENDPOINT": self.volc_url,
            "TENCENTCLOUD_SECRET_ID": tencent_sim.DEFAULT_SECRET_ID,
            "TENCENTCLOUD_SECRET_KEY": tencent_sim.DEFAULT_SECRET_KEY,
            "RTCOPS_TENCENT_ENDPOINT": self.tencent_url,
            "RTCOPS_TENCENT_SITE": "intl",
            "RTCOPS_PROVIDER_TIMEOUT": str(TIMEOUT),
            "RTCOPS_PROVIDER_DEADLINE": str(DEADLINE),
            "RTCOPS_PROVIDER_MAX_ATTEMPTS": "2",
            "RTCOPS_SWEEP_SECONDS": "1",
            "RTCOPS_LOG_LEVEL": "INFO",
            **extra,
        }

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [RTCOPS, *args], env=self.env(), cwd=self.tmp, capture_output=True, text=True, timeout=60, check=False
        )

    def serve(self, *, failpoints: str | None = None, args: tuple[str, ...] = (), **env: str) -> Served:
        """A new `rtcops serve` on a free port, once it answers /healthz; `args` and `env` are added to its command
        line and environment."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        log = self.tmp / f"serve-{len(self.bots)}.log"
        extra = {**env, **({"RTCOPS_FAILPOINTS": failpoints} if failpoints else {})}
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [RTCOPS, "serve", "--port", str(port), *args],
                env=self.env(**extra),
                cwd=self.tmp,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        bot = Served(proc, f"http://127.0.0.1:{port}", log)
        self.bots.append(bot)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{bot.url}/healthz", timeout=1).status_code == 200:
                    return bot
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                bot.stop()
                raise AssertionError(f"rtcops serve never answered /healthz (exit {proc.returncode}):\n{bot.output()}")
            time.sleep(0.1)

    def driver(self, bot: Served) -> SlackDriver:
        return SlackDriver(bot.url, SECRET, self.fake, team=TEAM)

    # --- reading what Slack was told -------------------------------------------------------------------

    def requests(self) -> list[Message]:
        return [m for m in self.fake.channel_messages(REQUESTS) if m.blocks and m.blocks[0]["type"] == "header"]

    def thread_texts(self, parent: Message) -> list[str]:
        return [plain_text(m.blocks, m.text) for m in self.fake.thread(REQUESTS, parent.ts)]

    def notify_lines(self) -> list[str]:
        return [m.text for m in self.fake.channel_messages(NOTIFY)]


@contextmanager
def postgres_database(what: str) -> Iterator[str]:
    """A throwaway PostgreSQL database on RTCOPS_TEST_POSTGRES_URL's server (its URL), for replicas of `rtcops
    serve` to share, dropped afterwards. Without the variable the test fails in CI (PostgreSQL tests must run
    there, never skip) and is skipped elsewhere."""
    import uuid

    import asyncpg
    import pytest
    from sqlalchemy.engine import make_url

    url = os.environ.get("RTCOPS_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("PostgreSQL is required in CI: RTCOPS_TEST_POSTGRES_URL is not set", pytrace=False)
        pytest.skip(f"set RTCOPS_TEST_POSTGRES_URL to run {what}")
    name = f"rtcops_e2e_{uuid.uuid4().hex[:10]}"
    admin = make_url(url).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(admin, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def world(tmp: Path, database_url: str | None = None) -> Iterator[World]:
    """The simulators, the fake Slack and a migrated database (SQLite in `tmp` unless a URL is given)."""
    fake = FakeSlack(
        bot_token=TOKEN, team_id=TEAM, users=USERS, channels={REQUESTS: "requests", OTHER: "elsewhere", NOTIFY: "notify"}
    )
    volc_app, volc = volcengine_sim.create_volcengine_sim()
    tencent_app, tencent = tencent_sim.create_tencent_sim(site="intl")
    with ExitStack() as stack:
        slack = stack.enter_context(BackgroundServer(fake.app))
        fake.base_url = slack.url
        vs = stack.enter_context(BackgroundServer(volc_app))
        ts = stack.enter_context(BackgroundServer(tencent_app))
        url = database_url or f"sqlite+aiosqlite:///{tmp / 'rtcops.db'}"
        w = World(tmp, fake, slack.url, volc, vs.url, tencent, ts.url, url)
        upgraded = w.cli("db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
        try:
            yield w
        finally:
            for bot in w.bots:
                bot.stop()


def registry(w: World) -> ProviderRegistry:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        volc_accesskey=volcengine_sim.DEFAULT_ACCESS_KEY,
        volc_secretkey=volcengine_sim.DEFAULT_SECRET_KEY,
        volcengine_endpoint=w.volc_url,
        tencentcloud_secret_id=tencent_sim.DEFAULT_SECRET_ID,
        tencentcloud_secret_key=tencent_sim.DEFAULT_SECRET_KEY,
        tencent_endpoint=w.tencent_url,
        tencent_site="intl",
    )
    return ProviderRegistry.from_settings(settings)


async def start_tasks(w: World, slack: SlackDriver) -> str:
    """A mixed push and an ingest running at the simulators, registered and granted through /rtc. Returns the
    ingest's TaskId."""
    providers = registry(w)
    try:
        await providers.volcengine.start_push_mixed_stream_to_cdn(side_by_side_start())
        started = await providers.tencent().start_stream_ingest(
            {"SdkAppId": SDK_APP_ID, "RoomId": "lobby", "RoomIdType": 0, "UserId": "ingest", "UserSig": "sig",
             "StreamUrl": "https://media.example.com/lobby.mp4"}
        )  # fmt: skip
    finally:
        await providers.aclose()
    ingest = started.result.task_id
    for text in (
        f"task add volcengine finals {APP_ID} {ROOM_ID} {TASK_ID} canvas=1280x720",
        f"task add tencent lobby {SDK_APP_ID} {ingest} url=https://media.example.com/lobby.mp4 volume=100 state=running",
        f"grant <@{OPERATOR}|operator> operator",
        f"grant <@{APPROVER}|approver> approver",
    ):
        seen = len(w.fake.ephemerals_for(ADMIN))
        assert (await slack.command(ADMIN, text, REQUESTS)).status_code == 200
        answer = await until(lambda n=seen: w.fake.ephemerals_for(ADMIN)[n:], f"the answer to {text}")
        assert "Not allowed" not in answer[0].text and ":warning:" not in answer[0].text, answer[0].text
    return str(ingest)


async def until(check: Callable[[], Any], what: str, seconds: float = 30.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:g} s waiting for: {what}")
        await asyncio.sleep(0.05)
