"""`rtcops layout …`: look at a layout before anyone puts it on air.

The same presets and the same drawing the bot posts for approval, so a picture made here on a laptop is
the picture the approver will see in Slack.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, NoReturn

import click
from pydantic import ValidationError

from bot.layouts.diff import diff
from bot.layouts.presets import PRESETS, PresetError, build_preset, parse_stream_refs, preset_help
from bot.layouts.preview import png_bytes, preview_pair, render
from bot.providers.errors import validation_problems
from bot.providers.volcengine_models import UPDATABLE_SECTIONS, UpdatePushMixedStreamToCDN

_CANVAS = re.compile(r"\s*(\d+)\s*[x×X]\s*(\d+)\s*")


@click.group()
def layout() -> None:
    """Layout presets and preview pictures."""


def _fail(lines: list[str]) -> NoReturn:
    for line in lines:
        click.echo(f"error: {line}", err=True)
    raise click.exceptions.Exit(2)


def _canvas(text: str) -> tuple[int, int]:
    match = _CANVAS.fullmatch(text)
    if not match:
        _fail([f"--canvas must be WIDTHxHEIGHT, e.g. 1280x720, got {text!r}"])
    return int(match.group(1)), int(match.group(2))


def _options(pairs: tuple[str, ...], background: str | None, flag: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            _fail([f"{flag} must be NAME=VALUE, e.g. corner=bl, got {pair!r}"])
        options[name.strip()] = value.strip()
    if background is not None:
        options["background"] = background
    return options


def _from_preset(name: str, streams: str | None, canvas: tuple[int, int], options: dict[str, str], flag: str) -> dict[str, Any]:
    if not streams:
        _fail([f"{flag} needs --streams, e.g. --streams alice,bob:screen"])
    try:
        return build_preset(name, canvas, parse_stream_refs(streams), **options).config_patch()
    except PresetError as exc:
        lines = [str(exc)]
        if name.strip().lower() in PRESETS and "option" in str(exc):
            lines.append(f"{name}: {PRESETS[name.strip().lower()].describe_options()}")
        _fail(lines)


_IDS = ("AppId", "RoomId", "TaskId")


def _from_body_file(path: Path) -> dict[str, Any]:
    """An Update body, validated as the client would before sending it; its configuration sections.

    Drawing needs no task, so a file without AppId, RoomId and TaskId (say, the Layout and TargetStreams pasted
    from the documentation) is checked as the configuration of a full-replace Update; a file that names a task
    is checked as the whole body it is."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        _fail([f"cannot read {path}: {exc.strerror or exc}"])
    except UnicodeDecodeError:
        _fail([f"{path} is not UTF-8 text"])
    except json.JSONDecodeError as exc:
        _fail([f"{path} is not JSON: line {exc.lineno} column {exc.colno}: {exc.msg}"])
    if not isinstance(data, dict):
        _fail([f"{path} must hold a JSON object (an UpdatePushMixedStreamToCDN body or its sections), got {type(data).__name__}"])
    body = data if any(k in data for k in _IDS) else {**dict.fromkeys(_IDS, "preview"), **data}
    try:
        UpdatePushMixedStreamToCDN.model_validate(body)
    except ValidationError as exc:
        _fail([f"{path}: {line}" for line in validation_problems(exc)])
    return {k: data[k] for k in UPDATABLE_SECTIONS if k in data}


def _config(
    preset: str | None, body_file: Path | None, streams: str | None, canvas: tuple[int, int], options: dict[str, str], which: str
) -> dict[str, Any] | None:
    if preset is not None and body_file is not None:
        _fail([f"give either --{which}preset or --{which}body-file, not both"])
    if body_file is not None:
        return _from_body_file(body_file)
    if preset is not None:
        return _from_preset(preset, streams, canvas, options, f"--{which}preset")
    return None


@layout.command()
@click.option("--preset", metavar="NAME", help=f"Preset to preview: {', '.join(PRESETS)}.")
@click.option("--streams", metavar="LIST", help="Streams in order, comma-separated; name:screen for a screen share.")
@click.option("--canvas", "canvas_text", default="640x480", show_default=True, metavar="WxH", help="Canvas size.")
@click.option("--option", "option_pairs", multiple=True, metavar="NAME=VALUE", help="Preset option (repeatable), e.g. corner=bl.")
@click.option("--background", metavar="#RRGGBB", help="Canvas colour.")
@click.option(
    "--body-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="An Update body in provider JSON, or only its TargetStreams and Layout (AppId, RoomId, TaskId not needed).",
)
@click.option("--before-preset", metavar="NAME", help="Also draw a 'now' picture from this preset, beside the proposal.")
@click.option("--before-streams", metavar="LIST", help="Streams of the 'now' preset (default: --streams).")
@click.option("--before-option", "before_pairs", multiple=True, metavar="NAME=VALUE", help="Option of the 'now' preset.")
@click.option("--before-background", metavar="#RRGGBB", help="Canvas colour of the 'now' preset.")
@click.option("--before-body-file", type=click.Path(dir_okay=False, path_type=Path), help="'Now' as an Update body.")
@click.option("--show-config", is_flag=True, help="Also print the configuration (TargetStreams, Layout) as JSON.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="PNG to write.")
def preview(
    preset: str | None,
    streams: str | None,
    canvas_text: str,
    option_pairs: tuple[str, ...],
    background: str | None,
    body_file: Path | None,
    before_preset: str | None,
    before_streams: str | None,
    before_pairs: tuple[str, ...],
    before_background: str | None,
    before_body_file: Path | None,
    show_config: bool,
    output: Path,
) -> None:
    """Draw a layout (a preset or an Update body) as a PNG; with --before-*, draw 'now' beside 'proposed'.

    \b
    rtcops layout preview --preset grid --streams alice,bob,carol,dave --canvas 1280x720 -o out.png
    rtcops layout preview --body-file update.json -o out.png
    rtcops layout preview --before-preset side-by-side --preset pip --option corner=bl \\
        --streams host,guest --canvas 1280x720 -o pair.png
    """
    canvas = _canvas(canvas_text)
    after = _config(preset, body_file, streams, canvas, _options(option_pairs, background, "--option"), "")
    if after is None:
        _fail(["give --preset NAME --streams LIST, or --body-file F.json", "presets:\n" + preset_help()])
    before = _config(
        before_preset, before_body_file, before_streams or streams, canvas,
        _options(before_pairs, before_background, "--before-option"), "before-",
    )
    data = png_bytes(render(after, canvas)) if before is None else preview_pair(before, after, canvas)
    try:
        output.write_bytes(data)
    except OSError as exc:
        _fail([f"cannot write {output}: {exc.strerror or exc}"])
    if show_config:
        click.echo(json.dumps(after, indent=2))
    if before is not None:
        click.echo(diff(before, after).text())
    click.echo(f"wrote {output} ({len(data)} bytes)")
