"""What the services hand back: plain data the Slack layer (or the CLI) renders and never has to interpret."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    missing_role: str | None = None


@dataclass(frozen=True)
class TaskInfo:
    alias: str
    team_id: str
    provider: str  # volcengine | tencent
    identifiers: dict[str, str]  # AppId/RoomId/TaskId/BusinessId or SdkAppId/TaskId/Region/Site
    canvas: tuple[int, int] | None
    tags: tuple[str, ...]
    notify_channel: str | None
    policy: dict[str, bool]  # effective policy: change kind -> needs approval
    version: int
    sequence_number: int
    configuration: dict[str, Any] | None  # last applied full configuration, provider JSON
    open_request_id: int | None = None


@dataclass(frozen=True)
class ProviderState:
    """What the provider says about the task right now; `error` is set (code: message, RequestId) if it could not."""

    state: str  # e.g. "running / pushing", "InProgress", "NotExist", "unreachable"
    running: bool | None
    in_force: dict[str, Any] | None  # configuration in force (Volcengine only)
    request_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class TaskStatus:
    task: TaskInfo
    provider: ProviderState
    drift_lines: list[str] = field(default_factory=list)  # store's last applied vs. in force


@dataclass(frozen=True)
class TaskAdded:
    task: TaskInfo
    baseline_source: str  # provider | given | none
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
class ChangeResult:
    request_id: int
    alias: str
    provider: str
    kind: str
    state: str
    summary: str
    requester: str
    team_id: str
    needs_approval: bool
    touched: list[str]  # change kinds touched: layout, streams, encode, spatial, url, volume, pause, …
    diff_lines: list[str]  # baseline -> desired, readable
    drift_lines: list[str]  # last applied (store) -> in force (provider), when they differ
    baseline_source: str  # provider | store
    payload_hash: str
    base_version: int
    created_at: datetime
    expires_at: datetime
    desired: dict[str, Any]  # the full configuration that will be sent
    baseline: dict[str, Any]
    canvas: tuple[int, int] | None = None
    preview_png: bytes | None = None  # before/after picture, layout changes only (propose only)
    rollback_to: int | None = None
    decided_by: str | None = None
    link: str | None = None
    channel_id: str | None = None  # where the request message was posted, once it was
    message_ts: str | None = None  # that message, whose thread gets every later word
    notify_channel: str | None = None
    # filled once applied (or failed)
    sequence_number: int | None = None
    provider_request_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    result_version: int | None = None

    @property
    def open(self) -> bool:
        return self.state in ("pending", "approved", "applying")

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
    kind: str
    state: str
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
    state: str  # applied | failed | unknown
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
