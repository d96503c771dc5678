"""Where a region lands in pixels, and how a person would name that place.

The provider turns shares into pixels as round(canvas × share); everything that draws or describes a
layout goes through `to_pixels` so that the picture an approver sees is the frame the viewers get.
Configurations read here come from stored tasks or from Get, so reading is lenient: an odd value must
not stop a diff or a preview of what is actually on air.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bot.providers.volcengine_models import DEFAULT_CANVAS


@dataclass(frozen=True)
class Box:
    """A rectangle in canvas shares (fractions of the canvas width and height)."""

    x: float
    y: float
    w: float
    h: float

    @property
    def area(self) -> float:
        return self.w * self.h


@dataclass(frozen=True)
class PixelBox:
    x: int
    y: int
    w: int
    h: int

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    @property
    def centre(self) -> tuple[int, int]:
        return (self.x + self.w // 2, self.y + self.h // 2)

    def intersects(self, other: PixelBox) -> bool:
        return self.x < other.right and other.x < self.right and self.y < other.bottom and other.y < self.bottom

    def contains(self, other: PixelBox) -> bool:
        return self.x <= other.x and self.y <= other.y and other.right <= self.right and other.bottom <= self.bottom


def round_px(size: int, share: float) -> int:
    """round(size × share), halves away from zero as the provider's C rounding does (not Python's banker's)."""
    return math.floor(size * share + 0.5)


def to_pixels(box: Box, canvas: tuple[int, int]) -> PixelBox:
    width, height = canvas
    return PixelBox(round_px(width, box.x), round_px(height, box.y), round_px(width, box.w), round_px(height, box.h))


def split(total: int, parts: int, offset: float = 0.0) -> list[int]:
    """Boundaries that cut `total` pixels into `parts` cells no more than one pixel apart in size."""
    return [math.floor(offset + i * total / parts + 0.5) for i in range(parts + 1)]


@dataclass(frozen=True)
class PlacedRegion:
    """One region of a configuration, with the stream it shows resolved by StreamIndex."""

    position: int
    stream_index: int | None
    user_id: str | None
    stream_type: int
    box: Box
    z_order: int
    alpha: float
    raw: dict[str, Any]

    @property
    def name(self) -> str:
        base = self.user_id if self.user_id is not None else f"stream #{self.stream_index}"
        return f"{base} (screen)" if self.stream_type == 1 else base


def _num(value: Any, default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return default
    return float(value)


def _int(value: Any, default: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return value


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def layout_of(config: dict[str, Any]) -> dict[str, Any]:
    return _dict(_dict(config).get("Layout"))


def canvas_section(config: dict[str, Any]) -> dict[str, Any]:
    return _dict(_dict(layout_of(config).get("CustomLayout")).get("Canvas"))


def canvas_size(config: dict[str, Any], fallback: tuple[int, int] | None = None) -> tuple[int, int]:
    """The canvas the configuration names, else `fallback`, else the provider's default 640×480."""
    section = canvas_section(config)
    default = fallback or DEFAULT_CANVAS
    width = _int(section.get("Width"), default[0])
    height = _int(section.get("Height"), default[1])
    return (width if width > 0 else default[0], height if height > 0 else default[1])


def stream_list(config: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in _list(_dict(_dict(config).get("TargetStreams")).get("StreamList")) if isinstance(s, dict)]


def _clamp(value: float, lo: float, hi: float) -> float:
    return min(max(value, lo), hi)


def placed_regions(config: dict[str, Any]) -> list[PlacedRegion]:
    by_index: dict[int, dict[str, Any]] = {}
    for stream in stream_list(config):
        index = stream.get("Index")
        if isinstance(index, int) and not isinstance(index, bool):
            by_index.setdefault(index, stream)
    regions = _list(_dict(layout_of(config).get("CustomLayout")).get("Regions"))
    placed: list[PlacedRegion] = []
    for pos, region in enumerate(regions):
        if not isinstance(region, dict):
            continue
        raw_index = region.get("StreamIndex")
        index = raw_index if isinstance(raw_index, int) and not isinstance(raw_index, bool) else None
        stream = by_index.get(index, {}) if index is not None else {}
        user = stream.get("UserId")
        x = _clamp(_num(region.get("LocationX"), 0.0), 0.0, 1.0)
        y = _clamp(_num(region.get("LocationY"), 0.0), 0.0, 1.0)
        box = Box(
            x,
            y,
            _clamp(_num(region.get("WidthProportion"), 0.0), 0.0, 1.0 - x),
            _clamp(_num(region.get("HeightProportion"), 0.0), 0.0, 1.0 - y),
        )
        placed.append(
            PlacedRegion(
                position=pos,
                stream_index=index,
                user_id=user if isinstance(user, str) else None,
                stream_type=1 if stream.get("StreamType") == 1 else 0,
                box=box,
                z_order=_int(region.get("ZOrder"), 0),
                alpha=_clamp(_num(region.get("Alpha"), 1.0), 0.0, 1.0),
                raw=region,
            )
        )
    return placed


def paint_order(regions: list[PlacedRegion]) -> list[PlacedRegion]:
    """Lowest ZOrder first; among equals, list order, so that the later region is drawn over the earlier."""
    return sorted(regions, key=lambda r: (r.z_order, r.position))


_TOL = 0.02
_ORDINAL_THIRDS = ("left third", "middle third", "right third")
_ROW_THIRDS = ("top third", "middle third", "bottom third")


def _near(a: float, b: float) -> bool:
    return abs(a - b) <= _TOL


def _zone(box: Box) -> str:
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    col = "left" if cx < 1 / 3 else "right" if cx > 2 / 3 else ""
    row = "top" if cy < 1 / 3 else "bottom" if cy > 2 / 3 else ""
    if row and col:
        return f"{row}-{col}"
    return row or col or "centre"


def _slice(start: float, size: float, names: tuple[str, str, str], axis: str) -> str | None:
    """Name a full-width or full-height band: a half, a third, or band k of n."""
    if size >= 1 - _TOL:
        return None
    n = round(1 / size) if size > 0 else 0
    if n < 2 or not _near(size, 1 / n):
        return None
    k = round(start / size)
    if not _near(start, k * size) or k >= n:
        return None
    if n == 2:
        return f"{names[0] if k == 0 else names[2]} half"
    if n == 3:
        return (_ORDINAL_THIRDS if axis == "column" else _ROW_THIRDS)[k]
    return f"{axis} {k + 1} of {n}"


def _edge(start: float, size: float, low: str, high: str) -> str:
    if _near(start, 0):
        return f"at the {low}"
    if _near(start + size, 1):
        return f"at the {high}"
    return "in the middle"


def describe(box: Box) -> str:
    """Words for a place on the canvas: 'full frame', 'right half', 'top-left quarter', 'bottom-left inset'."""
    full_w, full_h = box.w >= 1 - _TOL, box.h >= 1 - _TOL
    if full_w and full_h:
        return "full frame"
    if full_h:
        named = _slice(box.x, box.w, ("left", "", "right"), "column")
        return named or f"a {percent(box.w)} wide column {_edge(box.x, box.w, 'left', 'right')}"
    if full_w:
        named = _slice(box.y, box.h, ("top", "", "bottom"), "row")
        return named or f"a {percent(box.h)} high band {_edge(box.y, box.h, 'top', 'bottom')}"
    aligned = (_near(box.x, 0) or _near(box.x, 0.5)) and (_near(box.y, 0) or _near(box.y, 0.5))
    if _near(box.w, 0.5) and _near(box.h, 0.5) and aligned:
        return f"{'top' if box.y < 0.25 else 'bottom'}-{'left' if box.x < 0.25 else 'right'} quarter"
    zone = _zone(box)
    if box.area <= 0.2 and "-" in zone:
        return f"{zone} inset"
    cols, rows = (round(1 / box.w), round(1 / box.h)) if box.w > 0 and box.h > 0 else (0, 0)
    if cols >= 2 and rows >= 2 and _near(box.w, 1 / cols) and _near(box.h, 1 / rows):
        col, row = round(box.x / box.w), round(box.y / box.h)
        if _near(box.x, col * box.w) and _near(box.y, row * box.h) and col < cols and row < rows:
            return f"row {row + 1}, column {col + 1} of a {rows}×{cols} grid"
    where = "the centre" if zone == "centre" else f"the {zone}"
    return f"a {percent(box.area)} box at {where}"


def percent(share: float) -> str:
    value = share * 100
    if value >= 10 or abs(value - round(value)) < 0.05:
        return f"{round(value)}%"
    return f"{value:.1f}%"
