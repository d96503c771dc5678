"""Constants and small helpers shared by the service tests (imported by conftest and the tests)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from bot.config import Settings
from bot.sandbox import tencent_sim, volcengine_sim
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


START_CONFIG: dict[str, Any] = {
    "TargetStreams": {"StreamList": [{"UserId": "alice", "Index": 0}, {"UserId": "bob", "Index": 1}]},
    "Layout": {
        "LayoutMode": 2,
        "CustomLayout": {
            "Canvas": {"Width": 1280, "Height": 720, "Background": "#112233"},
            "Regions": [
                {"StreamIndex": 0, "WidthProportion": 0.5, "HeightProportion": 1.0, "LocationX": 0.0, "LocationY": 0.0},
                {"StreamIndex": 1, "WidthProportion": 0.5, "HeightProportion": 1.0, "LocationX": 0.5, "ZOrder": 1},
            ],
        },
    },
    "Encode": {"VideoFps": 30, "VideoBitrate": 2500, "AudioBitrate": 128},
}
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
