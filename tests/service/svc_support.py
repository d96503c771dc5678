"""Constants and small helpers shared by the service tests (imported by conftest and the tests)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.config import Settings
from bot.sandbox import tencent_sim, volcengine_sim
from bot.sandbox.examples import side_by_side_start, task_config
from bot.services.deps import Actor
from bot.store import create_engine
from bot.store.models import Base

TEAM = "T0001"
BOOT_ADMIN = Actor(TEAM, "UBOOT")


class Clock:
    """The services' clock, moved by hand so that expiry is tested without waiting."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


START_CONFIG: dict[str, Any] = task_config(
    side_by_side_start(
        users=("alice", "bob"),  # the people the tests name
        # Not the example's #000000, which is also what an Update that left Background out would reset it
        # to: a preset must visibly keep the task's background (test_preset_keeps_encode_and_background...).
        background="#112233",
        # VideoFps 30, not the example's 25: the tests patch it to 25 and expect 30 to be "nothing would change".
        Encode={"VideoFps": 30, "VideoBitrate": 2500, "AudioBitrate": 128},
    )
)
APP_ID = "app1"
ROOM_ID = "room1"
SDK_APP_ID = 1400000001


def sent_updates(state: Any, action: str = "UpdatePushMixedStreamToCDN") -> list[dict[str, Any]]:
    """The bodies the simulator received for an action, as JSON."""
    return [json.loads(r.body) for r in state.requests.all(action) if r.status == 200]


async def truncate_all(url: str) -> None:
    """Empty every table between PostgreSQL tests; cheaper than migrating a new database each time."""
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@dataclass
class Sims:
    volc_url: str
    volc: volcengine_sim.VolcengineState
    tencent_url: str
    tencent: tencent_sim.TencentState


def make_settings(db_url: str, sims: Sims, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "admin_users": BOOT_ADMIN.user_id,
        "volcengine_endpoint": sims.volc_url,
        "volc_accesskey": volcengine_sim.DEFAULT_ACCESS_KEY,
        "volc_secretkey": volcengine_sim.DEFAULT_SECRET_KEY,
        "volc_session_token": None,
        "tencent_endpoint": sims.tencent_url,
        "tencentcloud_secret_id": tencent_sim.DEFAULT_SECRET_ID,
        "tencentcloud_secret_key": tencent_sim.DEFAULT_SECRET_KEY,
        "tencentcloud_session_token": None,
        "tencent_site": "intl",
        "provider_max_attempts": 2,
        "provider_timeout_seconds": 5.0,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def _dsn(url: str, database: str) -> str:
    parsed = make_url(url).set(drivername="postgresql", database=database)
    return parsed.render_as_string(hide_password=False)


async def admin_exec(url: str, sql: str) -> None:
    """Run one statement on the server's `postgres` database (creating or dropping a throwaway one)."""
    conn = await asyncpg.connect(_dsn(url, "postgres"), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@dataclass
class ThrowawayDatabase:
    server_url: str
    name: str

    @property
    def url(self) -> str:
        return (
            make_url(self.server_url)
            .set(drivername="postgresql+asyncpg", database=self.name)
            .render_as_string(hide_password=False)
        )

    def create(self) -> None:
        asyncio.run(admin_exec(self.server_url, f'CREATE DATABASE "{self.name}"'))

    def drop(self) -> None:
        asyncio.run(admin_exec(self.server_url, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
