"""Migrations and the start-up check, on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
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


@pytest.fixture
async def fresh_engine(db_url: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An empty database of the same kind, all this test's own (others here drop alembic_version)."""
    import uuid

    from svc_support import ThrowawayDatabase

    if db_url.startswith("sqlite"):
        eng = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
        yield eng
        await eng.dispose()
        return
    db = ThrowawayDatabase(db_url, f"rtcops_fresh_{uuid.uuid4().hex[:10]}")
    await asyncio.to_thread(db.create)
    eng = create_engine(db.url)
    try:
        yield eng
    finally:
        await eng.dispose()
        await asyncio.to_thread(db.drop)


async def test_0002_carries_tasks_over_and_keeps_their_versions_and_requests(fresh_engine: AsyncEngine) -> None:
    """Tasks written by 0001 (one column per provider field) come out with their ids and facts as JSON, and
    nothing hanging off them is lost: on SQLite a table rebuild would cascade-delete versions and requests."""
    from sqlalchemy import select

    from bot.store import session_factory
    from bot.store.models import ChangeRequest, ConfigVersion, Task

    engine = fresh_engine
    await schema.upgrade(engine, "0001")
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO tasks (id, team_id, alias, provider, app_id, room_id, provider_task_id, business_id, "
                "canvas_width, canvas_height, audio_profile, tags, policy, version, sequence_number, created_by, created_at) "
                "VALUES (1, 'T1', 'finals', 'volcengine', 'app1', 'room1', 'mix1', 'biz', 1280, 720, 1, '[]', '{}', 2, 7, "
                "'U1', CURRENT_TIMESTAMP), "
                "(2, 'T1', 'lobby', 'tencent', NULL, NULL, '-t2', NULL, NULL, NULL, NULL, '[]', '{}', 1, 0, 'U1', "
                "CURRENT_TIMESTAMP)"
            )
        )
        await conn.execute(text("UPDATE tasks SET sdk_app_id = '1400000001', region = 'ap-tokyo', site = 'china' WHERE id = 2"))
        await conn.execute(
            text(
                "INSERT INTO config_versions (task_id, version, configuration, applied_by_team, applied_by, applied_at, note) "
                "VALUES (1, 1, '{}', 'T1', 'U1', CURRENT_TIMESTAMP, 'registered')"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO change_requests (task_id, team_id, requester, kind, summary, touched, change, baseline, "
                "baseline_source, desired, drift, payload_hash, base_version, needs_approval, state, created_at, expires_at) "
                "VALUES (1, 'T1', 'U1', 'layout', 's', '[]', '{}', '{}', 'provider', '{}', '[]', 'h', 1, true, 'applied', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    await schema.upgrade(engine)
    assert await schema.model_differences(engine) == []
    async with session_factory(engine)() as session:
        tasks = {t.alias: t for t in (await session.scalars(select(Task))).all()}
        versions = (await session.scalars(select(ConfigVersion))).all()
        requests = (await session.scalars(select(ChangeRequest))).all()
    assert tasks["finals"].ids == {"AppId": "app1", "RoomId": "room1", "TaskId": "mix1", "BusinessId": "biz"}
    assert tasks["finals"].facts == {"Canvas": [1280, 720], "AudioProfile": 1}
    assert tasks["finals"].sequence_number == 7 and tasks["finals"].version == 2
    assert tasks["lobby"].ids == {"SdkAppId": 1400000001, "TaskId": "-t2", "Region": "ap-tokyo", "Site": "china"}
    assert tasks["lobby"].facts == {}
    assert len(versions) == 1 and len(requests) == 1 and requests[0].gone is False
