"""A test-only provider target, "echo": proof that a new kind of provider task is one module plus a registry
line, with no change to the services or the handlers.

Its "provider" is an in-memory table of configurations (flat string settings such as {"colour": "red"}),
keyed by a task key. Like Volcengine it reports what is in force and orders updates by SequenceNumber
(refusing a number that is not higher than the last one it applied), so the whole lifecycle runs through it:
registration, the /rtc subcommand it owns, approval, apply, history and rollback.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.config import Settings
from bot.domain import BaselineSource, ChangeKind, Touch
from bot.providers.registry import ProviderRegistry
from bot.targets.base import (
    Applied,
    ChangeSyntax,
    Config,
    Editor,
    Errors,
    Field,
    ProviderState,
    Refused,
    Registered,
    Registration,
    RegistrationError,
    Sent,
    TargetChange,
    TaskRef,
    Verb,
)
from bot.targets.config_json import merge_patch

VERB = "echo"


@dataclass
class EchoTask:
    configuration: Config
    last_sequence: int = 0
    updates: list[tuple[int, Config]] = field(default_factory=list)


@dataclass(frozen=True)
class EchoChange:
    settings: Mapping[str, str]
    verb: str = VERB

    @property
    def summary(self) -> str:
        return "echo " + " ".join(f"{k}={v}" for k, v in self.settings.items())


class EchoTarget:
    name: str = "echo"
    title: str = "Echo (tests only)"
    uses_sequence_number: bool = True
    reads_configuration: bool = True
    registration_usage: str = "<Key>"
    registration_options: frozenset[str] = frozenset()
    verbs: tuple[Verb, ...] = (
        Verb(VERB, ChangeKind.PATCH, ("/rtc echo <alias> <name>=<value>…                     sets echo settings",)),
    )

    def __init__(self) -> None:
        self.tasks: dict[str, EchoTask] = {}

    def start(self, key: str, configuration: Config) -> None:
        self.tasks[key] = EchoTask(dict(configuration))

    def parse_registration(self, ids: Sequence[str], options: Mapping[str, str], settings: Settings) -> Registration:
        if len(ids) != 1:
            raise RegistrationError("an echo task needs its Key")
        return Registration(ids={"Key": ids[0]})

    async def check_registration(self, providers: ProviderRegistry, alias: str, registration: Registration) -> Registered:
        state = await self.read(providers, TaskRef(alias, self.name, registration.ids))
        missing = None if not state.gone else f"no echo task {registration.ids['Key']}"
        source = BaselineSource.PROVIDER if state.in_force else BaselineSource.NONE
        return Registered(registration.ids, {}, state, state.in_force, source, (), missing)

    async def read(self, providers: ProviderRegistry, task: TaskRef) -> ProviderState:
        found = self.tasks.get(str(task.ids.get("Key")))
        if found is None:
            return ProviderState("gone", False, None, gone=True)
        return ProviderState("echoing", True, dict(found.configuration), request_id=f"echo-read-{len(found.updates)}")

    def parse_change(self, verb: str, args: Sequence[str]) -> TargetChange:
        pairs = [a.partition("=") for a in args]
        if not pairs or any(not sep or not key for key, sep, _ in pairs):
            raise ChangeSyntax("give settings as name=value")
        return EchoChange({key: value for key, _, value in pairs})

    def build(self, change: TargetChange, baseline: Config, task: TaskRef) -> tuple[Config, Config]:
        assert isinstance(change, EchoChange)
        patch = dict(change.settings)
        return patch, merge_patch(baseline, patch)

    def validate(self, task: TaskRef, desired: Config) -> list[str]:
        return [f"{k}: must be text" for k, v in desired.items() if not isinstance(v, str)]

    def touched(self, before: Config, after: Config) -> list[Touch]:
        return [Touch.LAYOUT] if before != after else []

    def describe(self, before: Config | None, after: Config | None) -> list[str]:
        a, b = before or {}, after or {}
        return [f"{k} {a.get(k, '(unset)')} → {b.get(k, '(unset)')}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]

    def summarize(self, task: TaskRef, config: Config) -> list[str]:
        return [f"{k} = {v}" for k, v in sorted(config.items())]

    def preview(self, task: TaskRef, before: Config, after: Config, touched: Sequence[Touch]) -> bytes | None:
        return None

    async def send(
        self, providers: ProviderRegistry, task: TaskRef, desired: Config, baseline: Config, sequence_number: int | None
    ) -> Sent:
        found = self.tasks.get(str(task.ids.get("Key")))
        if found is None:
            return Refused("Gone", "no such echo task", gone=True)
        if sequence_number is None or sequence_number <= found.last_sequence:
            return Refused("SequenceNumber", f"{sequence_number} is not above {found.last_sequence}")
        found.configuration, found.last_sequence = dict(desired), sequence_number
        found.updates.append((sequence_number, dict(desired)))
        return Applied(f"echo-{sequence_number}")

    def editor(self, verb: str, task: TaskRef, state: ProviderState) -> Editor:
        config = state.in_force or {}
        return Editor(VERB, "Echo editor", f"Editing {task.alias}", tuple(Field(k, k, initial=str(v)) for k, v in config.items()))

    def read_editor(
        self, verb: str, values: Mapping[str, str], initial: Mapping[str, str], context: Mapping[str, Any]
    ) -> tuple[TargetChange | None, Errors]:
        changed = {k: v for k, v in values.items() if v != initial.get(k)}
        return (EchoChange(changed), {}) if changed else (None, {next(iter(values), ""): "nothing changed"})
