"""The layout editor of a Volcengine mixed push: what it offers, and whether a submission makes a change.

Checking is pure and DB-free, so a mistake is answered next to its field inside Slack's 3 s. Every check goes
through the layout presets and the provider models, the one source of field rules, never around them; what
passes here is checked again, whole, when it is proposed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from bot.layouts.presets import PRESETS, PresetError, StreamRef, build_preset, parse_stream_refs
from bot.providers.errors import validation_problems
from bot.providers.volcengine_models import Canvas, Region
from bot.targets.base import Choice, Editor, EditorItem, Errors, Field, Heading, Note
from bot.targets.layout_changes import VERB, Background, LayoutChange, LayoutPreset, RegionEdit

KEEP_REGIONS = "custom"
"""Preset choice meaning "no preset: keep the regions and edit them one by one below"."""
REGION_FIELDS = ("LocationX", "LocationY", "WidthProportion", "HeightProportion")
REGION_PREFIX = "region_"
MAX_REGION_FIELDS = 90
"""A modal holds 100 blocks; the editor's own fields and headings take the rest."""


def region_field(position: int, stream_index: int) -> str:
    """Unique by position, so two regions that show the same StreamIndex still get two fields."""
    return f"{REGION_PREFIX}{position}_{stream_index}"


def _parse_region_field(name: str) -> tuple[int, int] | None:
    position, _, index = name.removeprefix(REGION_PREFIX).partition("_")
    if not name.startswith(REGION_PREFIX) or not position.isdigit() or not index.lstrip("-").isdigit():
        return None
    return int(position), int(index)


def editor(alias: str, canvas: tuple[int, int], config: Mapping[str, Any]) -> Editor:
    """The editor over `config`, the configuration in force (or the last applied one)."""
    stream_list = sorted((config.get("TargetStreams") or {}).get("StreamList") or [], key=lambda s: s.get("Index", 0))
    labels = {s.get("Index"): StreamRef(str(s.get("UserId", "?")), s.get("StreamType", 0) or 0).label for s in stream_list}
    custom = (config.get("Layout") or {}).get("CustomLayout") or {}
    regions = [r for r in custom.get("Regions") or [] if isinstance(r, dict)]
    problems = _problems(regions, labels)
    presets = [Choice(KEEP_REGIONS, "Keep regions (edit below)")] + [Choice(p.name, p.name, p.summary) for p in PRESETS.values()]
    hint = "name=value, space separated. " + "; ".join(
        f"{p.name}: {', '.join(o.name for o in p.all_options())}" for p in PRESETS.values()
    )
    width, height = canvas
    items: list[EditorItem] = [
        Field("preset", "Preset", "select", initial=KEEP_REGIONS, optional=False, choices=tuple(presets)),
        Field(
            "streams",
            "Streams, in order",
            "multiline",
            initial="\n".join(labels[i] for i in sorted(labels, key=lambda i: (i is None, i or 0))),
            hint="For a preset: one user id per line; add :screen for a screen share, e.g. guest:screen",
        ),
        Field("options", "Preset options", hint=hint, placeholder="corner=tr size=0.25"),
        Field(
            "background",
            "Background colour",
            initial=(custom.get("Canvas") or {}).get("Background"),
            placeholder="#303342",
        ),
        Heading("Advanced: regions"),
        Note(
            "One field per region: x y width height z, shares of the canvas (0–1) and a z-order. "
            "Used with Keep regions; edit one region per proposal."
        ),
    ]
    for position, region in enumerate(regions[:MAX_REGION_FIELDS]):
        index = region.get("StreamIndex")
        if not isinstance(index, int):
            continue
        line = " ".join(f"{_num(region.get(k, 0)):g}" for k in REGION_FIELDS) + f" {region.get('ZOrder', 0)}"
        label = f"Region {index}: {labels.get(index, '?')}"
        items.append(Field(region_field(position, index), label, initial=line))
    return Editor(
        verb=VERB,
        title="Layout editor",
        intro=f"Editing {alias} on a {width}×{height} canvas. Pick a preset, or keep the regions and edit one under Advanced.",
        items=tuple(items),
        context={"canvas": f"{width}x{height}"},
        problems=tuple(problems),
    )


def _num(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _problems(regions: Sequence[Mapping[str, Any]], labels: Mapping[Any, str]) -> list[str]:
    """What is wrong with the layout in force, said rather than hidden: the editor still opens."""
    found: list[str] = []
    counts = Counter(r.get("StreamIndex") for r in regions)
    for index, n in sorted(counts.items(), key=lambda kv: str(kv[0])):
        if n > 1:
            found.append(f"{n} regions show StreamIndex {index}; the provider refuses that, so pick a preset to fix it")
        if index not in labels:
            found.append(f"a region shows StreamIndex {index}, which no stream in TargetStreams has")
    if len(regions) > MAX_REGION_FIELDS:
        found.append(f"only the first {MAX_REGION_FIELDS} of {len(regions)} regions can be edited here")
    return found


def _canvas(context: Mapping[str, str]) -> tuple[int, int] | None:
    width, _, height = context.get("canvas", "").partition("x")
    return (int(width), int(height)) if width.isdigit() and height.isdigit() else None


def read(values: Mapping[str, str], initial: Mapping[str, str], context: Mapping[str, str]) -> tuple[LayoutChange | None, Errors]:
    preset, background = values.get("preset", ""), values.get("background", "")
    background_changed = bool(background) and background != initial.get("background", "")
    if preset and preset != KEEP_REGIONS:
        return _preset(preset, values, background or None, _canvas(context), background_changed)
    edited = [
        (found, values.get(name, ""))
        for name in values
        if (found := _parse_region_field(name)) is not None and values.get(name, "") != initial.get(name, "")
    ]
    return _region_or_background(edited, background if background_changed else None)


def _background_error(background: str) -> str | None:
    try:
        Canvas.model_validate({"Background": background})
    except ValidationError as exc:
        return "; ".join(validation_problems(exc))
    return None


def _preset_field(message: str) -> str:
    if "option background" in message:
        return "background"
    if " option " in message or "has no option" in message:
        return "options"
    if "stream" in message or " takes " in message:
        return "streams"
    return "preset"


def _preset(
    preset: str, values: Mapping[str, str], background: str | None, canvas: tuple[int, int] | None, background_changed: bool
) -> tuple[LayoutChange | None, Errors]:
    errors = Errors()
    streams: tuple[str, ...] = ()
    options: dict[str, str] = {}
    if background and background_changed and (problem := _background_error(background)):
        errors["background"] = problem
    try:
        streams = tuple(r.label for r in parse_stream_refs(values.get("streams", "").replace("\n", ",")))
    except PresetError as exc:
        errors["streams"] = str(exc)
    for word in values.get("options", "").split():
        key, sep, val = word.partition("=")
        if not sep or not key or not val:
            errors["options"] = f"{word!r} is not name=value"
        else:
            options[key] = val
    if background:
        options["background"] = background
    if canvas is None:
        errors.setdefault("preset", "the editor lost the canvas size; open it again")
    if not errors and canvas is not None:
        try:
            build_preset(preset, canvas, parse_stream_refs(",".join(streams)), **options)
        except PresetError as exc:
            errors[_preset_field(str(exc))] = str(exc)
    return (None, errors) if errors else (LayoutPreset(preset, streams, options), errors)


def _region_or_background(
    edited: Sequence[tuple[tuple[int, int], str]], background: str | None
) -> tuple[LayoutChange | None, Errors]:
    """Regions kept, one of them moved ("x y width height [z]"), or only the background changed."""
    errors = Errors()
    change: LayoutChange | None = None
    if background and (problem := _background_error(background)):
        errors["background"] = problem
    for n, ((position, index), text) in enumerate(edited):
        name = region_field(position, index)
        if n:
            errors[name] = "edit one region per proposal (or pick a preset)"
            continue
        parts = text.split()
        try:
            if len(parts) not in (4, 5):
                raise ValueError
            fields: dict[str, Any] = dict(zip(REGION_FIELDS, map(float, parts[:4]), strict=True))
            if len(parts) == 5:
                fields["ZOrder"] = int(parts[4])
        except ValueError:
            errors[name] = "give x y width height z, e.g. 0.7 0.7 0.25 0.25 1"
            continue
        try:
            Region.model_validate({"StreamIndex": index, **fields})
        except ValidationError as exc:
            errors[name] = "; ".join(validation_problems(exc))
            continue
        change = RegionEdit(index, fields, position)
    if background:
        if edited:
            errors.setdefault("background", "change the background on its own, or together with a preset")
        else:
            change = Background(background)
    if not edited and background is None and not errors:
        errors["preset"] = "nothing changed: pick a preset, or edit a region or the background"
    return (None, errors) if errors else (change, errors)
