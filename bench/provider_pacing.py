"""Pacing against the provider simulators with QPS enforcement on, and our signing cost against the SDKs'.

Starts `rtcops sandbox providers` in its own process (so the simulators do not share our event loop), then
sends a burst of Updates through the real clients paced at the documented limits. Prints achieved rate /
documented limit, rate-limit errors received, p50/p99 latency, and our signing time / the official SDK's.
Run: .venv/bin/python bench/provider_pacing.py [--volcengine-calls 600] [--tencent-calls 100] [--concurrency 32]

With --replicas N it measures pacing shared across replicas instead: it starts a private redis-server, then N
rtcops-like processes, each with its own ProviderRegistry built from Settings with RTCOPS_REDIS_URL (so each its
own shared pacer), all calling the same account's Update flat out at once. Prints, per provider, the combined
achieved rate at the simulator / the documented limit, the rate-limit errors the simulator answered, the
busiest one-second window in its request log, and each replica's count. The reference is the documented limit.
Run: .venv/bin/python bench/provider_pacing.py --replicas 3 [--volcengine-calls 1500] [--tencent-calls 200]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextvars
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from tencentcloud.common.abstract_client_async import AbstractClient
from volcengine.auth.SignerV4 import SignerV4
from volcengine.auth.SignParam import SignParam
from volcengine.Credentials import Credentials

from bot.config import Settings
from bot.providers.errors import ProviderError
from bot.providers.pacing import LocalPacer, Pacer
from bot.providers.registry import ProviderRegistry
from bot.providers.retry import RetryPolicy
from bot.providers.signing_tencent import TencentCredentials, sign_tencent
from bot.providers.signing_volcengine import VolcengineCredentials, sign_volcengine
from bot.providers.tencent_client import TencentClient
from bot.providers.volcengine_client import VolcengineClient, encode_body

RATE_LIMIT_CODES = {"FlowLimitExceeded.QPSOverLimit", "FlowLimitExceeded", "AccountFlowLimitExceeded", "RequestLimitExceeded"}
_granted: contextvars.ContextVar[float] = contextvars.ContextVar("granted", default=0.0)

STREAMS = {"StreamList": [{"UserId": f"user{i}", "Index": i} for i in range(4)]}
REGIONS = [
    {"StreamIndex": i, "LocationX": 0.5 * (i % 2), "LocationY": 0.5 * (i // 2), "WidthProportion": 0.5,
     "HeightProportion": 0.5, "ZOrder": i, "RenderMode": 3}
    for i in range(4)
]  # fmt: skip
LAYOUT = {"LayoutMode": 2, "CustomLayout": {"Canvas": {"Width": 1280, "Height": 720}, "Regions": REGIONS}}
IDS = {"AppId": "benchapp", "RoomId": "benchroom", "TaskId": "benchtask"}
APP = 1400000000


class TimingPacer:
    """Wraps the real pacer to note when each call was let through, so latency excludes the queueing."""

    def __init__(self, inner: Pacer) -> None:
        self.inner = inner

    async def acquire(self, key: str) -> None:
        await self.inner.acquire(key)
        _granted.set(time.perf_counter())


@contextmanager
def sandbox() -> Iterator[dict[str, str]]:
    rtcops = str(Path(sys.executable).with_name("rtcops"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOLC_", "TENCENTCLOUD_", "RTCOPS_"))}
    proc = subprocess.Popen([rtcops, "sandbox", "providers", "--port", "0"], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    settings: dict[str, str] = {}
    for line in proc.stdout:
        match = re.match(r"^([A-Z][A-Z0-9_]+)=(\S+)$", line.strip())
        if match:
            settings[match.group(1)] = match.group(2)
        if line.startswith("Press Ctrl-C"):
            break
    try:
        yield settings
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)


def busiest_second(times: list[float]) -> int:
    """The most requests the simulator stamped within any one second [t, t + 1). It stamps a request when its
    event loop gets to it, so on a busy machine stamps bunch up a little beyond the pacing itself."""
    ordered = sorted(times)
    return max((bisect.bisect_left(ordered, t + 1.0) - i for i, t in enumerate(ordered)), default=0)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def burst(
    name: str, limit: float, n: int, concurrency: int, call: Callable[[], Awaitable[Any]], endpoint: str, action: str
) -> None:
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    totals: list[float] = []
    errors: list[str] = []

    async def one() -> None:
        async with gate:
            start = time.perf_counter()
            try:
                await call()
            except ProviderError as exc:
                errors.append(exc.code)
            end = time.perf_counter()
            latencies.append(end - _granted.get())
            totals.append(end - start)

    async with httpx.AsyncClient(base_url=endpoint) as control:
        await control.post("/_sandbox/requests")  # warm the connection; the log is read at the end
        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        elapsed = time.perf_counter() - t0
        records = (await control.get("/_sandbox/requests", params={"action": action})).json()
    limited = sum(1 for r in records if r["code"] in RATE_LIMIT_CODES)
    rate = n / elapsed
    print(f"{name}: {n} {action} calls, concurrency {concurrency}, in {elapsed:.2f} s")
    print(f"{name}: achieved {rate:.1f}/s / documented limit {limit:.0f}/s = {rate / limit:.3f}")
    print(f"{name}: rate-limit errors received: {limited} (other errors: {len(errors) - limited}; requests seen {len(records)})")
    busiest = busiest_second([r["time"] for r in records])
    print(f"{name}: busiest one-second window at the simulator: {busiest} (limit {limit:.0f})")
    print(
        f"{name}: latency after pacing p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms; "
        f"including the pacing queue p50 {percentile(totals, 0.5) * 1000:.0f} ms, p99 {percentile(totals, 0.99) * 1000:.0f} ms"
    )


async def run_volcengine(env: dict[str, str], settings: Settings, n: int, concurrency: int) -> None:
    pacer = TimingPacer(LocalPacer.from_settings(settings))
    client = VolcengineClient(
        env["RTCOPS_VOLCENGINE_ENDPOINT"],
        env["RTCOPS_VOLCENGINE_REGION"],
        VolcengineCredentials(env["VOLC_ACCESSKEY"], env["VOLC_SECRETKEY"]),
        pacer,
        RetryPolicy.from_settings(settings),
        settings.provider_timeout_seconds,
    )
    async with client:
        await client.start_push_mixed_stream_to_cdn(
            {**IDS, "PushURL": "rtmp://cdn.example.com/live/bench", "TargetStreams": STREAMS, "Layout": LAYOUT}
        )
        body = {**IDS, "TargetStreams": STREAMS, "Layout": LAYOUT, "Encode": {"VideoFps": 30, "VideoBitrate": 2500}}
        await burst(
            "volcengine",
            settings.volcengine_update_qps,
            n,
            concurrency,
            lambda: client.update_push_mixed_stream_to_cdn(body),
            env["RTCOPS_VOLCENGINE_ENDPOINT"],
            "UpdatePushMixedStreamToCDN",
        )


async def run_tencent(env: dict[str, str], settings: Settings, n: int, concurrency: int) -> None:
    pacer = TimingPacer(LocalPacer.from_settings(settings))
    client = TencentClient(
        env["RTCOPS_TENCENT_ENDPOINT"],
        TencentCredentials(env["TENCENTCLOUD_SECRET_ID"], env["TENCENTCLOUD_SECRET_KEY"]),
        pacer,
        RetryPolicy.from_settings(settings),
        settings.provider_timeout_seconds,
        default_region=env["TENCENTCLOUD_REGION"],
    )
    async with client:
        started = await client.start_stream_ingest(
            {
                "SdkAppId": APP,
                "RoomId": "r",
                "RoomIdType": 0,
                "UserId": "bot",
                "UserSig": "sig",
                "StreamUrl": "https://media.example.com/a.mp4",
            }
        )
        body = {"SdkAppId": APP, "TaskId": started.result.task_id, "Volume": 80, "IsPause": False}
        await burst(
            "tencent",
            settings.tencent_qps,
            n,
            concurrency,
            lambda: client.update_stream_ingest(body),
            env["RTCOPS_TENCENT_ENDPOINT"],
            "UpdateStreamIngest",
        )


def best_per_call(fn: Callable[[], object], iterations: int, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(iterations):
            fn()
        best = min(best, (time.perf_counter() - start) / iterations)
    return best


def signing_ratios(iterations: int) -> None:
    body = encode_body({**IDS, "TargetStreams": STREAMS, "Layout": LAYOUT, "Encode": {"VideoFps": 30}})
    host, query = "rtc.volcengineapi.com", {"Action": "UpdatePushMixedStreamToCDN", "Version": "2020-12-01"}
    creds = VolcengineCredentials("AKLTbench", "benchSecret==")

    def ours_volc() -> object:
        return sign_volcengine(
            method="POST", host=host, query=query, body=body, credentials=creds, region="cn-north-1", when=datetime.now(UTC)
        )

    def sdk_volc() -> object:
        param = SignParam()
        param.set_method("POST")
        param.set_host(host)
        param.set_path("/")
        param.set_body(body)
        param.set_query(OrderedDict(query))
        param.set_header_list(OrderedDict([("Host", host), ("Content-Type", "application/json")]))
        param.set_date(datetime.now(UTC))
        return SignerV4.sign_only(param, Credentials("AKLTbench", "benchSecret==", "rtc", "cn-north-1"))

    tbody = json.dumps({"SdkAppId": APP, "TaskId": "task-abc", "Volume": 80, "IsPause": False}).encode()
    tcreds = TencentCredentials("AKIDbench", "benchSecret")
    thost = "trtc.intl.tencentcloudapi.com"

    def ours_tc3() -> object:
        return sign_tencent(
            host=thost, body=tbody, credentials=tcreds, action="UpdateStreamIngest", version="2019-07-22",
            region="ap-singapore", timestamp=int(time.time()),
        )  # fmt: skip

    def sdk_tc3() -> object:
        stamp = int(time.time())
        headers = {"Content-Type": "application/json", "Host": thost, "X-TC-Timestamp": str(stamp)}
        date = time.strftime("%Y-%m-%d", time.gmtime(stamp))
        return AbstractClient._get_tc3_signature("POST", "/", "", tbody, headers, date, "trtc", "benchSecret", {})

    for name, ours, sdk, what in (
        ("volcengine", ours_volc, sdk_volc, "SignerV4.sign_only"),
        ("tencent", ours_tc3, sdk_tc3, "AbstractClient._get_tc3_signature"),
    ):
        mine, theirs = best_per_call(ours, iterations), best_per_call(sdk, iterations)
        print(
            f"{name}: signing {mine * 1e6:.1f} us/request (all headers) vs SDK {what} {theirs * 1e6:.1f} us "
            f"= ratio {mine / theirs:.2f}"
        )


# --- --replicas N: pacing shared across replica processes through Redis ------------------------------------


@contextmanager
def private_redis() -> Iterator[str]:
    """A redis-server of the benchmark's own on a free loopback port, keeping nothing on disk."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def replica_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """One replica: Settings from the environment its parent set (RTCOPS_REDIS_URL among them), its own registry,
    `calls` Updates with `concurrency` in flight, from the common `start_at` on."""
    registry = ProviderRegistry.from_settings(Settings(_env_file=None))
    body = spec["body"]
    call: Callable[[], Awaitable[Any]]
    # One Get first: otherwise each replica's first Update also opens its connection and lands late, bunched with
    # the next ones at the simulator; that is the transport's start-up, not the pacing measured here.
    if spec["provider"] == "volcengine":
        volcengine = registry.volcengine
        call = lambda: volcengine.update_push_mixed_stream_to_cdn(body)  # noqa: E731
        await volcengine.get_push_mixed_stream_to_cdn_task({k: body[k] for k in ("AppId", "RoomId", "TaskId")})
    else:
        tencent = registry.tencent()
        call = lambda: tencent.update_stream_ingest(body)  # noqa: E731
        await tencent.describe_stream_ingest({"SdkAppId": body["SdkAppId"], "TaskId": body["TaskId"]})
    left, ok, errors = spec["calls"], 0, []

    async def caller() -> None:
        nonlocal left, ok
        while left > 0:
            left -= 1
            try:
                await call()
                ok += 1
            except ProviderError as exc:
                errors.append(exc.code)

    await asyncio.sleep(max(0.0, spec["start_at"] - time.time()))
    await asyncio.gather(*(caller() for _ in range(spec["concurrency"])))
    health = registry.pacer_health()
    await registry.aclose()
    return {"ok": ok, "errors": errors, "health": health}


async def start_task(provider: str, settings: Settings) -> dict[str, Any]:
    """Start the task the Updates change (after the simulator's reset, which forgets tasks); the Update body."""
    registry = ProviderRegistry(settings, pacer=LocalPacer.from_settings(settings))
    try:
        if provider == "volcengine":
            await registry.volcengine.start_push_mixed_stream_to_cdn(
                {**IDS, "PushURL": "rtmp://cdn.example.com/live/bench", "TargetStreams": STREAMS, "Layout": LAYOUT}
            )
            return {**IDS, "TargetStreams": STREAMS, "Layout": LAYOUT, "Encode": {"VideoFps": 30, "VideoBitrate": 2500}}
        started = await registry.tencent().start_stream_ingest(
            {"SdkAppId": APP, "RoomId": "r", "RoomIdType": 0, "UserId": "bot", "UserSig": "sig",
             "StreamUrl": "https://media.example.com/a.mp4"}
        )  # fmt: skip
        return {"SdkAppId": APP, "TaskId": started.result.task_id, "Volume": 80, "IsPause": False}
    finally:
        await registry.aclose()


def run_replicas(env: dict[str, str], redis_url: str, replicas: int, calls: dict[str, int], concurrency: int) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("VOLC_", "TENCENTCLOUD_", "RTCOPS_"))}
    child_env = {**base, **env, "RTCOPS_REDIS_URL": redis_url, "RTCOPS_PROVIDER_MAX_ATTEMPTS": "1"}
    settings = Settings(_env_file=None, **{k.lower(): v for k, v in env.items()})
    for provider, action, limit, endpoint in (
        ("volcengine", "UpdatePushMixedStreamToCDN", settings.volcengine_update_qps, env["RTCOPS_VOLCENGINE_ENDPOINT"]),
        ("tencent", "UpdateStreamIngest", settings.tencent_qps, env["RTCOPS_TENCENT_ENDPOINT"]),
    ):
        each = calls[provider] // replicas
        with httpx.Client(base_url=endpoint) as control:
            control.post("/_sandbox/reset").raise_for_status()  # a fresh request log and full buckets
        body = asyncio.run(start_task(provider, settings))
        spec = {"provider": provider, "body": body, "calls": each, "concurrency": concurrency,
                "start_at": time.time() + 3.0}  # fmt: skip
        procs = [
            subprocess.Popen([sys.executable, __file__, "--replica-worker", json.dumps(spec)], stdout=subprocess.PIPE,
                             text=True, env=child_env)
            for _ in range(replicas)
        ]  # fmt: skip
        results = []
        for proc in procs:
            out, _ = proc.communicate(timeout=600)
            if proc.returncode != 0:
                raise SystemExit(f"a replica exited with {proc.returncode}")
            results.append(json.loads(out.strip().splitlines()[-1]))
        with httpx.Client(base_url=endpoint) as control:
            records = control.get("/_sandbox/requests", params={"action": action}).json()
        times = [r["time"] for r in records]
        limited = sum(1 for r in records if r["code"] in RATE_LIMIT_CODES)
        others = Counter(r["code"] for r in records if r["code"] and r["code"] not in RATE_LIMIT_CODES)
        span = max(times) - min(times)
        rate = (len(times) - 1) / span
        name = f"{provider} x{replicas} replicas"
        print(f"{name}: {len(times)} {action} calls, concurrency {concurrency} in each, over {span:.2f} s at the simulator")
        print(f"{name}: achieved combined {rate:.1f}/s / documented limit {limit:.0f}/s = {rate / limit:.3f}")
        print(f"{name}: rate-limit errors received: {limited} (other errors: {dict(others) or 0}); busiest one-second window "
              f"at the simulator: {busiest_second(times)} (limit {limit:.0f})")  # fmt: skip
        print(f"{name}: calls per replica {' / '.join(str(r['ok']) for r in results)}; "
              f"pacer health at the end: {', '.join(str(r['health']) for r in results)}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--volcengine-calls", type=int, default=None, help="default 600, or 1500 with --replicas")
    parser.add_argument("--tencent-calls", type=int, default=None, help="default 100, or 200 with --replicas")
    parser.add_argument("--concurrency", type=int, default=32, help="calls in flight (in each replica)")
    parser.add_argument("--sign-iterations", type=int, default=5000)
    parser.add_argument("--replicas", type=int, default=None, help="measure N replica processes sharing Redis")
    parser.add_argument("--replica-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.replica_worker:
        print(json.dumps(asyncio.run(replica_worker(json.loads(args.replica_worker)))), flush=True)
        return
    settings = Settings(_env_file=None)  # documented limits, whatever the shell exports
    if args.replicas:
        if args.replicas < 1:
            parser.error("--replicas must be at least 1")
        calls = {"volcengine": args.volcengine_calls or 1500, "tencent": args.tencent_calls or 200}
        with sandbox() as env, private_redis() as redis_url:
            run_replicas(env, redis_url, args.replicas, calls, args.concurrency)
        return
    with sandbox() as env:
        asyncio.run(run_volcengine(env, settings, args.volcengine_calls or 600, args.concurrency))
        asyncio.run(run_tencent(env, settings, args.tencent_calls or 100, args.concurrency))
    signing_ratios(args.sign_iterations)


if __name__ == "__main__":
    main()
