"""Pixel tests on the PNGs: each region shows its own fill at its centre, and the higher ZOrder wins."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from bot.layouts import palette
from bot.layouts.geometry import Box, placed_regions, to_pixels
from bot.layouts.presets import PRESETS, StreamRef, build_preset
from bot.layouts.preview import PREVIEW_MAX, pair_origins, png_bytes, preview_box, preview_pair, preview_size, region_fill, render

CANVASES = [(640, 480), (1280, 720), (1920, 1080), (720, 1280), (1080, 1080)]


def _png(image: Image.Image) -> Image.Image:
    """Through PNG bytes and back, as the picture reaches Slack."""
    data = png_bytes(image)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return Image.open(io.BytesIO(data)).convert("RGB")


def _centre(config: dict[str, Any], index: int, canvas: tuple[int, int]) -> tuple[int, int]:
    region = placed_regions(config)[index]
    return preview_box(to_pixels(region.box, canvas), canvas).centre


@pytest.mark.parametrize("name", sorted(PRESETS))
@pytest.mark.parametrize("canvas", CANVASES)
def test_each_region_centre_shows_its_fill(name: str, canvas: tuple[int, int]) -> None:
    n = {"pip": 3, "speaker": 5}.get(name, 4)
    streams = [StreamRef(f"user{i}", 1 if i == 1 else 0) for i in range(n)]
    config = build_preset(name, canvas, streams, background="#303342").config_patch()
    image = _png(render(config))
    assert image.size == preview_size(canvas) and max(image.size) == PREVIEW_MAX
    fills = set()
    for i in range(n):
        assert image.getpixel(_centre(config, i, canvas)) == region_fill(i)
        fills.add(region_fill(i))
    assert len(fills) == n


def test_seventeen_distinct_fills() -> None:
    assert len({region_fill(i) for i in range(17)}) == 17


def _two_overlapping(z_first: int, z_second: int) -> dict[str, Any]:
    return {
        "TargetStreams": {"StreamList": [{"UserId": "low", "Index": 0}, {"UserId": "high", "Index": 1}]},
        "Layout": {"LayoutMode": 2, "CustomLayout": {"Canvas": {"Width": 1280, "Height": 720}, "Regions": [
            {"StreamIndex": 0, "LocationX": 0, "LocationY": 0, "WidthProportion": 0.6, "HeightProportion": 0.6,
             "ZOrder": z_first},
            {"StreamIndex": 1, "LocationX": 0.4, "LocationY": 0.4, "WidthProportion": 0.6, "HeightProportion": 0.6,
             "ZOrder": z_second},
        ]}},
    }


@pytest.mark.parametrize(("z_first", "z_second", "winner"), [(5, 1, 0), (1, 5, 1), (0, 0, 1)])
def test_higher_z_order_wins_where_regions_overlap(z_first: int, z_second: int, winner: int) -> None:
    canvas = (1280, 720)
    image = _png(render(_two_overlapping(z_first, z_second)))
    overlap = preview_box(to_pixels(Box(0.4, 0.4, 0.2, 0.2), canvas), canvas).centre
    assert image.getpixel(overlap) == region_fill(winner)
    # outside the overlap each shows its own colour
    assert image.getpixel(preview_box(to_pixels(Box(0, 0, 0.3, 0.3), canvas), canvas).centre) == region_fill(0)
    assert image.getpixel(preview_box(to_pixels(Box(0.7, 0.7, 0.3, 0.3), canvas), canvas).centre) == region_fill(1)


def test_pip_inset_is_drawn_over_the_main_region() -> None:
    canvas = (1920, 1080)
    config = build_preset("pip", canvas, [StreamRef("host"), StreamRef("guest")], corner="tr").config_patch()
    image = _png(render(config))
    assert image.getpixel(_centre(config, 1, canvas)) == region_fill(1)
    assert image.getpixel(_centre(config, 0, canvas)) == region_fill(0)


def test_alpha_blends_with_what_is_below() -> None:
    config = _two_overlapping(0, 1)
    config["Layout"]["CustomLayout"]["Regions"][1]["Alpha"] = 0.5
    image = _png(render(config))
    canvas = (1280, 720)
    over_background = image.getpixel(preview_box(to_pixels(Box(0.7, 0.7, 0.3, 0.3), canvas), canvas).centre)
    over_region = image.getpixel(preview_box(to_pixels(Box(0.4, 0.4, 0.2, 0.2), canvas), canvas).centre)
    fill, below = region_fill(1), region_fill(0)
    assert all(abs(c - f / 2) <= 1 for c, f in zip(over_background, fill, strict=True))
    assert all(abs(c - (f + b) / 2) <= 1 for c, f, b in zip(over_region, fill, below, strict=True))


def test_background_colour_and_checkerboard() -> None:
    canvas = (1280, 720)
    config = build_preset("grid", canvas, [StreamRef(f"u{i}") for i in range(3)], background="#303342").config_patch()
    empty_cell = (5, preview_size(canvas)[1] - 40)  # the short last row leaves the bottom-left corner bare
    assert _png(render(config)).getpixel(empty_cell) == (0x30, 0x33, 0x42)
    config["Layout"]["CustomLayout"]["Canvas"]["BackgroundImage"] = "https://cdn.example/bg.png"
    image = _png(render(config))
    assert image.getpixel(empty_cell) in palette.CHECKER
    assert image.getpixel((empty_cell[0] + 16, empty_cell[1])) in palette.CHECKER
    assert image.getpixel(empty_cell) != image.getpixel((empty_cell[0] + 16, empty_cell[1]))


def test_canvas_size_from_config_else_argument_else_default() -> None:
    assert render({}).size == preview_size((640, 480))
    assert render({}, (720, 1280)).size == preview_size((720, 1280))
    config = build_preset("stack", (720, 1280), [StreamRef("a"), StreamRef("b")]).config_patch()
    assert render(config, (1920, 1080)).size == preview_size((720, 1280))


def test_pair_is_deterministic_and_keeps_colours_per_person() -> None:
    canvas = (1280, 720)
    before = build_preset("side-by-side", canvas, [StreamRef("host"), StreamRef("guest")]).config_patch()
    after = build_preset("pip", canvas, [StreamRef("guest"), StreamRef("host")], corner="bl").config_patch()
    data = preview_pair(before, after)
    assert data == preview_pair(before, after)
    image = Image.open(io.BytesIO(data)).convert("RGB")
    (lx, ly), (rx, ry) = pair_origins(before, after)
    colour_of: dict[str, tuple[int, int, int]] = {}
    for config, (ox, oy) in ((before, (lx, ly)), (after, (rx, ry))):
        for i, region in enumerate(placed_regions(config)):
            cx, cy = _centre(config, i, canvas)
            pixel = image.getpixel((ox + cx, oy + cy))
            assert colour_of.setdefault(region.name, pixel) == pixel, f"{region.name} changed colour"
    assert colour_of == {"host": region_fill(0), "guest": region_fill(1)}


def test_pair_with_nothing_known_before() -> None:
    after = build_preset("grid", (1280, 720), [StreamRef("a"), StreamRef("b")]).config_patch()
    image = Image.open(io.BytesIO(preview_pair({}, after))).convert("RGB")
    (lx, ly), (rx, _) = pair_origins({}, after)
    assert rx > lx + preview_size((1280, 720))[0]
    assert image.getpixel((lx + 5, ly + 5)) == palette.EMPTY_CANVAS
    assert image.getpixel((0, 0)) == palette.BACKDROP


def test_odd_configurations_still_render() -> None:
    odd = {"Layout": {"LayoutMode": 0}, "TargetStreams": {"StreamList": [{"UserId": "a"}]}}
    assert render(odd).size == preview_size((640, 480))
    junk = {"Layout": {"CustomLayout": {"Regions": [{"StreamIndex": "x", "WidthProportion": -3}, 7]}}}
    assert len(preview_pair(junk, odd)) > 100
