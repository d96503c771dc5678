"""Layouts: presets, readable diffs and preview pictures, as pure functions over the provider models.

Nothing here talks to Slack, the database or the network, so the services can call it inside a request
and the tests can call it without fixtures.
"""

from bot.layouts.diff import LayoutDiff, diff
from bot.layouts.presets import PRESETS, PresetError, PresetResult, StreamRef, build_preset
from bot.layouts.preview import preview_pair, render

__all__ = ["PRESETS", "LayoutDiff", "PresetError", "PresetResult", "StreamRef", "build_preset", "diff", "preview_pair", "render"]
