"""Tencent ingest changes in the words an operator uses ("volume 100 → 40", "paused").

Describe cannot report an ingest's settings, so a field rtcops never set is in force at the provider's
default; the diff says so instead of showing "unset".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.services.merge import canonical_json

DEFAULTS: dict[str, Any] = {"Volume": 100, "IsPause": False, "EnableProgress": False, "Tempo": 1.0}


def _value(config: Mapping[str, Any], key: str) -> tuple[Any, bool]:
    if key in config:
        return config[key], False
    return DEFAULTS.get(key), True


def ingest_changes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[str]:
    a, b = before or {}, after or {}
    lines: list[str] = []
    for key in sorted(set(a) | set(b), key=lambda k: (k != "StreamUrl", k)):
        old, old_default = _value(a, key)
        new, _ = _value(b, key)
        if old == new:
            continue
        if key == "StreamUrl":
            lines.append(f"source {old} → {new}" if old is not None else f"source set to {new}")
        elif key == "IsPause":
            lines.append("paused" if new else "resumed")
        elif key == "Volume":
            lines.append(f"volume {old}{' (default)' if old_default else ''} → {new}")
        elif key == "Tempo":
            lines.append(f"tempo {old}× → {new}×")
        elif key == "EnableProgress":
            lines.append("progress reporting " + ("on" if new else "off"))
        else:
            lines.append(f"{key}: {canonical_json(old)} → {canonical_json(new)}")
    return lines
