"""The tables. Every Slack reference (user, group, channel) is stored together with its team ID, because a
user ID alone is ambiguous across workspaces of one Enterprise Grid.

Two columns carry the concurrency rules, so that the database (not our code) settles races:
- ``change_requests.open_slot`` holds the task's id while the request is open and NULL once it is closed;
  a unique constraint on it allows at most one open change per task (NULLs never collide).
- ``tasks.sequence_number`` is raised by a single conditional UPDATE … RETURNING when a change is applied.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from bot.domain import (
    BaselineSource,
    BulkPurpose,
    BulkState,
    ChangeKind,
    ChangeState,
    Condition,
    IncidentKind,
    IncidentState,
    RundownState,
    ScheduleState,
)

E = TypeVar("E", bound=StrEnum)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Always hands back aware UTC datetimes; SQLite would otherwise return naive ones and comparisons with
    the clock would raise."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class EnumText(TypeDecorator[E], Generic[E]):
    """A StrEnum stored as its text: the ORM hands back members, and a value outside the enum fails on the
    way in rather than landing in a row no code can read."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (UniqueConstraint("team_id", "alias"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    alias: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(16))  # the name of its target (bot.targets.registry)
    # what identifies the task at the provider (AppId/RoomId/TaskId, SdkAppId/TaskId/Region/Site), and what it
    # was started with that no update changes (a canvas size): each target decides its own keys
    ids: Mapped[dict[str, Any]] = mapped_column(JSON)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    notify_channel: Mapped[str | None] = mapped_column(String(32))
    policy: Mapped[dict[str, bool]] = mapped_column(JSON, default=dict)
    configuration: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=0)
    sequence_number: Mapped[int] = mapped_column(BigInteger, default=0)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """A removed task is kept, with its versions and change requests, under an alias nobody can type (its
    own alias is free again): deleting it would let SQLite hand its request ids to new requests, and a new
    request must never meet an old one's idempotency keys, notices or Slack buttons."""


def removed_alias(task_id: int, alias: str) -> str:
    return f"~{task_id}:{alias}"[:64]


class ConfigVersion(Base):
    __tablename__ = "config_versions"
    __table_args__ = (UniqueConstraint("task_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    configuration: Mapped[dict[str, Any]] = mapped_column(JSON)
    applied_by_team: Mapped[str] = mapped_column(String(32))
    applied_by: Mapped[str] = mapped_column(String(64))
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime())
    change_request_id: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(200), default="")


class Grant(Base):
    __tablename__ = "grants"
    __table_args__ = (Index(None, "team_id", "subject_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    subject_type: Mapped[str] = mapped_column(String(8))  # user | group
    subject_id: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(100))  # global | provider:p | tag:t | task:alias
    granted_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ChangeRequest(Base):
    __tablename__ = "change_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[str] = mapped_column(String(32))
    requester: Mapped[str] = mapped_column(String(64))
    kind: Mapped[ChangeKind] = mapped_column(EnumText(ChangeKind, 32))
    summary: Mapped[str] = mapped_column(String(300))
    touched: Mapped[list[str]] = mapped_column(JSON, default=list)
    change: Mapped[dict[str, Any]] = mapped_column(JSON)
    baseline: Mapped[dict[str, Any]] = mapped_column(JSON)
    baseline_source: Mapped[BaselineSource] = mapped_column(EnumText(BaselineSource, 16))
    desired: Mapped[dict[str, Any]] = mapped_column(JSON)
    drift: Mapped[list[str]] = mapped_column(JSON, default=list)
    payload_hash: Mapped[str] = mapped_column(String(64))
    base_version: Mapped[int] = mapped_column(Integer)
    rollback_to: Mapped[int | None] = mapped_column(Integer)
    needs_approval: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[ChangeState] = mapped_column(EnumText(ChangeState, 16), index=True)
    open_slot: Mapped[int | None] = mapped_column(Integer, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    applying_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sequence_number: Mapped[int | None] = mapped_column(BigInteger)
    provider_request_id: Mapped[str | None] = mapped_column(String(128))
    error_code: Mapped[str | None] = mapped_column(String(128))
    error_message: Mapped[str | None] = mapped_column(Text)
    gone: Mapped[bool] = mapped_column(Boolean, default=False)  # failed because the task no longer exists
    result_version: Mapped[int | None] = mapped_column(Integer)
    channel_id: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    permalink: Mapped[str | None] = mapped_column(String(500))
    bulk_id: Mapped[int | None] = mapped_column(Integer, index=True)
    """The bulk change this request is one task of (None for a change of one task): the bulk carries the one
    approval, the one thread and the progress, the request everything else."""
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """Scheduled (`at=`): not applied before this time. Until its schedule fires the request holds no lock
    (`open_slot` None), so a change planned for tonight does not block the afternoon's."""
    schedule_id: Mapped[int | None] = mapped_column(Integer, index=True)
    break_glass: Mapped[str | None] = mapped_column(String(300))
    """Applied without a second person (`now reason=…`): the reason given."""
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Approval(Base):
    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    change_request_id: Mapped[int] = mapped_column(ForeignKey("change_requests.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))  # approve | reject
    payload_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditEvent(Base):
    """Append-only: the migration installs triggers that refuse UPDATE and DELETE on this table."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    team_id: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(200))
    task_alias: Mapped[str | None] = mapped_column(String(64), index=True)
    change_request_id: Mapped[int | None] = mapped_column(Integer)
    before: Mapped[Any | None] = mapped_column(JSON)
    after: Mapped[Any | None] = mapped_column(JSON)
    provider_request_id: Mapped[str | None] = mapped_column(String(128))
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class Notice(Base):
    """Something the bot must tell people, written in the same transaction as what it reports and delivered
    afterwards, with retries: a thread post, the parent message's new state, a notification line.

    Notices of one `lane` (one change request) are delivered in order, so a thread reads as it happened; a
    failed delivery holds its lane only, never the others. `kind` names what to say, `payload` the few facts
    the words need that the request does not hold (who approved, why it went stale); the words themselves are
    chosen when it is delivered, from the request as it then stands.
    """

    __tablename__ = "notices"
    __table_args__ = (Index(None, "state", "next_at"), Index(None, "lane", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    lane: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    change_request_id: Mapped[int | None] = mapped_column(ForeignKey("change_requests.id", ondelete="CASCADE"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | delivered | dropped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(200))
    audit_event_id: Mapped[int | None] = mapped_column(ForeignKey("audit_events.id"))
    """For a notice that forwards an audit event to RTCOPS_AUDIT_WEBHOOK: the event (bot.store.audit_feed)."""
    audit_event: Mapped[AuditEvent | None] = relationship(lazy="raise")


class Watch(Base):
    """What the watcher knows of one task: whether it is watched, how it is doing and since when, and whether
    its alerts are muted. A row appears the first time the task is observed or its watching is set; no row
    means watched and not observed yet. `event_at` is the provider time of the newest pushed event applied:
    an older one arriving late changes nothing."""

    __tablename__ = "watches"

    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    condition: Mapped[Condition] = mapped_column(EnumText(Condition, 16), default=Condition.UNKNOWN)
    words: Mapped[str] = mapped_column(String(300), default="")
    since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    definite: Mapped[bool] = mapped_column(Boolean, default=True)
    event_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    muted_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    muted_by: Mapped[str | None] = mapped_column(String(64))


class Incident(Base):
    """A task in trouble, told once in its notification channel and kept up to date in that one message.

    ``slot`` ("<task id>:health" or "<task id>:drift") is unique and held from the moment the incident opens
    until it is closed, recovered time included: two replicas that see the same failure cannot both open one
    (the second insert fails), and a task that goes bad again within the flap window reopens this row."""

    __tablename__ = "incidents"
    __table_args__ = (Index(None, "state", "task_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[str] = mapped_column(String(32))
    slot: Mapped[str | None] = mapped_column(String(40), unique=True)
    kind: Mapped[IncidentKind] = mapped_column(EnumText(IncidentKind, 16))
    state: Mapped[IncidentState] = mapped_column(EnumText(IncidentState, 16))
    words: Mapped[str] = mapped_column(String(300))
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recovered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    flaps: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer)  # the task's version on air (last applied) when it opened
    in_force: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # drift: the configuration found in force
    diff: Mapped[list[str]] = mapped_column(JSON, default=list)  # drift: last applied -> in force, in words
    announced: Mapped[bool] = mapped_column(Boolean, default=False)  # its message was asked for (not muted)
    channel_id: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    permalink: Mapped[str | None] = mapped_column(String(500))
    acked_by: Mapped[str | None] = mapped_column(String(64))
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution: Mapped[str] = mapped_column(String(300), default="")
    restore_request_id: Mapped[int | None] = mapped_column(Integer)


class WatchLease(Base):
    """Which replica polls: the one holding the lease, renewed every tick; another takes over once it lapses."""

    __tablename__ = "watch_leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    until: Mapped[datetime] = mapped_column(UTCDateTime())


class Lease(Base):
    """Who runs a periodic job's timed part (bot/services/scheduler.py): the holder until `expires_at`, a time of
    the database's clock, so replicas whose clocks disagree still agree on it. PostgreSQL only: a SQLite store
    has one replica, which needs no lease."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


SLACK_TABLES = ("slack_installations", "slack_bots", "slack_oauth_states")
"""Tables of slack_sdk's SQLAlchemy installation and OAuth-state stores, created by migration 0005. They are not
modelled here (the store does not import Slack); tests/service/test_installations.py checks that every column
slack_sdk's stores use exists in them."""


class Bulk(Base):
    """One change over many tasks: each task's change is its own ChangeRequest (with `bulk_id` set), holding
    that task's lock, SequenceNumber and verdict; the bulk holds what they share: the one decision, bound to
    `payload_hash` (over every member's payload hash), the one request message and its thread, and the
    tasks the selector matched that the change does not cover (`refused`, with why)."""

    __tablename__ = "bulks"
    __table_args__ = (Index("uq_bulks_cue", "rundown_id", "rundown_epoch", "cue_position", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    requester: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[BulkPurpose] = mapped_column(EnumText(BulkPurpose, 16))
    selector: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(String(300))
    parent_id: Mapped[int | None] = mapped_column(Integer)  # the bulk a Retry failed or Roll back applied came from
    scene_version_id: Mapped[int | None] = mapped_column(Integer)
    refused: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    payload_hash: Mapped[str] = mapped_column(String(64))
    needs_approval: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[BulkState] = mapped_column(EnumText(BulkState, 16), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    channel_id: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    permalink: Mapped[str | None] = mapped_column(String(500))
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime())
    schedule_id: Mapped[int | None] = mapped_column(Integer)
    break_glass: Mapped[str | None] = mapped_column(String(300))
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rundown_id: Mapped[int | None] = mapped_column(Integer)
    rundown_epoch: Mapped[int | None] = mapped_column(Integer)
    cue_position: Mapped[int | None] = mapped_column(Integer)
    """A cue fired: (rundown, the approval it fired under, the cue) is unique, which is what makes each cue fire
    once per approval however many operators click Next together (`uq_bulks_cue`)."""


class Scene(Base):
    """A named, saved configuration for a task or a set of tasks; every save is a new `SceneVersion`."""

    __tablename__ = "scenes"
    __table_args__ = (UniqueConstraint("team_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=0)  # the newest version; 0 once deleted
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SceneVersion(Base):
    """What a scene said when it was saved: a configuration read from one task (`configuration`, for tasks of
    `provider`), or the words of one change per command (`changes`: verb -> words), for any set."""

    __tablename__ = "scene_versions"
    __table_args__ = (UniqueConstraint("scene_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scene_id: Mapped[int] = mapped_column(ForeignKey("scenes.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    scope: Mapped[str] = mapped_column(String(300))  # where it applies unless told otherwise: an alias or a selector
    provider: Mapped[str | None] = mapped_column(String(16))
    configuration: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    changes: Mapped[dict[str, list[str]] | None] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(200))  # "task finals v4" or "typed"
    saved_by: Mapped[str] = mapped_column(String(64))
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Rundown(Base):
    """An ordered list of cues, approved as a whole for a window before the show, then fired cue by cue.

    `version` counts edits; an edit of a pending or armed rundown moves it back to draft (disarmed). `epoch`
    counts approval requests: a cue fires once per epoch, so arming again starts the show over."""

    __tablename__ = "rundowns"
    __table_args__ = (UniqueConstraint("team_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[RundownState] = mapped_column(EnumText(RundownState, 16))
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # the approval request of the current epoch, bound to `payload_hash` over every cue's payload and the window
    requested_by: Mapped[str | None] = mapped_column(String(64))
    requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    tz: Mapped[str | None] = mapped_column(String(64))  # the requester's zone, to show the window as they meant it
    payload_hash: Mapped[str | None] = mapped_column(String(64))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    on_air: Mapped[int] = mapped_column(Integer, default=0)  # the last cue fired in this epoch (0: none yet)
    preview_cue: Mapped[int | None] = mapped_column(Integer)  # the cue whose picture `preview_file` is
    preview_file: Mapped[str | None] = mapped_column(String(32))  # a Slack file id, shown in the rundown message
    channel_id: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    permalink: Mapped[str | None] = mapped_column(String(500))


class Cue(Base):
    """One cue: its steps as typed (each a change command or a scene application), and, once the rundown is
    put up for approval, the exact configuration each task gets (`payload`: task id -> alias, provider,
    desired, touched, summary; `before`: what each task ran when the payload was worked out)."""

    __tablename__ = "cues"
    __table_args__ = (UniqueConstraint("rundown_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rundown_id: Mapped[int] = mapped_column(ForeignKey("rundowns.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(100))
    steps: Mapped[list[str]] = mapped_column(JSON)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Schedule(Base):
    """A change, bulk change or cue to happen at `fire_at`; moved once from waiting to fired or missed by a
    conditional update, so replicas and restarts keep it exactly once."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    fire_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    tz: Mapped[str] = mapped_column(String(64))
    what: Mapped[str] = mapped_column(String(16))  # change | bulk | cue
    change_request_id: Mapped[int | None] = mapped_column(Integer)
    bulk_id: Mapped[int | None] = mapped_column(Integer)
    rundown_id: Mapped[int | None] = mapped_column(Integer)
    rundown_epoch: Mapped[int | None] = mapped_column(Integer)
    cue_position: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(String(300))
    state: Mapped[ScheduleState] = mapped_column(EnumText(ScheduleState, 16), index=True)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    detail: Mapped[str | None] = mapped_column(String(500))
