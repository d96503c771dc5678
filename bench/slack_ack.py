"""How fast does `rtcops serve` acknowledge Slack, compared with a bare Bolt app that only acks?

Both servers run as their own processes on loopback and get the same load in the same run: signed slash
commands (`/rtc tasks`) and signed Approve clicks, from 50 concurrent clients. The latency measured is the
HTTP round trip of each request, which is what Slack's 3-second limit applies to. Our server then does its
real work after the acknowledgement (idempotency key, services, an answer through the response_url to a
fake Slack Web API), so that work competes with the acknowledgements as it would. The fake Slack runs in a
process of its own, as Slack's servers are elsewhere: serving rtcops' answers must not slow the clients that
time rtcops.

One pair of servers on a shared machine gives p99s that swing by tens of per cent from run to run, so the
script alternates rounds (bare, ours, bare, ours, ...) with the same load, prints every round, and takes the
ratio of the medians of the per-round p99s; the p99 over all requests pooled is printed as well.

    python bench/slack_ack.py [--requests 2500] [--rounds 5] [--clients 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
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

from bot.sandbox.slack_api import FakeSlack  # noqa: E402
from bot.sandbox.slack_driver import SlackDriver  # noqa: E402
from bot.sandbox.slack_signing import command_body, interaction_body, signed_headers  # noqa: E402

TOKEN = "xoxb-bench-token"
SECRET = "bench-signing-secret"
TEAM = "T0BENCH"
USERS = {f"U0BENCH{i:03d}": f"user{i}" for i in range(50)} | {"U0ADMIN01": "admin"}


RTCOPS = [sys.executable, "-c", "from bot.cli import main; main()"]
BARE, OURS = "bare Bolt (ack)", "rtcops serve"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_bare(port: int, api_url: str) -> None:
    """The reference: a Bolt AsyncApp whose listeners only call ack(), behind the same Starlette adapter, with
    the same Bolt settings as rtcops (process_before_response: the answer goes out when the listener returns),
    so the ratio measures rtcops' own work and nothing Bolt could be told to skip."""
    import uvicorn
    from slack_bolt.async_app import AsyncApp

    from bot.server import create_server

    app = AsyncApp(token=TOKEN, signing_secret=SECRET, process_before_response=True)
    app.client.base_url = api_url

    @app.command("/rtc")
    async def command(ack: Any) -> None:
        await ack()

    @app.action(re.compile(".*"))
    async def action(ack: Any) -> None:
        await ack()

    uvicorn.run(create_server(app), host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off")


def requests_for(slack: SlackDriver, n: int, first: int = 0) -> list[bytes]:
    """Bodies exactly as Slack sends them (the driver fills in what Slack would), built before the clock starts.
    Clicks from different batches name different requests (`first`): the bot answers a repeated click by the
    same user only once, which would leave the drain waiting for answers that never come."""
    users = list(USERS)
    bodies: list[bytes] = []
    for i in range(first, first + n):
        if i % 2 == 0:
            bodies.append(command_body(slack.command_fields("U0ADMIN01", "tasks", "C0BENCH")))
        else:
            button = {"action_id": "rtc_approve", "value": f"{900000 + i}:x"}
            bodies.append(interaction_body(slack.button_payload(users[i % 50], "C0BENCH", "1.000001", button, "decide")))
    return bodies


def serve_fake(port: int, plan_file: str, warmup: int, rounds: int, per_round: int) -> None:
    """The fake Slack Web API, in this process of its own. It writes every request body the load will send
    (their response_urls and trigger_ids are its own) to `plan_file`, then serves; GET /bench/answered says
    how many requests rtcops has answered through their response_url."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route

    fake = FakeSlack(bot_token=TOKEN, team_id=TEAM, users=USERS, channels={"C0BENCH": "bench"})
    fake.base_url = f"http://127.0.0.1:{port}"
    slack = SlackDriver("http://127.0.0.1:1", SECRET, fake, team=TEAM)
    plan = {
        name: {
            "warmup": [b.decode() for b in requests_for(slack, warmup, first=10_000_000)],
            "rounds": [[b.decode() for b in requests_for(slack, per_round, first=r * per_round)] for r in range(1, rounds + 1)],
        }
        for name in (BARE, OURS)
    }
    Path(plan_file).write_text(json.dumps(plan))

    async def count(request: Request) -> JSONResponse:
        return JSONResponse({"answered": len([c for c in fake.calls if c.method == "response_url" and c.ok])})

    app = Starlette(routes=[Route("/bench/answered", count), Mount("/", fake.app)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off")


def start(cmd: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("server did not start within 60 s")


async def load(events_url: str, bodies: list[bytes], clients: int) -> tuple[list[float], float, int]:
    """`clients` workers, each with its own keep-alive connection, sending until the bodies run out; each
    request is signed as it is sent.

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
                headers = signed_headers(SECRET, body)
                t0 = time.perf_counter()
                async with http.post(events_url, data=body, headers=headers) as response:
                    await response.read()
                    latencies.append(time.perf_counter() - t0)
                    failures += response.status != 200

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, time.perf_counter() - started, failures


def p99(ordered: list[float]) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def figures(latencies: list[float], elapsed: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {"p50": statistics.median(ordered) * 1000, "p99": p99(ordered) * 1000, "rate": len(ordered) / elapsed}


def line(label: str, n: int, stats: dict[str, float], failures: int, extra: str = "") -> str:
    return (
        f"{label:<26} n={n:>5}  p50 {stats['p50']:7.2f} ms  p99 {stats['p99']:7.2f} ms  "
        f"{stats['rate']:7.1f} req/s  non-200: {failures}{extra}"
    )


async def drained(http: aiohttp.ClientSession, slack_url: str, expected: int, limit: float = 120.0) -> tuple[float, int]:
    """(seconds, answers) until rtcops has answered `expected` requests through their response_url, which is
    the end of its post-ack work."""
    started = time.monotonic()
    while True:
        async with http.get(f"{slack_url}/bench/answered") as response:
            answered = int((await response.json())["answered"])
        if answered >= expected or time.monotonic() - started > limit:
            return time.monotonic() - started, answered
        await asyncio.sleep(0.05)


async def bench(ports: dict[str, int], slack_url: str, plan: dict[str, Any], clients: int) -> None:
    """Warm both servers up, then alternate rounds (bare, ours, bare, ours, ...) with identical load.

    Each round starts on a quiet machine: after an rtcops round the script waits until rtcops has finished
    the work it promised (every request answered through its response_url) and prints how long that took,
    so the next round (bare's) does not pay for it."""
    urls = {name: f"http://127.0.0.1:{port}/slack/events" for name, port in ports.items()}
    rounds = len(plan[OURS]["rounds"])
    per_server: dict[str, list[dict[str, float]]] = {name: [] for name in urls}
    pooled: dict[str, list[float]] = {name: [] for name in urls}
    async with aiohttp.ClientSession() as http:

        async def after_ours(expected: int) -> str:
            seconds, answered = await drained(http, slack_url, expected)
            return f"  post-ack work: {answered}/{expected} answered, done {seconds:.1f} s after the round"

        expected = 0
        for name, url in urls.items():
            bodies = [b.encode() for b in plan[name]["warmup"]]
            latencies, elapsed, failures = await load(url, bodies, clients)
            extra = "  (not counted)"
            if name == OURS:
                expected += len(bodies)
                extra += await after_ours(expected)
            print(line(f"warm-up  {name}", len(latencies), figures(latencies, elapsed), failures, extra), flush=True)
        for r in range(rounds):
            for name, url in urls.items():
                bodies = [b.encode() for b in plan[name]["rounds"][r]]
                latencies, elapsed, failures = await load(url, bodies, clients)
                stats = figures(latencies, elapsed)
                per_server[name].append(stats)
                pooled[name].extend(latencies)
                extra = ""
                if name == OURS:
                    expected += len(bodies)
                    extra = await after_ours(expected)
                print(line(f"round {r + 1}  {name}", len(latencies), stats, failures, extra), flush=True)
    print()
    medians: dict[str, float] = {}
    for name, rows in per_server.items():
        medians[name] = statistics.median(row["p99"] for row in rows)
        print(
            f"{name:<16} medians of the per-round figures: p50 {statistics.median(row['p50'] for row in rows):6.2f} ms, "
            f"p99 {medians[name]:6.2f} ms, {statistics.median(row['rate'] for row in rows):6.1f} req/s; "
            f"all {len(pooled[name])} requests pooled: p99 {p99(sorted(pooled[name])) * 1000:6.2f} ms"
        )
    ratio = medians[OURS] / medians[BARE]
    met = medians[OURS] < 100 and ratio <= 1.5
    print(
        f"ours/bare p99 ratio = median of rtcops' per-round p99s / median of bare's = {ratio:.2f}; "
        f"targets (p99 < 100 ms, ratio <= 1.5): {'met' if met else 'NOT met'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2500, help="per server, over all rounds (default 2500)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per server, alternating (default 5)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-fake", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    parser.add_argument("--plan", help=argparse.SUPPRESS)
    parser.add_argument("--warmup", type=int, default=200, help=argparse.SUPPRESS)
    args = parser.parse_args()
    rounds = max(1, args.rounds)
    per_round = max(1, args.requests // rounds)
    if args.serve_bare:
        serve_bare(args.serve_bare, args.api_url)
        return
    if args.serve_fake:
        serve_fake(args.serve_fake, args.plan, args.warmup, rounds, per_round)
        return

    with tempfile.TemporaryDirectory() as tmp:
        fake_port, ours_port, bare_port = free_port(), free_port(), free_port()
        slack_url = f"http://127.0.0.1:{fake_port}"
        plan_file = f"{tmp}/plan.json"
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": f"{slack_url}/api/",
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.db",
            "RTCOPS_ADMIN_USERS": "U0ADMIN01",
            "RTCOPS_LOG_LEVEL": "WARNING",
        }
        subprocess.run([*RTCOPS, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
        me = [sys.executable, __file__, "--requests", str(args.requests), "--rounds", str(rounds)]
        fake = start([*me, "--serve-fake", str(fake_port), "--plan", plan_file, "--warmup", str(args.warmup)], env, fake_port)
        ours = start([*RTCOPS, "serve", "--port", str(ours_port)], env, ours_port)
        bare = start([*me, "--serve-bare", str(bare_port), "--api-url", env["SLACK_API_URL"]], env, bare_port)
        try:
            plan = json.loads(Path(plan_file).read_text())
            print(
                f"{rounds} rounds x {per_round} signed requests per server (half /rtc commands, half Approve clicks), "
                f"{args.clients} concurrent clients, loopback HTTP; rounds alternate {BARE} / {OURS}",
                flush=True,
            )
            asyncio.run(bench({BARE: bare_port, OURS: ours_port}, slack_url, plan, args.clients))
        finally:
            for proc in (ours, bare, fake):
                proc.terminate()
                proc.wait(10)


if __name__ == "__main__":
    main()
