"""Tencent ingest models: bodies match tccli's published api.json, and every documented rule refuses."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from bot.providers.errors import validation_problems
from bot.providers.fields import path_extension
from bot.providers.tencent_models import (
    DESCRIBE_STOP_REGIONS,
    OTHER_MEDIA_TYPES,
    PAUSED_TASK_DESTROYED_AFTER_HOURS,
    START_UPDATE_REGIONS,
    STREAM_SOURCES,
    StartStreamIngest,
    TaskRef,
    UpdateStreamIngest,
    check_region,
    regions_for,
    update_regions,
)
from bot.sandbox import tencent_sim

API = json.loads(files("tccli").joinpath("services/trtc/v20190722/api.json").read_text(encoding="utf-8"))
JSON_TYPES = {"int": int, "string": str, "bool": bool}


def check_against_api(action: str, body: dict[str, Any]) -> None:
    """What the published description says about the input: known names, right JSON types, required present."""
    members = {m["name"]: m for m in API["objects"][API["actions"][action]["input"]]["members"]}
    for name, value in body.items():
        assert name in members, f"{action} has no input {name}"
        member = members[name]
        assert not member.get("disabled"), f"{name} is disabled in {action}"
        expected = JSON_TYPES[member["type"]]
        assert isinstance(value, expected) and not (expected is int and isinstance(value, bool)), (name, value)
        if member["member"] == "uint64":
            assert value >= 0
    for name, member in members.items():
        if member.get("required") and not member.get("disabled"):
            assert name in body, f"{action} requires {name}"


def problems(model: type[BaseModel], data: dict[str, Any], site: str | None = None) -> list[str]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data, context={"site": site} if site else None)
    return validation_problems(info.value)


def test_golden_update_body_matches_api_json() -> None:
    data = {
        "SdkAppId": 1400000000,
        "TaskId": "task-abc",
        "StreamUrl": "https://example.com/a.mp4",
        "Volume": 80,
        "IsPause": False,
    }
    body = UpdateStreamIngest.model_validate(data).body()
    assert body == data
    check_against_api("UpdateStreamIngest", body)


def test_seed_example_passes() -> None:
    body = UpdateStreamIngest.model_validate(
        {"SdkAppId": 1234567890, "TaskId": "1234", "StreamUrl": "https://a.b/test.mp4"}
    ).body()
    assert body == {"SdkAppId": 1234567890, "TaskId": "1234", "StreamUrl": "https://a.b/test.mp4"}
    check_against_api("UpdateStreamIngest", body)


urls = st.builds(
    lambda scheme, host, path: f"{scheme}://{host}/{path}",
    st.sampled_from(["http", "https", "rtmp"]),
    st.from_regex(r"[a-z]{1,10}\.(com|cn|net)", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9_./-]{0,30}", fullmatch=True),
).filter(lambda url: path_extension(url) not in OTHER_MEDIA_TYPES)  # named formats outside the list are refused (T4)


@settings(max_examples=200, deadline=None)
@given(
    sdk_app_id=st.integers(1, 2**63),
    task_id=st.text(st.characters(blacklist_categories=("Cs", "Z", "Cc", "Cf")), min_size=1, max_size=40),
    url=st.none() | urls,
    volume=st.none() | st.integers(0, 100),
    pause=st.none() | st.booleans(),
)
def test_random_valid_update_bodies_match_api_json(
    sdk_app_id: int, task_id: str, url: str | None, volume: int | None, pause: bool | None
) -> None:
    data: dict[str, Any] = {"SdkAppId": sdk_app_id, "TaskId": task_id, "StreamUrl": url, "Volume": volume, "IsPause": pause}
    body = UpdateStreamIngest.model_validate({k: v for k, v in data.items() if v is not None}).body()
    assert None not in body.values(), "unset fields are left out"
    check_against_api("UpdateStreamIngest", body)


def test_start_describe_stop_bodies_match_api_json() -> None:
    start = StartStreamIngest.model_validate(
        {
            "SdkAppId": 1400000001,
            "RoomId": "1234",
            "RoomIdType": 1,
            "UserId": "ingest-bot",
            "UserSig": "sig",
            "StreamUrl": "https://example.com/a.mp4",
            "RepeatNum": -1,
            "MaxDuration": 60,
            "Volume": 90,
            "AutoPush": True,
            "SeekSecond": 3,
        }
    ).body()
    check_against_api("StartStreamIngest", start)
    ref = TaskRef.model_validate({"SdkAppId": 1400000001, "TaskId": "t1"}).body()
    check_against_api("DescribeStreamIngest", ref)
    check_against_api("StopStreamIngest", ref)


def test_volume_range_depends_on_site() -> None:
    assert problems(UpdateStreamIngest, {"SdkAppId": 1, "TaskId": "t", "Volume": 101}) == [
        "Volume must be in [0, 100] on the intl site, got 101"
    ]
    china = UpdateStreamIngest.model_validate({"SdkAppId": 1, "TaskId": "t", "Volume": 200}, context={"site": "china"})
    assert china.body() == {"SdkAppId": 1, "TaskId": "t", "Volume": 200}
    assert problems(UpdateStreamIngest, {"SdkAppId": 1, "TaskId": "t", "Volume": 201}, "china") == [
        "Volume must be in [0, 200] on the china site, got 201"
    ]
    assert problems(UpdateStreamIngest, {"SdkAppId": 1, "TaskId": "t", "Volume": -1}) == [
        "Volume must be in [0, 100] on the intl site, got -1"
    ]


@pytest.mark.parametrize("field", [{"EnableProgress": True}, {"Tempo": 1.5}])
def test_china_only_fields_refused_on_intl(field: dict[str, Any]) -> None:
    [message] = problems(UpdateStreamIngest, {"SdkAppId": 1, "TaskId": "t", **field})
    assert "only on the China site" in message and next(iter(field)) in message
    china = UpdateStreamIngest.model_validate({"SdkAppId": 1, "TaskId": "t", **field}, context={"site": "china"})
    assert china.body() == {"SdkAppId": 1, "TaskId": "t", **field}


def test_tempo_must_be_a_documented_step() -> None:
    [message] = problems(UpdateStreamIngest, {"SdkAppId": 1, "TaskId": "t", "Tempo": 1.1}, "china")
    assert message.startswith("Tempo: must be one of 0.5, 0.75, 1.0")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"TaskId": "t"}, "SdkAppId: is required"),
        ({"SdkAppId": 1}, "TaskId: is required"),
        ({"SdkAppId": "1400000000", "TaskId": "t"}, "SdkAppId: Input should be a valid integer"),
        ({"SdkAppId": 0, "TaskId": "t"}, "SdkAppId: must be in [1, "),
        ({"SdkAppId": 1, "TaskId": "  "}, "TaskId: must not be empty"),
        ({"SdkAppId": 1, "TaskId": "t", "StreamUrl": "ftp://a.b/c"}, "StreamUrl: must be the URL of an RTMP live stream (rtmp"),
        ({"SdkAppId": 1, "TaskId": "t", "StreamUrl": "https://a.b/has space.mp4"}, "StreamUrl: must be the URL of an RTMP"),
        ({"SdkAppId": 1, "TaskId": "t", "IsPause": "false"}, "IsPause: Input should be a valid boolean"),
        ({"SdkAppId": 1, "TaskId": "t", "Volume": 50.0}, "Volume: Input should be a valid integer"),
        ({"SdkAppId": 1, "TaskId": "t", "Region": "ap-singapore"}, "Region: is not a field this action accepts"),
    ],
)
def test_update_rules(data: dict[str, Any], expected: str) -> None:
    assert any(p.startswith(expected) for p in problems(UpdateStreamIngest, data)), problems(UpdateStreamIngest, data)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"RepeatNum": 0}, "RepeatNum 0 is invalid"),
        ({"RepeatNum": 1001}, "RepeatNum: must be in [-1, 1000]"),
        ({"RepeatNum": 3, "MaxDuration": 10}, "MaxDuration applies only with RepeatNum -1"),
        ({"RepeatNum": -1, "MaxDuration": 10081}, "MaxDuration: must be in [1, 10080] minutes"),
        ({"RoomIdType": 2}, "RoomIdType: must be one of 0, 1"),
        ({"RoomIdType": 1, "RoomId": "abc"}, "RoomId must be an integer when RoomIdType is 1"),
        ({"StreamUrl": None}, "StreamUrl: Input should be a valid string"),
    ],
)
def test_start_rules(change: dict[str, Any], expected: str) -> None:
    data = {"SdkAppId": 1, "RoomId": "r1", "RoomIdType": 0, "UserId": "u", "UserSig": "s", "StreamUrl": "https://a.b/c.mp4"}
    data.update(change)
    found = problems(StartStreamIngest, data)
    assert any(expected in p for p in found), found


def test_regions_follow_each_actions_published_list() -> None:
    for region in START_UPDATE_REGIONS:
        assert check_region(region, "UpdateStreamIngest") == region
    with pytest.raises(ValueError, match="not supported by DescribeStreamIngest"):
        check_region("ap-tokyo", "DescribeStreamIngest")
    with pytest.raises(ValueError, match="not supported by UpdateStreamIngest"):
        check_region("eu-frankfurt", "UpdateStreamIngest")


# --- issue 11: provider fidelity, each row against its source ----------------------------------------------

START = {"SdkAppId": 1, "RoomId": "r1", "RoomIdType": 0, "UserId": "u", "UserSig": "s", "StreamUrl": "https://a.b/c.mp4"}


def test_t2_china_update_regions_are_the_china_pages_list() -> None:
    """China Update page (cloud.tencent.com/document/product/647/110076): ap-beijing, ap-chongqing, ap-guangzhou,
    ap-shanghai, ap-singapore. The international list (ap-bangkok … ap-tokyo) applies to the intl site only."""
    assert update_regions("china") == ("ap-beijing", "ap-chongqing", "ap-guangzhou", "ap-shanghai", "ap-singapore")
    assert update_regions("intl") == START_UPDATE_REGIONS
    for region in ("ap-beijing", "ap-shanghai", "ap-chongqing"):
        assert check_region(region, "UpdateStreamIngest", "china") == region
        with pytest.raises(ValueError, match="not supported by UpdateStreamIngest on the intl site"):
            check_region(region, "UpdateStreamIngest")
    for region in ("ap-bangkok", "ap-jakarta", "ap-mumbai", "ap-tokyo"):
        with pytest.raises(ValueError, match="on the china site; use one of ap-beijing, ap-chongqing"):
            check_region(region, "UpdateStreamIngest", "china")
    # China Start (647/101872) and Stop (647/101871) list the same five; Describe is assumed to (README)
    assert regions_for("StartStreamIngest", "china") == regions_for("StopStreamIngest", "china") == update_regions("china")
    assert regions_for("DescribeStreamIngest", "intl") == DESCRIBE_STOP_REGIONS


def test_t3_china_start_takes_progress_tempo_and_idle_timeout() -> None:
    """China api.json / tencentcloud-sdk-python-trtc StartStreamIngestRequest: EnableProgress (bool), Tempo (steps
    0.5-2.0), IdleTimeout (seconds, [0, 600]); the international api.json has none of them."""
    data = {**START, "EnableProgress": True, "Tempo": 0.75, "IdleTimeout": 600, "Volume": 200}
    body = StartStreamIngest.model_validate(data, context={"site": "china"}).body()
    assert (body["EnableProgress"], body["Tempo"], body["IdleTimeout"]) == (True, 0.75, 600)
    [message] = problems(StartStreamIngest, data)
    assert "EnableProgress and Tempo and IdleTimeout exist only on the China site" in message
    assert "Volume must be in [0, 100] on the intl site" in message
    too_long = problems(StartStreamIngest, {**START, "IdleTimeout": 601}, "china")
    assert any("IdleTimeout: must be in [0, 600] seconds" in p for p in too_long)


@pytest.mark.parametrize(
    "url",
    [
        "rtmp://live.example.com/app/stream",  # RTMP live stream
        "https://live.example.com/app/stream.m3u8",  # HLS
        "http://live.example.com/app/stream.flv",  # HTTP-FLV
        "https://vod.example.com/a.MP4",  # MP4 file
        "https://vod.example.com/play?id=7",  # no visible format: the service reads the source (assumption)
    ],
)
def test_t4_stream_sources_the_ingest_takes(url: str) -> None:
    """Product pages 647/62716 (intl) and 647/102957 (China): online live streams and on-demand files; RTMP, HLS,
    FLV and MP4. StreamUrl is a plain string in api.json and both SDKs."""
    assert UpdateStreamIngest.model_validate({"SdkAppId": 1, "TaskId": "t", "StreamUrl": url}).stream_url == url
    assert StartStreamIngest.model_validate({**START, "StreamUrl": url}).stream_url == url


@pytest.mark.parametrize(
    "url",
    ["rtsp://cam.example.com/live", "srt://live.example.com:9000", "rtmps://live.example.com/app/s", "https://vod.example.com/a.mkv",
     "https://vod.example.com/a.mp3", "https://vod.example.com/manifest.mpd", "file:///tmp/a.mp4"],
)  # fmt: skip
def test_t4_other_sources_are_refused_with_the_list(url: str) -> None:
    [message] = problems(UpdateStreamIngest, {"SdkAppId": 1, "TaskId": "t", "StreamUrl": url})
    assert message.startswith(f"StreamUrl: must be {STREAM_SOURCES}")
    assert STREAM_SOURCES == "the URL of an RTMP live stream (rtmp://) or of HLS (.m3u8), FLV (.flv) or MP4 (.mp4) over http(s)"


def test_t6_an_update_with_only_volume_carries_only_volume() -> None:
    """UpdateStreamIngest: StreamUrl, Volume and IsPause are all optional (api.json); what is left out stays."""
    body = UpdateStreamIngest.model_validate({"SdkAppId": 1, "TaskId": "t", "Volume": 40}).body()
    assert body == {"SdkAppId": 1, "TaskId": "t", "Volume": 40}


def test_t7_paused_tasks_are_destroyed_after_twelve_hours() -> None:
    """China SDK, UpdateStreamIngestRequest.IsPause: a task paused for more than 12 hours is destroyed. The
    simulator keeps its own figure (it never imports the client side); both must say the same."""
    assert PAUSED_TASK_DESTROYED_AFTER_HOURS == 12
    assert tencent_sim.PAUSE_LIMIT_SECONDS == PAUSED_TASK_DESTROYED_AFTER_HOURS * 3600


@pytest.mark.parametrize("name", ["SourceUrl", "VideoEncodeParams", "AudioEncodeParams"])
def test_deprecated_start_members_are_refused_by_name(name: str) -> None:
    """Both sites' api.json mark these StartStreamIngest members disabled."""
    [message] = problems(StartStreamIngest, {**START, name: ["https://a.b/c.mp4"] if name == "SourceUrl" else {}})
    assert message.startswith(f"{name} is deprecated")
