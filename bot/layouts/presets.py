"""Standard layouts from one word: an operator mid-show types "pip" instead of six regions of numbers.

Each preset works in whole pixels first (so cells are fair to the pixel and never overlap by rounding),
then turns pixels into shares that round back to the same pixels, and finally validates the result
through the provider models: a preset can never produce a body the service would reject or reset.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from bot.layouts.geometry import PixelBox, round_px, split
from bot.providers.errors import validation_problems
from bot.providers.volcengine_models import Canvas, Layout, Stream, Streams, update_body

MAX_STREAMS = 17
RENDER_CROP, RENDER_FIT = 1, 2
_SOURCE_ASPECT = 16 / 9
"""Grid shapes are chosen for the usual 16:9 camera picture."""


class PresetError(ValueError):
    """A preset request an operator can fix; the message says what is valid."""


@dataclass(frozen=True)
class StreamRef:
    user_id: str
    stream_type: int = 0

    @property
    def is_screen(self) -> bool:
        return self.stream_type == 1

    @property
    def label(self) -> str:
        return f"{self.user_id}:screen" if self.is_screen else self.user_id


_TYPE_WORDS = {"": 0, "camera": 0, "cam": 0, "0": 0, "screen": 1, "1": 1}


def parse_stream_ref(text: str) -> StreamRef:
    """`alice` is a camera, `alice:screen` her screen share."""
    user, _, kind = text.strip().partition(":")
    if kind.strip().lower() not in _TYPE_WORDS:
        raise PresetError(f"stream {text!r}: the type after ':' must be camera or screen")
    return StreamRef(user.strip(), _TYPE_WORDS[kind.strip().lower()])


def parse_stream_refs(text: str) -> list[StreamRef]:
    parts = [p for p in text.split(",") if p.strip()]
    if not parts:
        raise PresetError("no streams given: list user ids separated by commas, e.g. alice,bob:screen")
    return [parse_stream_ref(p) for p in parts]


# ---------------------------------------------------------------- options


@dataclass(frozen=True)
class Option:
    name: str
    help: str
    default: Any
    parse: Callable[[Any], Any]


def _share_option(lo: float, hi: float) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"must be a number from {lo:g} to {hi:g}, got {value!r}") from None
        if not (lo <= number <= hi) or not math.isfinite(number):
            raise ValueError(f"must be from {lo:g} to {hi:g}, got {number:g}")
        return number

    return parse


def _choice_option(choices: Sequence[str]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        word = str(value).strip().lower()
        if word not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {value!r}")
        return word

    return parse


def _canvas_field(name: str) -> Callable[[Any], str | None]:
    def parse(value: Any) -> str | None:
        if value is None or value == "":
            return None
        try:
            Canvas.model_validate({name: value})
        except ValidationError as exc:
            raise ValueError("; ".join(p.split(": ", 1)[-1] for p in validation_problems(exc))) from None
        return str(value)

    return parse


def _main_option(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return parse_stream_ref(str(value)).label


_COMMON = (
    Option("background", "canvas colour as #RRGGBB (default: keep the task's)", None, _canvas_field("Background")),
    Option("background_image", "http(s) URL of a JPG/PNG shown behind the regions", None, _canvas_field("BackgroundImage")),
    Option("fit", "camera pictures: keep (whole, with bars) or fill (cropped to the box) (default fill)", "fill",
           _choice_option(("keep", "fill"))),
)
_MAIN = Option("main", "stream for the main slot, e.g. alice or bob:screen (default: first screen share, else first stream)",
               None, _main_option)


@dataclass(frozen=True)
class Preset:
    name: str
    summary: str
    min_streams: int
    max_streams: int
    options: tuple[Option, ...] = field(default=())
    build: Callable[[int, int, int, dict[str, Any]], list[tuple[PixelBox, int]]] = field(default=lambda w, h, n, o: [])

    def all_options(self) -> tuple[Option, ...]:
        return self.options + _COMMON

    def describe_options(self) -> str:
        return "; ".join(f"{o.name.replace('_', '-')}: {o.help}" for o in self.all_options())


@dataclass(frozen=True)
class PresetResult:
    preset: str
    canvas: tuple[int, int]
    layout: Layout
    target_streams: Streams

    def config_patch(self) -> dict[str, Any]:
        """The part of a task configuration this preset sets, in the provider's JSON."""
        return {
            "TargetStreams": self.target_streams.model_dump(by_alias=True, exclude_none=True, mode="json"),
            "Layout": self.layout.model_dump(by_alias=True, exclude_none=True, mode="json"),
        }


# ---------------------------------------------------------------- geometry of each preset
# A builder gets the canvas size, the stream count and parsed options, and returns one (pixel box, z-order)
# per slot; slot 0 is the main slot.


def _cells(width: int, height: int, rows: int, cols: int, count: int) -> list[PixelBox]:
    """A rows×cols grid filled row by row; a short last row is centred."""
    ys = split(height, rows)
    boxes: list[PixelBox] = []
    for r in range(rows):
        in_row = min(cols, count - r * cols)
        xs = split(width, cols, offset=(cols - in_row) * width / (2 * cols))
        boxes.extend(PixelBox(xs[c], ys[r], xs[c + 1] - xs[c], ys[r + 1] - ys[r]) for c in range(in_row))
    return boxes


def _fitted_area(cell_w: float, cell_h: float) -> float:
    w = min(cell_w, cell_h * _SOURCE_ASPECT)
    return w * (w / _SOURCE_ASPECT)


def grid_shape(width: int, height: int, count: int) -> tuple[int, int]:
    """Rows and columns that show a 16:9 picture largest; ties go to fewer empty cells, then the canvas's
    own orientation (more columns on a landscape canvas)."""
    best: tuple[tuple[float, int, int], tuple[int, int]] | None = None
    for cols in range(1, count + 1):
        rows = math.ceil(count / cols)
        if (rows - 1) * cols >= count:
            continue
        area = round(_fitted_area(width / cols, height / rows), 6)
        orient = cols - rows if width >= height else rows - cols
        key = (area, -(rows * cols - count), orient)
        if best is None or key > best[0]:
            best = (key, (rows, cols))
    assert best is not None
    return best[1]


def _grid(width: int, height: int, count: int, opts: dict[str, Any]) -> list[tuple[PixelBox, int]]:
    rows, cols = grid_shape(width, height, count)
    return [(box, 0) for box in _cells(width, height, rows, cols, count)]


def _side_by_side(width: int, height: int, count: int, opts: dict[str, Any]) -> list[tuple[PixelBox, int]]:
    return [(box, 0) for box in _cells(width, height, 1, count, count)]


def _stack(width: int, height: int, count: int, opts: dict[str, Any]) -> list[tuple[PixelBox, int]]:
    return [(box, 0) for box in _cells(width, height, count, 1, count)]


def _pip(width: int, height: int, count: int, opts: dict[str, Any]) -> list[tuple[PixelBox, int]]:
    corner: str = opts["corner"]
    inset_w, inset_h = round_px(width, opts["size"]), round_px(height, opts["size"])
    margin = round_px(min(width, height), opts["margin"])
    insets = count - 1
    if margin + insets * (inset_w + margin) > width:
        fit = max(1, (width - margin) // (inset_w + margin))
        raise PresetError(
            f"pip: {insets} insets of size {opts['size']:g} do not fit side by side on a {width}-pixel-wide canvas; "
            f"at most {fit} fit: use a smaller size or fewer streams"
        )
    slots = [(PixelBox(0, 0, width, height), 0)]
    y = margin if corner[0] == "t" else height - margin - inset_h
    for k in range(insets):
        step = margin + k * (inset_w + margin)
        x = step if corner[1] == "l" else width - step - inset_w
        slots.append((PixelBox(x, y, inset_w, inset_h), 1))
    return slots


def _speaker(width: int, height: int, count: int, opts: dict[str, Any]) -> list[tuple[PixelBox, int]]:
    side: str = opts["strip"]
    tiles = count - 1
    horizontal = side in ("top", "bottom")
    along, across = (width, height) if horizontal else (height, width)
    thick = round_px(across, opts["strip_size"])
    ideal = thick * (along / across)
    tile = min(ideal, along / tiles)
    span = tile * tiles
    cuts = [math.floor((along - span) / 2 + i * tile + 0.5) for i in range(tiles + 1)]
    strip_at = across - thick if side in ("bottom", "right") else 0
    main_at = 0 if side in ("bottom", "right") else thick
    rest = across - thick
    if horizontal:
        main = PixelBox(0, main_at, width, rest)
        strip = [PixelBox(cuts[i], strip_at, cuts[i + 1] - cuts[i], thick) for i in range(tiles)]
    else:
        main = PixelBox(main_at, 0, rest, height)
        strip = [PixelBox(strip_at, cuts[i], thick, cuts[i + 1] - cuts[i]) for i in range(tiles)]
    return [(main, 0)] + [(box, 0) for box in strip]


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("side-by-side", "equal full-height columns, left to right", 2, MAX_STREAMS, build=_side_by_side),
        Preset(
            "pip",
            "main stream full frame, the others as insets on top of it in one corner",
            2,
            4,
            (
                Option("corner", "inset corner: tl, tr, bl or br (default br)", "br", _choice_option(("tl", "tr", "bl", "br"))),
                Option("size", "inset size as a share of the canvas, 0.1 to 0.5 (default 0.25)", 0.25, _share_option(0.1, 0.5)),
                Option("margin", "gap to the canvas edge as a share of its shorter side, 0 to 0.2 (default 0.03)", 0.03,
                       _share_option(0.0, 0.2)),
                _MAIN,
            ),
            build=_pip,
        ),
        Preset("grid", "automatic rows × columns, a short last row centred", 1, MAX_STREAMS, build=_grid),
        Preset(
            "speaker",
            "one large stream, the others in a strip along one edge",
            2,
            MAX_STREAMS,
            (
                Option("strip", "where the strip goes: bottom, top, left or right (default bottom)", "bottom",
                       _choice_option(("bottom", "top", "left", "right"))),
                Option("strip_size", "strip thickness as a share of the canvas, 0.1 to 0.5 (default 0.25)", 0.25,
                       _share_option(0.1, 0.5)),
                _MAIN,
            ),
            build=_speaker,
        ),
        Preset("stack", "equal full-width rows, top to bottom (for portrait canvases)", 2, MAX_STREAMS, build=_stack),
    )
}


# ---------------------------------------------------------------- building


def _preset(name: str) -> Preset:
    preset = PRESETS.get(name.strip().lower())
    if preset is None:
        raise PresetError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return preset


def _parse_options(preset: Preset, given: Mapping[str, Any]) -> dict[str, Any]:
    known = {o.name: o for o in preset.all_options()}
    parsed = {o.name: o.default for o in known.values()}
    for raw_name, value in given.items():
        name = raw_name.strip().lower().replace("-", "_")
        option = known.get(name)
        if option is None:
            valid = ", ".join(n.replace("_", "-") for n in known)
            raise PresetError(f"{preset.name} has no option {raw_name!r}; valid options: {valid}")
        try:
            parsed[name] = option.parse(value)
        except (ValueError, PresetError) as exc:
            raise PresetError(f"{preset.name} option {name.replace('_', '-')}: {exc}") from None
    return parsed


def _check_canvas(canvas: tuple[int, int]) -> tuple[int, int]:
    try:
        width, height = canvas
        Canvas.model_validate({"Width": width, "Height": height})
    except ValidationError as exc:
        raise PresetError("canvas " + "; ".join(validation_problems(exc))) from None
    except (TypeError, ValueError):
        raise PresetError(f"canvas must be (width, height), got {canvas!r}") from None
    return width, height


def _check_streams(preset: Preset, streams: Sequence[StreamRef]) -> None:
    n = len(streams)
    if not preset.min_streams <= n <= preset.max_streams:
        raise PresetError(f"{preset.name} takes {preset.min_streams} to {preset.max_streams} streams, got {n}")
    seen: set[tuple[str, int]] = set()
    for ref in streams:
        try:
            Stream.model_validate({"UserId": ref.user_id, "StreamType": ref.stream_type})
        except ValidationError as exc:
            why = "; ".join(p.split(": ", 1)[-1] for p in validation_problems(exc))
            raise PresetError(f"stream {ref.user_id!r}: {why}") from None
        key = (ref.user_id, ref.stream_type)
        if key in seen:
            raise PresetError(f"stream {ref.label} is listed twice")
        seen.add(key)


def _slot_order(preset: Preset, streams: Sequence[StreamRef], main: str | None) -> list[StreamRef]:
    """Screen shares take the main slot (slot 0) unless `main` names another stream."""
    ordered = [s for s in streams if s.is_screen] + [s for s in streams if not s.is_screen]
    if main is not None:
        chosen = [s for s in streams if s.label == main]
        if not chosen:
            listed = ", ".join(s.label for s in streams)
            raise PresetError(f"{preset.name} option main: {main!r} is not one of the streams ({listed})")
        ordered = chosen + [s for s in ordered if s is not chosen[0]]
    return ordered


def build_preset(name: str, canvas: tuple[int, int], streams: Sequence[StreamRef], **options: Any) -> PresetResult:
    preset = _preset(name)
    opts = _parse_options(preset, options)
    width, height = _check_canvas(canvas)
    _check_streams(preset, streams)
    slots = preset.build(width, height, len(streams), opts)
    if any(box.w < 1 or box.h < 1 for box, _ in slots):
        raise PresetError(f"a {width}×{height} canvas is too small for {preset.name} with {len(streams)} streams")
    ordered = _slot_order(preset, streams, opts.get("main"))
    camera_mode = RENDER_FIT if opts["fit"] == "keep" else RENDER_CROP
    regions = [
        {
            "StreamIndex": i,
            "LocationX": box.x / width,
            "LocationY": box.y / height,
            "WidthProportion": box.w / width,
            "HeightProportion": box.h / height,
            "ZOrder": z,
            "RenderMode": RENDER_FIT if ref.is_screen else camera_mode,
        }
        for i, ((box, z), ref) in enumerate(zip(slots, ordered, strict=True))
    ]
    canvas_json: dict[str, Any] = {"Width": width, "Height": height}
    if opts["background"] is not None:
        canvas_json["Background"] = opts["background"]
    if opts["background_image"] is not None:
        canvas_json["BackgroundImage"] = opts["background_image"]
    patch = {
        "TargetStreams": {
            "StreamList": [{"UserId": r.user_id, "StreamType": r.stream_type, "Index": i} for i, r in enumerate(ordered)]
        },
        "Layout": {"LayoutMode": 2, "CustomLayout": {"Canvas": canvas_json, "Regions": regions}},
    }
    try:
        body = update_body("preset", "preset", "preset", patch, canvas=(width, height))
    except ValidationError as exc:
        why = "; ".join(validation_problems(exc))
        raise PresetError(f"{preset.name} produced a layout the provider would refuse: {why}") from exc
    assert body.layout is not None and body.target_streams is not None
    return PresetResult(preset.name, (width, height), body.layout, body.target_streams)


def preset_help() -> str:
    """One paragraph per preset, for usage messages."""
    lines = []
    for p in PRESETS.values():
        lines.append(f"{p.name} ({p.min_streams}–{p.max_streams} streams): {p.summary}. Options: {p.describe_options()}")
    return "\n".join(lines)
