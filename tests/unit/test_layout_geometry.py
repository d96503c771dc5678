"""Pixel boxes are the provider's, grid cells are fair to the pixel, a pip inset sits inside its main region."""

from __future__ import annotations

import itertools
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.layouts.geometry import Box, PixelBox, canvas_size, describe, placed_regions, round_px, split, to_pixels
from bot.layouts.presets import PRESETS, StreamRef, build_preset

CANVASES = [(640, 480), (1280, 720), (1920, 1080), (720, 1280), (1080, 1080)]


def _provider_px(size: int, share: float) -> int:
    """round(canvas × share) done in exact decimal arithmetic, halves up, as a reference."""
    return int((Decimal(size) * Decimal(share)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _streams(n: int) -> list[StreamRef]:
    return [StreamRef(f"u{i}") for i in range(n)]


def _pixel_boxes(name: str, canvas: tuple[int, int], n: int, **options: object) -> list[PixelBox]:
    config = build_preset(name, canvas, _streams(n), **options).config_patch()
    return [to_pixels(r.box, canvas) for r in placed_regions(config)]


def test_round_px_rounds_halves_up_like_the_provider() -> None:
    assert round_px(5, 0.5) == 3  # Python's round(2.5) would give 2
    assert round_px(3, 0.5) == 2
    assert round_px(1280, 0.25) == 320
    assert round_px(640, 1 / 3) == 213


@given(size=st.integers(2, 1920), share=st.floats(0, 1))
def test_round_px_matches_exact_rounding(size: int, share: float) -> None:
    # `share` is the float the provider receives; its exact binary value times the size, rounded half up
    # (a product a hair off a half is left out: there double arithmetic, the provider's too, may round it either way)
    exact = Decimal(size) * Decimal(share)
    frac = exact - int(exact)
    if frac == Decimal("0.5") or abs(frac - Decimal("0.5")) > Decimal("1e-9"):
        assert round_px(size, share) == _provider_px(size, share)


@given(size=st.integers(2, 1920), data=st.data())
def test_pixel_shares_round_back_to_their_pixel(size: int, data: st.DataObject) -> None:
    """Presets store pixel/size as the share; it must come back as the same pixel."""
    pixel = data.draw(st.integers(0, size))
    assert round_px(size, pixel / size) == pixel


@pytest.mark.parametrize("name", sorted(PRESETS))
@pytest.mark.parametrize("canvas", CANVASES)
def test_pixel_box_is_round_canvas_times_share(name: str, canvas: tuple[int, int]) -> None:
    n = PRESETS[name].max_streams
    config = build_preset(name, canvas, _streams(n)).config_patch()
    for region in config["Layout"]["CustomLayout"]["Regions"]:
        expected = PixelBox(
            _provider_px(canvas[0], region["LocationX"]),
            _provider_px(canvas[1], region["LocationY"]),
            _provider_px(canvas[0], region["WidthProportion"]),
            _provider_px(canvas[1], region["HeightProportion"]),
        )
        box = to_pixels(
            Box(region["LocationX"], region["LocationY"], region["WidthProportion"], region["HeightProportion"]), canvas
        )
        assert box == expected
        assert box.x >= 0 and box.y >= 0 and box.right <= canvas[0] and box.bottom <= canvas[1]


@pytest.mark.parametrize("canvas", CANVASES)
@pytest.mark.parametrize("n", range(1, 18))
def test_grid_cells_are_fair_and_tile_their_rows(canvas: tuple[int, int], n: int) -> None:
    boxes = _pixel_boxes("grid", canvas, n)
    widths, heights = {b.w for b in boxes}, {b.h for b in boxes}
    assert max(widths) - min(widths) <= 1
    assert max(heights) - min(heights) <= 1
    rows: dict[int, list[PixelBox]] = {}
    for box in boxes:
        rows.setdefault(box.y, []).append(box)
    full = max(len(r) for r in rows.values())
    for row in rows.values():
        row.sort(key=lambda b: b.x)
        assert all(a.right == b.x for a, b in itertools.pairwise(row)), "cells in a row must touch, no gaps"
        if len(row) == full:
            assert row[0].x == 0 and row[-1].right == canvas[0]
        else:  # a short last row is centred to within a pixel
            assert abs(row[0].x - (canvas[0] - row[-1].right)) <= 1
    ys = sorted(rows)
    assert ys[0] == 0 and max(b.bottom for b in boxes) == canvas[1]


@pytest.mark.parametrize("name", ["side-by-side", "stack"])
@pytest.mark.parametrize("canvas", CANVASES)
def test_columns_and_rows_are_fair(name: str, canvas: tuple[int, int]) -> None:
    for n in range(2, 18):
        boxes = _pixel_boxes(name, canvas, n)
        along = [b.w for b in boxes] if name == "side-by-side" else [b.h for b in boxes]
        assert max(along) - min(along) <= 1
        assert sum(along) == (canvas[0] if name == "side-by-side" else canvas[1])


@pytest.mark.parametrize("canvas", CANVASES)
@pytest.mark.parametrize("corner", ["tl", "tr", "bl", "br"])
@pytest.mark.parametrize(("size", "margin"), [(0.1, 0.0), (0.25, 0.03), (0.5, 0.2)])
def test_pip_inset_lies_inside_the_main_region_at_its_corner(
    canvas: tuple[int, int], corner: str, size: float, margin: float
) -> None:
    main, inset = _pixel_boxes("pip", canvas, 2, corner=corner, size=size, margin=margin)
    assert main == PixelBox(0, 0, canvas[0], canvas[1])
    assert main.contains(inset)
    gap = round_px(min(canvas), margin)
    assert (inset.x if corner[1] == "l" else canvas[0] - inset.right) == gap
    assert (inset.y if corner[0] == "t" else canvas[1] - inset.bottom) == gap


def test_speaker_strip_and_main_share_the_canvas_without_overlap() -> None:
    for strip in ("bottom", "top", "left", "right"):
        main, *tiles = _pixel_boxes("speaker", (1280, 720), 5, strip=strip)
        assert main.w * main.h == 1280 * 720 * 0.75
        assert not any(main.intersects(t) for t in tiles)
        widths = {t.w for t in tiles} if strip in ("bottom", "top") else {t.h for t in tiles}
        assert max(widths) - min(widths) <= 1


def test_split_is_fair() -> None:
    cuts = split(1000, 7)
    sizes = [b - a for a, b in itertools.pairwise(cuts)]
    assert cuts[0] == 0 and cuts[-1] == 1000 and max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize(
    ("box", "words"),
    [
        (Box(0, 0, 1, 1), "full frame"),
        (Box(0, 0, 0.5, 1), "left half"),
        (Box(0.5, 0, 0.5, 1), "right half"),
        (Box(0, 0.5, 1, 0.5), "bottom half"),
        (Box(1 / 3, 0, 1 / 3, 1), "middle third"),
        (Box(0, 2 / 3, 1, 1 / 3), "bottom third"),
        (Box(0.25, 0, 0.25, 1), "column 2 of 4"),
        (Box(0.5, 0, 0.5, 0.5), "top-right quarter"),
        (Box(0.03, 0.72, 0.25, 0.25), "bottom-left inset"),
        (Box(0.72, 0.03, 0.25, 0.25), "top-right inset"),
        (Box(0.25, 0.25, 0.5, 0.5), "a 25% box at the centre"),
        (Box(1 / 3, 0, 1 / 3, 1 / 3), "row 1, column 2 of a 3×3 grid"),
        (Box(0, 0, 0.3, 1), "a 30% wide column at the left"),
        (Box(0, 0.2, 1, 0.3), "a 30% high band in the middle"),
        (Box(0, 0.7, 1, 0.3), "a 30% high band at the bottom"),
    ],
)
def test_describe_names_places(box: Box, words: str) -> None:
    assert describe(box) == words


def test_lenient_reading_of_odd_configurations() -> None:
    odd = {
        "TargetStreams": {"StreamList": [{"UserId": "a", "Index": 0}, "junk", {"UserId": "b", "Index": True}]},
        "Layout": {
            "CustomLayout": {
                "Canvas": {"Width": "wide"},
                "Regions": [
                    {"StreamIndex": 0, "WidthProportion": 2, "HeightProportion": "x", "LocationX": 0.5},
                    {"StreamIndex": 9, "WidthProportion": 0.5, "HeightProportion": 0.5},
                    "junk",
                ],
            }
        },
    }
    regions = placed_regions(odd)
    assert [r.name for r in regions] == ["a", "stream #9"]
    assert regions[0].box == Box(0.5, 0, 0.5, 0)
    assert canvas_size(odd) == (640, 480)
    assert canvas_size({}, (1280, 720)) == (1280, 720)
