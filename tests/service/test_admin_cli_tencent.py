"""`rtcops task add tencent` with the ingest's current settings: checked through the Tencent model with the
task's site, and kept as version 1; TaskIds that start with "-" need no "--"; a TaskId Tencent does not know
is refused unless --force. In-process (click's runner) against the simulator over loopback."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from svc_support import SDK_APP_ID, Sims, make_settings

from bot.cli import main
from bot.config import get_settings
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
def cli(tmp_path: Path, sqlite_template: Path, sims: Sims, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
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
        get_settings.cache_clear()  # settings are read once per process; each test has its own database
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    yield run
    get_settings.cache_clear()


def test_task_add_tencent_keeps_the_stated_configuration_as_version_1(cli: Any, sims: Sims) -> None:
    task_id = asyncio.run(_start_ingest(sims))
    add = ["task", "add", "--team", "T0001", "tencent"]
    url = "https://media.example.com/a.mp4"

    assert task_id.startswith("-")
    loud = cli(*add, "--stream-url", url, "--volume", "150", "--running", "lobby", str(SDK_APP_ID), task_id)
    assert loud.exit_code == 1, loud.output
    assert "Volume must be in [0, 100] on the intl site" in loud.output
    assert "Traceback" not in loud.output

    wrong = cli("task", "add", "--team", "T0001", "volcengine", "v", "a", "r", "t", "--volume", "5")
    assert wrong.exit_code == 1 and "error: unknown option volume= for a volcengine task" in wrong.output

    added = cli(*add, "lobby", str(SDK_APP_ID), task_id, "--stream-url", url, "--volume", "60", "--paused")
    assert added.exit_code == 0, added.output
    assert "version 1, baseline given" in added.output
    shown = cli("task", "show", "--team", "T0001", "lobby")
    configuration = json.loads(shown.output[shown.output.index("{\n") :])
    assert configuration == {"StreamUrl": url, "Volume": 60, "IsPause": True}

    bare = cli(*add, "--", "bare", str(SDK_APP_ID), task_id)  # "--" still works
    assert bare.exit_code == 0 and "version 0, baseline none" in bare.output


def test_a_taskid_starting_with_a_dash_needs_no_double_dash_and_real_options_still_parse(cli: Any, sims: Sims) -> None:
    task_id = asyncio.run(_start_ingest(sims))
    added = cli("task", "add", "tencent", "lobby", str(SDK_APP_ID), task_id, "--team", "T0001", "--tags", "eu,live",
                "--region", "ap-singapore", "--volume", "70", "--channel", "C0NOTIFY")  # fmt: skip
    assert added.exit_code == 0, added.output
    assert added.stdout.splitlines() == ["added lobby (tencent), version 1, baseline given", "provider: InProgress"]
    shown = cli("task", "show", "--team", "T0001", "lobby")
    assert json.loads(shown.stdout.splitlines()[0].split(" ", 2)[2])["TaskId"] == task_id
    assert json.loads(shown.stdout[shown.stdout.index("{\n") :]) == {"Volume": 70}
    listed = cli("task", "list", "--team", "T0001")
    assert listed.stdout.split("\t")[3].strip() == "eu,live"

    typo = cli("task", "add", "--team", "T0001", "tencent", "other", str(SDK_APP_ID), task_id, "--volum", "5")
    assert typo.exit_code == 2 and "No such option '--volum'. Did you mean '--volume'?" in typo.stderr
    short = cli("task", "add", "--team", "T0001", "tencent", "third", str(SDK_APP_ID), "-x")
    assert short.exit_code == 1 and "task -x" in short.stderr, "a short unknown option is taken as the TaskId"


def test_a_taskid_tencent_does_not_know_is_refused_unless_forced(cli: Any, sims: Sims) -> None:
    add = ["task", "add", "--team", "T0001", "tencent", "typo", str(SDK_APP_ID), "-abcTypo"]
    refused = cli(*add)
    assert refused.exit_code == 1 and refused.stdout == ""
    assert refused.stderr.splitlines() == [
        f"error: Tencent says task -abcTypo of SdkAppId {SDK_APP_ID} does not exist in ap-singapore "
        "(DescribeStreamIngest: NotExist); check the ids and the region; --force registers it anyway"
    ]
    assert cli("task", "list", "--team", "T0001").stdout == ""

    forced = cli(*add, "--force")
    assert forced.exit_code == 0, forced.output
    assert forced.stdout.splitlines() == ["added typo (tencent), version 0, baseline none", "provider: NotExist"]
    assert forced.stderr.startswith("warning: Tencent says task -abcTypo") and "registered anyway" in forced.stderr
    volc = cli("task", "add", "--team", "T0001", "volcengine", "v", "a", "r", "t", "--force")
    # --force is for any target; this environment has no Volcengine credentials, which is said in one line
    assert volc.exit_code == 2 and volc.stderr.splitlines() == [
        "error: VOLC_ACCESSKEY is not set: it is required to call Volcengine."
    ]


def test_the_admin_commands_list_with_a_description() -> None:
    listing = CliRunner().invoke(main, ["--help"]).output
    for name in ("audit", "grant", "grants", "revoke", "task"):
        line = next(ln for ln in listing.splitlines() if ln.strip().startswith(name + " "))
        assert len(line.split(None, 1)[1]) > 20, line
    help_text = CliRunner().invoke(main, ["task", "add", "--help"]).output
    assert "--stream-url" in help_text and "empty" in help_text
