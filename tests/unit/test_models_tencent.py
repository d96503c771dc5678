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
from bot.providers.tencent_models import (
    START_UPDATE_REGIONS,
    StartStreamIngest,
    TaskRef,
    UpdateStreamIngest,
    check_region,
)

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
)


@settings(max_examples=200, deadline=None)
@given(
    sdk_app_id=st.integers(1, 2**63),
    task_id=st.text(st.characters(blacklist_categories=("Cs", "Z", "Cc")), min_size=1, max_size=40),
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
    assert UpdateStreamIngest.model_validate({"SdkAppId": 1, "TaskId": "t", "Volume": 200}, context={"site": "china"})
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
    assert UpdateStreamIngest.model_validate({"SdkAppId": 1, "TaskId": "t", **field}, context={"site": "china"})


def test_tempo_must_be_a_documented_step() -> None:
    [message] = problems(UpdateStreamIngest, {"SdkAppId": 1, "TaskId": "t", "Tempo": 1.1}, "china")
    assert message.startswith("Tempo must be one of 0.5, 0.75, 1.0")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"TaskId": "t"}, "SdkAppId: is required"),
        ({"SdkAppId": 1}, "TaskId: is required"),
        ({"SdkAppId": "1400000000", "TaskId": "t"}, "SdkAppId: Input should be a valid integer"),
        ({"SdkAppId": 0, "TaskId": "t"}, "SdkAppId: must be in [1, "),
        ({"SdkAppId": 1, "TaskId": "  "}, "TaskId: must not be empty"),
        ({"SdkAppId": 1, "TaskId": "t", "StreamUrl": "ftp://a.b/c"}, "StreamUrl: must be an http, https, rtmp or rtmps URL"),
        ({"SdkAppId": 1, "TaskId": "t", "StreamUrl": "https://a.b/has space.mp4"}, "StreamUrl: must be an"),
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
