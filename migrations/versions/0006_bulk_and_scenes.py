"""Bulk changes and scenes.

- `bulks`: one change over many tasks. Each task's change stays its own row in `change_requests` (lock,
  SequenceNumber, verdict), pointing at its bulk through the new `change_requests.bulk_id`; the bulk holds the
  one decision, the one request message and the tasks the selector matched that the change does not cover.
- `scenes` and `scene_versions`: named, saved configurations (or the words of a change) for a task or a set,
  every save a new version.

`change_requests.bulk_id` is a plain indexed column, without a foreign key: SQLite cannot add one to an existing
table but by recreating it, which with foreign keys on would cascade-delete its approvals and notices; and bulks,
like requests, are never deleted.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bulks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("requester", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("selector", sa.String(length=300), nullable=False),
        sa.Column("summary", sa.String(length=300), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("scene_version_id", sa.Integer(), nullable=True),
        sa.Column("refused", sa.JSON(), nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column("needs_approval", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("permalink", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulks")),
    )
    op.create_index(op.f("ix_bulks_state"), "bulks", ["state"], unique=False)
    op.add_column("change_requests", sa.Column("bulk_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_change_requests_bulk_id"), "change_requests", ["bulk_id"], unique=False)
    op.create_table(
        "scenes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scenes")),
        sa.UniqueConstraint("team_id", "name", name=op.f("uq_scenes_team_id_name")),
    )
    op.create_table(
        "scene_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scene_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=300), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=True),
        sa.Column("configuration", sa.JSON(), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("saved_by", sa.String(length=64), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["scene_id"], ["scenes.id"], name=op.f("fk_scene_versions_scene_id_scenes"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scene_versions")),
        sa.UniqueConstraint("scene_id", "version", name=op.f("uq_scene_versions_scene_id_version")),
    )
    op.create_index(op.f("ix_scene_versions_scene_id"), "scene_versions", ["scene_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_scene_versions_scene_id"), table_name="scene_versions")
    op.drop_table("scene_versions")
    op.drop_table("scenes")
    op.drop_index(op.f("ix_change_requests_bulk_id"), table_name="change_requests")
    op.drop_column("change_requests", "bulk_id")
    op.drop_index(op.f("ix_bulks_state"), table_name="bulks")
    op.drop_table("bulks")
