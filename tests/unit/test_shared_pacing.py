"""The pacer shared across replicas, against a real redis-server of the test's own: the share arithmetic, the key
layout, one budget for two pacers, and the fallback and recovery state machine on a sped-up clock (the
multi-process runs against the simulators are in test_shared_pacing_load.py)."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pacing_support import PrivateRedis, free_port, private_redis

from bot.config import InvalidSetting, Settings, load_settings
from bot.providers.pacing import LocalPacer, ManagedPacer, pace_key
from bot.providers.registry import ProviderRegistry, pacer_from_settings
from bot.providers.shared_pacing import (
    UNKNOWN_REPLICAS,
    Mode,
    RedisPacer,
    budget_key,
    fallback_limit,
    redacted_location,
    replicas_key,
    settling_key,
    shared_quota,
)

KEY = pace_key("volcengine", "AKLTexample", "UpdatePushMixedStreamToCDN")


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


def unique_prefix(name: str) -> str:
    return f"test:{name}:{time.time_ns()}"


# --- arithmetic ---------------------------------------------------------------------------------------------


def test_the_shared_budget_keeps_every_one_second_window_within_the_limit() -> None:
    """Slots 1 / rate apart: at most floor(rate) + 1 in a second, ≤ limit for every whole limit. Slots are
    reserved ahead by capacity − 1 intervals: 2% of a second's calls rounded down, at least one."""
    assert shared_quota(150) == (pytest.approx(147.0), 3)
    assert shared_quota(60) == (pytest.approx(58.8), 2)
    assert shared_quota(20) == (pytest.approx(19.6), 2)
    for limit in range(1, 2001):
        rate, capacity = shared_quota(limit)
        assert math.floor(rate) + 1 <= limit, limit
        assert rate >= 0.98 * limit - 1e-9
        assert capacity - 1 == max(1, math.floor(0.02 * rate))


def _local_second(limit: float) -> int:
    """The most calls `LocalPacer` lets through in one second at `limit`: its leaky bucket holds `burst` and
    drains at `rate`, so a window of one second sees at most floor(burst + rate)."""
    limiter = LocalPacer(lambda _key: limit).limiter(KEY)
    burst, rate = limiter.max_rate, limiter.max_rate / limiter.time_period
    return math.floor(burst + rate + 1e-9)


@pytest.mark.parametrize("limit", [20, 60, 150, 7, 33, 101, 1000])
def test_fallback_shares_of_every_replica_add_up_to_at_most_the_limit(limit: int) -> None:
    """n replicas that each saw n - 1 others, or n - 1 that saw n - 2 and a newcomer they missed: both stay ≤ limit,
    whichever second one looks at."""
    for seen in range(1, limit):
        n = seen + 1
        share = fallback_limit(limit, seen)
        assert share == math.floor(limit / n) or (math.floor(limit / n) == 0 and share == limit / n)
        if share >= 1:
            assert share.is_integer()
            assert n * _local_second(share) <= limit, (limit, seen)
            # `seen` replicas that saw one another, and a newcomer that saw them all after their last heartbeat
            assert seen * _local_second(share) + _local_second(fallback_limit(limit, seen + 1)) <= limit, (limit, seen)
            assert share > limit / n - 1  # not needlessly small
        else:  # more replicas than calls per second: only the average holds
            assert n * share == pytest.approx(limit)
    assert fallback_limit(limit, None) == fallback_limit(limit, UNKNOWN_REPLICAS - 1)


def test_fallback_share_examples() -> None:
    assert fallback_limit(150, 1) == 75  # alone: half, leaving room for a replica it has not seen yet
    assert fallback_limit(150, 2) == 50
    assert fallback_limit(20, 2) == 6  # 20 / 3, whole calls: three replicas add up to 18, not 21
    assert fallback_limit(20, None) == 2  # never reached Redis: 8 replicas assumed
    assert fallback_limit(20, 39) == 0.5


def test_redis_location_in_logs_has_no_credentials() -> None:
    assert redacted_location("redis://user:hunter2@cache.internal:6380/2") == "redis://cache.internal:6380/2"
    assert redacted_location("rediss://:hunter2@cache.internal/0") == "rediss://cache.internal/0"


# --- settings and registry ----------------------------------------------------------------------------------


def test_the_redis_url_is_a_secret_and_picks_the_shared_pacer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("RTCOPS_REDIS_URL", raising=False)
    assert isinstance(pacer_from_settings(Settings(_env_file=None)), LocalPacer)  # type: ignore[call-arg]

    url = "redis://:hunter2-pw@cache.internal:6379/0"
    monkeypatch.setenv("RTCOPS_REDIS_URL", url)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.redis_url is not None and settings.redis_url.get_secret_value() == url
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings)
    pacer = pacer_from_settings(settings)
    assert isinstance(pacer, RedisPacer) and isinstance(pacer, ManagedPacer)
    assert "hunter2" not in repr(vars(pacer).get("_location"))

    monkeypatch.setenv("RTCOPS_REDIS_URL", "http://:hunter2-pw@cache.internal")
    monkeypatch.chdir(tmp_path)  # no .env
    with pytest.raises(InvalidSetting) as info:
        load_settings()
    assert str(info.value) == "invalid setting RTCOPS_REDIS_URL: must start with redis://, rediss:// or unix://"


async def test_the_registry_reports_the_pacers_health_and_closes_what_it_built(
    monkeypatch: pytest.MonkeyPatch, redis_server: PrivateRedis
) -> None:
    monkeypatch.setenv("RTCOPS_REDIS_URL", redis_server.url)
    registry = ProviderRegistry.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]
    pacer = registry._pacer
    assert isinstance(pacer, RedisPacer)
    await pacer.acquire(KEY)
    assert registry.pacer_health() is None
    with redis_server.client() as check:
        assert check.zrange(replicas_key(pacer.prefix), 0, -1) == [pacer.replica_id.encode()]
        await registry.aclose()
        assert check.zrange(replicas_key(pacer.prefix), 0, -1) == []  # left the replica set on close

    assert ProviderRegistry(Settings(_env_file=None), pacer=LocalPacer(lambda _k: 1.0)).pacer_health() is None  # type: ignore[call-arg]


# --- Redis ----------------------------------------------------------------------------------------------------


async def test_key_layout(redis_server: PrivateRedis) -> None:
    prefix = unique_prefix("layout")
    pacer = RedisPacer(redis_server.url, lambda _key: 150.0, prefix=prefix, replica_id="host-a:1:abcd")
    try:
        await pacer.acquire(KEY)
        with redis_server.client() as check:
            budget = f"{prefix}:v1:gcra:volcengine|UpdatePushMixedStreamToCDN|AKLTexample"
            assert budget_key(prefix, KEY) == budget
            assert {k.decode() for k in check.scan_iter(f"{prefix}:*")} == {budget, f"{prefix}:replicas"}
            assert replicas_key(prefix) == f"{prefix}:replicas" and settling_key(prefix) == f"{prefix}:settling"
            assert float(check.get(budget) or b"nan") > 0  # GCRA's theoretical arrival time, on Redis's clock
            assert 0 < check.pttl(budget) <= 1000  # gone once the budget is full again
            seconds, micros = check.time()
            members = check.zrange(f"{prefix}:replicas", 0, -1, withscores=True)
            assert [m.decode() for m, _ in members] == ["host-a:1:abcd"]
            assert abs(members[0][1] - (seconds + micros / 1e6)) < 2  # scored with Redis's clock
            assert 0 < check.ttl(f"{prefix}:replicas") <= 6
    finally:
        await pacer.aclose()


async def test_two_pacers_draw_on_one_budget(redis_server: PrivateRedis) -> None:
    """100 calls at a limit of 100/s split over two pacers take a second, as through one pacer (0.5 s if each
    had a budget of its own)."""
    prefix = unique_prefix("one-budget")
    pacers = [RedisPacer(redis_server.url, lambda _key: 100.0, prefix=prefix) for _ in range(2)]
    granted: list[float] = []

    async def call(pacer: RedisPacer) -> None:
        await pacer.acquire(KEY)
        granted.append(time.monotonic())

    try:
        await asyncio.gather(*(p.acquire(pace_key("volcengine", "AKLTexample", "warm")) for p in pacers))
        start = time.monotonic()
        await asyncio.gather(*(call(pacers[i % 2]) for i in range(100)))
        rate, _ = shared_quota(100)
        assert max(granted) - start >= (100 - 1) / rate - 0.02  # 99 intervals after the first slot
        assert max(granted) - start < 1.5
        assert max(p.replicas_seen or 0 for p in pacers) == 2
        assert [p.health() for p in pacers] == [None, None]
    finally:
        for p in pacers:
            await p.aclose()


async def test_unreachable_from_the_start_paces_locally_at_an_eighth(caplog: pytest.LogCaptureFixture) -> None:
    """Never reached Redis: no replica count, so 8 are assumed; calls go on after the quiet period (1 s here: no
    budget was ever used, so no reserved slot can be pending)."""
    url = f"redis://:hunter2-pw@127.0.0.1:{free_port()}/0"  # nothing listens there
    pacer = RedisPacer(url, lambda _key: 150.0, prefix=unique_prefix("unreachable"), heartbeat_seconds=0.2)
    caplog.set_level(logging.WARNING, "rtcops.pacing")
    try:
        start = time.monotonic()
        for _ in range(3):
            await pacer.acquire(KEY)
        assert 1.0 <= time.monotonic() - start < 2.0
        assert pacer.mode is Mode.FALLBACK
        health = pacer.health()
        assert health is not None and "unreachable" in health and "1/8" in health and "unknown" in health
        assert "ConnectionError" in health
        location = f"redis://127.0.0.1:{url.rsplit(':', 1)[1]}"
        assert any("unreachable" in r.getMessage() and location in r.getMessage() for r in caplog.records)
        assert "hunter2" not in health and "hunter2" not in caplog.text
    finally:
        await pacer.aclose()


async def test_fallback_and_recovery(redis_server: PrivateRedis, caplog: pytest.LogCaptureFixture) -> None:
    """Redis stopped under two pacers: the one that calls falls back (health, log, the quiet period), the idle one
    notices at its heartbeat; Redis back: both settle, then use the shared budget alone again. Timings are
    scaled down (heartbeat 0.1 s, settling 0.5 s) so that this runs in about two seconds."""
    prefix = unique_prefix("recovery")
    fast = {"heartbeat_seconds": 0.1, "replica_ttl_seconds": 0.5, "settle_seconds": 0.5, "quiet_seconds": 0.3}
    busy = RedisPacer(redis_server.url, lambda _key: 150.0, prefix=prefix, **fast)  # type: ignore[arg-type]
    idle = RedisPacer(redis_server.url, lambda _key: 150.0, prefix=prefix, **fast)  # type: ignore[arg-type]
    caplog.set_level(logging.INFO, "rtcops.pacing")
    try:
        await asyncio.gather(busy.acquire(KEY), idle.acquire(KEY))
        await asyncio.sleep(0.15)
        assert (busy.health(), idle.health(), busy.replicas_seen) == (None, None, 2)

        redis_server.stop()
        stopped = time.monotonic()
        await busy.acquire(KEY)
        assert time.monotonic() - stopped >= 0.3  # the quiet period (scaled)
        assert busy.mode is Mode.FALLBACK
        health = busy.health()
        assert health is not None and "unreachable" in health and "1/3" in health  # 2 seen + 1
        await asyncio.sleep(0.25)
        assert idle.mode is Mode.FALLBACK  # its heartbeat failed
        for _ in range(5):
            await busy.acquire(KEY)  # calls keep going

        redis_server.start()
        deadline = time.monotonic() + 3
        while busy.mode is Mode.FALLBACK or idle.mode is Mode.FALLBACK:
            assert time.monotonic() < deadline, "never noticed Redis was back"
            await asyncio.sleep(0.02)
        assert busy.mode is Mode.SETTLING and idle.mode is Mode.SETTLING
        settling = busy.health()
        assert settling is not None and "reachable again" in settling
        with redis_server.client() as check:
            assert check.pttl(settling_key(prefix)) > 0
        await busy.acquire(KEY)  # settling: local share and shared budget
        with redis_server.client() as check:
            assert check.exists(budget_key(prefix, KEY))  # charged to the new Redis

        while busy.mode is not Mode.SHARED or idle.mode is not Mode.SHARED:
            assert time.monotonic() < deadline, "never went back to the shared budget"
            await asyncio.sleep(0.02)
        assert (busy.health(), idle.health()) == (None, None)
        await busy.acquire(KEY)
        messages = [r.getMessage() for r in caplog.records]
        assert any("unreachable" in m and "1/3" in m for m in messages)
        assert any("reachable again" in m for m in messages)
        assert sum("back on the shared budget" in m for m in messages) == 2
        assert redis_server.password not in caplog.text
    finally:
        await busy.aclose()
        await idle.aclose()


async def test_a_replica_that_missed_the_outage_settles_with_the_others(redis_server: PrivateRedis) -> None:
    """The settling mark: a replica whose heartbeats all succeeded still takes its local share too while another
    one comes back from an outage, so replicas still on their local share are never outrun."""
    prefix = unique_prefix("mark")
    pacer = RedisPacer(redis_server.url, lambda _key: 150.0, prefix=prefix, heartbeat_seconds=0.1, settle_seconds=0.4)
    try:
        await pacer.acquire(KEY)
        with redis_server.client() as check:
            check.set(settling_key(prefix), "another-replica", px=400)
        await asyncio.sleep(0.25)
        assert pacer.mode is Mode.SETTLING and pacer.health() is not None
        await pacer.acquire(KEY)
        await asyncio.sleep(0.6)
        assert pacer.mode is Mode.SHARED and pacer.health() is None
    finally:
        await pacer.aclose()
