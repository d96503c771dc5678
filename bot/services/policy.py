"""Which changes need a second person. A change is classified by the parts of the configuration it
touches, not by the command that produced it, so a generic patch or a rollback cannot dodge the policy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.services.errors import BadInput

DEFAULT_POLICY: dict[str, bool] = {
    "layout": True,
    "streams": True,
    "encode": True,
    "spatial": True,
    "url": True,
    "playback": True,
    "volume": False,
    "pause": False,
}
"""Change kind -> needs approval. Layout and stream swaps are what goes visibly wrong on air."""

_SECTIONS: dict[str, str] = {
    "Layout": "layout",
    "TargetStreams": "streams",
    "Encode": "encode",
    "Control": "spatial",
    "StreamUrl": "url",
    "Volume": "volume",
    "IsPause": "pause",
    "EnableProgress": "playback",
    "Tempo": "playback",
}


def effective_policy(overrides: Mapping[str, bool] | None) -> dict[str, bool]:
    return {**DEFAULT_POLICY, **{k: v for k, v in (overrides or {}).items() if k in DEFAULT_POLICY}}


def check_kind(kind: str) -> str:
    if kind not in DEFAULT_POLICY:
        raise BadInput(f"unknown change kind {kind!r}: use one of {', '.join(DEFAULT_POLICY)}")
    return kind


def touched_kinds(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    kinds: list[str] = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            kind = _SECTIONS.get(key, "playback")
            if kind not in kinds:
                kinds.append(kind)
    return kinds


def needs_approval(policy: Mapping[str, bool], touched: list[str]) -> bool:
    """Unknown kinds need approval: a gap in the table must not become a way around it."""
    return any(policy.get(kind, True) for kind in touched)
