"""The editors' forms: what they offer and whether a submission is valid, decided before the acknowledgement.

Pure and DB-free, so the Slack layer can answer field errors inside Slack's 3 s: each check goes through
the layout presets and the provider models, the one source of field rules, never around them. Errors are
keyed by field name, which is also the form's block id ("preset", "streams", "options", "background",
"region_<StreamIndex>", "url", "volume", "state"). Whatever passes here is checked again when proposed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from bot.layouts.presets import PRESETS, PresetError, StreamRef, build_preset, parse_stream_refs
from bot.providers.errors import validation_problems
from bot.providers.tencent_models import VOLUME_MAX, UpdateStreamIngest
from bot.providers.volcengine_models import Canvas, Region
from bot.services.errors import BadInput
from bot.services.results import TaskStatus

Errors = dict[str, str]
REGION_FIELDS = ("LocationX", "LocationY", "WidthProportion", "HeightProportion")


def region_field(stream_index: int) -> str:
    return f"region_{stream_index}"


# --- what the editors offer ------------------------------------------------------------------------


@dataclass(frozen=True)
class PresetInfo:
    name: str
    summary: str
    options: tuple[str, ...]


def preset_catalogue() -> list[PresetInfo]:
    return [PresetInfo(p.name, p.summary, tuple(o.name for o in p.all_options())) for p in PRESETS.values()]


@dataclass(frozen=True)
class RegionLine:
    stream_index: int
    label: str
    line: str  # "x y width height z"


@dataclass(frozen=True)
class LayoutEditor:
    alias: str
    canvas: tuple[int, int]
    presets: list[PresetInfo]
    streams: list[str]  # labels of the streams in force, in Index order ("user" or "user:screen")
    regions: list[RegionLine]
    background: str | None


@dataclass(frozen=True)
class IngestEditor:
    alias: str
    site: str
    url: str | None
    volume: int | None
    paused: bool | None
    volume_max: int


def layout_editor(status: TaskStatus) -> LayoutEditor:
    """The layout editor's content: the configuration in force where the provider reports it."""
    task = status.task
    if task.provider != "volcengine":
        raise BadInput(f"{task.alias} is a {task.provider} task: use `/rtc ingest {task.alias}`")
    if task.canvas is None:
        raise BadInput(f"{task.alias} has no known canvas size; an admin registers it again with canvas=WxH")
    config = status.provider.in_force or task.configuration or {}
    stream_list = sorted((config.get("TargetStreams") or {}).get("StreamList") or [], key=lambda s: s.get("Index", 0))
    labels = {s.get("Index"): StreamRef(s.get("UserId", "?"), s.get("StreamType", 0)).label for s in stream_list}
    custom = (config.get("Layout") or {}).get("CustomLayout") or {}
    regions = [
        RegionLine(
            r["StreamIndex"],
            labels.get(r["StreamIndex"], "?"),
            " ".join(f"{r.get(k, 0):g}" for k in REGION_FIELDS) + f" {r.get('ZOrder', 0)}",
        )
        for r in sorted(custom.get("Regions") or [], key=lambda r: r.get("StreamIndex", 0))
    ]
    return LayoutEditor(
        task.alias,
        task.canvas,
        preset_catalogue(),
        [labels[i] for i in sorted(labels)],
        regions,
        (custom.get("Canvas") or {}).get("Background"),
    )


def ingest_editor(status: TaskStatus) -> IngestEditor:
    """The ingest editor's content: Tencent cannot report the settings, so the last applied ones."""
    task = status.task
    if task.provider != "tencent":
        raise BadInput(f"{task.alias} is a {task.provider} task: use `/rtc layout {task.alias}`")
    site = task.identifiers.get("Site") or "intl"
    config = task.configuration or {}
    return IngestEditor(
        task.alias, site, config.get("StreamUrl"), config.get("Volume"), config.get("IsPause"), VOLUME_MAX.get(site, 100)
    )


# --- checking a submission ---------------------------------------------------------------------------


@dataclass
class LayoutProposal:
    """A valid layout form: a preset with its streams and options, one region's new place, or a background."""

    preset: str | None = None
    streams: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    region: tuple[int, dict[str, Any]] | None = None
    background: str | None = None


def _problems(exc: ValidationError) -> str:
    return "; ".join(validation_problems(exc))


def _background_error(background: str) -> str | None:
    try:
        Canvas.model_validate({"Background": background})
    except ValidationError as exc:
        return _problems(exc)
    return None


def _preset_field(message: str) -> str:
    if "option background" in message:
        return "background"
    if " option " in message or "has no option" in message:
        return "options"
    if "stream" in message or " takes " in message:
        return "streams"
    return "preset"


def validate_layout_form(
    preset: str,
    streams: str,
    options: str,
    background: str | None,
    canvas: tuple[int, int] | None,
    *,
    background_changed: bool = True,
) -> tuple[LayoutProposal, Errors]:
    """A preset choice. `streams` is one stream per line or comma; `options` is "name=value …"; the
    background, when given, becomes the preset's background option. `canvas` is the one the editor showed."""
    form, errors = LayoutProposal(preset=preset), Errors()
    if background and background_changed and (problem := _background_error(background)):
        errors["background"] = problem
    try:
        form.streams = [r.label for r in parse_stream_refs(streams.replace("\n", ","))]
    except PresetError as exc:
        errors["streams"] = str(exc)
    for word in options.split():
        key, sep, val = word.partition("=")
        if not sep or not key or not val:
            errors["options"] = f"{word!r} is not name=value"
        else:
            form.options[key] = val
    if background:
        form.options["background"] = background
    if canvas is None:
        errors.setdefault("preset", "the editor lost the canvas size; open it again")
    if not errors and canvas is not None:
        try:
            refs = parse_stream_refs(",".join(form.streams))
            build_preset(preset, canvas, refs, **form.options)
        except PresetError as exc:
            errors[_preset_field(str(exc))] = str(exc)
    return form, errors


def validate_region_edit(edited: Sequence[tuple[int, str]], background: str | None) -> tuple[LayoutProposal, Errors]:
    """Regions kept, one of them moved ("x y width height [z]"), or only the background changed.

    `edited` holds the regions whose field differs from what the editor showed; `background` is the new
    background if it was changed, else None.
    """
    form, errors = LayoutProposal(), Errors()
    if background and (problem := _background_error(background)):
        errors["background"] = problem
    for n, (index, text) in enumerate(edited):
        name = region_field(index)
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
            errors[name] = _problems(exc)
            continue
        form.region = (index, fields)
    if background:
        if edited:
            errors.setdefault("background", "change the background on its own, or together with a preset")
        form.background = background
    if not edited and form.background is None and not errors:
        errors["preset"] = "nothing changed: pick a preset, or edit a region or the background"
    return form, errors


@dataclass
class IngestProposal:
    url: str | None = None
    volume: int | None = None
    pause: bool | None = None


_INGEST_FIELDS = {"StreamUrl": "url", "Volume": "volume", "IsPause": "state"}


def validate_ingest_form(
    url: str | None, volume: str | None, pause: bool | None, site: str | None
) -> tuple[IngestProposal, Errors]:
    """Only the fields the user changed are given (None: left as shown; "" for the URL: cleared).
    Checked through the Tencent model with the task's site, whose Volume range differs."""
    form, errors = IngestProposal(pause=pause), Errors()
    if url is not None:
        if not url:
            errors["url"] = "the source URL cannot be removed; give a new one"
        form.url = url or None
    if volume is not None:
        if not volume.isdigit():
            errors["volume"] = f"must be a whole number, got {volume!r}"
        else:
            form.volume = int(volume)
    if errors:
        return form, errors
    body = {"SdkAppId": 1, "TaskId": "check", "StreamUrl": form.url, "Volume": form.volume, "IsPause": form.pause}
    try:
        UpdateStreamIngest.model_validate({k: v for k, v in body.items() if v is not None}, context={"site": site})
    except ValidationError as exc:
        for problem in validation_problems(exc):
            name = next((f for f in _INGEST_FIELDS if problem.startswith(f)), "Volume")
            errors.setdefault(_INGEST_FIELDS[name], problem)
    if form.url is None and form.volume is None and form.pause is None and not errors:
        errors["url"] = "nothing changed: edit the URL, the volume or the state"
    return form, errors
