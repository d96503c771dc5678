"""What the services hand back: plain data the Slack layer (or the CLI) renders and never has to interpret."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain import BaselineSource, ChangeKind, ChangeState, Condition, IncidentKind, IncidentState, Touch
from bot.targets.base import ProviderState as ProviderState


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    missing_role: str | None = None


@dataclass(frozen=True)
class TaskInfo:
    alias: str
    team_id: str
    provider: str  # the name of its target
    identifiers: dict[str, str]  # what identifies it at the provider, as shown to people
    facts: Mapping[str, Any]  # what it was started with (e.g. Canvas [w, h])
    tags: tuple[str, ...]
    notify_channel: str | None
    policy: dict[Touch, bool]  # effective policy: what a change touches -> needs approval
    version: int
    sequence_number: int
    configuration: dict[str, Any] | None  # last applied full configuration, provider JSON
    open_request_id: int | None = None
    break_glass: bool = True  # approvers may apply a change at once, without a second person


@dataclass(frozen=True)
class WatchInfo:
    """What the watcher knows of a task, from the store (no provider call)."""

    alias: str
    enabled: bool
    condition: Condition
    words: str  # the provider's words for it
    since: datetime | None
    muted_until: datetime | None = None
    open_incidents: int = 0


@dataclass(frozen=True)
class TaskStatus:
    task: TaskInfo
    provider: ProviderState
    drift_lines: list[str] = field(default_factory=list)  # store's last applied vs. in force
    summary_lines: list[str] = field(default_factory=list)  # what is in force (or last applied), in words
    watch: WatchInfo | None = None


@dataclass(frozen=True)
class TaskPage:
    """One page of `/rtc tasks`: which page of how many, out of how many tasks (after the filter)."""

    statuses: list[TaskStatus]
    page: int
    pages: int
    total: int
    selector: str | None = None


@dataclass(frozen=True)
class IncidentView:
    """One incident as its message, `/rtc incidents` and App Home show it."""

    id: int
    team_id: str
    alias: str
    provider: str  # the name of the task's target
    title: str  # the target's title, "Volcengine RTC mixed push"
    kind: IncidentKind
    state: IncidentState
    words: str  # what the provider said (plain text)
    since: datetime
    opened_at: datetime
    recovered_at: datetime | None
    flaps: int
    version: int  # the version rtcops last applied, on air when it opened (0: none yet)
    version_by: str | None  # who applied it, when and why (its note: "layout pip host,guest")
    version_at: datetime | None
    version_note: str
    diff_lines: list[str]  # drift: last applied -> in force
    notify_channel: str | None  # the task's notification channel, if it names one
    channel_id: str | None  # where its message is, once posted
    message_ts: str | None
    link: str | None
    acked_by: str | None
    acked_at: datetime | None
    muted_until: datetime | None
    muted_by: str | None
    resolution: str
    restore_request_id: int | None

    @property
    def open(self) -> bool:
        return self.state == IncidentState.OPEN


@dataclass(frozen=True)
class TaskAdded:
    task: TaskInfo
    baseline_source: BaselineSource
    provider: ProviderState | None
    warnings: tuple[str, ...] = ()  # registered, but something the admin should check (a task the provider did not find)


@dataclass(frozen=True)
class GrantInfo:
    id: int
    team_id: str
    subject_type: str  # user | group
    subject_id: str
    role: str
    scope: str
    granted_by: str
    created_at: datetime
    expires_at: datetime | None
    bootstrap: bool = False  # from RTCOPS_ADMIN_USERS, not revocable here


@dataclass(frozen=True)
class Access:
    """Someone who may act on a task, at the highest role a grant (or RTCOPS_ADMIN_USERS) gives them there."""

    subject_type: str  # user | group
    subject_id: str
    role: str
    scope: str
    expires_at: datetime | None
    bootstrap: bool = False


@dataclass(frozen=True)
class ChangeResult:
    request_id: int
    alias: str
    provider: str
    kind: ChangeKind
    state: ChangeState
    summary: str
    requester: str
    team_id: str
    needs_approval: bool
    touched: list[Touch]
    diff_lines: list[str]  # baseline -> desired, readable
    drift_lines: list[str]  # last applied (store) -> in force (provider), when they differ
    baseline_source: BaselineSource
    payload_hash: str
    base_version: int
    created_at: datetime
    expires_at: datetime
    desired: dict[str, Any]  # the full configuration that will be sent
    baseline: dict[str, Any]
    preview_png: bytes | None = None  # before/after picture, layout changes only (propose only)
    rollback_to: int | None = None
    decided_by: str | None = None
    link: str | None = None
    channel_id: str | None = None  # where the request message was posted, once it was
    message_ts: str | None = None  # that message, whose thread gets every later word
    notify_channel: str | None = None
    uses_sequence_number: bool = False  # the provider orders updates by the SequenceNumber below
    gone: bool = False  # failed because the task no longer exists at the provider
    # filled once applied (or failed)
    sequence_number: int | None = None
    provider_request_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    result_version: int | None = None
    not_before: datetime | None = None  # scheduled: applied at this time, once approved
    schedule_id: int | None = None
    schedule_tz: str | None = None
    break_glass: str | None = None  # applied without a second person, for this reason
    reminded: bool = False

    @property
    def open(self) -> bool:
        return self.state.open

    @property
    def posted(self) -> bool:
        return self.channel_id is not None and self.message_ts is not None


@dataclass(frozen=True)
class VersionInfo:
    version: int
    applied_by: str
    applied_at: datetime
    change_request_id: int | None
    note: str
    configuration: dict[str, Any]


@dataclass(frozen=True)
class ChangeSummary:
    request_id: int
    kind: ChangeKind
    state: ChangeState
    requester: str
    summary: str
    created_at: datetime
    result_version: int | None
    provider_request_id: str | None
    error_code: str | None
    alias: str | None = None


@dataclass(frozen=True)
class History:
    alias: str
    current_version: int
    versions: list[VersionInfo]  # newest first
    changes: list[ChangeSummary]  # newest first


@dataclass(frozen=True)
class RecoveryOutcome:
    request_id: int
    alias: str
    state: ChangeState  # applied | failed | unknown
    detail: str
    change: ChangeResult | None = None  # the request as recovery left it, for reporting where it was posted


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    team_id: str
    actor: str
    action: str
    target: str
    task_alias: str | None
    change_request_id: int | None
    before: Any
    after: Any
    provider_request_id: str | None
    outcome: str
    detail: str


@dataclass(frozen=True)
class HomeSummary:
    """Everything App Home shows one user; empty lists (never a refusal) for someone with no role."""

    waiting: list[ChangeResult]  # requests this user could approve now
    mine: list[ChangeResult]  # their own open requests
    tasks: list[TaskInfo]  # tasks they may view
    recent: list[ChangeSummary]  # the newest changes on those tasks
    incidents: list[IncidentView] = field(default_factory=list)  # open incidents on those tasks, shown first
    watching: dict[str, WatchInfo] = field(default_factory=dict)  # alias -> what the watcher knows of it
