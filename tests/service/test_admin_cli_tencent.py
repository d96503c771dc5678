"""`rtcops task add tencent` with the ingest's current settings: checked through the Tencent model with the
task's site, and kept as version 1. In-process (click's runner) against the simulator over loopback."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from svc_support import SDK_APP_ID, Sims, make_settings

from bot.cli import main
from bot.providers.registry import ProviderRegistry
from bot.sandbox import tencent_sim


async def _start_ingest(sims: Sims) -> str:
    providers = ProviderRegistry.from_settings(make_settings("sqlite+aiosqlite:///unused.db", sims))
    try:
        reply = await providers.tencent().start_stream_ingest(
            {"SdkAppId": SDK_APP_ID, "RoomId": "r", "RoomIdType": 0, "UserId": "ingest-cli", "UserSig": "sig",
             "StreamUrl": "https://media.example.com/a.mp4", "Volume": 80}
        )  # fmt: skip
        return str(reply.result.task_id)
    finally:
        await providers.aclose()


@pytest.fixture
def cli(tmp_path: Path, sqlite_template: Path, sims: Sims, monkeypatch: pytest.MonkeyPatch) -> Any:
    db = tmp_path / "rtcops.db"
    shutil.copy(sqlite_template, db)
    monkeypatch.chdir(tmp_path)  # no stray .env
    env = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "TENCENTCLOUD_SECRET_ID": tencent_sim.DEFAULT_SECRET_ID,
        "TENCENTCLOUD_SECRET_KEY": tencent_sim.DEFAULT_SECRET_KEY,
        "RTCOPS_TENCENT_ENDPOINT": sims.tencent_url,
        "RTCOPS_TENCENT_SITE": "intl",
    }

    def run(*args: str) -> Any:
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return run


def test_task_add_tencent_keeps_the_stated_configuration_as_version_1(cli: Any, sims: Sims) -> None:
    task_id = asyncio.run(_start_ingest(sims))
    add = ["task", "add", "--team", "T0001", "tencent"]
    url = "https://media.example.com/a.mp4"

    loud = cli(*add, "--stream-url", url, "--volume", "150", "--running", "--", "lobby", str(SDK_APP_ID), task_id)
    assert loud.exit_code == 1, loud.output
    assert "Volume must be in [0, 100] on the intl site" in loud.output
    assert "Traceback" not in loud.output

    wrong = cli("task", "add", "--team", "T0001", "volcengine", "v", "a", "r", "t", "--volume", "5")
    assert wrong.exit_code == 2 and "for tencent tasks" in wrong.output

    added = cli(*add, "--stream-url", url, "--volume", "60", "--paused", "--", "lobby", str(SDK_APP_ID), task_id)
    assert added.exit_code == 0, added.output
    assert "version 1, baseline given" in added.output
    shown = cli("task", "show", "--team", "T0001", "lobby")
    configuration = json.loads(shown.output[shown.output.index("{\n") :])
    assert configuration == {"StreamUrl": url, "Volume": 60, "IsPause": True}

    bare = cli(*add, "--", "bare", str(SDK_APP_ID), task_id)  # "--": a TaskId may start with "-"
    assert bare.exit_code == 0 and "version 0, baseline none" in bare.output


def test_the_admin_commands_list_with_a_description() -> None:
    listing = CliRunner().invoke(main, ["--help"]).output
    for name in ("audit", "grant", "grants", "revoke", "task"):
        line = next(ln for ln in listing.splitlines() if ln.strip().startswith(name + " "))
        assert len(line.split(None, 1)[1]) > 20, line
    help_text = CliRunner().invoke(main, ["task", "add", "--help"]).output
    assert "--stream-url" in help_text and "empty" in help_text
