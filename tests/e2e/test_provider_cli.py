"""`rtcops provider …` as a subprocess against `rtcops sandbox providers`: output and exit codes 0/1/2."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.providers.pacing import LocalPacer
from bot.providers.retry import RetryPolicy
from bot.providers.signing_tencent import TencentCredentials
from bot.providers.signing_volcengine import VolcengineCredentials
from bot.providers.tencent_client import TencentClient
from bot.providers.volcengine_client import VolcengineClient

IDS = ["--app-id", "app1", "--room-id", "room1", "--task-id", "task1"]
STREAMS = {"StreamList": [{"UserId": "alice", "Index": 0}, {"UserId": "bob", "Index": 1}]}
LAYOUT = {
    "LayoutMode": 2,
    "CustomLayout": {
        "Canvas": {"Width": 1280, "Height": 720},
        "Regions": [
            {"StreamIndex": 0, "WidthProportion": 0.5, "HeightProportion": 1.0},
            {"StreamIndex": 1, "LocationX": 0.5, "WidthProportion": 0.5, "HeightProportion": 1.0},
        ],
    },
}
APP = 1400000000


def requests_seen(url: str) -> list[dict[str, Any]]:
    return list(httpx.get(f"{url}/_sandbox/requests").json())


def no_secret(sandbox: Any, *outputs: str) -> None:
    for name in ("VOLC_SECRETKEY", "TENCENTCLOUD_SECRET_KEY"):
        assert all(sandbox.settings[name] not in out for out in outputs)


@pytest.fixture(scope="module")
def started(providers_sandbox: Any) -> str:
    """Start one task on each provider through the client (the CLI has no start command)."""
    return asyncio.run(_start_tasks(providers_sandbox))


async def _start_tasks(providers_sandbox: Any) -> str:
    s = providers_sandbox.settings
    pacer, retry = LocalPacer(lambda _k: 10.0), RetryPolicy(max_attempts=1)
    async with VolcengineClient(
        s["RTCOPS_VOLCENGINE_ENDPOINT"],
        s["RTCOPS_VOLCENGINE_REGION"],
        VolcengineCredentials(s["VOLC_ACCESSKEY"], s["VOLC_SECRETKEY"]),
        pacer,
        retry,
        5,
    ) as volc:
        await volc.start_push_mixed_stream_to_cdn(
            {
                "AppId": "app1",
                "RoomId": "room1",
                "TaskId": "task1",
                "PushURL": "rtmp://cdn.example.com/live/x",
                "TargetStreams": STREAMS,
                "Layout": LAYOUT,
            }
        )
    async with TencentClient(
        s["RTCOPS_TENCENT_ENDPOINT"],
        TencentCredentials(s["TENCENTCLOUD_SECRET_ID"], s["TENCENTCLOUD_SECRET_KEY"]),
        pacer,
        retry,
        5,
    ) as tencent:
        reply = await tencent.start_stream_ingest(
            {
                "SdkAppId": APP,
                "RoomId": "r1",
                "RoomIdType": 0,
                "UserId": "bot",
                "UserSig": "sig",
                "StreamUrl": "https://media.example.com/a.mp4",
            }
        )
    return reply.result.task_id


@pytest.fixture
def body_file(tmp_path: Path) -> Path:
    path = tmp_path / "body.json"
    path.write_text(json.dumps({"TargetStreams": STREAMS, "Layout": LAYOUT, "Encode": {"VideoFps": 25}}))
    return path


def test_volcengine_update_and_get_succeed(providers_sandbox: Any, started: str, body_file: Path) -> None:
    done = providers_sandbox.run("provider", "volcengine", "update", *IDS, "--body-file", str(body_file),
                                 "--sequence-number", "7")  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["Result"] == "ok" and out["RequestId"] and out["Action"] == "UpdatePushMixedStreamToCDN"

    got = providers_sandbox.run("provider", "volcengine", "get", *IDS)
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["RequestId"]
    task = httpx.get(f"{providers_sandbox.settings['RTCOPS_VOLCENGINE_ENDPOINT']}/_sandbox/tasks").json()[0]
    assert (task["Encode"]["VideoFps"], task["LastSequenceNumber"]) == (25, 7)
    no_secret(providers_sandbox, done.stdout, done.stderr, got.stdout, got.stderr)


def test_volcengine_provider_errors_exit_1_with_one_line(providers_sandbox: Any, started: str, body_file: Path) -> None:
    stale = providers_sandbox.run("provider", "volcengine", "update", *IDS, "--body-file", str(body_file),
                                  "--sequence-number", "1")  # fmt: skip
    unknown = providers_sandbox.run("provider", "volcengine", "get", "--app-id", "app1", "--room-id", "room1",
                                    "--task-id", "nope")  # fmt: skip
    bad_secret = providers_sandbox.run("provider", "volcengine", "get", *IDS, VOLC_SECRETKEY="wrong-secret-value")
    for done, code in ((stale, "InvalidParameter"), (unknown, "ErrorActiveTaskNotFound"),
                       (bad_secret, "SignatureDoesNotMatch")):  # fmt: skip
        assert done.returncode == 1, done.stderr
        assert done.stdout == ""
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and code in lines[0] and "RequestId " in lines[0] and "RequestId none" not in lines[0]
    assert "wrong-secret-value" not in bad_secret.stderr
    no_secret(providers_sandbox, stale.stderr, unknown.stderr)


def test_volcengine_invalid_input_exits_2_and_sends_nothing(providers_sandbox: Any, tmp_path: Path) -> None:
    url = providers_sandbox.settings["RTCOPS_VOLCENGINE_ENDPOINT"]
    before = len(requests_seen(url))
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps({"Layout": {**LAYOUT, "CustomLayout": {**LAYOUT["CustomLayout"], "Canvas": {"Width": 641}}}}))
    not_json = tmp_path / "bad.json"
    not_json.write_text("{nope")
    runs = [
        providers_sandbox.run("provider", "volcengine", "update", *IDS, "--body-file", str(odd)),
        providers_sandbox.run("provider", "volcengine", "update", *IDS, "--body-file", str(not_json)),
        providers_sandbox.run("provider", "volcengine", "update", *IDS, "--body-file", str(tmp_path / "missing.json")),
        providers_sandbox.run("provider", "volcengine", "get", "--app-id", "bad id!", "--room-id", "r", "--task-id", "t"),
        providers_sandbox.run("provider", "volcengine", "get", *IDS, VOLC_SECRETKEY=None),
    ]
    assert [r.returncode for r in runs] == [2, 2, 2, 2, 2]
    assert "Layout.CustomLayout.Canvas.Width" in runs[0].stderr
    assert "AppId" in runs[3].stderr
    assert "VOLC_SECRETKEY" in runs[4].stderr
    assert all("Traceback" not in r.stderr and r.stdout == "" for r in runs)
    assert len(requests_seen(url)) == before


def test_tencent_update_and_describe(providers_sandbox: Any, started: str) -> None:
    task = ["--sdk-app-id", str(APP), "--task-id", started]
    done = providers_sandbox.run("provider", "tencent", "update-ingest", *task, "--volume", "40", "--pause")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Result"]["Status"] == "InProgress"
    described = providers_sandbox.run("provider", "tencent", "describe-ingest", *task, "--region", "ap-jakarta")
    assert described.returncode == 0, described.stderr
    assert json.loads(described.stdout)["Result"]["Status"] == "InProgress"
    state = httpx.get(f"{providers_sandbox.settings['RTCOPS_TENCENT_ENDPOINT']}/_sandbox/tasks").json()[0]
    assert (state["Volume"], state["IsPause"]) == (40, True)
    resumed = providers_sandbox.run("provider", "tencent", "update-ingest", *task, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    no_secret(providers_sandbox, done.stdout, described.stdout, resumed.stdout)


def test_tencent_errors_and_invalid_input(providers_sandbox: Any, started: str) -> None:
    url = providers_sandbox.settings["RTCOPS_TENCENT_ENDPOINT"]
    unknown = providers_sandbox.run("provider", "tencent", "update-ingest", "--sdk-app-id", str(APP), "--task-id", "nope",
                                    "--volume", "10")  # fmt: skip
    assert unknown.returncode == 1
    assert "FailedOperation.TaskNotExist" in unknown.stderr and len(unknown.stderr.strip().splitlines()) == 1

    before = len(requests_seen(url))
    task = ["--sdk-app-id", str(APP), "--task-id", started]
    runs = [
        providers_sandbox.run("provider", "tencent", "update-ingest", *task, "--volume", "150"),
        providers_sandbox.run("provider", "tencent", "update-ingest", *task, "--region", "eu-frankfurt"),
        providers_sandbox.run("provider", "tencent", "describe-ingest", *task, "--region", "ap-tokyo"),
        providers_sandbox.run("provider", "tencent", "update-ingest", "--sdk-app-id", "abc", "--task-id", "t"),
        providers_sandbox.run("provider", "tencent", "update-ingest", *task, "--stream-url", "ftp://x/y"),
    ]
    assert [r.returncode for r in runs] == [2, 2, 2, 2, 2]
    assert "Volume" in runs[0].stderr and "100" in runs[0].stderr
    assert "Region" in runs[1].stderr and "StreamUrl" in runs[4].stderr
    assert all("Traceback" not in r.stderr for r in runs)
    assert len(requests_seen(url)) == before
