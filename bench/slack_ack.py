"""How fast does `rtcops serve` acknowledge Slack, compared with a bare Bolt app that only acks?

Both servers run as their own processes on loopback and get the same load in the same run: signed slash
commands (`/rtc tasks`) and signed Approve clicks, from 50 concurrent clients. The latency measured is the
HTTP round trip of each request, which is what Slack's 3-second limit applies to. Our server then does its
real work after the acknowledgement (idempotency key, services, an answer through the response_url to a
fake Slack Web API served by this script), so that work competes with the acknowledgements as it would.

    python bench/slack_ack.py [--requests 2000] [--clients 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.sandbox.serve import BackgroundServer  # noqa: E402
from bot.sandbox.slack_api import FakeSlack  # noqa: E402
from bot.sandbox.slack_driver import SlackDriver  # noqa: E402
from bot.sandbox.slack_signing import command_body, interaction_body  # noqa: E402

TOKEN = "xoxb-bench-token"
SECRET = "bench-signing-secret"
TEAM = "T0BENCH"
USERS = {f"U0BENCH{i:03d}": f"user{i}" for i in range(50)} | {"U0ADMIN01": "admin"}


RTCOPS = [sys.executable, "-c", "from bot.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_bare(port: int, api_url: str) -> None:
    """The reference: a Bolt AsyncApp whose listeners only call ack(), behind the same Starlette adapter."""
    import uvicorn
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.server import create_server

    app = AsyncApp(client=AsyncWebClient(token=TOKEN, base_url=api_url), signing_secret=SECRET)

    @app.command("/rtc")
    async def command(ack: Any) -> None:
        await ack()

    @app.action(re.compile(".*"))
    async def action(ack: Any) -> None:
        await ack()

    uvicorn.run(create_server(app), host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off")


def start(cmd: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("server did not start within 30 s")


def requests_for(slack: SlackDriver, n: int, first: int = 0) -> list[bytes]:
    """Bodies exactly as Slack sends them (the driver fills in what Slack would), built before the clock starts.
    Clicks from different batches name different requests (`first`): the bot answers a repeated click by the
    same user only once, which would leave the drain below waiting for answers that never come."""
    users = list(USERS)
    bodies: list[bytes] = []
    for i in range(first, first + n):
        if i % 2 == 0:
            bodies.append(command_body(slack.command_fields("U0ADMIN01", "tasks", "C0BENCH")))
        else:
            button = {"action_id": "rtc_approve", "value": f"{900000 + i}:x"}
            bodies.append(interaction_body(slack.button_payload(users[i % 50], "C0BENCH", "1.000001", button, "decide")))
    return bodies


async def load(slack: SlackDriver, bodies: list[bytes], clients: int) -> tuple[list[float], float, int]:
    """`clients` workers, each with its own keep-alive connection, sending until the bodies run out.

    aiohttp rather than the driver's httpx client: at 50 concurrent connections httpx's own overhead would
    dominate the figures, and the load generator must cost the same against both servers."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    failures = 0

    async def client() -> None:
        nonlocal failures
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=connector) as http:
            while not queue.empty():
                body = queue.get_nowait()
                headers = slack.headers(body)
                t0 = time.perf_counter()
                async with http.post(slack.events_url, data=body, headers=headers) as response:
                    await response.read()
                    latencies.append(time.perf_counter() - t0)
                    failures += response.status != 200

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, time.perf_counter() - started, failures


def summary(name: str, latencies: list[float], elapsed: float, failures: int) -> dict[str, float]:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    rate = len(ordered) / elapsed
    print(f"{name:<18} n={len(ordered):>5}  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  {rate:8.1f} req/s  non-200: {failures}")
    return {"p50": p50, "p99": p99, "rate": rate}


async def measure(port: int, fake: FakeSlack, n: int, clients: int, name: str) -> dict[str, float]:
    slack = SlackDriver(f"http://127.0.0.1:{port}", SECRET, fake, team=TEAM)
    await load(slack, requests_for(slack, min(200, n), first=n), clients)  # warm-up: connections, auth.test, caches
    latencies, elapsed, failures = await load(slack, requests_for(slack, n), clients)
    return summary(name, latencies, elapsed, failures)


def answered(fake: FakeSlack) -> int:
    return len([c for c in fake.calls if c.method == "response_url" and c.ok])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare, args.api_url)
        return

    fake = FakeSlack(bot_token=TOKEN, team_id=TEAM, users=USERS, channels={"C0BENCH": "bench"})
    with BackgroundServer(fake.app) as slack, tempfile.TemporaryDirectory() as tmp:
        fake.base_url = slack.url
        api_url = f"{slack.url}/api/"
        db = f"sqlite+aiosqlite:///{tmp}/bench.db"
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": api_url,
            "DATABASE_URL": db,
            "RTCOPS_ADMIN_USERS": "U0ADMIN01",
            "RTCOPS_LOG_LEVEL": "WARNING",
        }
        subprocess.run([*RTCOPS, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
        ours_port, bare_port = free_port(), free_port()
        ours = start([*RTCOPS, "serve", "--port", str(ours_port)], env, ours_port)
        bare = start([sys.executable, __file__, "--serve-bare", str(bare_port), "--api-url", api_url], env, bare_port)
        try:
            print(f"{args.requests} signed requests (half /rtc commands, half Approve clicks), {args.clients} concurrent clients")
            bare_stats = asyncio.run(measure(bare_port, fake, args.requests, args.clients, "bare Bolt (ack)"))
            ours_stats = asyncio.run(measure(ours_port, fake, args.requests, args.clients, "rtcops serve"))
            expected = args.requests + min(200, args.requests)
            drain_started = time.monotonic()
            while answered(fake) < expected and time.monotonic() - drain_started < 60:
                time.sleep(0.5)
            drained = time.monotonic() - drain_started
        finally:
            for proc in (ours, bare):
                proc.terminate()
                proc.wait(10)
    print(
        f"post-ack work (store + answer through response_url): {answered(fake)}/{expected} answered "
        f"{drained:.1f} s after the last acknowledgement"
    )
    print(f"ours/bare p99 ratio: {ours_stats['p99'] / bare_stats['p99']:.2f}  (targets: p99 < 100 ms, ratio <= 1.5)")


if __name__ == "__main__":
    main()
