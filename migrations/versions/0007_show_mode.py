"""Show mode: rundowns and their cues, schedules, break-glass and reminders.

- `rundowns` and `cues`: an ordered list of cues approved as a whole for a window; each cue fired is a bulk change
  (`bulks.rundown_id`, `rundown_epoch`, `cue_position`), unique per approval (`uq_bulks_cue`), which is what
  keeps a cue to one firing however many operators click Next together.
- `schedules`: a change, bulk change or cue to happen at a time, moved once from waiting to fired or missed.
- `change_requests` and `bulks` gain `not_before` and `schedule_id` (scheduled; no lock is held until the time),
  `break_glass` (the reason given for applying without a second person) and `reminded_at` (the approvers were
  reminded once, at half the request's lifetime).

Every new column is nullable, so the upgrade adds columns only (SQLite needs no table rebuild).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SHARED = ("not_before", "schedule_id", "break_glass", "reminded_at")


def _shared_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        sa.Column("break_glass", sa.String(length=300), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
    ]


def upgrade() -> None:
    for column in _shared_columns():
        op.add_column("change_requests", column)
    op.create_index(op.f("ix_change_requests_schedule_id"), "change_requests", ["schedule_id"], unique=False)
    for column in _shared_columns():
        op.add_column("bulks", column)
    op.add_column("bulks", sa.Column("rundown_id", sa.Integer(), nullable=True))
    op.add_column("bulks", sa.Column("rundown_epoch", sa.Integer(), nullable=True))
    op.add_column("bulks", sa.Column("cue_position", sa.Integer(), nullable=True))
    op.create_index("uq_bulks_cue", "bulks", ["rundown_id", "rundown_epoch", "cue_position"], unique=True)
    op.create_table(
        "rundowns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tz", sa.String(length=64), nullable=True),
        sa.Column("payload_hash", sa.String(length=64), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("on_air", sa.Integer(), nullable=False),
        sa.Column("preview_cue", sa.Integer(), nullable=True),
        sa.Column("preview_file", sa.String(length=32), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("permalink", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rundowns")),
        sa.UniqueConstraint("team_id", "name", name=op.f("uq_rundowns_team_id_name")),
    )
    op.create_table(
        "cues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rundown_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["rundown_id"], ["rundowns.id"], name=op.f("fk_cues_rundown_id_rundowns"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cues")),
        sa.UniqueConstraint("rundown_id", "position", name=op.f("uq_cues_rundown_id_position")),
    )
    op.create_index(op.f("ix_cues_rundown_id"), "cues", ["rundown_id"], unique=False)
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fire_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tz", sa.String(length=64), nullable=False),
        sa.Column("what", sa.String(length=16), nullable=False),
        sa.Column("change_request_id", sa.Integer(), nullable=True),
        sa.Column("bulk_id", sa.Integer(), nullable=True),
        sa.Column("rundown_id", sa.Integer(), nullable=True),
        sa.Column("rundown_epoch", sa.Integer(), nullable=True),
        sa.Column("cue_position", sa.Integer(), nullable=True),
        sa.Column("summary", sa.String(length=300), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
    )
    op.create_index(op.f("ix_schedules_fire_at"), "schedules", ["fire_at"], unique=False)
    op.create_index(op.f("ix_schedules_state"), "schedules", ["state"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_schedules_state"), table_name="schedules")
    op.drop_index(op.f("ix_schedules_fire_at"), table_name="schedules")
    op.drop_table("schedules")
    op.drop_index(op.f("ix_cues_rundown_id"), table_name="cues")
    op.drop_table("cues")
    op.drop_table("rundowns")
    op.drop_index("uq_bulks_cue", table_name="bulks")
    for name in ("cue_position", "rundown_epoch", "rundown_id", *_SHARED):
        op.drop_column("bulks", name)
    op.drop_index(op.f("ix_change_requests_schedule_id"), table_name="change_requests")
    for name in _SHARED:
        op.drop_column("change_requests", name)
