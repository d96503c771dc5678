"""Fixtures for the service and store tests: real databases (SQLite and PostgreSQL), real simulators over
loopback HTTP, real provider clients.

PostgreSQL comes from RTCOPS_TEST_POSTGRES_URL (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test).
A throwaway database is created for the session on that server and dropped afterwards; the database named
in the URL need not exist. Without the variable the PostgreSQL cases skip locally, and FAIL when CI=true.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from svc_support import (
    APP_ID,
    BOOT_ADMIN,
    ROOM_ID,
    SDK_APP_ID,
    START_CONFIG,
    Clock,
    Sims,
    ThrowawayDatabase,
    admin_exec,
    make_settings,
    truncate_all,
)

from bot.providers.registry import ProviderRegistry
from bot.sandbox import tencent_sim, volcengine_sim
from bot.sandbox.serve import BackgroundServer
from bot.services.deps import Deps
from bot.store import create_engine, schema, session_factory

PG_ENV = "RTCOPS_TEST_POSTGRES_URL"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _pg_unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"PostgreSQL is required in CI: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {reason} (set {PG_ENV}=postgresql+asyncpg://user@host:5432/db)")


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await schema.upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """The server URL from the environment, or skip/fail; yields nothing migrated."""
    url = os.environ.get(PG_ENV)
    if not url:
        _pg_unavailable(f"{PG_ENV} is not set")
    assert url is not None
    try:
        asyncio.run(admin_exec(url, "SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        _pg_unavailable(f"cannot reach the server in {PG_ENV}: {type(exc).__name__}: {exc}")
    yield url


@pytest.fixture(scope="session")
def pg_database(postgres_server_url: str) -> Iterator[ThrowawayDatabase]:
    db = ThrowawayDatabase(postgres_server_url, f"rtcops_test_{uuid.uuid4().hex[:12]}")
    db.create()
    try:
        asyncio.run(_migrate(db.url))
        yield db
    finally:
        db.drop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty database of each kind, fresh for every test."""
    if request.param == "sqlite":
        path = tmp_path / "rtcops.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    db: ThrowawayDatabase = request.getfixturevalue("pg_database")
    asyncio.run(truncate_all(db.url))
    return db.url


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(db_url)
    yield eng
    await eng.dispose()


@pytest.fixture(scope="session")
def _sim_servers() -> Iterator[Sims]:
    vapp, vstate = volcengine_sim.create_volcengine_sim()
    tapp, tstate = tencent_sim.create_tencent_sim()
    with BackgroundServer(vapp) as vs, BackgroundServer(tapp) as ts:
        yield Sims(vs.url, vstate, ts.url, tstate)


@pytest.fixture
def sims(_sim_servers: Sims) -> Sims:
    for state in (_sim_servers.volc, _sim_servers.tencent):
        state.reset()
        state.set_qps(enabled=False)
    return _sim_servers


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def deps(engine: AsyncEngine, db_url: str, sims: Sims, clock: Clock) -> AsyncIterator[Deps]:
    settings = make_settings(db_url, sims)
    providers = ProviderRegistry.from_settings(settings)
    yield Deps(session_factory(engine), providers, settings, clock)
    await providers.aclose()


@pytest.fixture
def start_volc(deps: Deps) -> Any:
    """Start a mixed push in the simulator (through the real client) and register it as `alias`."""
    from bot.services.tasks import add_task

    async def start(
        alias: str, *, config: dict[str, Any] | None = None, tags: tuple[str, ...] = (), register: bool = True
    ) -> Any:
        body = {"AppId": APP_ID, "RoomId": ROOM_ID, "TaskId": f"t-{alias}", "PushURL": "rtmp://cdn.example.com/live/x"}
        await deps.providers.volcengine.start_push_mixed_stream_to_cdn({**body, **(config or START_CONFIG)})
        if not register:
            return None
        options = {"tags": ",".join(tags)} if tags else {}
        return await add_task(deps, BOOT_ADMIN, "volcengine", alias, (APP_ID, ROOM_ID, f"t-{alias}"), options)

    return start


@pytest.fixture
def start_tencent(deps: Deps) -> Any:
    from bot.services.tasks import add_task

    async def start(alias: str, *, tags: tuple[str, ...] = ()) -> Any:
        reply = await deps.providers.tencent().start_stream_ingest(
            {
                "SdkAppId": SDK_APP_ID,
                "RoomId": "room9",
                "RoomIdType": 0,
                "UserId": f"ingest-{alias}",
                "UserSig": "sig",
                "StreamUrl": "https://media.example.com/a.mp4",
                "Volume": 80,
            }
        )
        known = {"url": "https://media.example.com/a.mp4", "volume": "80", "state": "running"}
        options = {**known, **({"tags": ",".join(tags)} if tags else {})}
        return await add_task(deps, BOOT_ADMIN, "tencent", alias, (str(SDK_APP_ID), reply.result.task_id), options)

    return start
