"""Volcengine models refuse every value providers.md §1.2 says the service would reject or silently reset."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bot.providers.errors import validation_problems
from bot.providers.volcengine_models import (
    GetPushMixedStreamToCDNTask,
    PushMixedStreamToCDNTaskInfo,
    StartPushMixedStreamToCDN,
    UpdatePushMixedStreamToCDN,
    update_body,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "volcengine_update_example.json"


def seed_body() -> dict[str, Any]:
    """The API page's own Update example (tests/fixtures/volcengine_update_example.json says where from)."""
    body: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))["body"]
    return body


def problems_for(body: dict[str, Any], model: type = UpdatePushMixedStreamToCDN, context: Any = None) -> list[str]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(body, context=context)
    return validation_problems(info.value)


def test_seed_example_body_passes_and_round_trips() -> None:
    body = seed_body()
    model = UpdatePushMixedStreamToCDN.model_validate(body)
    out = model.body()
    assert out["TargetStreams"]["StreamList"][1] == {"UserId": "Your_UserId_4", "Index": 1, "StreamType": 1}
    assert out["Layout"]["CustomLayout"]["Regions"][1]["RenderMode"] == 1
    assert out["Layout"]["CustomLayout"]["Canvas"] == {"Width": 860, "Height": 340, "Background": "#303342"}
    assert "IsUpdatePartialParam" not in out and "SequenceNumber" not in out, "unset fields must be left out"
    assert UpdatePushMixedStreamToCDN.model_validate(out).body() == out


REGION = ("Layout", "CustomLayout", "Regions", 0)
CANVAS = ("Layout", "CustomLayout", "Canvas")

# (path, bad value, field path expected in the message, words of the valid range expected in the message)
CASES: list[tuple[tuple[Any, ...], Any, str, str]] = [
    (("AppId",), "bad id!", "AppId", "1-128 characters"),
    (("RoomId",), "x" * 129, "RoomId", "1-128 characters"),
    (("TaskId",), "", "TaskId", "1-128 characters"),
    (("TargetStreams", "StreamList", 0, "UserId"), "has space", "TargetStreams.StreamList[0].UserId", "1-128"),
    (("TargetStreams", "StreamList", 1, "StreamType"), 2, "TargetStreams.StreamList[1].StreamType", "one of 0, 1"),
    (("TargetStreams", "StreamList", 1, "Index"), 0, "TargetStreams", "must be unique"),
    ((*CANVAS, "Width"), 861, "Layout.CustomLayout.Canvas.Width", "even number in [2, 1920]"),
    ((*CANVAS, "Height"), 1922, "Layout.CustomLayout.Canvas.Height", "even number in [2, 1920]"),
    ((*CANVAS, "Width"), 0, "Layout.CustomLayout.Canvas.Width", "even number in [2, 1920]"),
    ((*CANVAS, "Background"), "#30334", "Layout.CustomLayout.Canvas.Background", "#RRGGBB"),
    ((*CANVAS, "Background"), "303342", "Layout.CustomLayout.Canvas.Background", "#RRGGBB"),
    ((*CANVAS, "BackgroundImage"), "https://a.b/bg.gif", "Canvas.BackgroundImage", "JPG, JPEG or PNG"),
    ((*CANVAS, "BackgroundImage"), "https://a.b/" + "x" * 1020 + ".png", "Canvas.BackgroundImage", "1024 bytes"),
    ((*REGION, "StreamIndex"), 7, "Regions[0].StreamIndex 7", "matches no"),
    ((*REGION, "WidthProportion"), 0, "Regions[0].WidthProportion", "(0, 1]"),
    ((*REGION, "HeightProportion"), 1.01, "Regions[0].HeightProportion", "(0, 1]"),
    ((*REGION, "LocationX"), 1, "Regions[0].LocationX", "[0, 1)"),
    ((*REGION, "LocationY"), -0.1, "Regions[0].LocationY", "[0, 1)"),
    ((*REGION, "LocationX"), 0.6, "Regions[0]", "LocationX + WidthProportion must be at most 1"),
    ((*REGION, "ZOrder"), 101, "Regions[0].ZOrder", "[0, 100]"),
    ((*REGION, "Alpha"), 0, "Regions[0].Alpha", "(0, 1]"),
    ((*REGION, "Alpha"), 1.5, "Regions[0].Alpha", "(0, 1]"),
    ((*REGION, "RenderMode"), 4, "Regions[0].RenderMode", "one of 0, 1, 2, 3"),
    ((*REGION, "MediaType"), 3, "Regions[0].MediaType", "one of 0, 1, 2"),
    ((*REGION, "AlternateImage"), "https://a.b/" + "y" * 1020, "Regions[0].AlternateImage", "1024 characters"),
    ((*REGION, "AlternateImage"), "https://a.b/slate.webp", "Regions[0].AlternateImage", "JPG, JPEG or PNG"),
    ((*REGION, "AlternateImageFillMode"), 2, "Regions[0].AlternateImageFillMode", "one of 0, 1"),
    ((*REGION, "CornerRadius"), 1.2, "Regions[0].CornerRadius", "(0, 1]"),
    ((*REGION, "SourceCrop"), {"LocationX": 1.0}, "Regions[0].SourceCrop.LocationX", "[0, 1)"),
    ((*REGION, "SourceCrop"), {"WidthProportion": 0}, "Regions[0].SourceCrop.WidthProportion", "(0, 1]"),
    ((*REGION, "SpatialPosition"), [0, 101, 0], "Regions[0].SpatialPosition", "[-100, 100]"),
    ((*REGION, "SpatialPosition"), [0, 1], "Regions[0].SpatialPosition", "three integers"),
    ((*REGION, "ApplySpatialAudio"), "yes", "Regions[0].ApplySpatialAudio", "boolean"),
    (("Encode", "VideoWidth"), 641, "Encode.VideoWidth", "even number in [2, 1920]"),
    (("Encode", "VideoHeight"), 1921, "Encode.VideoHeight", "even number in [2, 1920]"),
    (("Encode", "VideoFps"), 0, "Encode.VideoFps", "[1, 60]"),
    (("Encode", "VideoFps"), 61, "Encode.VideoFps", "[1, 60]"),
    (("Encode", "VideoBitrate"), 10001, "Encode.VideoBitrate", "[1, 10000] Kbps"),
    (("Encode", "VideoBitrate"), 0, "Encode.VideoBitrate", "leave it out for adaptive"),
    (("Encode", "VideoGop"), 6, "Encode.VideoGop", "[1, 5] seconds"),
    (("Encode", "AudioCodec"), 1, "Encode.AudioCodec", "0 AAC"),
    (("Encode", "AudioBitrate"), 31, "Encode.AudioBitrate", "[32, 192] Kbps"),
    (("Encode", "AudioBitrate"), 193, "Encode.AudioBitrate", "[32, 192] Kbps"),
    (("Encode", "AudioSampleRate"), 22050, "Encode.AudioSampleRate", "32000, 44100, 48000"),
    (("Encode", "AudioChannels"), 3, "Encode.AudioChannels", "one of 1, 2"),
    (("Encode", "VideoCodec"), 1, "Encode.VideoCodec", "cannot be changed by Update"),
    (("Encode", "AudioProfile"), 0, "Encode.AudioProfile", "cannot be changed by Update"),
    (("Control", "MaxIdleTime"), 100, "Control.MaxIdleTime", "cannot be changed by Update"),
    (("Control", "MediaType"), 1, "Control.MediaType", "cannot be changed by Update"),
    (("Control", "PushStreamMode"), 1, "Control.PushStreamMode", "cannot be changed by Update"),
    (("Control", "FrameInterpolationMode"), 1, "Control.FrameInterpolationMode", "cannot be changed by Update"),
    # Go SDK model.go, UpdatePushMixedStreamToCDNBodyControl has these four too; Update still cannot change them
    (("Control", "TalkVolume"), 10, "Control.TalkVolume", "cannot be changed by Update"),
    (("Control", "MaxRecordTime"), 0, "Control.MaxRecordTime", "cannot be changed by Update"),
    (("Control", "VolumeIndicationInterval"), 2, "Control.VolumeIndicationInterval", "cannot be changed by Update"),
    (("Control", "VolumeIndicationMode"), True, "Control.VolumeIndicationMode", "cannot be changed by Update"),
    (
        ("Control", "SpatialConfig", "AudienceSpatialPosition"),
        [0, 0, -101],
        "Control.SpatialConfig.AudienceSpatialPosition",
        "[-100, 100]",
    ),
    (
        ("Control", "SpatialConfig", "AudienceSpatialOrientation"),
        {"Forward": [1, 0, 0], "Right": [1, 1, 0], "Up": [0, 0, 1]},
        "Control.SpatialConfig.AudienceSpatialOrientation",
        "mutually perpendicular",
    ),
    (("Layout", "LayoutMode"), 0, "Layout.LayoutMode", "must be 2 (custom)"),
    (("Layout", "MainVideoStream"), {"UserId": "u1"}, "Layout.MainVideoStream", "cannot be changed by Update"),
    (("Layout", "MainVideoStreamIndex"), 0, "Layout.MainVideoStreamIndex", "cannot be changed by Update"),
    (("IsUpdatePartialParam",), "true", "IsUpdatePartialParam", "boolean"),
    (("SequenceNumber",), 2**31, "SequenceNumber", "[0, 2147483647]"),
    (("SequenceNumber",), -1, "SequenceNumber", "what the service does with a negative value is not documented"),
    (("TargetStreams", "StreamList", 0, "Index"), -1, "TargetStreams.StreamList[0].Index", "not documented"),
    (("SequenceNumber",), "3", "SequenceNumber", "integer"),
    (("Layot",), {}, "Layot", "not a field this action accepts"),
    ((*REGION, "Zorder"), 1, "Regions[0].Zorder", "not a field this action accepts"),
]


def set_path(body: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    node: Any = body
    for key in path[:-1]:
        if isinstance(node, dict) and key not in node:
            node[key] = {}
        node = node[key]
    node[path[-1]] = value


@pytest.mark.parametrize(
    ("path", "value", "where", "valid"), CASES, ids=[".".join(map(str, c[0])) + f"={c[1]!r}"[:40] for c in CASES]
)
def test_each_rule_refuses_with_field_path_and_range(path: tuple[Any, ...], value: Any, where: str, valid: str) -> None:
    body = seed_body()
    set_path(body, path, value)
    problems = problems_for(body)
    joined = "\n".join(problems)
    assert where in joined, joined
    assert valid in joined, joined


@pytest.mark.parametrize("field", ["AppId", "RoomId", "TaskId"])
def test_required_ids(field: str) -> None:
    body = seed_body()
    del body[field]
    assert problems_for(body) == [f"{field}: is required"]


@pytest.mark.parametrize("field", ["StreamIndex", "WidthProportion", "HeightProportion"])
def test_required_region_fields(field: str) -> None:
    body = seed_body()
    del body["Layout"]["CustomLayout"]["Regions"][1][field]
    assert f"Layout.CustomLayout.Regions[1].{field}: is required" in problems_for(body)


def test_audio_bitrate_capped_by_profile_from_context() -> None:
    body = seed_body()
    body["Encode"] = {"AudioBitrate": 96, "AudioChannels": 1}
    assert UpdatePushMixedStreamToCDN.model_validate(body, context={"audio_profile": 0})
    problems = problems_for(body, context={"audio_profile": 1})
    assert any("at most 64 Kbps with AudioProfile HE-v1" in p for p in problems), problems
    body["Encode"] = {"AudioBitrate": 96, "AudioChannels": 2}
    assert UpdatePushMixedStreamToCDN.model_validate(body, context={"audio_profile": 1})
    assert any("at most 64 Kbps with AudioProfile HE-v2" in p for p in problems_for(body, context={"audio_profile": 2}))


def test_canvas_size_fixed_at_start_is_enforced_when_known() -> None:
    body = seed_body()
    assert UpdatePushMixedStreamToCDN.model_validate(body, context={"canvas": (860, 340)})
    problems = problems_for(body, context={"canvas": (1280, 720)})
    assert any("Canvas.Width is fixed at 1280" in p for p in problems), problems


def test_regions_need_a_stream_list_on_full_replace_but_not_on_partial_without_streams() -> None:
    body = seed_body()
    del body["TargetStreams"]
    assert any("need TargetStreams.StreamList" in p for p in problems_for(body))
    body["IsUpdatePartialParam"] = True
    assert UpdatePushMixedStreamToCDN.model_validate(body).is_update_partial_param is True


def test_region_that_exactly_fills_the_canvas_is_accepted() -> None:
    body = seed_body()
    regions = body["Layout"]["CustomLayout"]["Regions"]
    regions[0].update(LocationX=2 / 3, WidthProportion=1 / 3)
    assert UpdatePushMixedStreamToCDN.model_validate(body)


def test_update_body_builds_full_replace_and_refuses_unknown_sections() -> None:
    seed = seed_body()
    config = {k: seed[k] for k in ("TargetStreams", "Layout")}
    config["Encode"] = {"VideoBitrate": 2000}
    model = update_body("a", "r", "t", config, sequence_number=5, canvas=(860, 340))
    assert model.body()["SequenceNumber"] == 5
    assert model.body()["Encode"] == {"VideoBitrate": 2000}
    with pytest.raises(ValueError, match="not part of a task configuration: PushURL"):
        update_body("a", "r", "t", {"PushURL": "rtmp://x/y"})


def test_start_requires_rtmp_push_url_and_allows_start_only_fields() -> None:
    body = seed_body()
    body["PushURL"] = "rtmp://push.example.com/live/s"
    body["Encode"] = {"VideoCodec": 1, "AudioProfile": 2, "AudioBitrate": 64}
    body["Control"] = {"MaxIdleTime": 600, "PushStreamMode": 1}
    start = StartPushMixedStreamToCDN.model_validate(body)
    assert start.body()["PushURL"] == "rtmp://push.example.com/live/s"
    bad = copy.deepcopy(body)
    bad["PushURL"] = "https://push.example.com/live/s"
    assert any(p.startswith("PushURL: must be an rtmp URL") for p in problems_for(bad, StartPushMixedStreamToCDN))
    bad = copy.deepcopy(body)
    bad["Control"]["MaxIdleTime"] = 5
    assert "Control.MaxIdleTime: must be in [10, 86400] seconds, got 5" in problems_for(bad, StartPushMixedStreamToCDN)
    bad = copy.deepcopy(body)
    bad["SequenceNumber"] = 1
    assert "SequenceNumber: is not a field this action accepts" in problems_for(bad, StartPushMixedStreamToCDN)


def test_get_needs_task_or_user_and_renders_query() -> None:
    with pytest.raises(ValidationError, match="TaskId or UserId is required"):
        GetPushMixedStreamToCDNTask.model_validate({"AppId": "a", "RoomId": "r"})
    query = GetPushMixedStreamToCDNTask.model_validate({"AppId": "a", "RoomId": "r", "TaskId": "t"}).query()
    assert query == {"AppId": "a", "RoomId": "r", "TaskId": "t"}


def test_get_result_tolerates_unknown_and_odd_fields() -> None:
    info = PushMixedStreamToCDNTaskInfo.model_validate(
        {"Status": 2, "PushStreamState": 5, "NewField": 1, "Layout": {"LayoutMode": 2}, "Encode": {"VideoFps": 99}}
    )
    assert info.running and info.status_text == "running" and info.push_state_text == "pushing"
    assert info.configuration() == {"Layout": {"LayoutMode": 2}, "Encode": {"VideoFps": 99}}


def test_corner_radius_the_service_would_ignore_is_refused() -> None:
    """providers.md §1.2: a CornerRadius above half the region's shorter side is ignored, silently."""
    body = seed_body()
    canvas = body["Layout"]["CustomLayout"]["Canvas"]
    region = body["Layout"]["CustomLayout"]["Regions"][0]
    short = min(region["WidthProportion"] * canvas["Width"], region["HeightProportion"] * canvas["Height"])
    limit = short / 2 / canvas["Width"]
    region["CornerRadius"] = round(limit * 0.99, 6)
    assert UpdatePushMixedStreamToCDN.model_validate(body)
    region["CornerRadius"] = round(min(1.0, limit * 1.01), 6)
    [problem] = problems_for(body)
    assert problem.startswith("Layout.CustomLayout.Regions[0].CornerRadius") and "shorter side" in problem
    # without a canvas in the body, the size the task started with decides
    del body["Layout"]["CustomLayout"]["Canvas"]
    assert UpdatePushMixedStreamToCDN.model_validate(body, context={"canvas": (1920, 1920)})
    assert problems_for(body, context={"canvas": (canvas["Width"], canvas["Height"])})
    start = {**body, "PushURL": "rtmp://push.example.com/live/s"}
    start["Layout"]["CustomLayout"]["Regions"][0]["CornerRadius"] = 0.9  # 640x480 by default: far too round
    assert any("CornerRadius" in p for p in problems_for(start, StartPushMixedStreamToCDN))


# --- issue 11: provider fidelity, each row against its source ----------------------------------------------

THREE = {"StreamList": [{"UserId": "alice", "Index": 0}, {"UserId": "bob", "Index": 1}, {"UserId": "carol", "Index": 2}]}
TWO_REGIONS = [
    {"StreamIndex": 0, "WidthProportion": 0.5, "HeightProportion": 1},
    {"StreamIndex": 1, "LocationX": 0.5, "WidthProportion": 0.5, "HeightProportion": 1},
]


def with_pairing(streams: dict[str, Any], regions: list[dict[str, Any]]) -> dict[str, Any]:
    body = seed_body()
    body["TargetStreams"] = copy.deepcopy(streams)
    body["Layout"]["CustomLayout"]["Regions"] = copy.deepcopy(regions)
    return body


def test_v1_every_stream_needs_exactly_one_region() -> None:
    """Go SDK model.go, CustomLayout.Regions: in a custom layout every StreamList stream needs its region;
    Regions[].StreamIndex and StreamList[].Index correspond one to one, else InvalidParameter."""
    assert problems_for(with_pairing(THREE, TWO_REGIONS)) == [
        "TargetStreams.StreamList[2] (UserId carol) has no region: no Layout.CustomLayout.Regions[].StreamIndex is 2; "
        "in a custom layout every stream needs exactly one region"
    ]
    no_index = {"StreamList": [*THREE["StreamList"][:2], {"UserId": "carol"}]}
    [problem] = problems_for(with_pairing(no_index, TWO_REGIONS))
    assert problem.startswith("TargetStreams.StreamList[2] (UserId carol) has no Index")
    doubled = [TWO_REGIONS[0], {**TWO_REGIONS[1], "StreamIndex": 0}]
    found = problems_for(with_pairing({"StreamList": THREE["StreamList"][:2]}, doubled))
    assert any("(UserId alice) is shown by 2 regions" in p for p in found)
    assert any("(UserId bob) has no region" in p for p in found)
    three_regions = [*TWO_REGIONS, {"StreamIndex": 2, "LocationY": 0.5, "WidthProportion": 0.5, "HeightProportion": 0.5}]
    three_regions[1] = {**three_regions[1], "HeightProportion": 0.5}
    assert UpdatePushMixedStreamToCDN.model_validate(with_pairing(THREE, three_regions))


def test_v1_full_replace_without_layout_leaves_streams_without_regions() -> None:
    """A full replace resets the Regions it leaves out (API page, 接口行为), so streams alone cannot stand."""
    body = seed_body()
    del body["Layout"]
    found = problems_for(body)
    assert any("(UserId Your_UserId_3) has no region" in p for p in found), found


def test_v1_partial_bodies_are_paired_with_the_task_in_force_when_it_is_known() -> None:
    body = {"AppId": "a", "RoomId": "r", "TaskId": "t", "IsUpdatePartialParam": True}
    body["Layout"] = {"CustomLayout": {"Regions": TWO_REGIONS}}
    in_force = {"TargetStreams": THREE, "Layout": {"LayoutMode": 2, "CustomLayout": {"Regions": []}}}
    assert UpdatePushMixedStreamToCDN.model_validate(body)  # without the task, the provider decides
    [problem] = problems_for(body, context={"configuration": in_force})
    assert problem.startswith("TargetStreams.StreamList[2] (in force) (UserId carol) has no region")
    two = {"TargetStreams": {"StreamList": THREE["StreamList"][:2]}}
    assert UpdatePushMixedStreamToCDN.model_validate(body, context={"configuration": two})
    streams_only = {**body, "TargetStreams": THREE}
    del streams_only["Layout"]
    in_force = {"Layout": {"CustomLayout": {"Regions": TWO_REGIONS}}}
    [problem] = problems_for(streams_only, context={"configuration": in_force})
    assert "(UserId carol) has no region: no Layout.CustomLayout.Regions (in force)[].StreamIndex is 2" in problem


def test_v1_start_pairs_only_in_custom_layout() -> None:
    start = {**with_pairing(THREE, TWO_REGIONS), "PushURL": "rtmp://push.example.com/live/s"}
    assert any("(UserId carol) has no region" in p for p in problems_for(start, StartPushMixedStreamToCDN))
    start["Layout"] = {"LayoutMode": 0}
    assert StartPushMixedStreamToCDN.model_validate(start)


def test_v4_start_takes_the_four_control_fields_and_their_ranges() -> None:
    """Go SDK model.go, StartPushMixedStreamToCDNBodyControl: MaxRecordTime (>= 0, 0 = no limit), TalkVolume
    [0, 255], VolumeIndicationInterval [1, ∞) seconds, VolumeIndicationMode bool."""
    start = {**seed_body(), "PushURL": "rtmp://push.example.com/live/s"}
    start["Control"] = {"MaxRecordTime": 0, "TalkVolume": 255, "VolumeIndicationInterval": 1, "VolumeIndicationMode": True}
    assert StartPushMixedStreamToCDN.model_validate(start).body()["Control"]["TalkVolume"] == 255
    start["Control"] = {"TalkVolume": 256, "VolumeIndicationInterval": 0, "MaxRecordTime": -1}
    found = problems_for(start, StartPushMixedStreamToCDN)
    assert "Control.TalkVolume: must be in [0, 255], got 256" in found
    assert any(p.startswith("Control.VolumeIndicationInterval: must be in [1, ") for p in found)
    assert any(p.startswith("Control.MaxRecordTime: must be in [0, ") for p in found)


def test_v4_update_says_cannot_be_changed_not_unknown() -> None:
    body = seed_body()
    body["Control"] = {"TalkVolume": 10}
    assert problems_for(body) == ["Control.TalkVolume cannot be changed by Update; only Control.SpatialConfig can"]


@pytest.mark.parametrize(
    "url",
    ["https://img.example.com/bg?id=7", "https://img.example.com/bg.JPG", "https://img.example.com/render.php?bg=1.gif"],
)
def test_v5_background_image_need_not_end_in_an_image_extension(url: str) -> None:
    """Go SDK model.go, Canvas.BackgroundImage: a URL of at most 1024 bytes to a JPG/JPEG/PNG image; nothing about
    how the URL is spelled. Only a name that says another format is refused (README: an assumption)."""
    body = seed_body()
    body["Layout"]["CustomLayout"]["Canvas"]["BackgroundImage"] = url
    assert UpdatePushMixedStreamToCDN.model_validate(body).body()["Layout"]["CustomLayout"]["Canvas"]["BackgroundImage"] == url


def test_v6_he_aac_v2_takes_stereo_only() -> None:
    """Go SDK model.go, Encode.AudioProfile: 2 (HE-AAC v2) supports only stereo output."""
    start = {**seed_body(), "PushURL": "rtmp://push.example.com/live/s", "Encode": {"AudioProfile": 2, "AudioChannels": 1}}
    assert any("AudioChannels must be 2 with AudioProfile HE-v2" in p for p in problems_for(start, StartPushMixedStreamToCDN))
    update = {**seed_body(), "Encode": {"AudioChannels": 1}}
    assert any("AudioChannels must be 2" in p for p in problems_for(update, context={"audio_profile": 2}))
    assert UpdatePushMixedStreamToCDN.model_validate(update, context={"audio_profile": 1})


def test_v7_zero_and_the_int32_maximum_are_taken() -> None:
    """Index and SequenceNumber are int32 (Go SDK); rtcops takes [0, 2147483647] and says why it stops at 0."""
    body = seed_body()
    body["SequenceNumber"] = 2**31 - 1
    body["TargetStreams"]["StreamList"][0]["Index"] = 0
    assert UpdatePushMixedStreamToCDN.model_validate(body).sequence_number == 2**31 - 1


def test_update_context_from_what_get_reports() -> None:
    info = PushMixedStreamToCDNTaskInfo.model_validate(
        {
            "Status": 2,
            "Layout": {"LayoutMode": 2, "CustomLayout": {"Canvas": {"Width": 1280, "Height": 720}, "Regions": TWO_REGIONS}},
            "Encode": {"AudioProfile": 2},
            "TargetStreams": THREE,
        }
    )
    context = info.update_context()
    assert (context["canvas"], context["audio_profile"], context["layout_mode"]) == ((1280, 720), 2, 2)
    assert context["configuration"]["TargetStreams"] == THREE
    adaptive = PushMixedStreamToCDNTaskInfo.model_validate({"Status": 2, "Layout": {"LayoutMode": 0}})
    [problem] = problems_for(seed_body(), context=adaptive.update_context())
    assert problem.startswith("Update works only on tasks started with Layout.LayoutMode 2 (custom); this task runs LayoutMode 0")
