"""`rtcops audit --format csv|json` as a user runs it, on a trail of 100,000 events: it streams (the process's peak
memory is that of an export of 1,000) and what it writes opens with the standard library's csv module."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bots import RTCOPS

TEAM = "T0AUDIT"
_MEASURE = """
import resource, subprocess, sys
with open(sys.argv[1], "wb") as out:
    code = subprocess.run(sys.argv[2:], stdout=out, stderr=subprocess.PIPE).returncode
print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _database(path: Path, events: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "RTCOPS_", "DATABASE_URL"))}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{path}"
    done = subprocess.run([RTCOPS, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    start = datetime(2030, 1, 1, tzinfo=UTC)
    detail = "volume 100 -> 40, url https://media.example.com/lobby.mp4 -> https://media.example.com/other.mp4 " * 2
    rows = (
        (
            (start + timedelta(seconds=i)).strftime("%Y-%m-%d %H:%M:%S.%f"),
            TEAM if i % 10 else "T0ELSEWHERE",
            f"U0USER{i % 97:04d}",
            "change.apply",
            "task:lobby",
            "lobby",
            i,
            json.dumps({"Volume": 100}),
            json.dumps({"Volume": 40, "note": "=cmd|' /C calc'!A0" if i == 5 else "ok"}),
            f"req-{i:08d}",
            "applied",
            detail,
        )
        for i in range(events)
    )
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO audit_events (at, team_id, actor, action, target, task_alias, change_request_id, before, after,"
            " provider_request_id, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    return env


def _export(tmp: Path, env: dict[str, str], fmt: str) -> tuple[Path, int]:
    """Runs the export with stdout into a file; returns the file and the export's peak memory in KiB."""
    out = tmp / f"audit.{fmt}"
    argv = [RTCOPS, "audit", "--team", TEAM, "--since", "2029-12-31", "--format", fmt]
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(out), *argv], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    code, peak = done.stdout.split()
    assert code == "0", done.stderr
    return out, int(peak)


def test_an_export_of_100000_events_streams_in_the_memory_of_1000_and_opens_as_csv(tmp_path: Path) -> None:
    small_env = _database(tmp_path / "small.db", 1_000)
    big_env = _database(tmp_path / "big.db", 100_000)
    (tmp_path / "small").mkdir()
    (tmp_path / "big").mkdir()
    _, small_peak = _export(tmp_path / "small", small_env, "csv")
    big_csv, big_peak = _export(tmp_path / "big", big_env, "csv")

    size = big_csv.stat().st_size
    print(f"peak memory: 1,000 events {small_peak / 1024:.1f} MiB, 100,000 events {big_peak / 1024:.1f} MiB")
    print(f"CSV of 90,000 rows: {size / 2**20:.1f} MiB")
    assert size > 30 * 2**20, "the export is far larger than any difference allowed below"
    assert big_peak - small_peak < 8 * 1024, f"peak memory grew by {(big_peak - small_peak) / 1024:.1f} MiB"

    with big_csv.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 90_000, "this team's events only (one in ten is another team's)"
    assert {r["team_id"] for r in rows} == {TEAM}
    ids = [int(r["id"]) for r in rows]
    assert ids == sorted(ids), "oldest first"
    assert rows[0]["at"] == "2030-01-01T00:00:01+00:00" and rows[0]["provider_request_id"] == "req-00000001"
    assert json.loads(rows[0]["before"]) == {"Volume": 100} and rows[0]["detail"].startswith("volume 100 -> 40")
    formula = next(r for r in rows if r["change_request_id"] == "5")
    assert json.loads(formula["after"])["note"].startswith("=cmd"), "a JSON cell starts with {: no spreadsheet runs it"


def test_json_lines_and_text_exports_and_time_bounds(tmp_path: Path) -> None:
    env = _database(tmp_path / "audit.db", 2_000)
    out, _ = _export(tmp_path, env, "json")
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(events) == 1_800 and events[0]["id"] < events[-1]["id"]
    bounded = subprocess.run(
        [RTCOPS, "audit", "--team", TEAM, "--since", "2030-01-01T00:10:00+00:00", "--until", "2030-01-01T00:20:00Z"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    lines = bounded.stdout.splitlines()
    assert bounded.returncode == 0 and len(lines) == 540, "600 seconds, one event a second, 9 in 10 of them this team's"
    assert lines[0].startswith("2030-01-01T00:10:01+00:00\tU0USER")
    wrong = subprocess.run(
        [RTCOPS, "audit", "--team", TEAM, "--since", "last tuesday"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert wrong.returncode == 2 and "--since" in wrong.stderr
