"""Diffs read like a person describing the change: moves, resizes, arrivals, departures, encoder settings."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.layouts.diff import diff
from bot.layouts.presets import StreamRef, build_preset

CANVAS = (1280, 720)


def _preset(name: str, users: str, **options: Any) -> dict[str, Any]:
    streams = [StreamRef(u.split(":")[0], 1 if u.endswith(":screen") else 0) for u in users.split(",")]
    return build_preset(name, CANVAS, streams, **options).config_patch()


def _config(*regions: tuple[str, float, float, float, float], **extra: Any) -> dict[str, Any]:
    """Regions as (user, x, y, w, h); streams are numbered in reverse so that indexes differ from positions."""
    n = len(regions)
    return {
        "TargetStreams": {"StreamList": [{"UserId": r[0], "Index": n - 1 - i} for i, r in enumerate(regions)]},
        "Layout": {"LayoutMode": 2, "CustomLayout": {"Canvas": {"Width": 1280, "Height": 720}, "Regions": [
            {"StreamIndex": n - 1 - i, "LocationX": r[1], "LocationY": r[2], "WidthProportion": r[3], "HeightProportion": r[4]}
            for i, r in enumerate(regions)
        ]}},
        **extra,
    }


def test_move_into_an_inset() -> None:
    before = _preset("side-by-side", "host,guest")
    after = _preset("pip", "host,guest", corner="bl", background="#303342")
    d = diff(before, after)
    assert not d.empty
    assert d.lines == [
        "background #000000 → #303342",
        "host moved from the left half to full frame; resized 640×720 → 1280×720 px",
        "guest moved from the right half to the bottom-left inset; resized 640×720 → 320×180 px; z-order 0 → 1 (raised)",
    ]


def test_move_keeping_size() -> None:
    before = _config(("alice", 0, 0, 0.5, 1), ("bob", 0.5, 0, 0.5, 1))
    after = _config(("alice", 0.5, 0, 0.5, 1), ("bob", 0, 0, 0.5, 1))
    assert diff(before, after).lines == [
        "alice moved from the left half to the right half",
        "bob moved from the right half to the left half",
    ]


def test_resize_in_place_and_small_shift() -> None:
    before = _config(("alice", 0.7, 0.7, 0.25, 0.25), ("bob", 0, 0, 0.5, 1))
    after = _config(("alice", 0.8, 0.8, 0.2, 0.2), ("bob", 0.01, 0, 0.5, 1))
    lines = diff(before, after).lines
    assert lines[0] == "alice resized 320×180 → 256×144 px (the bottom-right inset)"
    assert lines[1] == "bob shifted within the left half: top-left corner 0,0 → 13,0 px"


def test_sizes_are_pixels_of_each_side_s_canvas() -> None:
    # same area, other shape: a real resize, which a share of the canvas's area would hide
    assert diff(_config(("a", 0, 0, 0.5, 1)), _config(("a", 0, 0, 1, 0.5))).lines == [
        "a moved from the left half to the top half; resized 640×720 → 1280×360 px"
    ]
    bigger = _config(("a", 0, 0, 0.5, 1))
    bigger["Layout"]["CustomLayout"]["Canvas"] = {"Width": 1920, "Height": 1080}
    assert diff(_config(("a", 0, 0, 0.5, 1)), bigger).lines == ["canvas 1280×720 → 1920×1080"]
    smaller = _config(("a", 0, 0, 0.25, 1))
    smaller["Layout"]["CustomLayout"]["Canvas"] = {"Width": 1920, "Height": 1080}
    assert diff(_config(("a", 0, 0, 0.5, 1)), smaller).lines == [
        "canvas 1280×720 → 1920×1080",
        "a moved from the left half to column 1 of 4; resized 640×720 → 480×1080 px",
    ]


def test_additions_and_removals() -> None:
    before = _config(("host", 0, 0, 1, 1), ("bob", 0.7, 0.7, 0.25, 0.25))
    after = _config(("host", 0, 0, 1, 1), ("alice", 0.5, 0, 0.5, 0.5))
    assert diff(before, after).lines == ["bob removed", "alice added at 640×360 px (the top-right quarter)"]
    assert diff({}, after).lines == [
        "host added at 1280×720 px (full frame)",
        "alice added at 640×360 px (the top-right quarter)",
    ]
    assert diff(after, {}).lines == ["host removed", "alice removed"]


def test_screen_share_is_named_apart_from_the_camera() -> None:
    before = _preset("side-by-side", "alice,bob")
    after = _preset("speaker", "alice,bob,alice:screen")
    lines = diff(before, after).lines
    assert "alice (screen) added at 1280×540 px (a 75% high band at the top)" in lines
    assert any(line.startswith("alice moved from the left half to") for line in lines)


def test_region_left_out_but_still_mixed_is_heard_not_seen() -> None:
    before = _config(("a", 0, 0, 0.5, 1), ("b", 0.5, 0, 0.5, 1))
    after = copy.deepcopy(before)
    after["Layout"]["CustomLayout"]["Regions"].pop()
    assert diff(before, after).lines == ["b removed from the picture, still mixed (audio only)"]
    after["TargetStreams"]["StreamList"].append({"UserId": "c", "Index": 7})
    assert diff(before, after).lines[-1] == "c added to the mix without a region (audio only)"
    everyone = {**after, "TargetStreams": {"StreamList": []}}
    assert "mixed streams a, b, c → every stream in the room" in diff(after, everyone).lines


def test_z_order_alpha_render_mode_and_media() -> None:
    before = _config(("a", 0, 0, 1, 1), ("b", 0.7, 0.7, 0.25, 0.25))
    after = copy.deepcopy(before)
    region = after["Layout"]["CustomLayout"]["Regions"][1]
    region.update(ZOrder=3, Alpha=0.8, RenderMode=2, MediaType=2, CornerRadius=0.1)
    assert diff(before, after).lines == [
        "b z-order 0 → 3 (raised); opacity 100% → 80%; render mode stretch → fit; media audio+video → video only; "
        "corner radius none → 0.1"
    ]


def test_encode_changes_cover_every_field() -> None:
    before = _config(("a", 0, 0, 1, 1), Encode={"VideoBitrate": 2000})
    after = _config(("a", 0, 0, 1, 1), Encode={
        "VideoBitrate": 3000, "VideoFps": 30, "VideoGop": 2, "VideoWidth": 1280, "VideoHeight": 720, "VideoCodec": 1,
        "AudioCodec": 0, "AudioProfile": 1, "AudioBitrate": 128, "AudioSampleRate": 44100, "AudioChannels": 1,
    })
    assert diff(before, after).lines == [
        "output size 640×480 → 1280×720",
        "bitrate 2000 → 3000 Kbps",
        "frame rate 15 → 30 fps",
        "GOP 4 → 2 s",
        "video codec H.264 → ByteVC1",
        "audio profile LC → HE-v1",
        "audio bitrate 64 → 128 Kbps",
        "audio sample rate 48000 → 44100 Hz",
        "audio channels stereo → mono",
    ]
    assert diff(after, {**after, "Encode": {**after["Encode"], "VideoBitrate": 0}}).lines == ["bitrate 3000 Kbps → adaptive"]


def test_spatial_config_and_background_image() -> None:
    before = _config(("a", 0, 0, 1, 1))
    spatial = {"EnableSpatialRender": True, "AudienceSpatialPosition": [1, 2, 3]}
    after = _config(("a", 0, 0, 1, 1), Control={"SpatialConfig": spatial})
    after["Layout"]["CustomLayout"]["Canvas"]["BackgroundImage"] = "https://cdn.example/bg.png"
    assert diff(before, after).lines == [
        "background image none → https://cdn.example/bg.png",
        "spatial audio off → on",
        "audience position [0,0,0] → [1,2,3]",
    ]


def test_no_change() -> None:
    config = _preset("grid", "alice,bob,carol:screen", background="#303342")
    same = diff(config, copy.deepcopy(config))
    assert same.empty and same.lines == [] and same.text() == "no change" and same.mrkdwn() == "_no change_"
    assert diff({}, {}).empty
    # the same picture with streams renumbered and regions reordered is no change either
    a = _config(("x", 0, 0, 0.5, 1), ("y", 0.5, 0, 0.5, 1))
    b = _config(("y", 0.5, 0, 0.5, 1), ("x", 0, 0, 0.5, 1))
    assert diff(a, b).empty
    # a field left out is its default
    assert diff(_config(("x", 0, 0, 1, 1), Encode={"VideoFps": 15}), _config(("x", 0, 0, 1, 1))).empty


def test_renderings() -> None:
    d = diff(_config(("a<b", 0, 0, 1, 1)), _config(("a<b", 0, 0, 0.5, 1)))
    assert d.text() == "- a<b moved from full frame to the left half; resized 1280×720 → 640×720 px"
    assert d.mrkdwn() == "• *a&lt;b* moved from full frame to the left half; resized 1280×720 → 640×720 px"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-2, 2) | st.text(max_size=4),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["Layout", "CustomLayout", "Regions", "Canvas", "TargetStreams", "StreamList", "UserId", "Index",
                         "StreamIndex", "WidthProportion", "Encode", "Control", "SpatialConfig", "Background"]),
        children, max_size=4),
    max_leaves=20,
)


@given(before=json_values, after=json_values)
def test_any_json_gives_a_diff_not_a_traceback(before: Any, after: Any) -> None:
    d = diff(before, after)
    assert isinstance(d.text(), str) and isinstance(d.mrkdwn(), str)
