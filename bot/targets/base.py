"""What a provider target is: everything rtcops must know about one kind of provider task, behind one protocol.

The services run one change lifecycle (propose, approve, apply, report, roll back) for every target and never
ask which provider a task belongs to; whatever differs between providers is a method here. A new kind of
provider task is one module implementing `Target` plus one line in `bot.targets.registry`.

Targets know the provider clients and the layouts; they know nothing of the store, Slack or permissions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from bot.domain import BaselineSource, ChangeKind, Condition, Touch

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.providers.registry import ProviderRegistry

Config = dict[str, Any]
"""A task's configuration in the provider's own JSON: what an update sets."""


@dataclass(frozen=True)
class TaskRef:
    """A registered task as its target sees it. `ids` identify it at the provider (shown to people as they
    are); `facts` are what it was started with and an update cannot change (a canvas size, say)."""

    alias: str
    provider: str
    ids: Mapping[str, Any]
    facts: Mapping[str, Any] = field(default_factory=dict)
    configuration: Config | None = None


@dataclass(frozen=True)
class Health:
    """How the provider says a task is doing, in the watcher's words (`Condition`) plus the provider's own,
    for people ("push to CDN reconnecting (PushStreamState 3)"; plain text, the Slack layer escapes it).
    `since`: when the provider says it began, where it says. `definite`: False when the signal cannot tell a
    healthy task from a struggling one that still exists (such an OK never clears a failure another signal
    reported)."""

    condition: Condition
    words: str
    since: datetime | None = None
    definite: bool = True


@dataclass(frozen=True)
class ProviderState:
    """What the provider says about a task right now; reading never raises for provider trouble, so an
    unreachable provider is a state to show (`error`), not a crash."""

    state: str  # e.g. "running / pushing", "InProgress", "NotExist", "unavailable"
    running: bool | None
    in_force: Config | None  # the updatable configuration in force, where the provider reports it
    request_id: str | None = None
    error: str | None = None  # "code: message (RequestId …)" when the provider could not be asked
    gone: bool = False  # the provider says the task does not exist (or no longer)
    health: Health | None = None  # for the watcher; None: this target says nothing about health


# --- events a provider pushes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskEvent:
    """One event about one task, as a provider pushed it. `ids` are the task identifiers it names (a subset of
    a registered task's ids); `at` is when it happened at the provider (events are applied in that order, so a
    late one does not undo a newer one); `key` is the same for every delivery of the same event."""

    ids: Mapping[str, Any]
    health: Health
    at: datetime
    key: str


@dataclass(frozen=True)
class EventDelivery:
    """What one verified request carried. `fingerprint` identifies this exact signed request: seen a second
    time, it is a replay."""

    fingerprint: str
    events: tuple[TaskEvent, ...]


class EventRefused(Exception):
    """A pushed request that must not be acted on: HTTP `status` (401 forged or replayed, 400 malformed, 404
    not configured), and a reason for the log that quotes nothing the sender chose."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@runtime_checkable
class EventSource(Protocol):
    """A target whose provider pushes events to rtcops (`POST /providers/<name>/events`). Optional: a target
    without it is only polled."""

    name: str

    def read_events(self, settings: Settings, headers: Mapping[str, Sequence[str]], body: bytes, now: datetime) -> EventDelivery:
        """Verify (signature, freshness) and parse one request; `headers` by lower-case name. Raises EventRefused."""
        ...


# --- registration --------------------------------------------------------------------------------------


class RegistrationError(ValueError):
    """Identifiers or options that cannot describe a task of this target; the message says which and why."""


@dataclass(frozen=True)
class Registration:
    """A task as the admin described it, checked for form but not yet with the provider."""

    ids: dict[str, Any]
    facts: dict[str, Any] = field(default_factory=dict)
    configuration: Config | None = None  # stated by the admin, for targets that cannot read it
    sequence_start: int = 0  # the last SequenceNumber another tool already used, if the admin knows it


@dataclass(frozen=True)
class Registered:
    """What the provider said about a registration: the facts it reported, the configuration in force (the
    task's version 1), and what the admin should check. `missing` refuses the registration unless forced."""

    ids: dict[str, Any]
    facts: dict[str, Any]
    state: ProviderState
    baseline: Config | None
    source: BaselineSource
    warnings: tuple[str, ...] = ()
    missing: str | None = None


# --- sending ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    """The provider accepted the update."""

    request_id: str


@dataclass(frozen=True)
class Refused:
    """The provider definitively refused the update before acting on it: nothing changed on air.
    `gone`: the task no longer exists there (re-register before proposing again). `transient`: the refusal
    says nothing about the update itself (a rate limit, "try later"), so the same update may pass later.
    `stale_sequence`: refused only because the provider has seen a SequenceNumber as high already."""

    code: str
    message: str
    request_id: str | None = None
    gone: bool = False
    transient: bool = False
    stale_sequence: bool = False


@dataclass(frozen=True)
class Unanswered:
    """Whether the provider acted is not known: a timeout, a lost connection, a 5xx after sending, or a
    refusal that followed an attempt that may have landed. Never reported as a failure."""

    code: str
    message: str
    request_id: str | None = None


Sent = Applied | Refused | Unanswered


# --- commands and editors ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verb:
    """A /rtc subcommand a target owns, e.g. `layout`: its usage lines (as `/rtc help` shows them) and
    whether `/rtc <verb> <alias>` alone opens an editor."""

    name: str
    kind: ChangeKind
    usage: tuple[str, ...]
    editor: bool = True


class ChangeSyntax(ValueError):
    """The words after `/rtc <verb> <alias>` do not make a change; the message says what is wrong."""


class TargetChange(Protocol):
    """A change a target's command or editor produced; the target alone knows how to build it."""

    @property
    def verb(self) -> str: ...

    @property
    def summary(self) -> str: ...


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    description: str | None = None


@dataclass(frozen=True)
class Field:
    """One input of an editor. `id` is unique within the editor and is the key of values and errors."""

    id: str
    label: str
    kind: Literal["text", "multiline", "select", "radio"] = "text"
    initial: str | None = None
    optional: bool = True
    hint: str | None = None
    placeholder: str | None = None
    choices: tuple[Choice, ...] = ()


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class Note:
    text: str  # plain words; the Slack layer escapes and formats it


EditorItem = Field | Heading | Note


@dataclass(frozen=True)
class Editor:
    """An editor modal, described without Slack. `context` travels with the view (a few short values such as
    the canvas size) so that a submission is checked before the acknowledgement without reading the store."""

    verb: str
    title: str
    intro: str
    items: tuple[EditorItem, ...]
    context: Mapping[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()  # what is odd about the configuration in force, shown above the fields


Errors = dict[str, str]
"""Field id -> what is wrong with it."""


@runtime_checkable
class Target(Protocol):
    """One kind of provider task. Every method is either pure or talks only to the provider."""

    name: str
    title: str  # for people: "Volcengine RTC mixed push"
    uses_sequence_number: bool  # the provider orders updates by a SequenceNumber we send
    reads_configuration: bool  # the provider can report the configuration in force
    registration_usage: str  # "<AppId> <RoomId> <TaskId> [canvas=WxH]"
    registration_options: frozenset[str]  # option names accepted after the ids
    verbs: tuple[Verb, ...]

    # registration
    def parse_registration(self, ids: Sequence[str], options: Mapping[str, str], settings: Settings) -> Registration:
        """Raises RegistrationError."""
        ...

    async def check_registration(self, providers: ProviderRegistry, alias: str, registration: Registration) -> Registered: ...

    # reading
    async def read(self, providers: ProviderRegistry, task: TaskRef) -> ProviderState:
        """What is in force now; the watcher polls this, and reads `ProviderState.health` where it is given."""
        ...

    # changing
    def parse_change(self, verb: str, args: Sequence[str]) -> TargetChange:
        """Raises ChangeSyntax."""
        ...

    def build(self, change: TargetChange, baseline: Config, task: TaskRef) -> tuple[Config, Config]:
        """(what the change says, the whole configuration to send); raises ChangeSyntax when the change does
        not fit this task (a preset on a canvas it cannot tile, say)."""
        ...

    def validate(self, task: TaskRef, desired: Config) -> list[str]:
        """Every reason the provider would refuse or silently alter `desired`, as field-path lines."""
        ...

    def touched(self, before: Config, after: Config) -> list[Touch]: ...

    def describe(self, before: Config | None, after: Config | None) -> list[str]:
        """The difference in an operator's words, plain text (the Slack layer escapes it)."""
        ...

    def summarize(self, task: TaskRef, config: Config) -> list[str]:
        """A configuration in an operator's words, one line per part, plain text (for /rtc status)."""
        ...

    def preview(self, task: TaskRef, before: Config, after: Config, touched: Sequence[Touch]) -> bytes | None:
        """A before/after picture where one helps (a PNG), else None."""
        ...

    async def send(
        self, providers: ProviderRegistry, task: TaskRef, desired: Config, baseline: Config, sequence_number: int | None
    ) -> Sent:
        """Send `desired` (merged onto `baseline`); never raises for provider trouble."""
        ...

    def editor(self, verb: str, task: TaskRef, state: ProviderState) -> Editor: ...

    def read_editor(
        self, verb: str, values: Mapping[str, str], initial: Mapping[str, str], context: Mapping[str, str]
    ) -> tuple[TargetChange | None, Errors]:
        """A submitted editor as a change, or the errors keyed by field id; pure and fast (before the ack)."""
        ...


@runtime_checkable
class Pictured(Protocol):
    """A target whose `preview` draws the resulting configuration in a way many tasks can share: a bulk change
    draws one picture per distinct `picture_key` instead of one per task. Optional; a target without it gets
    no pictures in a bulk change."""

    def picture_key(self, task: TaskRef, after: Config, touched: Sequence[Touch]) -> str | None:
        """What the 'proposed' half of `preview` depends on, as text; None when `preview` draws nothing."""
        ...
