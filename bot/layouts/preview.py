"""The picture an approver looks at before a layout goes on air.

Drawn from the same pixel boxes the provider computes (geometry.to_pixels), then scaled to a bounded
preview size, so that what overlaps in the picture overlaps on air and rendering stays fast however
large the canvas. Bytes are deterministic for the same input: a stored preview can be compared.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from bot.layouts import geometry as geo
from bot.layouts import palette
from bot.layouts.geometry import PixelBox, PlacedRegion

PREVIEW_MAX = 640
"""Longest side of one drawn canvas, in pixels."""
TITLE_H = 30
PAD = 14

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@lru_cache(maxsize=16)
def _font(size: int) -> Font:
    return ImageFont.load_default(size=size)


def region_fill(index: int) -> palette.RGB:
    """Fill colour of the region drawn with colour `index` (its position in Regions, unless a pair shares colours)."""
    return palette.fill(index)


def preview_scale(canvas: tuple[int, int]) -> float:
    return min(PREVIEW_MAX / canvas[0], PREVIEW_MAX / canvas[1])


def preview_size(canvas: tuple[int, int]) -> tuple[int, int]:
    scale = preview_scale(canvas)
    return (max(1, math.floor(canvas[0] * scale + 0.5)), max(1, math.floor(canvas[1] * scale + 0.5)))


def preview_box(box: PixelBox, canvas: tuple[int, int]) -> PixelBox:
    """A provider pixel box in the coordinates of the drawn preview."""
    scale = preview_scale(canvas)
    x0, y0 = math.floor(box.x * scale + 0.5), math.floor(box.y * scale + 0.5)
    x1, y1 = math.floor(box.right * scale + 0.5), math.floor(box.bottom * scale + 0.5)
    return PixelBox(x0, y0, x1 - x0, y1 - y0)


def _label(region: PlacedRegion) -> tuple[str, str]:
    user = region.user_id if region.user_id is not None else f"stream #{region.stream_index}"
    return user, f"[{'screen' if region.stream_type == 1 else 'cam'}]"


def _fit_text(text: str, font: Font, width: float) -> str:
    """`text`, or its longest prefix with an ellipsis that fits in `width` (binary search: labels are many)."""
    if font.getlength(text) <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if font.getlength(text[:mid] + "…") <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "…" if lo else ""


def _checkerboard(size: tuple[int, int], cell: int = 16) -> Image.Image:
    cols, rows = -(-size[0] // cell), -(-size[1] // cell)
    small = Image.new("RGB", (cols, rows), palette.CHECKER[0])
    small.putdata([palette.CHECKER[(c + r) % 2] for r in range(rows) for c in range(cols)])
    return small.resize((cols * cell, rows * cell), Image.Resampling.NEAREST).crop((0, 0, *size))


def _draw_region(image: Image.Image, draw: ImageDraw.ImageDraw, region: PlacedRegion, box: PixelBox, colour: palette.RGB) -> None:
    if box.w < 1 or box.h < 1:
        return
    rect = (box.x, box.y, box.right - 1, box.bottom - 1)
    if region.alpha >= 0.999:
        draw.rectangle(rect, fill=colour)
    else:
        area = (box.x, box.y, box.right, box.bottom)
        under = image.crop(area)
        image.paste(Image.blend(under, Image.new("RGB", under.size, colour), region.alpha), area)
    draw.rectangle(rect, outline=palette.darker(colour))
    size = max(9, min(16, box.h // 6))
    font = _font(size)
    if box.h < size + 6:
        return
    user, marker = _label(region)
    ink = palette.text_on(colour)
    one_line = f"{user} {marker}"
    # keep the centre pixel clear: a label on the centre row may take only the left half
    room = box.w - 8 if 3 + size + 4 < box.h // 2 else box.w // 2 - 6
    if font.getlength(one_line) <= room or box.h < 4 * (size + 6):
        draw.text((box.x + 4, box.y + 3), _fit_text(one_line, font, room), font=font, fill=ink)
        return
    draw.text((box.x + 4, box.y + 3), _fit_text(user, font, room), font=font, fill=ink)
    draw.text((box.x + 4, box.y + 3 + size + 3), _fit_text(marker, font, room), font=font, fill=ink)


def _note(draw: ImageDraw.ImageDraw, size: tuple[int, int], text: str) -> None:
    font = _font(15)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    x, y = (size[0] - (right - left)) // 2, (size[1] - (bottom - top)) // 2
    draw.rectangle((x - 8, y - 6, x + right - left + 8, y + bottom - top + 8), fill=(255, 255, 255))
    draw.text((x - left, y - top), text, font=font, fill=palette.INK)


def _corner_size(draw: ImageDraw.ImageDraw, size: tuple[int, int], canvas: tuple[int, int]) -> None:
    text = f"{canvas[0]} x {canvas[1]}"
    font = _font(11)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    w, h = right - left, bottom - top
    x, y = size[0] - w - 6, size[1] - h - 5
    draw.rectangle((x - 3, y - 3, x + w + 2, y + h + 2), fill=(20, 20, 24))
    draw.text((x - left, y - top), text, font=font, fill=(235, 235, 235))


def render(
    config: dict[str, Any],
    canvas: tuple[int, int] | None = None,
    *,
    fills: Sequence[int] | None = None,
    note: str | None = None,
) -> Image.Image:
    """One configuration as an RGB image; `fills[i]` picks the colour index of Regions[i] (default: i)."""
    config = config if isinstance(config, dict) else {}
    size_on_air = geo.canvas_size(config, canvas)
    size = preview_size(size_on_air)
    section = geo.canvas_section(config)
    if note is not None:
        image = Image.new("RGB", size, palette.EMPTY_CANVAS)
    elif section.get("BackgroundImage"):
        image = _checkerboard(size)
    else:
        image = Image.new("RGB", size, palette.parse_hex(section.get("Background"), (0, 0, 0)))
    draw = ImageDraw.Draw(image)
    regions = geo.placed_regions(config)
    for region in geo.paint_order(regions):
        index = fills[region.position] if fills is not None and region.position < len(fills) else region.position
        box = preview_box(geo.to_pixels(region.box, size_on_air), size_on_air)
        _draw_region(image, draw, region, box, region_fill(index))
    if note is None and not regions:
        mode = geo.layout_of(config).get("LayoutMode")
        note = "no regions" if mode in (None, 2) else f"LayoutMode {mode}: the provider arranges the streams"
    if note is not None:
        _note(draw, size, note)
    _corner_size(draw, size, size_on_air)
    return image


def shared_fills(before: dict[str, Any], after: dict[str, Any]) -> tuple[list[int], list[int]]:
    """Colour indexes that give each stream one colour on both sides of a pair."""
    assigned: dict[tuple[str, int], int] = {}

    def indexes(config: dict[str, Any]) -> list[int]:
        out: list[int] = []
        for region in geo.placed_regions(config):
            key = (region.user_id or f"#{region.stream_index}", region.stream_type)
            out.append(assigned.setdefault(key, len(assigned)))
        return out

    return indexes(before), indexes(after)


def _pair_image(before: dict[str, Any], after: dict[str, Any], canvas: tuple[int, int] | None) -> Image.Image:
    after_canvas = geo.canvas_size(after, canvas)
    before_canvas = geo.canvas_size(before, canvas or after_canvas)
    fills_before, fills_after = shared_fills(before, after)
    left = render(before, before_canvas, fills=fills_before, note=None if before else "no configuration known")
    right = render(after, after_canvas, fills=fills_after, note=None if after else "no configuration known")
    width = PAD * 3 + left.width + right.width
    height = PAD * 2 + TITLE_H + max(left.height, right.height)
    sheet = Image.new("RGB", (width, height), palette.BACKDROP)
    draw = ImageDraw.Draw(sheet)
    font = _font(18)
    for x, title, part in ((PAD, "now", left), (PAD * 2 + left.width, "proposed", right)):
        draw.text((x, PAD), title, font=font, fill=palette.INK)
        sheet.paste(part, (x, PAD + TITLE_H))
    return sheet


def pair_origins(before: dict[str, Any], after: dict[str, Any], canvas: tuple[int, int] | None = None) -> tuple[
    tuple[int, int], tuple[int, int]
]:
    """Top-left corners of the "now" and "proposed" canvases inside the pair image."""
    before_canvas = geo.canvas_size(before, canvas or geo.canvas_size(after, canvas))
    left_w = preview_size(before_canvas)[0]
    return (PAD, PAD + TITLE_H), (PAD * 2 + left_w, PAD + TITLE_H)


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def preview_pair(before: dict[str, Any], after: dict[str, Any], canvas: tuple[int, int] | None = None) -> bytes:
    """PNG of "now" beside "proposed"; `before` may be {} when nothing is known about the task yet."""
    return png_bytes(_pair_image(before, after, canvas))
