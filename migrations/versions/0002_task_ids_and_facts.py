"""Tasks keep their provider identifiers and start-time facts as JSON chosen by their target.

Change requests also say whether they failed because the task is gone at the provider (`gone`): the
advice differs ("re-register it", not "fix the cause and propose again").

Before, each provider had its own columns (app_id, room_id, sdk_app_id, region, canvas_width, …), so a new
kind of provider task needed a migration. Existing rows are carried over:
- volcengine: ids {AppId, RoomId, TaskId, BusinessId?}, facts {Canvas: [w, h]?, AudioProfile?};
- tencent: ids {SdkAppId, TaskId, Region, Site}, facts {}.

SQLite drops the old columns with ALTER TABLE … DROP COLUMN (SQLite 3.35+): recreating the table instead
would, with foreign keys on, cascade-delete every version and change request of every task.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_COLUMNS = (
    ("app_id", sa.String(128)),
    ("room_id", sa.String(128)),
    ("provider_task_id", sa.String(128)),
    ("business_id", sa.String(128)),
    ("canvas_width", sa.Integer()),
    ("canvas_height", sa.Integer()),
    ("audio_profile", sa.Integer()),
    ("sdk_app_id", sa.String(20)),
    ("region", sa.String(32)),
    ("site", sa.String(8)),
)


def _ids_and_facts(row: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    if row.provider == "tencent":
        sdk = int(row.sdk_app_id) if row.sdk_app_id and str(row.sdk_app_id).isdigit() else row.sdk_app_id
        ids = {"SdkAppId": sdk, "TaskId": row.provider_task_id, "Region": row.region, "Site": row.site or "intl"}
        return ids, {}
    ids = {"AppId": row.app_id, "RoomId": row.room_id, "TaskId": row.provider_task_id}
    if row.business_id:
        ids["BusinessId"] = row.business_id
    facts: dict[str, Any] = {}
    if row.canvas_width and row.canvas_height:
        facts["Canvas"] = [row.canvas_width, row.canvas_height]
    if row.audio_profile is not None:
        facts["AudioProfile"] = row.audio_profile
    return ids, facts


def upgrade() -> None:
    empty = sa.text("'{}'")
    op.add_column("tasks", sa.Column("ids", sa.JSON(), nullable=False, server_default=empty))
    op.add_column("tasks", sa.Column("facts", sa.JSON(), nullable=False, server_default=empty))
    bind = op.get_bind()
    names = ", ".join(["id", "provider", *(n for n, _ in OLD_COLUMNS)])
    for row in bind.execute(sa.text(f"SELECT {names} FROM tasks")).fetchall():  # noqa: S608
        ids, facts = _ids_and_facts(row)
        bind.execute(
            sa.text("UPDATE tasks SET ids = :ids, facts = :facts WHERE id = :id").bindparams(
                sa.bindparam("ids", type_=sa.JSON()), sa.bindparam("facts", type_=sa.JSON())
            ),
            {"ids": ids, "facts": facts, "id": row.id},
        )
    for name, _ in OLD_COLUMNS:
        op.execute(f"ALTER TABLE tasks DROP COLUMN {name}")
    op.add_column("change_requests", sa.Column("gone", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("change_requests", "gone")
    for name, type_ in OLD_COLUMNS:
        op.add_column("tasks", sa.Column(name, type_, nullable=True))
    bind = op.get_bind()
    for row in bind.execute(sa.text("SELECT id, provider, ids, facts FROM tasks")).fetchall():
        ids = row.ids if isinstance(row.ids, dict) else json.loads(row.ids or "{}")
        facts = row.facts if isinstance(row.facts, dict) else json.loads(row.facts or "{}")
        canvas = facts.get("Canvas") or [None, None]
        values = {
            "id": row.id,
            "app_id": ids.get("AppId"),
            "room_id": ids.get("RoomId"),
            "provider_task_id": ids.get("TaskId") or "",
            "business_id": ids.get("BusinessId"),
            "canvas_width": canvas[0],
            "canvas_height": canvas[1],
            "audio_profile": facts.get("AudioProfile"),
            "sdk_app_id": None if ids.get("SdkAppId") is None else str(ids["SdkAppId"]),
            "region": ids.get("Region"),
            "site": ids.get("Site"),
        }
        sets = ", ".join(f"{k} = :{k}" for k in values if k != "id")
        bind.execute(sa.text(f"UPDATE tasks SET {sets} WHERE id = :id"), values)  # noqa: S608
    op.drop_column("tasks", "facts")
    op.drop_column("tasks", "ids")
