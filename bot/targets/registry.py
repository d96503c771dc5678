"""Which targets exist: one line per provider task kind. The services find a task's target here by name and
never branch on the name themselves."""

from __future__ import annotations

from collections.abc import Iterator

from bot.targets.base import Target, Verb
from bot.targets.tencent import TencentTarget
from bot.targets.volcengine import VolcengineTarget

_TARGETS: dict[str, Target] = {}


class UnknownTarget(KeyError):
    """A task names a target this build does not have (a row written by a newer version, say)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def register(target: Target) -> Target:
    """Adds a target; registering a second one under a taken name is a programming error."""
    if target.name in _TARGETS and _TARGETS[target.name] is not target:
        raise ValueError(f"a target called {target.name!r} is already registered")
    taken = {v.name for t in _TARGETS.values() if t is not target for v in t.verbs}
    clash = taken & {v.name for v in target.verbs}
    if clash:
        raise ValueError(f"/rtc {', '.join(sorted(clash))} already belongs to another target")
    _TARGETS[target.name] = target
    return target


def unregister(name: str) -> None:
    """For tests that add a target of their own."""
    _TARGETS.pop(name, None)


def target_named(name: str) -> Target:
    try:
        return _TARGETS[name]
    except KeyError:
        raise UnknownTarget(name) from None


def targets() -> Iterator[Target]:
    return iter(list(_TARGETS.values()))


def names() -> tuple[str, ...]:
    return tuple(_TARGETS)


def verb_owner(verb: str) -> tuple[Target, Verb] | None:
    for target in _TARGETS.values():
        for candidate in target.verbs:
            if candidate.name == verb:
                return target, candidate
    return None


register(VolcengineTarget())
register(TencentTarget())
