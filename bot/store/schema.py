"""Migrations, driven from code so that `rtcops db upgrade` works from any directory with only DATABASE_URL.

Alembic runs synchronously; each helper here borrows one connection of the async engine through
``run_sync`` and hands it to migrations/env.py, so the same engine settings (SQLite pragmas, asyncpg) apply.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
VERSION_TABLE = "alembic_version"
# Alembic itself (about 0.1 s to import) is loaded only to migrate or compare: the schema check that every
# command and start-up make reads the revisions without it.


class SchemaNotCurrent(RuntimeError):
    """Start-up refuses to run on an old schema: a half-migrated store could lose an approval or a version."""


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision, read from the migration files' `revision`/`down_revision` assignments: the one
    revision no other one names as its parent. A branched history is left to Alembic to explain."""
    parents: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        names = _assignments(path)
        revision, down = names.get("revision"), names.get("down_revision")
        if isinstance(revision, str) and (down is None or isinstance(down, str)):
            parents[revision] = down
    heads = set(parents) - set(parents.values())
    if len(heads) == 1:
        return heads.pop()
    if not parents:
        raise RuntimeError(f"no migrations found in {MIGRATIONS}")
    return _alembic_head()


def _assignments(path: Path) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        elif isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        if len(targets) == 1 and isinstance(targets[0], ast.Name) and isinstance(value, ast.Constant):
            found[targets[0].id] = value.value
    return found


def _alembic_head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()  # raises on several heads
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS}")
    return head


async def upgrade(engine: AsyncEngine, revision: str = "head") -> SchemaState:
    from alembic import command

    def run(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)
    return await state(engine)


async def downgrade(engine: AsyncEngine, revision: str) -> SchemaState:
    from alembic import command

    def run(connection: Connection) -> None:
        command.downgrade(alembic_config(connection), revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)
    return await state(engine)


async def state(engine: AsyncEngine) -> SchemaState:
    def current(connection: Connection) -> str | None:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        if len(rows) > 1:
            raise SchemaNotCurrent(f"the database has several schema revisions ({', '.join(rows)}); run `rtcops db upgrade`")
        return rows[0] if rows else None

    async with engine.connect() as conn:
        rev = await conn.run_sync(current)
    return SchemaState(current=rev, head=head_revision())


async def ensure_current(engine: AsyncEngine) -> None:
    """Called by `rtcops serve` before anything else touches the store."""
    found = await state(engine)
    if not found.up_to_date:
        at = found.current or "empty"
        raise SchemaNotCurrent(
            f"the database schema is at revision {at} but this version needs {found.head}: run `rtcops db upgrade`"
        )


def modelled(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Autogenerate's filter: slack_sdk's tables (models.SLACK_TABLES) are the library's, not modelled here."""
    from bot.store.models import SLACK_TABLES

    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table not in SLACK_TABLES


async def model_differences(engine: AsyncEngine) -> list[Any]:
    """What autogenerate would write: empty when the models and the migrations agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from bot.store.models import Base

    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": modelled})
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as conn:
        return await conn.run_sync(compare)
