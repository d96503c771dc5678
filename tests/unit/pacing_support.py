"""What the shared-pacing tests share: a private redis-server they may stop and start, an rtcops-like replica
process, and the checks on the simulator's request log."""

from __future__ import annotations

import bisect
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis

RATE_LIMIT_CODES = {"FlowLimitExceeded.QPSOverLimit", "RequestLimitExceeded"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """A redis-server of this test's own, keeping nothing on disk, with a password (so tests can check that it
    never shows in logs or health lines), which the test may stop and start again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.password = "pw-" + secrets.token_hex(8)
        self.url = f"redis://:{self.password}@127.0.0.1:{self.port}/0"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        argv += ["--requirepass", self.password, "--daemonize", "no"]
        self._proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = self.client()
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self._proc.poll() is not None:
                    raise RuntimeError(f"redis-server on port {self.port} did not start") from None
                time.sleep(0.02)
            finally:
                client.close()

    def stop(self) -> None:
        """SIGKILL, as a crash: no goodbye to the clients."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(timeout=10)
            self._proc = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=2)


@contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


# One rtcops-like replica: its own Settings from the environment, its own ProviderRegistry (so its own pacer),
# calling one Update as fast as `concurrency` allows, from `start_at` (wall clock) on, either `calls` times in
# all or for `seconds`. It samples registry.pacer_health() every 100 ms, keeps the rtcops.pacing log lines, and
# prints one JSON line at the end. Before `start_at` it reads the task once (a Get, paced under its own key): its
# first Update would otherwise also open the connection to the simulator, and on a busy machine those first
# Updates of every replica land late and bunched together (LocalPacer's do as well), which is the transport's
# start-up and not the pacing the tests are about.
REPLICA = r"""
import asyncio, json, logging, sys, time
from bot.config import Settings
from bot.providers.errors import ProviderError
from bot.providers.registry import ProviderRegistry

args = json.loads(sys.argv[1])
lines = []

class Keep(logging.Handler):
    def emit(self, record):
        lines.append(record.getMessage())

pacing_log = logging.getLogger("rtcops.pacing")
pacing_log.addHandler(Keep())
pacing_log.setLevel(logging.INFO)


async def main():
    registry = ProviderRegistry.from_settings(Settings(_env_file=None))
    body = args["body"]
    if args["provider"] == "volcengine":
        client = registry.volcengine
        call = lambda: client.update_push_mixed_stream_to_cdn(body)
        await client.get_push_mixed_stream_to_cdn_task({k: body[k] for k in ("AppId", "RoomId", "TaskId")})
    else:
        client = registry.tencent()
        call = lambda: client.update_stream_ingest(body)
        await client.describe_stream_ingest({"SdkAppId": body["SdkAppId"], "TaskId": body["TaskId"]})
    ok, errors, health = 0, [], []
    left = args.get("calls")
    await asyncio.sleep(max(0.0, args["start_at"] - time.time()))
    deadline = args["start_at"] + args.get("seconds", 1e9)

    async def caller():
        nonlocal ok, left
        while time.time() < deadline:
            if left is not None:
                if left <= 0:
                    return
                left -= 1
            try:
                await call()
                ok += 1
            except ProviderError as exc:
                errors.append(exc.code)

    async def sample():
        while True:
            health.append([time.time(), registry.pacer_health()])
            await asyncio.sleep(0.1)

    sampler = asyncio.create_task(sample())
    await asyncio.gather(*(caller() for _ in range(args["concurrency"])))
    sampler.cancel()
    health.append([time.time(), registry.pacer_health()])
    await registry.aclose()
    print(json.dumps({"ok": ok, "errors": errors, "health": health, "log": lines}), flush=True)


asyncio.run(main())
"""


def replica_env(redis_url: str | None, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOLC_", "TENCENTCLOUD_", "RTCOPS_"))}
    env.update(extra)
    env["RTCOPS_PROVIDER_MAX_ATTEMPTS"] = "1"  # every refusal shows: nothing is retried away
    if redis_url is not None:
        env["RTCOPS_REDIS_URL"] = redis_url
    return env


def spawn_replicas(n: int, args: dict[str, Any], env: dict[str, str]) -> list[subprocess.Popen[str]]:
    return [
        subprocess.Popen([sys.executable, "-c", REPLICA, json.dumps(args)], stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(n)
    ]


def collect(procs: list[subprocess.Popen[str]], timeout: float) -> list[dict[str, Any]]:
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, f"replica exited with {proc.returncode}"
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


# Calls leave a replica a little after their slot, and the simulator stamps them when its event loop gets to
# them. On this 2-core machine, shared with other work, both lag by up to tens of milliseconds and bunch calls
# together: a lone LocalPacer at 150/s showed 160 stamps in one second, three shared-pacing replicas at 60/s up
# to 63, while the pacers' own schedules held. So the request log is checked over windows of one second less
# JITTER (any burst still shows there), and the average rate over the run, which such bunching does not move,
# against the limit itself.
JITTER = 0.1


def busiest_window(times: list[float], seconds: float = 1.0 - JITTER) -> int:
    """The most arrivals in any window [t, t + seconds), over every start t (a window starting at an arrival
    holds at least as many as any other)."""
    ordered = sorted(times)
    return max((bisect.bisect_left(ordered, t + seconds) - i for i, t in enumerate(ordered)), default=0)
