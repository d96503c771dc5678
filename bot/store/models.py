"""The tables. Every Slack reference (user, group, channel) is stored together with its team ID, because a
user ID alone is ambiguous across workspaces of one Enterprise Grid.

Two columns carry the concurrency rules, so that the database (not our code) settles races:
- ``change_requests.open_slot`` holds the task's id while the request is open and NULL once it is closed;
  a unique constraint on it allows at most one open change per task (NULLs never collide).
- ``tasks.sequence_number`` is raised by a single conditional UPDATE … RETURNING when a change is applied.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

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
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

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


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (UniqueConstraint("team_id", "alias"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    alias: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(16))
    # Volcengine: AppId, RoomId, TaskId (provider_task_id), BusinessId; Tencent: SdkAppId, TaskId, region, site
    app_id: Mapped[str | None] = mapped_column(String(128))
    room_id: Mapped[str | None] = mapped_column(String(128))
    provider_task_id: Mapped[str] = mapped_column(String(128))
    business_id: Mapped[str | None] = mapped_column(String(128))
    canvas_width: Mapped[int | None] = mapped_column(Integer)
    canvas_height: Mapped[int | None] = mapped_column(Integer)
    audio_profile: Mapped[int | None] = mapped_column(Integer)
    sdk_app_id: Mapped[str | None] = mapped_column(String(20))
    region: Mapped[str | None] = mapped_column(String(32))
    site: Mapped[str | None] = mapped_column(String(8))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    notify_channel: Mapped[str | None] = mapped_column(String(32))
    policy: Mapped[dict[str, bool]] = mapped_column(JSON, default=dict)
    configuration: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=0)
    sequence_number: Mapped[int] = mapped_column(BigInteger, default=0)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


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
    kind: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(String(300))
    touched: Mapped[list[str]] = mapped_column(JSON, default=list)
    change: Mapped[dict[str, Any]] = mapped_column(JSON)
    baseline: Mapped[dict[str, Any]] = mapped_column(JSON)
    baseline_source: Mapped[str] = mapped_column(String(16))  # provider | store
    desired: Mapped[dict[str, Any]] = mapped_column(JSON)
    drift: Mapped[list[str]] = mapped_column(JSON, default=list)
    payload_hash: Mapped[str] = mapped_column(String(64))
    base_version: Mapped[int] = mapped_column(Integer)
    rollback_to: Mapped[int | None] = mapped_column(Integer)
    needs_approval: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(16), index=True)
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
    result_version: Mapped[int | None] = mapped_column(Integer)
    channel_id: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    permalink: Mapped[str | None] = mapped_column(String(500))


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
