"""/readyz names the failing part for each failure injected into a real part: the database, Slack (auth.test),
each provider's credentials (a signed read the simulator refuses), Redis (the shared pacer), and the outbox; and
/healthz stays the cheap liveness check."""

from __future__ import annotations

import dataclasses
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from slack_support import Env

from bot.readiness import Readiness
from bot.sandbox.serve import serve_in_loop
from bot.sandbox.slack_api import WebFault
from bot.server import create_server
from bot.store.engine import create_engine, session_factory
from bot.store.outbox import pending_notice

sys.path.insert(0, str(Path(__file__).parents[1] / "unit"))
from pacing_support import private_redis


async def readyz(env: Env, readiness: Readiness | None = None) -> tuple[int, dict[str, Any]]:
    """GET /readyz of the server `rtcops serve` runs, over HTTP."""
    ready = readiness or Readiness(env.deps, env.bot.workspaces, cache_seconds=0)
    server = create_server(env.bot.app, env.bot.health, ready=ready.check, refresh_metrics=env.bot.refresh_metrics)
    async with serve_in_loop(server) as url, httpx.AsyncClient(timeout=30) as http:
        answer = await http.get(f"{url}/readyz")
    return answer.status_code, answer.json()


async def test_ready_when_every_part_is(env: Env) -> None:
    status, body = await readyz(env)
    assert status == 200 and body["ok"] is True and body["failing"] == []
    assert body["checks"] == {"database": "ok", "slack": "ok", "volcengine": "ok", "tencent": "ok", "outbox": "ok"}


@pytest.mark.slack_refusals_expected
async def test_slack_refusing_the_token_is_named(env: Env) -> None:
    env.fake.fail(WebFault("auth.test", error="invalid_auth", times=None))
    status, body = await readyz(env)
    assert status == 503 and body["failing"] == ["slack"]
    assert body["checks"]["slack"] == "auth.test for the workspace answered invalid_auth"
    env.fake.heal()


async def test_refused_provider_credentials_are_named_per_provider(env: Env) -> None:
    env.volc.fail_with_code("SignatureDoesNotMatch", status=401)
    status, body = await readyz(env)
    assert status == 503 and body["failing"] == ["volcengine"]
    assert body["checks"]["volcengine"] == "credentials refused (SignatureDoesNotMatch)"
    env.volc.clear_faults()
    env.tencent.fail_with_code("AuthFailure.SecretIdNotFound")
    status, body = await readyz(env)
    assert status == 503 and body["failing"] == ["tencent"]
    assert body["checks"]["tencent"] == "credentials refused (AuthFailure.SecretIdNotFound)"
    env.tencent.clear_faults()
    env.tencent.fail_with_status(502, times=None)
    status, body = await readyz(env)
    assert body["failing"] == ["tencent"] and body["checks"]["tencent"].startswith("no usable answer")
    env.tencent.clear_faults()


async def test_an_unreachable_database_is_named(env: Env, tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'no-such-directory' / 'rtcops.db'}")
    try:
        broken = dataclasses.replace(env.deps, sessions=session_factory(engine))
        status, body = await readyz(env, Readiness(broken, env.bot.workspaces, cache_seconds=0))
    finally:
        await engine.dispose()
    assert status == 503 and "database" in body["failing"]
    assert body["checks"]["database"] == "unreachable (OperationalError)"


async def test_an_outbox_older_than_the_limit_is_named(env: Env) -> None:
    old = env.deps.clock() - timedelta(seconds=env.settings.ready_outbox_seconds + 60)
    async with env.deps.sessions.begin() as session:
        session.add(pending_notice("T0TEAM", "test:old", "notify", old, change_request_id=None))
    status, body = await readyz(env)
    assert status == 503 and body["failing"] == ["outbox"]
    assert body["checks"]["outbox"].startswith("1 notices waiting; the oldest for ")
    async with env.deps.sessions.begin() as session:
        from sqlalchemy import delete

        from bot.store.models import Notice

        await session.execute(delete(Notice).where(Notice.lane == "test:old"))


async def test_redis_gone_is_named_and_health_stays_cheap(env: Env) -> None:
    from bot.providers.registry import ProviderRegistry

    with private_redis() as redis:
        settings = env.settings.model_copy(update={"redis_url": SecretStr(redis.url)})
        shared = dataclasses.replace(env.deps, settings=settings, providers=ProviderRegistry.from_settings(settings))
        try:
            readiness = Readiness(shared, env.bot.workspaces, cache_seconds=0)
            status, body = await readyz(env, readiness)
            assert status == 200 and body["checks"]["redis"] == "ok"
            redis.stop()
            await shared.providers.credentials_problem("volcengine")  # a paced call finds Redis gone
            status, body = await readyz(env, readiness)
            assert status == 503 and body["failing"] == ["redis"]
            assert body["checks"]["redis"].startswith("pacing: Redis unreachable since")
            assert redis.password not in str(body)
        finally:
            await shared.providers.aclose()
    async with serve_in_loop(create_server(env.bot.app, env.bot.health)) as url, httpx.AsyncClient() as http:
        assert (await http.get(f"{url}/healthz")).json() == {"ok": True}
