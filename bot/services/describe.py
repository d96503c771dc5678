"""What a change does, in words, for either provider: the one place the diff wording is chosen."""

from __future__ import annotations

from typing import Any

from bot.services.ingest_diff import ingest_changes


def describe_changes(provider: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    if provider == "volcengine":
        # imported here: bot.layouts brings Pillow, which the admin CLI's task commands never need
        from bot.layouts.diff import diff as layout_changes

        return layout_changes(before or {}, after or {}).lines
    return ingest_changes(before, after)
