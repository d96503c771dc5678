"""Migrations, driven from code so that `rtcops db upgrade` works from any directory with only DATABASE_URL.

Alembic runs synchronously; each helper here borrows one connection of the async engine through
``run_sync`` and hands it to migrations/env.py, so the same engine settings (SQLite pragmas, asyncpg) apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.models import Base

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


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
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS}")
    return head


async def upgrade(engine: AsyncEngine, revision: str = "head") -> SchemaState:
    def run(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)
    return await state(engine)


async def downgrade(engine: AsyncEngine, revision: str) -> SchemaState:
    def run(connection: Connection) -> None:
        command.downgrade(alembic_config(connection), revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)
    return await state(engine)


async def state(engine: AsyncEngine) -> SchemaState:
    def current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

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


async def model_differences(engine: AsyncEngine) -> list[Any]:
    """What autogenerate would write: empty when the models and the migrations agree."""

    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as conn:
        return await conn.run_sync(compare)
