"""Notices: what the bot must tell people in Slack, written with the state change it reports and delivered
afterwards with retries (an outbox). Tasks are removed by marking them (`removed_at`), so their change
requests and versions are kept and request ids are never handed out twice.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("lane", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("change_request_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["change_request_id"],
            ["change_requests.id"],
            name=op.f("fk_notices_change_request_id_change_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
    )
    op.create_index(op.f("ix_notices_state_next_at"), "notices", ["state", "next_at"], unique=False)
    op.create_index(op.f("ix_notices_lane_id"), "notices", ["lane", "id"], unique=False)
    op.create_index(op.f("ix_notices_change_request_id"), "notices", ["change_request_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_notices_change_request_id"), table_name="notices")
    op.drop_index(op.f("ix_notices_lane_id"), table_name="notices")
    op.drop_index(op.f("ix_notices_state_next_at"), table_name="notices")
    op.drop_table("notices")
    op.drop_column("tasks", "removed_at")
