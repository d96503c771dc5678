"""`rtcops demo` as a newcomer runs it: a subprocess in an empty directory, with a hostile environment
(settings that would point a careless demo at somewhere else) to show it uses only its embedded defaults."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from e2e_support import lines_until

from bot.cli import demo

RTCOPS = [sys.executable, "-m", "bot.cli"]
PNG = b"\x89PNG\r\n\x1a\n"


def hostile_env(workdir: Path) -> dict[str, str]:
    """A machine half set up for real use: a .env and variables that no demo step may follow."""
    (workdir / ".env").write_text(
        "SLACK_API_URL=http://127.0.0.1:9/api/\nDATABASE_URL=postgresql+asyncpg://nobody@127.0.0.1:9/x\n"
    )
    return {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-someone-elses",
        "RTCOPS_VOLCENGINE_ENDPOINT": "http://127.0.0.1:9",
        "RTCOPS_VOLCENGINE_REGION": "ap-southeast-1",
        "RTCOPS_ADMIN_USERS": "UNOBODY",
    }


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RTCOPS, *args], cwd=cwd, env=hostile_env(cwd), capture_output=True, text=True, timeout=120)


def test_demo_walks_a_first_change_end_to_end_and_exits_0(tmp_path: Path) -> None:
    done = run(["demo", "--exit"], tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout

    refusal = out.index("Not allowed to approve")
    applied = re.search(r"Applied as version 2 · RequestId ([0-9a-f-]{36})", out)
    assert applied is not None and refusal < applied.start()
    assert f"applied v2, RequestId {applied.group(1)}" in out  # the notification line quotes the same call
    assert "finals-ops gets one line" in out
    assert "volume 40, paused" in out
    assert "finals is at version 2" in out
    assert re.search(r"rollback to v1 \(#3\)", out) and "Applied as version 3" in out
    assert "rtcops sandbox providers" in out and "rtcops serve" in out
    # issue 12: a push fails and recovers in one message; a drift is restored through approval
    failed = out.index("finals: failed")
    assert "push to CDN failed (Status 4, StopReason PushStreamFailed)" in out[failed:]
    assert re.search(r"finals: recovered after \d+ s", out[failed:]) and "acknowledged by @olga" in out[failed:]
    assert "finals: configuration changed outside rtcops" in out and "[Restore v3]" in out
    assert re.search(r"rollback to v3 \(#4\)", out) and "restored by request #4" in out

    picture = tmp_path / "rtcops-demo-preview.png"
    assert picture.read_bytes().startswith(PNG) and picture.stat().st_size > 1000
    for secret in (demo.SIGNING_SECRET, demo.BOT_TOKEN, "xoxb-someone-elses"):
        assert secret not in out and secret not in done.stderr


def test_a_step_that_fails_prints_one_line_and_exits_1(tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'kept.db'}"
    first = run(["demo", "--exit", "--database-url", database, "--out", str(tmp_path / "a.png")], tmp_path)
    assert first.returncode == 0, first.stderr

    again = run(["demo", "--exit", "--database-url", database, "--out", str(tmp_path / "b.png")], tmp_path)
    assert again.returncode == 1
    lines = again.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("demo failed at step 2"), again.stderr
    assert "a task called 'finals' already exists" in lines[0]
    assert "Traceback" not in again.stdout + again.stderr


def test_without_exit_it_keeps_serving_until_ctrl_c(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [*RTCOPS, "demo"], cwd=tmp_path, env=hostile_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    text = "".join(lines_until(proc, "Serving until Ctrl-C", seconds=120, what="rtcops demo"))
    bot_url = re.search(r"the bot \(rtcops serve\)\s+(http://127\.0\.0\.1:\d+)/slack/events", text)
    assert bot_url is not None, text
    assert "rtcops provider volcengine get" in text and "export RTCOPS_VOLCENGINE_ENDPOINT=http://127.0.0.1:" in text

    import httpx

    assert httpx.get(f"{bot_url.group(1)}/healthz", timeout=10).json() == {"ok": True}
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "demo stopped" in rest
