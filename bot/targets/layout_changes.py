"""The changes a Volcengine mixed push takes from people: a preset, one region moved, or a new background.

Each is merged onto the configuration in force and never sent alone, because an Update resets whatever it
leaves out (providers.md §1.1). Pure functions: the command parser and the editor produce these values, and
`build` turns one into the whole configuration to send.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.layouts.presets import PresetError, build_preset, parse_stream_refs
from bot.targets.base import ChangeSyntax, Config
from bot.targets.config_json import merge_patch

VERB = "layout"


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class LayoutPreset:
    """A preset over these streams ("alice", "bob:screen"); the canvas background, Encode and Control stay."""

    preset: str
    streams: tuple[str, ...]
    options: Mapping[str, str] = field(default_factory=dict)
    verb: str = VERB

    @property
    def summary(self) -> str:
        opts = "".join(f" {k}={v}" for k, v in self.options.items())
        return f"layout {self.preset}: {', '.join(self.streams)}{opts}"


@dataclass(frozen=True)
class RegionEdit:
    """One region moved or restyled, found by its StreamIndex (and, where the editor knows it, its position
    in the list, which tells apart two regions that show the same stream)."""

    stream_index: int
    fields: Mapping[str, Any]
    position: int | None = None
    verb: str = VERB

    @property
    def summary(self) -> str:
        return f"region {self.stream_index}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in self.fields.items())


@dataclass(frozen=True)
class Background:
    colour: str
    verb: str = VERB

    @property
    def summary(self) -> str:
        return f"background {self.colour}"


LayoutChange = LayoutPreset | RegionEdit | Background


def parse(args: Sequence[str]) -> LayoutChange:
    """`<preset> <user>[,<user>…] [name=value …]`, the words after `/rtc layout <alias>`."""
    if len(args) < 2:
        raise ChangeSyntax("give a preset and the streams, e.g. pip host,guest")
    options: dict[str, str] = {}
    for token in args[2:]:
        key, sep, value = token.partition("=")
        if not sep or not key or not value:
            raise ChangeSyntax(f"unexpected {token!r}; preset options look like name=value")
        if key in options:
            raise ChangeSyntax(f"{key}= given twice")
        options[key] = value
    try:
        streams = tuple(r.label for r in parse_stream_refs(args[1]))
    except PresetError as exc:
        raise ChangeSyntax(str(exc)) from None
    return LayoutPreset(args[0].lower(), streams, options)


def build(change: LayoutChange, baseline: Config, canvas: tuple[int, int] | None, alias: str) -> tuple[Config, Config]:
    """(what the change says, the whole configuration to send)."""
    if isinstance(change, LayoutPreset):
        if canvas is None:
            raise ChangeSyntax(f"{alias} has no known canvas size; register it again with canvas=WxH")
        try:
            refs = parse_stream_refs(",".join(change.streams))
            patch = build_preset(change.preset, canvas, refs, **dict(change.options)).config_patch()
        except PresetError as exc:
            raise ChangeSyntax(str(exc)) from None
        patch["Layout"].pop("MainVideoStream", None)
        return patch, merge_patch(baseline, patch)
    if isinstance(change, RegionEdit):
        return _region_edit(change, baseline, alias)
    patch = {"Layout": {"CustomLayout": {"Canvas": {"Background": change.colour}}}}
    return patch, merge_patch(baseline, patch)


def _region_edit(change: RegionEdit, baseline: Config, alias: str) -> tuple[Config, Config]:
    """Every other region is sent back exactly as it was."""
    desired = copy.deepcopy(baseline)
    regions = (desired.get("Layout") or {}).get("CustomLayout", {}).get("Regions")
    if not isinstance(regions, list):
        raise ChangeSyntax(f"{alias} has no regions in force to edit")
    candidates = [
        (pos, r) for pos, r in enumerate(regions) if isinstance(r, dict) and r.get("StreamIndex") == change.stream_index
    ]
    if not candidates:
        have = [r.get("StreamIndex") for r in regions if isinstance(r, dict)]
        raise ChangeSyntax(f"no region shows StreamIndex {change.stream_index} (regions: {have})")
    chosen = next((r for pos, r in candidates if pos == change.position), candidates[0][1])
    chosen.update(merge_patch(chosen, dict(change.fields)))
    for key in [k for k, v in change.fields.items() if v is None]:
        chosen.pop(key, None)
    return {"StreamIndex": change.stream_index, **dict(change.fields)}, desired
