"""Presets validate through the provider models for every stream count and canvas they support."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.layouts.geometry import PixelBox, placed_regions, to_pixels
from bot.layouts.presets import PRESETS, PresetError, StreamRef, build_preset, grid_shape, parse_stream_refs
from bot.providers.volcengine_models import Layout, Streams, update_body

CANVASES = [(640, 480), (1280, 720), (1920, 1080), (720, 1280), (1080, 1080)]


def _streams(n: int, screens: frozenset[int] = frozenset()) -> list[StreamRef]:
    return [StreamRef(f"user{i}", 1 if i in screens else 0) for i in range(n)]


def _boxes(config: dict[str, Any], canvas: tuple[int, int]) -> list[tuple[PixelBox, int]]:
    return [(to_pixels(r.box, canvas), r.z_order) for r in placed_regions(config)]


def _check(name: str, canvas: tuple[int, int], streams: list[StreamRef], **options: Any) -> dict[str, Any]:
    result = build_preset(name, canvas, streams, **options)
    assert isinstance(result.layout, Layout) and isinstance(result.target_streams, Streams)
    patch = result.config_patch()
    assert set(patch) == {"TargetStreams", "Layout"}
    # the provider model is the judge: a full Update carrying the patch, on a task started with this canvas
    update_body("app", "room", "task", patch, canvas=canvas)
    assert result.layout.layout_mode == 2
    assert result.layout.custom_layout is not None and result.layout.custom_layout.canvas is not None
    assert (result.layout.custom_layout.canvas.width, result.layout.custom_layout.canvas.height) == canvas
    listed = result.target_streams.stream_list or []
    assert [s.index for s in listed] == list(range(len(streams)))
    assert sorted((s.user_id, s.stream_type) for s in listed) == sorted((s.user_id, s.stream_type) for s in streams)
    regions = result.layout.custom_layout.regions or []
    assert sorted(r.stream_index for r in regions) == list(range(len(streams)))
    boxes = _boxes(patch, canvas)
    for box, _ in boxes:
        assert box.w >= 1 and box.h >= 1
        assert box.x >= 0 and box.y >= 0 and box.right <= canvas[0] and box.bottom <= canvas[1]
    if name == "pip":
        (main, main_z), *insets = boxes
        assert all(z > main_z and main.contains(b) for b, z in insets)
        others = [b for b, _ in insets]
    else:
        others = [b for b, _ in boxes]
        assert len({z for _, z in boxes}) == 1
    for a, b in itertools.combinations(others, 2):
        assert not a.intersects(b), f"{name} regions {a} and {b} overlap"
    return patch


def test_every_preset_every_supported_count_every_canvas() -> None:
    checked = 0
    for name, preset in PRESETS.items():
        for canvas in CANVASES:
            for n in range(preset.min_streams, preset.max_streams + 1):
                _check(name, canvas, _streams(n))
                checked += 1
    assert checked == 5 * (16 + 3 + 17 + 16 + 16)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_presets_with_options_and_screens_validate(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(PRESETS)))
    preset = PRESETS[name]
    canvas = data.draw(st.sampled_from(CANVASES))
    n = data.draw(st.integers(preset.min_streams, preset.max_streams))
    screens = data.draw(st.frozensets(st.integers(0, n - 1), max_size=2))
    options: dict[str, Any] = {"fit": data.draw(st.sampled_from(["keep", "fill"]))}
    if data.draw(st.booleans()):
        options["background"] = "#" + data.draw(st.text("0123456789abcdefABCDEF", min_size=6, max_size=6))
    if name == "pip":
        options["corner"] = data.draw(st.sampled_from(["tl", "tr", "bl", "br"]))
        options["size"] = data.draw(st.floats(0.1, 0.25))  # up to 3 insets fit at these sizes
        options["margin"] = data.draw(st.floats(0.0, 0.03))
    if name == "speaker":
        options["strip"] = data.draw(st.sampled_from(["bottom", "top", "left", "right"]))
        options["strip_size"] = data.draw(st.floats(0.1, 0.5))
    streams = _streams(n, screens)
    patch = _check(name, canvas, streams, **options)
    regions = patch["Layout"]["CustomLayout"]["Regions"]
    listed = patch["TargetStreams"]["StreamList"]
    by_index = {s["Index"]: s for s in listed}
    for region in regions:
        screen = by_index[region["StreamIndex"]].get("StreamType") == 1
        assert region["RenderMode"] == (2 if screen or options["fit"] == "keep" else 1)
    if screens:
        # the main slot (slot 0) shows a screen share
        assert by_index[regions[0]["StreamIndex"]]["StreamType"] == 1


def test_screen_share_takes_main_slot_unless_main_is_given() -> None:
    streams = [StreamRef("host"), StreamRef("guest"), StreamRef("host", 1)]
    result = build_preset("speaker", (1280, 720), streams)
    patch = result.config_patch()
    main = patch["Layout"]["CustomLayout"]["Regions"][0]
    assert main["WidthProportion"] == 1.0 and main["HeightProportion"] == 0.75
    assert patch["TargetStreams"]["StreamList"][main["StreamIndex"]] == {"UserId": "host", "StreamType": 1, "Index": 0}
    chosen = build_preset("speaker", (1280, 720), streams, main="guest").config_patch()
    assert chosen["TargetStreams"]["StreamList"][0]["UserId"] == "guest"


def test_grid_shapes() -> None:
    assert grid_shape(1280, 720, 1) == (1, 1)
    assert grid_shape(1280, 720, 4) == (2, 2)
    assert grid_shape(1280, 720, 2) == (1, 2)
    assert grid_shape(1920, 1080, 17) == (4, 5)
    rows, cols = grid_shape(720, 1280, 4)
    assert rows > cols


def test_background_and_image_options_reach_the_canvas() -> None:
    patch = build_preset(
        "grid", (640, 480), _streams(3), background="#303342", background_image="https://cdn.example/bg.png"
    ).config_patch()
    assert patch["Layout"]["CustomLayout"]["Canvas"] == {
        "Width": 640,
        "Height": 480,
        "Background": "#303342",
        "BackgroundImage": "https://cdn.example/bg.png",
    }
    # no background option: the task's own background is left alone
    assert "Background" not in build_preset("grid", (640, 480), _streams(3)).config_patch()["Layout"]["CustomLayout"]["Canvas"]


def test_string_options_from_the_command_line_are_parsed() -> None:
    patch = build_preset("pip", (1000, 500), _streams(2), **{"corner": "TL", "size": "0.2", "margin": "0"}).config_patch()
    inset = patch["Layout"]["CustomLayout"]["Regions"][1]
    assert (inset["LocationX"], inset["LocationY"], inset["WidthProportion"], inset["HeightProportion"]) == (0, 0, 0.2, 0.2)
    strip = build_preset("speaker", (1000, 500), _streams(3), **{"strip-size": "0.2", "strip": "left"}).config_patch()
    assert strip["Layout"]["CustomLayout"]["Regions"][0]["LocationX"] == 0.2


@pytest.mark.parametrize(
    ("name", "canvas", "count", "options", "words"),
    [
        ("mosaic", (640, 480), 2, {}, ["unknown preset 'mosaic'", "side-by-side, pip, grid, speaker, stack"]),
        ("pip", (640, 480), 2, {"corner": "middle"}, ["corner", "tl, tr, bl, br"]),
        ("pip", (640, 480), 2, {"size": 0.9}, ["size", "from 0.1 to 0.5", "0.9"]),
        ("pip", (640, 480), 2, {"size": "big"}, ["size", "must be a number"]),
        ("pip", (640, 480), 2, {"colour": "red"}, ["no option 'colour'", "corner, size, margin"]),
        ("grid", (640, 480), 2, {"fit": "zoom"}, ["fit", "keep, fill"]),
        ("grid", (640, 480), 2, {"background": "black"}, ["background", "#RRGGBB"]),
        ("grid", (640, 480), 2, {"background_image": "ftp://x/bg.gif"}, ["background-image", "http"]),
        ("speaker", (640, 480), 3, {"strip": "middle"}, ["strip", "bottom, top, left, right"]),
        ("speaker", (640, 480), 3, {"main": "zed"}, ["main", "'zed' is not one of the streams"]),
        ("grid", (640, 480), 18, {}, ["grid takes 1 to 17 streams, got 18"]),
        ("side-by-side", (640, 480), 1, {}, ["side-by-side takes 2 to 17 streams, got 1"]),
        ("pip", (640, 480), 5, {}, ["pip takes 2 to 4 streams, got 5"]),
        ("pip", (640, 480), 4, {"size": 0.4}, ["3 insets", "at most 2 fit"]),
        ("grid", (641, 480), 2, {}, ["canvas Width", "even number in [2, 1920]", "641"]),
        ("grid", (1280, 2160), 2, {}, ["canvas Height", "2160"]),
        ("grid", (2, 2), 17, {}, ["too small"]),
    ],
)
def test_bad_requests_say_what_is_valid(
    name: str, canvas: tuple[int, int], count: int, options: dict[str, Any], words: list[str]
) -> None:
    with pytest.raises(PresetError) as info:
        build_preset(name, canvas, _streams(count), **options)
    assert isinstance(info.value, ValueError)
    for word in words:
        assert word in str(info.value)


def test_bad_streams() -> None:
    with pytest.raises(PresetError, match="listed twice"):
        build_preset("grid", (640, 480), [StreamRef("a"), StreamRef("a")])
    build_preset("grid", (640, 480), [StreamRef("a"), StreamRef("a", 1)])
    with pytest.raises(PresetError, match="a-z A-Z 0-9"):
        build_preset("grid", (640, 480), [StreamRef("no spaces")])
    with pytest.raises(PresetError, match="camera or screen"):
        parse_stream_refs("alice:webcam")
    with pytest.raises(PresetError, match="no streams"):
        parse_stream_refs(" , ")
    assert parse_stream_refs("alice, bob:screen,carol:camera") == [StreamRef("alice"), StreamRef("bob", 1), StreamRef("carol")]
