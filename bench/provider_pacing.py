"""Pacing against the provider simulators with QPS enforcement on, and our signing cost against the SDKs'.

Starts `rtcops sandbox providers` in its own process (so the simulators do not share our event loop), then
sends a burst of Updates through the real clients paced at the documented limits. Prints achieved rate /
documented limit, rate-limit errors received, p50/p99 latency, and our signing time / the official SDK's.
Run: .venv/bin/python bench/provider_pacing.py [--volcengine-calls 600] [--tencent-calls 100] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import OrderedDict
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--volcengine-calls", type=int, default=600)
    parser.add_argument("--tencent-calls", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--sign-iterations", type=int, default=5000)
    args = parser.parse_args()
    settings = Settings(_env_file=None)  # documented limits, whatever the shell exports
    with sandbox() as env:
        asyncio.run(run_volcengine(env, settings, args.volcengine_calls, args.concurrency))
        asyncio.run(run_tencent(env, settings, args.tencent_calls, args.concurrency))
    signing_ratios(args.sign_iterations)


if __name__ == "__main__":
    main()
