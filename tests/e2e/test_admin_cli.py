"""The admin CLI as a user runs it: `rtcops db|task|grant|revoke|grants|audit` as subprocesses on a temporary
SQLite file, with `rtcops sandbox providers` (a subprocess too) behind `task add`. Every refusal is one line
on stderr with a non-zero exit code, never a traceback."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot.config import Settings
from bot.providers.registry import ProviderRegistry
from bot.sandbox import examples
from bot.sandbox.examples import side_by_side_start

TEAM = ["--team", "T0TEAM"]
SDK_APP_ID = 1400000000
# Background: not the default #000000, so `task show` printing it proves it read the task's configuration.
VOLC_START = side_by_side_start(AppId="app1", RoomId="room1", TaskId="finals-task", background="#112233")


def one_line(done: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """The one line a refusal prints on stderr; nothing on stdout."""
    assert done.returncode == code, (done.args, done.returncode, done.stdout, done.stderr)
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def click_error(done: subprocess.CompletedProcess[str]) -> str:
    """Click's own refusals: the usage, then `Error: …` naming the problem, exit 2."""
    assert done.returncode == 2 and done.stdout == "", (done.args, done.returncode, done.stdout, done.stderr)
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith("Error: ")
    return error


Call = tuple[tuple[str, ...], dict[str, str | None]]


@dataclass
class Admin:
    """`rtcops` against the sandbox, on one SQLite file."""

    sandbox: Any
    database_url: str

    def run(self, *args: str, **env: str | None) -> subprocess.CompletedProcess[str]:
        done: subprocess.CompletedProcess[str] = self.sandbox.run(*args, **{"DATABASE_URL": self.database_url, **env})
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def runs(self, *calls: tuple[str, ...] | Call) -> list[subprocess.CompletedProcess[str]]:
        """Independent commands side by side: each is a fresh interpreter, mostly spent importing."""

        def one(call: tuple[str, ...] | Call) -> subprocess.CompletedProcess[str]:
            if len(call) == 2 and isinstance(call[1], dict):
                args, env = call
                return self.run(*args, **env)  # type: ignore[arg-type]
            return self.run(*call)  # type: ignore[arg-type]

        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(one, calls))

    def ok(self, *args: str) -> list[str]:
        done = self.run(*args)
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    def refused(self, *args: str, code: int = 1, **env: str | None) -> str:
        return one_line(self.run(*args, **env), code)

    def usage_error(self, *args: str) -> str:
        return click_error(self.run(*args))


@pytest.fixture(scope="module")
def tencent_task_id(providers_sandbox: Any) -> str:
    """Both provider tasks running in the sandbox, started as any client would (the CLI has no start)."""
    return asyncio.run(_start_tasks(providers_sandbox.settings))


async def _start_tasks(printed: dict[str, str]) -> str:
    s = Settings(  # type: ignore[call-arg]
        _env_file=None,
        volc_accesskey=printed["VOLC_ACCESSKEY"],
        volc_secretkey=SecretStr(printed["VOLC_SECRETKEY"]),
        volcengine_endpoint=printed["RTCOPS_VOLCENGINE_ENDPOINT"],
        volcengine_region=printed["RTCOPS_VOLCENGINE_REGION"],
        tencentcloud_secret_id=printed["TENCENTCLOUD_SECRET_ID"],
        tencentcloud_secret_key=SecretStr(printed["TENCENTCLOUD_SECRET_KEY"]),
        tencent_endpoint=printed["RTCOPS_TENCENT_ENDPOINT"],
    )
    registry = ProviderRegistry.from_settings(s)
    try:
        await registry.volcengine.start_push_mixed_stream_to_cdn(VOLC_START)
        started = await registry.tencent().start_stream_ingest(
            {
                "SdkAppId": SDK_APP_ID,
                "RoomId": "r1",
                "RoomIdType": 0,
                "UserId": "ingest-bot",
                "UserSig": "sig",
                "StreamUrl": "https://media.example.com/a.mp4",
            }
        )
    finally:
        await registry.aclose()
    task_id: str = started.result.task_id
    return task_id


@pytest.fixture
def admin(providers_sandbox: Any, tmp_path: Path) -> Iterator[Admin]:
    """A fresh database file that does not exist yet; `db upgrade` creates it."""
    yield Admin(providers_sandbox, f"sqlite+aiosqlite:///{tmp_path / 'rtcops.db'}")


@pytest.fixture
def upgraded(admin: Admin) -> Admin:
    admin.ok("db", "upgrade")
    return admin


def test_db_upgrade_on_an_empty_database_then_again_and_check(admin: Admin) -> None:
    before = admin.refused("task", "list", *TEAM)
    assert "rtcops db upgrade" in before and "empty" in before

    [first] = admin.ok("db", "upgrade")
    assert first.startswith("database schema at revision ") and first.endswith("(head)")
    [again] = admin.ok("db", "upgrade")
    assert again == first
    assert admin.ok("db", "check") == ["models and migrations agree"]
    assert admin.ok("task", "list", *TEAM) == []


def test_db_commands_refuse_a_bad_database_url_in_one_line_without_echoing_it(admin: Admin, tmp_path: Path) -> None:
    password = "hunter2-db-password"
    unsupported, garbage, unreachable, nowhere = admin.runs(
        (("db", "upgrade"), {"DATABASE_URL": f"mysql://root:{password}@db/x"}),
        (("db", "check"), {"DATABASE_URL": "not a url"}),
        (("db", "upgrade"), {"DATABASE_URL": f"postgresql+asyncpg://u:{password}@127.0.0.1:9/x"}),
        (("db", "upgrade"), {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/x.db"}),
    )
    line = one_line(unsupported, 2)
    assert line.startswith("error: DATABASE_URL: unsupported database 'mysql'") and password not in line
    assert one_line(garbage, 2) == "error: DATABASE_URL: DATABASE_URL is not a valid database URL"
    line = one_line(unreachable)
    assert line.startswith("error: cannot reach the database") and password not in line
    assert one_line(nowhere).startswith("error: database: (sqlite3.OperationalError) unable to open database file")


def test_an_unusable_setting_is_one_line_not_a_traceback(upgraded: Admin) -> None:
    """Regression: Settings() raised a pydantic ValidationError traceback from every command but `provider`."""
    calls: list[Call] = [
        (("task", "list", *TEAM), {"RTCOPS_TENCENT_SITE": "mars"}),
        (("db", "check"), {"RTCOPS_VOLCENGINE_ENDPOINT": "ftp://x"}),
        (("grants", *TEAM), {"RTCOPS_REQUEST_TTL_MINUTES": "soon"}),
    ]
    for (_, env), done in zip(calls, upgraded.runs(*calls), strict=True):
        [(variable, value)] = env.items()
        line = one_line(done, 2)
        assert line.startswith(f"error: invalid setting {variable}: ") and str(value) not in line


def test_a_database_that_cannot_be_opened_never_adds_a_traceback(admin: Admin, tmp_path: Path) -> None:
    """Regression: aiosqlite's worker thread answered after asyncio.run closed the loop, and about one run in
    four printed a thread traceback after the error line."""
    url = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/x.db"}
    for done in admin.runs(*((("db", "upgrade"), url) for _ in range(3)), *((("task", "list", *TEAM), url) for _ in range(2))):
        assert one_line(done) == "error: database: (sqlite3.OperationalError) unable to open database file"


def test_task_add_list_show_remove_for_both_providers(upgraded: Admin, tencent_task_id: str) -> None:
    ids = ["finals", "app1", "room1", "finals-task"]
    # A Tencent TaskId may start with '-' (the sandbox's always do); it needs no `--` before it.
    assert tencent_task_id.startswith("-")
    tencent_ids = ["backup", str(SDK_APP_ID), tencent_task_id]
    volc, tencent = upgraded.runs(
        ("task", "add", *TEAM, "--tags", "live,main", "--channel", "C0NOTIFY", "volcengine", *ids),
        ("task", "add", *TEAM, "--region", "ap-singapore", "tencent", *tencent_ids),
    )
    assert volc.returncode == 0 and tencent.returncode == 0, (volc.stderr, tencent.stderr)
    assert volc.stdout.splitlines() == ["added finals (volcengine), version 1, baseline provider", "provider: running / pushing"]
    assert tencent.stdout.splitlines() == ["added backup (tencent), version 0, baseline none", "provider: InProgress"]

    listed, other_team, shown, tencent_shown = upgraded.runs(
        ("task", "list", *TEAM), ("task", "list", "--team", "T0OTHER"), ("task", "show", *TEAM, "finals"),
        ("task", "show", *TEAM, "backup"),
    )  # fmt: skip
    assert [line.split("\t") for line in listed.stdout.splitlines()] == [
        ["backup", "tencent", "v0", ""],
        ["finals", "volcengine", "v1", "live,main"],
    ]
    assert other_team.returncode == 0 and other_team.stdout == ""
    lines = shown.stdout.splitlines()
    assert lines[0] == 'finals (volcengine) {"AppId": "app1", "RoomId": "room1", "TaskId": "finals-task"}'
    assert re.match(r"version 1, SequenceNumber \d{9}, policy ", lines[1]), "numbers start past the clock floor"
    assert lines[2] == "provider: running / pushing"
    configuration = json.loads("\n".join(lines[3:]))
    assert configuration["Encode"]["VideoBitrate"] == 2500
    assert configuration["Layout"]["CustomLayout"]["Canvas"]["Background"] == "#112233"
    assert [s["UserId"] for s in configuration["TargetStreams"]["StreamList"]] == list(examples.USERS)
    identifiers = json.loads(tencent_shown.stdout.splitlines()[0].split(" ", 2)[2])
    assert identifiers["TaskId"] == tencent_task_id and identifiers["Region"] == "ap-singapore"

    assert upgraded.ok("task", "remove", *TEAM, "backup") == ["removed backup"]
    again, show_gone, listed = upgraded.runs(
        ("task", "remove", *TEAM, "backup"), ("task", "show", *TEAM, "backup"), ("task", "list", *TEAM)
    )
    for done in (again, show_gone):  # worded for the terminal: no `/rtc …` advice
        assert one_line(done) == "error: no task called 'backup' in this team; `rtcops task list` lists them"
    assert [line.split("\t")[0] for line in listed.stdout.splitlines()] == ["finals"]


def test_task_add_refusals(upgraded: Admin) -> None:
    upgraded.ok("task", "add", *TEAM, "volcengine", "finals", "app1", "room1", "finals-task")
    refused = upgraded.runs(
        ("task", "add", *TEAM, "volcengine", "finals", "app1", "room1", "finals-task"),
        ("task", "add", *TEAM, "volcengine", "other", "bad id!", "room1", "t"),
        ("task", "add", *TEAM, "volcengine", "Bad Alias!", "a", "r", "t"),
        ("task", "add", *TEAM, "--region", "mars", "tencent", "ingest", str(SDK_APP_ID), "t1"),
    )
    duplicate, bad_id, bad_alias, region = (one_line(done) for done in refused)
    assert "a task called 'finals' already exists" in duplicate
    assert "AppId" in bad_id and "1-128 characters" in bad_id
    assert "alias 'Bad Alias!' is not valid" in bad_alias
    assert "region 'mars'" in region and "ap-singapore" in region

    # the task's target parses its ids and options, as it does for /rtc task add: one line, exit 1
    refusals = {
        ("task", "add", *TEAM, "volcengine", "x", "a", "r"): "error: a Volcengine task needs its AppId, RoomId and TaskId",
        ("task", "add", *TEAM, "tencent", "x", "abc", "t"): "error: SdkAppId must be a positive whole number, got 'abc'",
        ("task", "add", *TEAM, "--canvas", "big", "volcengine", "x", "a", "r", "t"): "error: canvas must look like 1280x720",
        ("task", "add", *TEAM, "aws", "x", "a", "r", "t"): "error: unknown provider 'aws': use one of volcengine, tencent",
    }
    for (args, words), done in zip(refusals.items(), upgraded.runs(*refusals), strict=True):
        assert one_line(done).startswith(words), args
    assert "--canvas" in click_error(upgraded.runs(("task", "add", *TEAM, "volcengine", "x", "a", "r", "t", "--canvas"))[0])
    assert [line.split("\t")[0] for line in upgraded.ok("task", "list", *TEAM)] == ["finals"], "nothing half-added"


def test_task_add_checks_the_task_with_the_provider(upgraded: Admin, tencent_task_id: str) -> None:
    """A Tencent TaskId Describe does not know is refused (exit 1, one line) unless --force; a Volcengine
    task Get does not find is registered with a warning, since Get only sees the last 72 hours."""
    typo, forced, volc_unknown = upgraded.runs(
        ("task", "add", *TEAM, "tencent", "typo", str(SDK_APP_ID), tencent_task_id + "x"),
        ("task", "add", *TEAM, "tencent", "forced", str(SDK_APP_ID), tencent_task_id + "y", "--force"),
        ("task", "add", *TEAM, "volcengine", "old", "app1", "room1", "started-last-week"),
    )
    line = one_line(typo)
    assert line.startswith(f"error: Tencent says task {tencent_task_id}x of SdkAppId {SDK_APP_ID} does not exist")
    assert line.endswith("; --force registers it anyway") and "/rtc" not in line
    assert forced.returncode == 0 and forced.stdout.splitlines()[-1] == "provider: NotExist"
    assert forced.stderr.startswith("warning: Tencent says task") and "registered anyway" in forced.stderr
    assert volc_unknown.returncode == 0, volc_unknown.stderr
    assert volc_unknown.stdout.splitlines() == [
        "added old (volcengine), version 0, baseline none",
        "provider: not found (Get sees tasks of the last 72 h)",
    ]
    [warning] = volc_unknown.stderr.splitlines()
    assert warning.startswith("warning: Get does not find TaskId started-last-week in room room1 of AppId app1")
    assert "last 72 hours" in warning
    assert [line.split("\t")[0] for line in upgraded.ok("task", "list", *TEAM)] == ["forced", "old"]


def test_task_add_without_provider_credentials_names_the_variable(upgraded: Admin) -> None:
    missing, listed = upgraded.runs(
        (("task", "add", *TEAM, "volcengine", "finals", "a", "r", "t"), {"VOLC_SECRETKEY": None}), ("task", "list", *TEAM)
    )
    assert one_line(missing, 2) == "error: VOLC_SECRETKEY is not set: it is required to call Volcengine."
    assert listed.returncode == 0 and listed.stdout == ""


def test_grant_revoke_grants_and_their_refusals(upgraded: Admin) -> None:
    upgraded.ok("task", "add", *TEAM, "volcengine", "finals", "app1", "room1", "finals-task")
    granted = upgraded.runs(
        ("grant", *TEAM, "U0ALICE01", "operator", "task:finals"),
        ("grant", *TEAM, "<@U0BOB0002|bob>", "approver", "provider:volcengine", "--expires", "2099-01-31T18:00:00+00:00"),
        ("grant", *TEAM, "S0OPS0001", "viewer", "tag:live"),
    )
    assert [done.stdout.strip() for done in granted] == [
        "granted operator on task:finals to user U0ALICE01",
        "granted approver on provider:volcengine to user U0BOB0002",
        "granted viewer on tag:live to group S0OPS0001",
    ]

    everyone, alice, other_team = upgraded.runs(
        ("grants", *TEAM), ("grants", *TEAM, "U0ALICE01"), ("grants", "--team", "T0OTHER")
    )
    assert sorted(line.split("\t")[:3] for line in everyone.stdout.splitlines()) == [
        ["group S0OPS0001", "viewer", "tag:live"],
        ["user U0ALICE01", "operator", "task:finals"],
        ["user U0BOB0002", "approver", "provider:volcengine until 2099-01-31T18:00:00+00:00"],
    ]
    assert [line.split("\t")[:2] for line in alice.stdout.splitlines()] == [["user U0ALICE01", "operator"]]
    assert other_team.returncode == 0 and other_team.stdout == ""

    # the same role and scope again: one grant, with the new expiry, so one revoke takes it back
    assert upgraded.ok("grant", *TEAM, "U0ALICE01", "operator", "task:finals", "--expires", "2098-01-01T00:00:00+00:00") == [
        "granted operator on task:finals to user U0ALICE01"
    ]
    assert [line.split("\t")[:3] for line in upgraded.ok("grants", *TEAM, "U0ALICE01")] == [
        ["user U0ALICE01", "operator", "task:finals until 2098-01-01T00:00:00+00:00"]
    ]
    assert upgraded.ok("revoke", *TEAM, "U0ALICE01", "operator", "task:finals") == ["revoked 1 grant(s)"]
    # one refusal of each kind; the service tests cover every rule behind them
    refusals = {
        ("revoke", "U0ALICE01", "operator", "task:finals"): "an operator grant on task:finals for U0ALICE01 not found",
        ("grant", "alice", "viewer"): "not a Slack user or user group",
        ("grant", "U0ALICE01", "king"): "unknown role 'king'",
        ("grant", "U0ALICE01", "viewer", "task:nope"): "no task called 'nope'",
        ("grant", "U0ALICE01", "viewer", "--expires", "2000-01-01T00:00:00+00:00"): "the expiry is in the past",
    }
    calls = [(command, *TEAM, *args) for command, *args in refusals]
    for (args, words), done in zip(refusals.items(), upgraded.runs(*calls), strict=True):
        line = one_line(done)
        assert line.startswith("error: ") and words in line, (args, line)
    bad_expiry = upgraded.runs(
        *(("grant", *TEAM, "U0ALICE01", "viewer", "--expires", e) for e in ("tomorrow", "2030-01-31T18:00"))
    )
    assert all("--expires" in click_error(done) for done in bad_expiry)
    assert upgraded.ok("grants", *TEAM, "U0ALICE01") == []


def test_audit_lists_every_admin_action_newest_first(upgraded: Admin) -> None:
    upgraded.ok("task", "add", *TEAM, "volcengine", "finals", "app1", "room1", "finals-task")
    upgraded.ok("grant", *TEAM, "U0ALICE01", "operator", "task:finals")
    upgraded.ok("grant", *TEAM, "U0ALICE01", "operator", "task:finals", "--expires", "2099-01-31T18:00:00+00:00")
    upgraded.ok("revoke", *TEAM, "U0ALICE01", "operator", "task:finals")
    upgraded.ok("task", "remove", *TEAM, "finals")
    everything, limited, not_a_number, zero, negative, other_team, one_task, no_task = upgraded.runs(
        ("audit", *TEAM), ("audit", *TEAM, "--limit", "2"), ("audit", *TEAM, "--limit", "many"),
        ("audit", *TEAM, "--limit", "0"), ("audit", *TEAM, "--limit", "-5"), ("audit", "--team", "T0OTHER"),
        ("audit", *TEAM, "--task", "finals"), ("audit", *TEAM, "--task", "nope"),
    )  # fmt: skip
    rows = [line.split("\t") for line in everything.stdout.splitlines()]
    assert [(r[2], r[3], r[4], r[5]) for r in rows] == [
        ("task.remove", "task:finals", "ok", ""),
        ("revoke", "user:U0ALICE01", "ok", "operator on task:finals, was until 2099-01-31T18:00:00+00:00"),
        ("grant.update", "user:U0ALICE01", "ok", "operator on task:finals: no expiry -> until 2099-01-31T18:00:00+00:00"),
        ("grant", "user:U0ALICE01", "ok", "operator on task:finals, no expiry"),
        ("task.add", "task:finals", "ok", ""),
    ]
    assert all(r[1].startswith("cli:") for r in rows), "the CLI acts as a named system actor"
    assert limited.stdout.splitlines() == everything.stdout.splitlines()[:2]
    assert "'--limit'" in click_error(not_a_number)
    for done in (zero, negative):
        error = click_error(done)
        assert "'--limit'" in error and "1<=x<=1000" in error
    assert other_team.returncode == 0 and other_team.stdout == "", "another team's trail stays hidden"
    assert other_team.stderr.strip() == "no audit events in this team"
    assert one_task.stdout.splitlines() == everything.stdout.splitlines()
    assert no_task.returncode == 0 and no_task.stdout == "" and no_task.stderr.strip() == "no audit events for task nope"


def test_no_secret_in_any_admin_output(upgraded: Admin, providers_sandbox: Any) -> None:
    added = upgraded.run("task", "add", *TEAM, "volcengine", "finals", "app1", "room1", "finals-task")
    runs = [
        added,
        *upgraded.runs(
            ("task", "show", *TEAM, "finals"),
            (("task", "add", *TEAM, "volcengine", "wrong", "app1", "room1", "x"), {"VOLC_SECRETKEY": "wrong-secret-1"}),
            ("audit", *TEAM),
        ),
    ]
    secrets = [providers_sandbox.settings[n] for n in ("VOLC_SECRETKEY", "TENCENTCLOUD_SECRET_KEY")] + ["wrong-secret-1"]
    for done in runs:
        assert not any(secret in done.stdout + done.stderr for secret in secrets)
    # the wrong secret was sent, refused by the provider, and reported with its code
    assert "SignatureDoesNotMatch" in runs[2].stdout + runs[2].stderr
    volc = providers_sandbox.settings["RTCOPS_VOLCENGINE_ENDPOINT"]
    assert any(r["code"] == "SignatureDoesNotMatch" for r in httpx.get(f"{volc}/_sandbox/requests").json())
