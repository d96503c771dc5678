"""Migrations and the start-up check, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from bot.store import create_engine, schema
from bot.store.engine import UnsupportedDatabase


async def test_upgrade_on_up_to_date_database_is_a_no_op_and_models_agree(engine: AsyncEngine) -> None:
    before = await schema.state(engine)
    assert before.up_to_date
    after = await schema.upgrade(engine)
    assert after.up_to_date and after.current == schema.head_revision()
    assert await schema.model_differences(engine) == []
    await schema.ensure_current(engine)


async def test_empty_database_is_refused_then_upgraded(engine: AsyncEngine) -> None:
    await schema.downgrade(engine, "base")
    with pytest.raises(schema.SchemaNotCurrent) as caught:
        await schema.ensure_current(engine)
    message = str(caught.value)
    assert "\n" not in message and "rtcops db upgrade" in message
    state = await schema.upgrade(engine)
    assert state.up_to_date
    assert await schema.model_differences(engine) == []
    await schema.ensure_current(engine)


async def test_audit_events_are_append_only(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO audit_events (at, team_id, actor, action, target, outcome, detail) "
                "VALUES (CURRENT_TIMESTAMP, 'T1', 'U1', 'grant', 'user:U2', 'ok', '')"
            )
        )
    for statement in ("UPDATE audit_events SET outcome = 'forged'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(text(statement))
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT outcome FROM audit_events"))).scalar_one() == "ok"


def test_database_urls_are_checked_with_a_clear_message() -> None:
    with pytest.raises(UnsupportedDatabase, match="sqlite\\+aiosqlite"):
        create_engine("sqlite:///x.db".replace("sqlite", "sqlite+pysqlite"))
    with pytest.raises(UnsupportedDatabase, match="asyncpg"):
        create_engine("postgresql+psycopg2://u@h/db")
    with pytest.raises(UnsupportedDatabase, match="unsupported database"):
        create_engine("mysql://u@h/db")


async def test_every_sqlite_connection_gets_wal_normal_sync_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'pragmas.db'}", poolclass=NullPool)
    try:
        for _ in range(2):  # no pool: each connection is a new one, and each must be set up
            async with engine.connect() as conn:
                got = {
                    name: (await conn.execute(text(f"PRAGMA {name}"))).scalar_one()
                    for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
                }
            assert got == {"journal_mode": "wal", "synchronous": 1, "busy_timeout": 30000, "foreign_keys": 1}
    finally:
        await engine.dispose()


def test_head_read_without_alembic_matches_alembic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The start-up check reads the head from the migration files itself (Alembic costs 0.1 s to import);
    it must name the revision Alembic would, and leave a history it cannot read to Alembic."""
    assert schema.head_revision() == schema._alembic_head()
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "a.py").write_text('revision = "0001"\ndown_revision = None\n')
    (versions / "b.py").write_text('revision: str = "0002"\ndown_revision: str | None = "0001"\n')
    monkeypatch.setattr(schema, "MIGRATIONS", tmp_path)
    assert schema.head_revision() == "0002"


async def test_state_reads_the_revision_without_alembic(engine: AsyncEngine) -> None:
    assert (await schema.state(engine)).current == schema.head_revision()
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE alembic_version"))
    assert (await schema.state(engine)).current is None
