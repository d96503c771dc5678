"""A layout change in the words an approver uses: who moved where, who came and went, what the encoder does.

Regions are matched by the stream they show (UserId and StreamType), not by StreamIndex or list position,
so renumbering streams is not reported as a change and a real move is. A field left out of a configuration
is what the provider then applies, its default, so "missing" is shown as that default.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.layouts import geometry as geo
from bot.layouts.geometry import PlacedRegion

_NO_CHANGE = "no change"


@dataclass(frozen=True)
class Change:
    subject: str
    phrase: str

    @property
    def text(self) -> str:
        return f"{self.subject} {self.phrase}"


@dataclass(frozen=True)
class LayoutDiff:
    changes: tuple[Change, ...]

    @property
    def empty(self) -> bool:
        return not self.changes

    @property
    def lines(self) -> list[str]:
        return [c.text for c in self.changes]

    def text(self) -> str:
        if self.empty:
            return _NO_CHANGE
        return "\n".join(f"- {line}" for line in self.lines)

    def mrkdwn(self) -> str:
        if self.empty:
            return f"_{_NO_CHANGE}_"
        return "\n".join(f"• *{_escape(c.subject)}* {_escape(c.phrase)}" for c in self.changes)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(config: dict[str, Any], name: str) -> dict[str, Any]:
    value = config.get(name) if isinstance(config, dict) else None
    return value if isinstance(value, dict) else {}


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)


# ---------------------------------------------------------------- regions


def _keyed(regions: list[PlacedRegion]) -> dict[tuple[str, int, int], PlacedRegion]:
    """Key each region by its stream; a stream shown twice gets an occurrence number."""
    out: dict[tuple[str, int, int], PlacedRegion] = {}
    for region in regions:
        ident = region.user_id if region.user_id is not None else f"#{region.stream_index}"
        n = 0
        while (ident, region.stream_type, n) in out:
            n += 1
        out[(ident, region.stream_type, n)] = region
    return out


_RENDER = {0: "stretch", 1: "crop", 2: "fit", 3: "stretch"}
_MEDIA = {0: "audio+video", 1: "audio only", 2: "video only"}
_REGION_FIELDS: dict[str, tuple[str, Callable[[Any], str], Any]] = {
    "Alpha": ("opacity", lambda v: geo.percent(float(v)) if isinstance(v, int | float) else _show(v), 1.0),
    "RenderMode": ("render mode", lambda v: _RENDER.get(v, _show(v)), 0),
    "MediaType": ("media", lambda v: _MEDIA.get(v, _show(v)), 0),
    "CornerRadius": ("corner radius", _show, None),
    "AlternateImage": ("placeholder image", _show, None),
    "AlternateImageFillMode": ("placeholder fill mode", _show, 0),
    "SourceCrop": ("source crop", _show, None),
    "SpatialPosition": ("spatial position", _show, [0, 0, 0]),
    "ApplySpatialAudio": ("spatial audio", _show, True),
}


def _size(box: geo.Box, canvas: tuple[int, int]) -> tuple[int, int]:
    px = geo.to_pixels(box, canvas)
    return px.w, px.h


def _px(size: tuple[int, int]) -> str:
    return f"{size[0]}×{size[1]}"


def _region_changes(before: PlacedRegion, after: PlacedRegion, canvases: tuple[tuple[int, int], tuple[int, int]]) -> list[str]:
    """Sizes and positions in pixels of the task's canvas: "50%" of what (width, height, area?) made
    operators stop and work it out; 640×720 px they read at once against the canvas they know."""
    phrases: list[str] = []
    old_place, new_place = geo.describe(before.box), geo.describe(after.box)
    old_size, new_size = _size(before.box, canvases[0]), _size(after.box, canvases[1])
    resized = old_size != new_size
    moved = not _same_box(before.box, after.box)
    if moved and old_place != new_place:
        phrases.append(f"moved from {_art(old_place)} to {_art(new_place)}")
        if resized:
            phrases.append(f"resized {_px(old_size)} → {_px(new_size)} px")
    elif moved and resized:
        phrases.append(f"resized {_px(old_size)} → {_px(new_size)} px ({_art(new_place)})")
    elif moved:
        old_px, new_px = geo.to_pixels(before.box, canvases[0]), geo.to_pixels(after.box, canvases[1])
        phrases.append(f"shifted within {_art(new_place)}: top-left corner {old_px.x},{old_px.y} → {new_px.x},{new_px.y} px")
    if before.z_order != after.z_order:
        direction = "raised" if after.z_order > before.z_order else "lowered"
        phrases.append(f"z-order {before.z_order} → {after.z_order} ({direction})")
    for field, (label, fmt, default) in _REGION_FIELDS.items():
        old, new = before.raw.get(field, default), after.raw.get(field, default)
        if old != new:
            phrases.append(f"{label} {fmt(old)} → {fmt(new)}")
    return phrases


def _near(a: float, b: float) -> bool:
    return abs(a - b) < 1e-6


def _same_box(a: geo.Box, b: geo.Box) -> bool:
    return all(_near(p, q) for p, q in ((a.x, b.x), (a.y, b.y), (a.w, b.w), (a.h, b.h)))


def _art(place: str) -> str:
    return place if place.startswith(("a ", "row ", "column ", "full frame")) else f"the {place}"


def _arrow(old: str, new: str) -> str:
    """'2000 Kbps', '3000 Kbps' -> '2000 → 3000 Kbps': the unit once, as people write it."""
    a, _, unit_a = old.rpartition(" ")
    b, _, unit_b = new.rpartition(" ")
    if a and b and unit_a == unit_b:
        return f"{a} → {b} {unit_a}"
    return f"{old} → {new}"


def _layout_changes(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    changes: list[Change] = []
    old_mode = geo.layout_of(before).get("LayoutMode", 0)
    new_mode = geo.layout_of(after).get("LayoutMode", 0)
    modes = {0: "adaptive", 1: "vertical", 2: "custom", 3: "side-by-side"}
    if geo.layout_of(before) and geo.layout_of(after) and old_mode != new_mode:
        changes.append(Change("layout mode", f"{modes.get(old_mode, _show(old_mode))} → {modes.get(new_mode, _show(new_mode))}"))

    old_canvas, new_canvas = geo.canvas_section(before), geo.canvas_section(after)
    old_size, new_size = geo.canvas_size(before), geo.canvas_size(after)
    if old_canvas and new_canvas and old_size != new_size:
        changes.append(Change("canvas", f"{old_size[0]}×{old_size[1]} → {new_size[0]}×{new_size[1]}"))
    old_bg, new_bg = old_canvas.get("Background", "#000000"), new_canvas.get("Background", "#000000")
    if str(old_bg).upper() != str(new_bg).upper():
        changes.append(Change("background", f"{_show(old_bg)} → {_show(new_bg)}"))
    old_image, new_image = old_canvas.get("BackgroundImage"), new_canvas.get("BackgroundImage")
    if old_image != new_image:
        changes.append(Change("background image", f"{_show(old_image)} → {_show(new_image)}"))

    old_regions, new_regions = _keyed(geo.placed_regions(before)), _keyed(geo.placed_regions(after))
    still_mixed = _stream_names(after)
    for key, region in old_regions.items():
        if key not in new_regions:
            changes.append(
                Change(
                    region.name, "removed from the picture, still mixed (audio only)" if region.name in still_mixed else "removed"
                )
            )
    for key, region in new_regions.items():
        if key not in old_regions:
            size = _px(_size(region.box, new_size))
            changes.append(Change(region.name, f"added at {size} px ({_art(geo.describe(region.box))})"))
    for key, region in new_regions.items():
        if key in old_regions:
            phrases = _region_changes(old_regions[key], region, (old_size, new_size))
            if phrases:
                changes.append(Change(region.name, "; ".join(phrases)))
    return changes


def _stream_names(config: dict[str, Any]) -> set[str]:
    return {f"{s.get('UserId')}{' (screen)' if s.get('StreamType') == 1 else ''}" for s in geo.stream_list(config)}


def _stream_changes(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """Streams mixed without a region of their own (heard, not seen), and the every-stream mode."""
    old, new = _stream_names(before), _stream_names(after)
    old_all = "TargetStreams" in before and not old
    new_all = "TargetStreams" in after and not new
    if old_all != new_all and (old or new):
        listed = [", ".join(sorted(names)) if names else "every stream in the room" for names in (old, new)]
        return [Change("mixed streams", f"{listed[0]} → {listed[1]}")]
    shown_old = {r.name for r in geo.placed_regions(before)}
    shown_new = {r.name for r in geo.placed_regions(after)}
    changes = [Change(n, "added to the mix without a region (audio only)") for n in sorted(new - old - shown_new)]
    changes += [Change(n, "removed from the mix") for n in sorted(old - new - shown_old)]
    return changes


# ---------------------------------------------------------------- encode and control


def _kbps(v: Any) -> str:
    return "adaptive" if v == 0 else f"{_show(v)} Kbps"


_ENCODE: dict[str, tuple[str, Callable[[Any], str], Any]] = {
    "VideoBitrate": ("bitrate", _kbps, 0),
    "VideoFps": ("frame rate", lambda v: f"{_show(v)} fps", 15),
    "VideoGop": ("GOP", lambda v: f"{_show(v)} s", 4),
    "VideoCodec": ("video codec", lambda v: {0: "H.264", 1: "ByteVC1"}.get(v, _show(v)), 0),
    "AudioCodec": ("audio codec", lambda v: {0: "AAC"}.get(v, _show(v)), 0),
    "AudioProfile": ("audio profile", lambda v: {0: "LC", 1: "HE-v1", 2: "HE-v2"}.get(v, _show(v)), 0),
    "AudioBitrate": ("audio bitrate", lambda v: f"{_show(v)} Kbps", 64),
    "AudioSampleRate": ("audio sample rate", lambda v: f"{_show(v)} Hz", 48000),
    "AudioChannels": ("audio channels", lambda v: {1: "mono", 2: "stereo"}.get(v, _show(v)), 2),
}


def _encode_changes(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    old, new = _section(before, "Encode"), _section(after, "Encode")
    changes: list[Change] = []
    old_size = (old.get("VideoWidth", 640), old.get("VideoHeight", 480))
    new_size = (new.get("VideoWidth", 640), new.get("VideoHeight", 480))
    if old_size != new_size:
        sizes = [f"{_show(w)}×{_show(h)}" for w, h in (old_size, new_size)]
        changes.append(Change("output size", f"{sizes[0]} → {sizes[1]}"))
    for field, (label, fmt, default) in _ENCODE.items():
        a, b = old.get(field, default), new.get(field, default)
        if a != b:
            changes.append(Change(label, _arrow(fmt(a), fmt(b))))
    for field in sorted((set(old) | set(new)) - set(_ENCODE) - {"VideoWidth", "VideoHeight"}):
        if old.get(field) != new.get(field):
            changes.append(Change(field, f"{_show(old.get(field))} → {_show(new.get(field))}"))
    return changes


_SPATIAL: dict[str, tuple[str, Any]] = {
    "EnableSpatialRender": ("spatial audio", False),
    "AudienceSpatialPosition": ("audience position", [0, 0, 0]),
    "AudienceSpatialOrientation": ("audience orientation", None),
}
_CONTROL = {
    "MediaType": "mixed media",
    "FrameInterpolationMode": "frame interpolation",
    "MaxIdleTime": "max idle time",
    "PushStreamMode": "push mode",
}


def _control_changes(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    old, new = _section(before, "Control"), _section(after, "Control")
    changes: list[Change] = []
    for field, label in _CONTROL.items():
        if old.get(field) != new.get(field):
            changes.append(Change(label, f"{_show(old.get(field))} → {_show(new.get(field))}"))
    old_sp, new_sp = _section(old, "SpatialConfig"), _section(new, "SpatialConfig")
    for field, (label, default) in _SPATIAL.items():
        a, b = old_sp.get(field, default), new_sp.get(field, default)
        if a != b:
            changes.append(Change(label, f"{_show(a)} → {_show(b)}"))
    return changes


def diff(before: dict[str, Any], after: dict[str, Any]) -> LayoutDiff:
    """Changes from `before` to `after`, two task configurations in provider JSON ({} when none is known)."""
    before = before if isinstance(before, dict) else {}
    after = after if isinstance(after, dict) else {}
    changes = [
        *_layout_changes(before, after),
        *_stream_changes(before, after),
        *_encode_changes(before, after),
        *_control_changes(before, after),
    ]
    return LayoutDiff(tuple(changes))


def summary(config: dict[str, Any], canvas: tuple[int, int] | None = None) -> list[str]:
    """A configuration in force, in the words of the diff, for /rtc status: the canvas, each stream and where
    it is shown, and the encoder, one line each (the full JSON is there on request)."""
    size = geo.canvas_size(config, canvas)
    section = geo.canvas_section(config)
    lines = [f"canvas {_px(size)}, background {_show(section.get('Background', '#000000'))}"]
    if section.get("BackgroundImage"):
        lines[0] += ", with a background image"
    streams = geo.stream_list(config)
    shown = {r.stream_index for r in geo.placed_regions(config)}
    for region in sorted(geo.placed_regions(config), key=lambda r: (-r.z_order, r.position)):
        lines.append(f"{region.name}: {geo.describe(region.box)}, {_px(_size(region.box, size))} px, z-order {region.z_order}")
    hidden = [s for s in streams if s.get("Index") not in shown]
    if hidden:
        lines.append("mixed but not shown: " + ", ".join(str(s.get("UserId", "?")) for s in hidden))
    if not streams:
        lines.append("streams: every stream in the room (no list)")
    encode = _section(config, "Encode")
    parts = [f"{label} {fmt(encode.get(field, default))}" for field, (label, fmt, default) in _ENCODE.items() if field in encode]
    if parts:
        lines.append("encoder: " + ", ".join(parts))
    return lines
