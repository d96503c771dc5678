"""Replicas sharing one budget through Redis, as separate OS processes (each its own ProviderRegistry and pacer),
against the simulators with their QPS enforcement on, over loopback HTTP with real signatures.

Judged at the simulator: its request log must hold no rate-limit refusal, no burst (no window of a second less
`JITTER` over the limit) and an average rate at most the limit. Volcengine runs at
60/s set on both sides rather than the documented 150/s, so that what is compared is the pacer and not what a
busy 2-core machine can serve; Tencent runs at its documented 20/s; bench/provider_pacing.py --replicas measures
the documented 150/s."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pacing_support import (
    RATE_LIMIT_CODES,
    PrivateRedis,
    busiest_window,
    collect,
    private_redis,
    replica_env,
    spawn_replicas,
)

from bot.providers.pacing import LocalPacer
from bot.providers.retry import RetryPolicy
from bot.providers.shared_pacing import fallback_limit
from bot.providers.signing_tencent import TencentCredentials
from bot.providers.signing_volcengine import VolcengineCredentials
from bot.providers.tencent_client import TencentClient
from bot.providers.volcengine_client import VolcengineClient
from bot.sandbox import tencent_sim, volcengine_sim

pytestmark = pytest.mark.load

VOLC_UPDATE, TENCENT_UPDATE = "UpdatePushMixedStreamToCDN", "UpdateStreamIngest"
IDS = {"AppId": "loadapp", "RoomId": "loadroom", "TaskId": "loadtask"}
STREAMS = {"StreamList": [{"UserId": "alice", "Index": 0}, {"UserId": "bob", "Index": 1}]}
LAYOUT = {
    "LayoutMode": 2,
    "CustomLayout": {
        "Canvas": {"Width": 1280, "Height": 720},
        "Regions": [
            {"StreamIndex": 0, "WidthProportion": 0.5, "HeightProportion": 1.0},
            {"StreamIndex": 1, "LocationX": 0.5, "WidthProportion": 0.5, "HeightProportion": 1.0, "ZOrder": 1},
        ],
    },
}
VOLC_UPDATE_BODY = {**IDS, "TargetStreams": STREAMS, "Layout": LAYOUT, "Encode": {"VideoFps": 30}}
APP = 1400000000


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


async def _reset(url: str, limits: dict[str, float]) -> None:
    async with httpx.AsyncClient(base_url=url) as control:
        (await control.post("/_sandbox/reset")).raise_for_status()
        (await control.post("/_sandbox/qps", json={"enabled": True, "limits": limits})).raise_for_status()


async def volcengine_target(url: str, limit: float | None = None) -> tuple[dict[str, str], dict[str, Any], float, str]:
    """(environment, Update body, limit, action) for replicas calling the Volcengine simulator: the documented
    limit, or `limit` set on both sides (the simulator's bucket and RTCOPS_VOLCENGINE_UPDATE_QPS)."""
    limit = limit or volcengine_sim.DEFAULT_QPS[VOLC_UPDATE]
    await _reset(url, {VOLC_UPDATE: limit})
    creds = VolcengineCredentials(volcengine_sim.DEFAULT_ACCESS_KEY, volcengine_sim.DEFAULT_SECRET_KEY)
    async with VolcengineClient(url, "cn-north-1", creds, LocalPacer(lambda _k: 10.0), RetryPolicy(), 5.0) as client:
        await client.start_push_mixed_stream_to_cdn(
            {**IDS, "PushURL": "rtmp://live.example.com/app/load", "TargetStreams": STREAMS, "Layout": LAYOUT}
        )
    env = {
        "RTCOPS_VOLCENGINE_ENDPOINT": url,
        "VOLC_ACCESSKEY": volcengine_sim.DEFAULT_ACCESS_KEY,
        "VOLC_SECRETKEY": volcengine_sim.DEFAULT_SECRET_KEY,
        "RTCOPS_VOLCENGINE_UPDATE_QPS": str(limit),
    }
    return env, VOLC_UPDATE_BODY, limit, VOLC_UPDATE


async def tencent_target(url: str) -> tuple[dict[str, str], dict[str, Any], float, str]:
    await _reset(url, {TENCENT_UPDATE: tencent_sim.DEFAULT_QPS[TENCENT_UPDATE]})
    creds = TencentCredentials(tencent_sim.DEFAULT_SECRET_ID, tencent_sim.DEFAULT_SECRET_KEY)
    async with TencentClient(url, creds, LocalPacer(lambda _k: 10.0), RetryPolicy(), 5.0) as client:
        started = await client.start_stream_ingest(
            {"SdkAppId": APP, "RoomId": "r", "RoomIdType": 0, "UserId": "bot", "UserSig": "sig",
             "StreamUrl": "https://media.example.com/a.mp4"}
        )  # fmt: skip
    env = {
        "RTCOPS_TENCENT_ENDPOINT": url,
        "TENCENTCLOUD_SECRET_ID": tencent_sim.DEFAULT_SECRET_ID,
        "TENCENTCLOUD_SECRET_KEY": tencent_sim.DEFAULT_SECRET_KEY,
    }
    body = {"SdkAppId": APP, "TaskId": started.result.task_id, "Volume": 80, "IsPause": False}
    return env, body, tencent_sim.DEFAULT_QPS[TENCENT_UPDATE], TENCENT_UPDATE


async def arrivals(url: str, action: str) -> tuple[list[float], list[str]]:
    """Arrival times of `action` at the simulator and the error codes it answered."""
    async with httpx.AsyncClient(base_url=url) as control:
        records = (await control.get("/_sandbox/requests", params={"action": action})).json()
    return [r["time"] for r in records], [r["code"] for r in records if r["code"]]


@pytest.mark.parametrize(("provider", "replicas"), [("volcengine", 2), ("volcengine", 3), ("tencent", 3)])
async def test_replicas_share_one_budget(
    provider: str, replicas: int, redis_server: PrivateRedis, volcengine_child: str, tencent_child: str
) -> None:
    """N replica processes asking for three seconds' worth of the limit at once: nothing is refused, no second
    holds more than the limit, and together they get most of it (each alone would take it all)."""
    if provider == "volcengine":
        url = volcengine_child
        env, body, limit, action = await volcengine_target(url, 60.0)
    else:
        url = tencent_child
        env, body, limit, action = await tencent_target(url)
    total = round(limit * 3) // replicas * replicas
    args = {"provider": provider, "body": body, "calls": total // replicas, "concurrency": 16,
            "start_at": time.time() + 2.0}  # fmt: skip
    results = await asyncio.to_thread(collect, spawn_replicas(replicas, args, replica_env(redis_server.url, env)), 60)

    assert [r["errors"] for r in results] == [[]] * replicas
    assert sum(r["ok"] for r in results) == total
    assert all(r["ok"] > 0 for r in results)
    times, codes = await arrivals(url, action)
    assert len(times) == total
    assert [c for c in codes if c in RATE_LIMIT_CODES] == [] and codes == []
    assert busiest_window(times) <= limit
    achieved = (len(times) - 1) / (max(times) - min(times))
    assert achieved <= limit
    # A loose floor: on this 2-core machine other work can slow the replicas down. Their fallback shares would
    # give at most 0.73 of the limit, and health() says they never fell back.
    assert achieved >= 0.75 * limit, f"{achieved:.1f}/s of {limit:.0f}/s"
    assert all(sample[1] is None for r in results for sample in r["health"])


async def test_redis_stopped_mid_run(redis_server: PrivateRedis, volcengine_child: str) -> None:
    """Two replicas calling flat out for 12 s; Redis is killed at 2.5 s and started again (empty) at 5 s.

    Nothing is refused at any time and no second exceeds the limit; calls go on during the outage at the
    fallback share (1/3 each: two replicas seen + 1); health() and the log say so, without the password;
    after Redis is back and the replicas have settled, they use the whole shared budget again. The limit is
    60/s on both sides rather than 150, so that the rates compared are the pacer's, not what a busy 2-core
    machine can serve."""
    env, body, limit, action = await volcengine_target(volcengine_child, 60.0)
    start = time.time() + 2.0
    stop_at, restart_at, end = start + 2.5, start + 5.0, start + 12.0
    args = {"provider": "volcengine", "body": body, "seconds": end - start, "concurrency": 16, "start_at": start}
    procs = spawn_replicas(2, args, replica_env(redis_server.url, env))
    await asyncio.sleep(stop_at - time.time())
    redis_server.stop()
    stopped = time.time()
    await asyncio.sleep(restart_at - time.time())
    redis_server.start()
    restarted = time.time()
    results = await asyncio.to_thread(collect, procs, 60)

    assert [r["errors"] for r in results] == [[], []]
    times, codes = await arrivals(volcengine_child, action)
    assert codes == [] and len(times) == sum(r["ok"] for r in results)
    assert busiest_window(times) <= limit

    share = 0.98 * fallback_limit(limit, 2)  # each replica's local pace
    outage = [t for t in times if stopped + 1.4 <= t <= restarted]  # after the quiet period (1 s + 17 ms)
    assert len(outage) >= 0.6 * 2 * share * (restarted - stopped - 1.4), "calls must keep going without Redis"
    assert busiest_window(outage) <= 2 * fallback_limit(limit, 2)  # the local shares, not the whole limit

    late = [t for t in times if end - 2.0 <= t <= end]
    assert len(late) / 2.0 > 2 * share * 1.2, "back on the shared budget: more than the two local shares"

    for r in results:
        during = [h for t, h in r["health"] if stopped + 0.6 <= t <= restarted]
        assert during and all(h is not None and "unreachable" in h and "1/3" in h for h in during)
        assert r["health"][-1][1] is None
        log = "\n".join(r["log"])
        assert "unreachable" in log and "reachable again" in log and "back on the shared budget" in log
        assert redis_server.password not in log
        assert not any(redis_server.password in h for _, h in r["health"] if h)
