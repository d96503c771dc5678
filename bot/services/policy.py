"""Which changes need a second person. A change is classified by the parts of the configuration it touches
(each target says which, from the configurations themselves), not by the command that produced it, so a
generic patch or a rollback cannot dodge the policy."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot.domain import Touch
from bot.services.errors import BadInput

DEFAULT_POLICY: dict[Touch, bool] = {
    Touch.LAYOUT: True,
    Touch.STREAMS: True,
    Touch.ENCODE: True,
    Touch.SPATIAL: True,
    Touch.URL: True,
    Touch.PLAYBACK: True,
    Touch.VOLUME: False,
    Touch.PAUSE: False,
}
"""What a change touches -> needs approval. Layout and stream swaps are what goes visibly wrong on air."""


def effective_policy(overrides: Mapping[str, bool] | None) -> dict[Touch, bool]:
    policy = dict(DEFAULT_POLICY)
    for key, value in (overrides or {}).items():
        if key in Touch.__members__.values():
            policy[Touch(key)] = bool(value)
    return policy


def parse_touch(text: str) -> Touch:
    try:
        return Touch(text.strip().lower())
    except ValueError:
        raise BadInput(f"unknown change kind {text!r}: use one of {', '.join(t.value for t in Touch)}") from None


def needs_approval(policy: Mapping[Touch, bool], touched: Iterable[Touch]) -> bool:
    """Unknown kinds need approval: a gap in the table must not become a way around it."""
    return any(policy.get(touch, True) for touch in touched)


BREAK_GLASS = "break_glass"
"""The policy key that allows (the default) or forbids break-glass on a task."""


def break_glass_allowed(overrides: Mapping[str, bool] | None) -> bool:
    return bool((overrides or {}).get(BREAK_GLASS, True))
