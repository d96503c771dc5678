"""The names people type: task aliases, tags and Slack channels, each parsed and checked in this one place.

The /rtc grammar, the modals, the admin CLI and the services all call these, so a name one of them accepts is
never refused by another further down.
"""

from __future__ import annotations

import re

ALIAS_RULE = "1-64 letters, digits, '-', '_' or '.', starting with a letter or digit"
TAG_RULE = "1-64 letters, digits, '-', '_', '.' or '@'"
CHANNEL_RULE = "a channel picked with #channel, or its ID (C… or G…)"

_ALIAS = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_TAG = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
_CHANNEL = re.compile(r"<#([CG][A-Z0-9]{2,31})(?:\|[^>]*)?>|([CG][A-Z0-9]{2,31})")


class InvalidName(ValueError):
    """`what` (alias, tag, channel) `value` breaks `rule`; the edges word it for their reader."""

    def __init__(self, what: str, value: str, rule: str) -> None:
        self.what = what
        self.value = value
        self.rule = rule
        super().__init__(f"{what} {value!r} is not valid: use {rule}")


def alias(text: str) -> str:
    """Aliases are case-insensitive and stored in lower case: `Finals` and `finals` are one task."""
    value = text.strip().lower()
    if not _ALIAS.fullmatch(value):
        raise InvalidName("alias", text, ALIAS_RULE)
    return value


def tag(text: str) -> str:
    value = text.strip()
    if not _TAG.fullmatch(value):
        raise InvalidName("tag", text, TAG_RULE)
    return value


def tags(text: str | None) -> tuple[str, ...]:
    """A comma-separated list; empty items are dropped, duplicates kept once, in order."""
    seen: list[str] = []
    for item in (text or "").split(","):
        if item.strip() and (value := tag(item)) not in seen:
            seen.append(value)
    return tuple(seen)


def channel(text: str) -> str:
    """A channel ID from `<#C123|name>` (what Slack sends for #name) or a bare ID."""
    if m := _CHANNEL.fullmatch(text.strip()):
        return m.group(1) or m.group(2)
    raise InvalidName("channel", text, CHANNEL_RULE)
