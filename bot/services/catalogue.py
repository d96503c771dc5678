"""What the targets offer to the /rtc grammar: their subcommands, how each is parsed, and how a task of each
is registered. Read from the target registry, so a new target's commands appear without a grammar change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.services.errors import BadInput
from bot.targets.base import ChangeSyntax
from bot.targets.base import TargetChange as TargetChange
from bot.targets.registry import targets, verb_owner


@dataclass(frozen=True)
class VerbInfo:
    name: str
    provider: str
    usage: tuple[str, ...]
    editor: bool


@dataclass(frozen=True)
class ProviderInfo:
    name: str
    title: str
    registration_usage: str


def verbs() -> list[VerbInfo]:
    return [VerbInfo(v.name, t.name, v.usage, v.editor) for t in targets() for v in t.verbs]


def providers() -> list[ProviderInfo]:
    return [ProviderInfo(t.name, t.title, t.registration_usage) for t in targets()]


def parse_change(verb: str, args: Sequence[str]) -> TargetChange:
    """The words after `/rtc <verb> <alias>` as a change; pure. Raises BadInput with what is wrong."""
    owner = verb_owner(verb)
    if owner is None:
        raise BadInput(f"unknown subcommand {verb!r}")
    try:
        return owner[0].parse_change(verb, args)
    except ChangeSyntax as exc:
        raise BadInput(str(exc)) from None
