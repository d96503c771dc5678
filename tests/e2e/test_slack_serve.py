"""`rtcops serve` as a process: refusals at start-up, /healthz, and signed Slack requests over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.sandbox.raw_http import Pushed, push
from bot.sandbox.serve import BackgroundServer
from bot.sandbox.slack_api import FakeSlack
from bot.sandbox.slack_driver import SlackDriver
from bot.sandbox.slack_signing import command_body, signed_headers
from handlers.grammar import HELP

RTCOPS = [sys.executable, "-c", "from bot.cli import main; main()"]
SECRET = "e2e-signing-secret"
TOKEN = "xoxb-e2e"


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "RTCOPS_", "DATABASE_URL"))}
    return {**env, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}", **extra}


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RTCOPS, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def test_missing_tokens_stop_start_up_with_one_line_naming_the_variable(tmp_path: Path) -> None:
    missing_bot = run(["serve"], clean_env(tmp_path), tmp_path)
    assert missing_bot.returncode == 2
    assert missing_bot.stderr.strip().splitlines() == [missing_bot.stderr.strip()]
    assert "SLACK_BOT_TOKEN" in missing_bot.stderr
    missing_secret = run(["serve"], clean_env(tmp_path, SLACK_BOT_TOKEN=TOKEN), tmp_path)
    assert missing_secret.returncode == 2 and "SLACK_SIGNING_SECRET" in missing_secret.stderr
    missing_app = run(["serve", "--socket"], clean_env(tmp_path, SLACK_BOT_TOKEN=TOKEN), tmp_path)
    assert missing_app.returncode == 2 and "SLACK_APP_TOKEN" in missing_app.stderr
    assert TOKEN not in missing_secret.stderr + missing_app.stderr


def test_schema_behind_stops_start_up_and_names_the_fix(tmp_path: Path) -> None:
    result = run(["serve"], clean_env(tmp_path, SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET), tmp_path)
    assert result.returncode == 2
    assert "rtcops db upgrade" in result.stderr and "Traceback" not in result.stderr


@dataclass
class Served:
    """A running `rtcops serve` child: its URL, the fake Slack it talks to, and the process itself."""

    url: str
    fake: FakeSlack
    proc: subprocess.Popen[str]
    log: str = ""
    """What the child wrote on stderr (its log), once it has stopped."""

    def stop(self) -> str:
        if self.proc.returncode is None:
            self.proc.terminate()
            _, self.log = self.proc.communicate(timeout=15)
        return self.log


@contextlib.contextmanager
def serving(tmp_path: Path) -> Iterator[Served]:
    fake = FakeSlack(bot_token=TOKEN, users={"U0E2EUSER": "e2e"}, channels={"C0E2E": "e2e"})
    with BackgroundServer(fake.app) as slack:
        fake.base_url = slack.url
        env = clean_env(tmp_path, SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=f"{slack.url}/api/")
        assert run(["db", "upgrade"], env, tmp_path).returncode == 0
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen(
            [*RTCOPS, "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        served = Served(f"http://127.0.0.1:{port}", fake, proc)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{served.url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = served.stop()  # reading stderr of a live child would wait for it to exit
                    raise AssertionError(f"rtcops serve never answered /healthz (exit code {proc.returncode}):\n{err}")
                time.sleep(0.1)
            yield served
        finally:
            err = served.stop()
            assert TOKEN not in err and SECRET not in err
            assert "will be unused" not in err, err  # Bolt's warning when it is handed a client and a token


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, FakeSlack]]:
    with serving(tmp_path) as bot:
        yield bot.url, bot.fake


async def test_served_bot_answers_signed_commands_and_refuses_forged_ones(served: tuple[str, FakeSlack]) -> None:
    url, fake = served
    async with SlackDriver(url, SECRET, fake) as slack, SlackDriver(url, "not-the-secret", fake) as forger:
        assert (await slack.http.get(f"{url}/healthz")).json() == {"ok": True}
        body = command_body(slack.command_fields("U0E2EUSER", "help", "C0E2E"))
        answer = await slack.post(body)
        assert answer.status_code == 200 and answer.json()["text"] == HELP
        assert (await forger.post(body)).status_code == 401
        assert (await slack.post(body, timestamp=int(time.time()) - 600)).status_code == 401


@pytest.fixture
def served_process(tmp_path: Path) -> Iterator[Served]:
    with serving(tmp_path) as bot:
        yield bot


def memory_kib(pid: int, field: str) -> int:
    """A figure from /proc/<pid>/status in KiB: VmRSS (resident now) or VmHWM (the most it was ever resident)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


BIG = 200 * 1024 * 1024
MEMORY_LIMIT_KIB = 400 * 1024
FORM = "application/x-www-form-urlencoded"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads memory from /proc (Linux)")
async def test_four_200_mb_bodies_at_once_are_refused_unread_and_the_server_stays_small(
    served_process: Served, record_property: Callable[[str, object], None]
) -> None:
    """Before the check in bot/server.py, Starlette buffered each body whole before Bolt checked its signature:
    four of these took the process to 2.5 GB. Now an unsigned one is refused from its headers, and a forged
    one from its Content-Length or, chunked, once it passes the 1 MiB cap."""
    bot = served_process
    pid = bot.proc.pid
    before = memory_kib(pid, "VmRSS")
    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(memory_kib(pid, "VmRSS"))
            time.sleep(0.005)

    forged = {**signed_headers("not-the-secret", b""), "Content-Type": FORM}
    sampler = threading.Thread(target=sample, name="sample VmRSS", daemon=True)
    sampler.start()
    try:
        pushed = await asyncio.gather(
            push(f"{bot.url}/slack/events", {"Content-Type": FORM}, BIG, seconds=30),
            push(f"{bot.url}/slack/events", forged, BIG, seconds=30),
            push(f"{bot.url}/slack/events", forged, BIG, chunked=True, seconds=30),
            push(f"{bot.url}/slack/events", forged, BIG, chunked=True, seconds=30),
            return_exceptions=True,  # a timeout must not hide the memory figure
        )
    finally:
        done.set()
        sampler.join(5)
    peak = max(samples, default=before)
    high_water = memory_kib(pid, "VmHWM")
    record_property("rss_before_kib", before)
    record_property("rss_peak_sampled_kib", peak)
    record_property("rss_high_water_kib", high_water)
    print(f"rtcops serve VmRSS: {before} KiB before, {peak} KiB at most during; VmHWM {high_water} KiB")
    assert high_water < MEMORY_LIMIT_KIB, f"rtcops serve reached {high_water} KiB"
    assert [getattr(p, "status", p) for p in pushed] == [401, 413, 413, 413], pushed
    sent = [p.sent for p in pushed if isinstance(p, Pushed)]
    assert max(sent) < 32 * 1024 * 1024, f"the server took much of a body before answering: {pushed}"
    assert (await httpx.AsyncClient().get(f"{bot.url}/healthz")).status_code == 200
    log = bot.stop()
    assert log.count("refused a request") == 4, log
    assert "Traceback" not in log, log


MARK = "zq-sender-text-zq"
MALFORMED: list[tuple[bytes, str]] = [
    (f"payload=not-json-{MARK}".encode(), FORM),
    (f"payload=%5B1%2C2%5D&x={MARK}".encode(), FORM),
    (f'{{"type": "event_callback", "{MARK}"'.encode(), FORM),
    (f'[1, 2, "{MARK}"]'.encode(), "application/json"),
    (b"payload=\xff\xfe" + MARK.encode() + b"\xc3\x28", FORM),
]
"""Bodies Slack never sends (tests/slack/test_request_guard.py has more, in-process): each answered 500 with a
traceback in the log before the check in bot/server.py."""


async def test_malformed_bodies_get_4xx_and_the_log_has_one_line_each_and_no_traceback(served_process: Served) -> None:
    bot = served_process
    statuses: list[int] = []
    async with httpx.AsyncClient(timeout=10) as http:
        url = f"{bot.url}/slack/events"
        for body, content_type in MALFORMED:
            headers = {"Content-Type": content_type}
            statuses.append((await http.post(url, content=body, headers=headers)).status_code)
            statuses.append((await http.post(url, content=body, headers={**signed_headers(SECRET, body), **headers})).status_code)
        now = str(int(time.time()))
        odd_timestamp = {"Content-Type": FORM, "X-Slack-Request-Timestamp": f"{now}x", "X-Slack-Signature": "v0=" + "0" * 64}
        statuses.append((await http.post(url, content=b"command=/rtc", headers=odd_timestamp)).status_code)
    assert statuses == [401, 400] * len(MALFORMED) + [401]
    log = bot.stop()
    assert log.count("refused a request") == len(statuses), log
    assert "Traceback" not in log and MARK not in log, log
