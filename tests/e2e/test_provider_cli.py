"""`rtcops provider …` as a subprocess against `rtcops sandbox providers`: output and exit codes 0/1/2."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
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
from bot.sandbox.examples import side_by_side_start
from bot.sandbox.serve import BackgroundServer
from bot.sandbox.tencent_sim import TencentSimConfig, create_tencent_sim

IDS = ["--app-id", "app1", "--room-id", "room1", "--task-id", "task1"]
EXAMPLE = side_by_side_start()
STREAMS: dict[str, Any] = EXAMPLE["TargetStreams"]
LAYOUT: dict[str, Any] = EXAMPLE["Layout"]
CONTROL = {"SpatialConfig": {"EnableSpatialRender": True, "AudienceSpatialPosition": [0, 0, 10]}}
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


async def start_volcengine_task(providers_sandbox: Any, task_id: str, **settings: Any) -> None:
    s = providers_sandbox.settings
    async with VolcengineClient(
        s["RTCOPS_VOLCENGINE_ENDPOINT"],
        s["RTCOPS_VOLCENGINE_REGION"],
        VolcengineCredentials(s["VOLC_ACCESSKEY"], s["VOLC_SECRETKEY"]),
        LocalPacer(lambda _k: 10.0),
        RetryPolicy(max_attempts=1),
        5,
    ) as volc:
        await volc.start_push_mixed_stream_to_cdn(
            {
                "AppId": "app1",
                "RoomId": "room1",
                "TaskId": task_id,
                "PushURL": "rtmp://cdn.example.com/live/x",
                "TargetStreams": STREAMS,
                "Layout": LAYOUT,
                **settings,
            }
        )


async def _start_tasks(providers_sandbox: Any) -> str:
    s = providers_sandbox.settings
    pacer, retry = LocalPacer(lambda _k: 10.0), RetryPolicy(max_attempts=1)
    await start_volcengine_task(providers_sandbox, "task1")
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
    path.write_text(json.dumps({"TargetStreams": STREAMS, "Layout": LAYOUT, "Encode": {"VideoFps": 25}, "Control": CONTROL}))
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
    # a task of this test's own, so the stale number is stale whichever tests ran before on this sandbox
    asyncio.run(start_volcengine_task(providers_sandbox, "stale-task"))
    own = ["--app-id", "app1", "--room-id", "room1", "--task-id", "stale-task"]
    ahead = providers_sandbox.run("provider", "volcengine", "update", *own, "--body-file", str(body_file),
                                  "--sequence-number", "7")  # fmt: skip
    assert ahead.returncode == 0, ahead.stderr
    stale = providers_sandbox.run("provider", "volcengine", "update", *own, "--body-file", str(body_file),
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
        providers_sandbox.run("provider", "volcengine", "update", *IDS, "--body-file", str(odd), "--partial"),
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


def volcengine_task(url: str, task_id: str) -> dict[str, Any]:
    task: dict[str, Any] = next(t for t in httpx.get(f"{url}/_sandbox/tasks").json() if t["TaskId"] == task_id)
    return task


def test_volcengine_update_refuses_an_accidental_full_replace(providers_sandbox: Any, tmp_path: Path) -> None:
    """A body without every section resets the rest on the live stream; the operator must say they mean it."""
    url = providers_sandbox.settings["RTCOPS_VOLCENGINE_ENDPOINT"]
    asyncio.run(start_volcengine_task(providers_sandbox, "guarded", Encode={"VideoFps": 30}, Control=CONTROL))
    ids = ["--app-id", "app1", "--room-id", "room1", "--task-id", "guarded"]

    def update(body: Path, *flags: str) -> Any:
        return providers_sandbox.run("provider", "volcengine", "update", *ids, "--body-file", str(body), *flags)

    fps_only = tmp_path / "fps.json"
    fps_only.write_text(json.dumps({"Encode": {"VideoFps": 25}, "Control": None}))
    before = len(requests_seen(url))
    refused = [update(fps_only), update(fps_only, "--partial", "--reset-omitted")]
    assert [r.returncode for r in refused] == [2, 2]
    assert all(r.stdout == "" and "Traceback" not in r.stderr for r in refused)
    first = refused[0].stderr.strip().splitlines()
    assert first[0].startswith("invalid: --body-file leaves out TargetStreams, Layout, Control;")
    assert "Encode" not in first[0].split(";")[0]
    assert "--partial" in first[0] and "--reset-omitted" in first[0] and first[-1] == "nothing was sent"
    assert "contradict" in refused[1].stderr
    assert len(requests_seen(url)) == before
    assert volcengine_task(url, "guarded")["Encode"]["VideoFps"] == 30

    partial = update(fps_only, "--partial")
    assert partial.returncode == 0, partial.stderr
    sent = json.loads(requests_seen(url)[-1]["body"])
    assert sent["IsUpdatePartialParam"] is True and set(sent) == {"AppId", "RoomId", "TaskId", "Encode", "IsUpdatePartialParam"}
    task = volcengine_task(url, "guarded")
    assert task["Encode"]["VideoFps"] == 25
    assert len(task["Layout"]["CustomLayout"]["Regions"]) == 2 and task["Control"]["SpatialConfig"]["EnableSpatialRender"]

    whole = tmp_path / "whole.json"
    whole.write_text(json.dumps({"TargetStreams": STREAMS, "Layout": LAYOUT, "Encode": {"VideoFps": 20}, "Control": CONTROL}))
    full = update(whole)
    assert full.returncode == 0, full.stderr
    assert "IsUpdatePartialParam" not in json.loads(requests_seen(url)[-1]["body"])
    assert volcengine_task(url, "guarded")["Encode"]["VideoFps"] == 20

    reset = update(fps_only, "--reset-omitted")
    assert reset.returncode == 0, reset.stderr
    assert "IsUpdatePartialParam" not in json.loads(requests_seen(url)[-1]["body"])
    task = volcengine_task(url, "guarded")
    assert task["Encode"]["VideoFps"] == 25
    assert (task["TargetStreams"]["StreamList"], task["Layout"]["CustomLayout"]["Regions"]) == ([], [])
    assert "SpatialConfig" not in task["Control"]


def test_volcengine_partial_regions_only_is_checked_against_the_task_streams(providers_sandbox: Any, tmp_path: Path) -> None:
    """Regions sent alone point at the streams already in force: the simulator checks the merged task."""
    url = providers_sandbox.settings["RTCOPS_VOLCENGINE_ENDPOINT"]
    asyncio.run(start_volcengine_task(providers_sandbox, "regions"))
    ids = ["--app-id", "app1", "--room-id", "room1", "--task-id", "regions"]
    swapped = [
        {"StreamIndex": 1, "WidthProportion": 0.5, "HeightProportion": 1.0},
        {"StreamIndex": 0, "LocationX": 0.5, "WidthProportion": 0.5, "HeightProportion": 1.0},
    ]
    regions_only = tmp_path / "regions.json"
    regions_only.write_text(json.dumps({"Layout": {"CustomLayout": {"Regions": swapped}}}))
    done = providers_sandbox.run("provider", "volcengine", "update", *ids, "--body-file", str(regions_only), "--partial")
    assert done.returncode == 0, done.stderr
    sent = json.loads(requests_seen(url)[-1]["body"])
    assert sent["IsUpdatePartialParam"] is True and sent["Layout"] == {"CustomLayout": {"Regions": swapped}}
    task = volcengine_task(url, "regions")
    assert [r["StreamIndex"] for r in task["Layout"]["CustomLayout"]["Regions"]] == [1, 0]
    assert task["TargetStreams"]["StreamList"] == [{**s, "StreamType": 0} for s in STREAMS["StreamList"]]
    assert task["Layout"]["CustomLayout"]["Canvas"]["Width"] == 1280

    # read first, the CLI pairs the regions with the streams in force and refuses before sending, as the bot does
    stray = tmp_path / "stray.json"
    stray.write_text(json.dumps({"Layout": {"CustomLayout": {"Regions": [{**swapped[0], "StreamIndex": 7}, swapped[1]]}}}))
    before = len(requests_seen(url))
    refused = providers_sandbox.run("provider", "volcengine", "update", *ids, "--body-file", str(stray), "--partial")
    assert refused.returncode == 2, refused.stderr
    assert "Regions[0].StreamIndex 7 matches no TargetStreams.StreamList[].Index (in force)" in refused.stderr
    second = STREAMS["StreamList"][1]["UserId"]
    assert f"(UserId {second}) has no region" in refused.stderr and "the Update was not sent" in refused.stderr
    assert [r["action"] for r in requests_seen(url)[before:]] == ["GetPushMixedStreamToCDNTask"]
    # unread, it goes out and the simulator refuses it the same way
    unread = providers_sandbox.run("provider", "volcengine", "update", *ids, "--body-file", str(stray), "--partial", "--no-read")
    assert unread.returncode == 1 and "InvalidParameter" in unread.stderr and "StreamIndex 7" in unread.stderr
    assert [r["StreamIndex"] for r in volcengine_task(url, "regions")["Layout"]["CustomLayout"]["Regions"]] == [1, 0]


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


# --- issue 11: provider fidelity through the command line ---------------------------------------------------


def write(tmp_path: Path, name: str, data: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_three_streams_with_two_regions_are_refused_before_sending(providers_sandbox: Any, tmp_path: Path) -> None:
    """V1, Go SDK model.go (CustomLayout.Regions): every stream of a custom layout needs exactly one region."""
    url = providers_sandbox.settings["RTCOPS_VOLCENGINE_ENDPOINT"]
    asyncio.run(start_volcengine_task(providers_sandbox, "three"))
    three = {"StreamList": [*STREAMS["StreamList"], {"UserId": "carol", "Index": 2}]}
    body = write(tmp_path, "three.json", {"TargetStreams": three, "Layout": LAYOUT, "Encode": {}, "Control": CONTROL})
    before = len(requests_seen(url))
    done = providers_sandbox.run("provider", "volcengine", "update", *IDS[:4], "--task-id", "three", "--body-file", str(body))
    assert done.returncode == 2 and done.stdout == ""
    assert "invalid: TargetStreams.StreamList[2] (UserId carol) has no region" in done.stderr
    assert done.stderr.strip().splitlines()[-1] == "nothing was sent"
    assert len(requests_seen(url)) == before
    assert len(volcengine_task(url, "three")["TargetStreams"]["StreamList"]) == 2


def test_a_background_image_behind_a_query_string_is_sent_and_kept(providers_sandbox: Any, tmp_path: Path) -> None:
    """V5, Go SDK model.go (Canvas.BackgroundImage): a URL of at most 1024 bytes to a JPG/JPEG/PNG image."""
    url = providers_sandbox.settings["RTCOPS_VOLCENGINE_ENDPOINT"]
    asyncio.run(start_volcengine_task(providers_sandbox, "bg"))
    image = "https://img.example.com/bg?id=7"
    canvas = {**LAYOUT["CustomLayout"]["Canvas"], "BackgroundImage": image}
    layout = {**LAYOUT, "CustomLayout": {**LAYOUT["CustomLayout"], "Canvas": canvas}}
    body = write(tmp_path, "bg.json", {"TargetStreams": STREAMS, "Layout": layout, "Encode": {}, "Control": CONTROL})
    done = providers_sandbox.run("provider", "volcengine", "update", *IDS[:4], "--task-id", "bg", "--body-file", str(body))
    assert done.returncode == 0, done.stderr
    assert volcengine_task(url, "bg")["Layout"]["CustomLayout"]["Canvas"]["BackgroundImage"] == image
    assert requests_seen(url)[-1]["resets"] == []


def test_mono_on_an_he_aac_v2_task_is_refused_after_reading_the_task(providers_sandbox: Any, tmp_path: Path) -> None:
    """V6, Go SDK model.go (Encode.AudioProfile): HE-AAC v2 supports stereo only. The profile is fixed at start,
    so only a CLI that reads the task knows it: unread, the simulator quietly makes it stereo again."""
    url = providers_sandbox.settings["RTCOPS_VOLCENGINE_ENDPOINT"]
    asyncio.run(start_volcengine_task(providers_sandbox, "hev2", Encode={"AudioProfile": 2}))
    args = [*IDS[:4], "--task-id", "hev2", "--partial"]
    body = write(tmp_path, "mono.json", {"Encode": {"AudioChannels": 1}})
    before = len(requests_seen(url))
    done = providers_sandbox.run("provider", "volcengine", "update", *args, "--body-file", str(body))
    assert done.returncode == 2, done.stderr
    assert "invalid: Encode: AudioChannels must be 2 with AudioProfile HE-v2" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("the Update was not sent")
    assert [r["action"] for r in requests_seen(url)[before:]] == ["GetPushMixedStreamToCDNTask"]

    unread = providers_sandbox.run("provider", "volcengine", "update", *args, "--body-file", str(body), "--no-read")
    assert unread.returncode == 0, unread.stderr
    assert requests_seen(url)[-1]["resets"] == [{"path": "Encode.AudioChannels", "sent": 1, "applied": 2}]
    assert volcengine_task(url, "hev2")["Encode"]["AudioChannels"] == 2


def test_talk_volume_on_update_cannot_be_changed(providers_sandbox: Any, started: str, tmp_path: Path) -> None:
    """V4, Go SDK model.go (…BodyControl.TalkVolume) and the API page: it exists, but Update cannot change it."""
    url = providers_sandbox.settings["RTCOPS_VOLCENGINE_ENDPOINT"]
    body = write(tmp_path, "talk.json", {"Control": {"TalkVolume": 10}})
    before = len(requests_seen(url))
    done = providers_sandbox.run("provider", "volcengine", "update", *IDS, "--body-file", str(body), "--partial")
    assert done.returncode == 2
    assert "invalid: Control.TalkVolume cannot be changed by Update; only Control.SpatialConfig can" in done.stderr
    assert "not a field" not in done.stderr
    assert len(requests_seen(url)) == before


def test_update_reads_the_task_and_refuses_what_the_bot_refuses(providers_sandbox: Any, tmp_path: Path) -> None:
    """The canvas size is fixed at start (API page, 接口行为): the service would ignore another one, silently."""
    url = providers_sandbox.settings["RTCOPS_VOLCENGINE_ENDPOINT"]
    asyncio.run(start_volcengine_task(providers_sandbox, "sized"))
    canvas = {"Width": 1920, "Height": 1080}
    layout = {**LAYOUT, "CustomLayout": {**LAYOUT["CustomLayout"], "Canvas": canvas}}
    body = write(tmp_path, "sized.json", {"TargetStreams": STREAMS, "Layout": layout, "Encode": {}, "Control": CONTROL})
    args = [*IDS[:4], "--task-id", "sized", "--body-file", str(body)]
    done = providers_sandbox.run("provider", "volcengine", "update", *args)
    assert done.returncode == 2
    assert "Layout.CustomLayout.Canvas.Width is fixed at 1280 when the task starts" in done.stderr

    gone = providers_sandbox.run("provider", "volcengine", "update", *IDS[:4], "--task-id", "never", "--body-file", str(body))
    lines = gone.stderr.strip().splitlines()
    assert gone.returncode == 1 and len(lines) == 2
    assert "GetPushMixedStreamToCDNTask failed: InvalidParameter.ErrorActiveTaskNotFound" in lines[0]
    assert lines[1].startswith("the Update was not sent") and "--no-read" in lines[1]
    assert requests_seen(url)[-1]["action"] == "GetPushMixedStreamToCDNTask"


def test_layout_preview_draws_a_bare_layout_section(providers_sandbox: Any, tmp_path: Path) -> None:
    """`rtcops layout preview` draws without AppId, RoomId or TaskId: the Layout and TargetStreams alone."""
    body = write(tmp_path, "bare.json", {"Layout": LAYOUT, "TargetStreams": STREAMS})
    out = tmp_path / "bare.png"
    done = providers_sandbox.run("layout", "preview", "--body-file", str(body), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and f"wrote {out}" in done.stdout
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@pytest.fixture(scope="module")
def china(providers_sandbox: Any) -> Iterator[tuple[str, Any, str]]:
    """The China-site simulator over loopback, with one ingest started in ap-beijing."""
    app, state = create_tencent_sim(TencentSimConfig(), site="china")
    with BackgroundServer(app) as server:
        s = providers_sandbox.settings
        client = TencentClient(
            server.url,
            TencentCredentials(s["TENCENTCLOUD_SECRET_ID"], s["TENCENTCLOUD_SECRET_KEY"]),
            LocalPacer(lambda _k: 10.0),
            RetryPolicy(max_attempts=1),
            5,
            site="china",
        )

        async def start() -> str:
            async with client:
                body = {"SdkAppId": APP, "RoomId": "r1", "RoomIdType": 0, "UserId": "bot", "UserSig": "sig",
                        "StreamUrl": "https://media.example.com/a.mp4"}  # fmt: skip
                return (await client.start_stream_ingest(body, region="ap-beijing")).result.task_id

        yield server.url, state, asyncio.run(start())


def test_china_site_update_regions(providers_sandbox: Any, china: tuple[str, Any, str]) -> None:
    """T2, China Update page (cloud.tencent.com/document/product/647/110076): ap-beijing, ap-chongqing,
    ap-guangzhou, ap-shanghai, ap-singapore. ap-beijing is sent and taken; ap-tokyo is refused before sending."""
    url, state, task_id = china
    site = {"RTCOPS_TENCENT_ENDPOINT": url, "RTCOPS_TENCENT_SITE": "china"}
    task = ["--sdk-app-id", str(APP), "--task-id", task_id, "--volume", "150"]
    done = providers_sandbox.run("provider", "tencent", "update-ingest", *task, "--region", "ap-beijing", **site)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Result"]["Status"] == "InProgress"
    assert state.task(APP, task_id).volume == 150
    assert [r.headers["x-tc-region"] for r in state.requests.all("UpdateStreamIngest")] == ["ap-beijing"]

    sent = len(state.requests.all())
    tokyo = providers_sandbox.run("provider", "tencent", "update-ingest", *task, "--region", "ap-tokyo", **site)
    assert tokyo.returncode == 2 and tokyo.stdout == ""
    assert "region 'ap-tokyo' is not supported by UpdateStreamIngest on the china site" in tokyo.stderr
    assert "ap-beijing, ap-chongqing, ap-guangzhou, ap-shanghai, ap-singapore" in tokyo.stderr
    assert len(state.requests.all()) == sent
