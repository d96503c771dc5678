"""`rtcops serve` as a process: refusals at start-up, /healthz, and signed Slack requests over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.sandbox.serve import BackgroundServer
from bot.sandbox.slack_api import FakeSlack
from bot.sandbox.slack_driver import SlackDriver
from bot.sandbox.slack_signing import command_body
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


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, FakeSlack]]:
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
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.1)
            yield url, fake
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=15)
            assert TOKEN not in err and SECRET not in err
            assert "will be unused" not in err, err  # Bolt's warning when it is handed a client and a token


async def test_served_bot_answers_signed_commands_and_refuses_forged_ones(served: tuple[str, FakeSlack]) -> None:
    url, fake = served
    async with SlackDriver(url, SECRET, fake) as slack, SlackDriver(url, "not-the-secret", fake) as forger:
        assert (await slack.http.get(f"{url}/healthz")).json() == {"ok": True}
        body = command_body(slack.command_fields("U0E2EUSER", "help", "C0E2E"))
        answer = await slack.post(body)
        assert answer.status_code == 200 and answer.json()["text"] == HELP
        assert (await forger.post(body)).status_code == 401
        assert (await slack.post(body, timestamp=int(time.time()) - 600)).status_code == 401
