"""Watching 500 live tasks against the simulators with their QPS limits on: how soon an outage is told, and what
watching costs the providers' budgets and the changes made meanwhile.

Starts `rtcops sandbox providers` in its own process (QPS enforced: Volcengine Get 60/s, Tencent 20/s per action),
starts 400 Volcengine mixed pushes and 100 Tencent ingests there, registers them all in a fresh bot (the real
`bot.app.start`, its watcher and outbox, a SQLite file unless --database-url), with a local stand-in for Slack's Web
API and the simulator's TRTC callbacks signed and posted to the bot's /providers/tencent/events. Then:

1. **Changes, idle and watched in turns.** After 5 s of warm-up, a change is proposed and approved every --every
   seconds on one of four spare Volcengine tasks (a Get to merge onto what is in force, a Get when approved, an Update
   when applied), and the latency of each of those provider calls is noted, pacing queue included: for --segments
   turns of --segment seconds without the watcher, then --segment seconds with it (started afresh each turn, its
   first round the busiest), so that the shared machine's load weighs on both alike.
2. **Failures, watched.** The watcher runs; once it has seen every task healthy, 25 tasks (20 Volcengine pushes
   failing with Status 4, 5 Tencent ingests failing with callback 701 Status 1) fail at random moments over --window
   seconds, while the changes go on (their calls count as watched).

It prints time-to-alert p50 and p99 (from the failure at the simulator to the incident message reaching Slack)
for polled and for callback-driven tasks against their floor (polling: tasks / read budget, the longest a task
waits for its turn; callbacks: the loopback round trip), missed and duplicate alerts (and alerts on tasks that did
not fail), the watcher's read calls per second against its budget, the rate-limit errors the simulators answered,
and the changes' provider-call latency watched / idle.

Run: .venv/bin/python bench/watch.py [--volcengine 400] [--tencent 100] [--window 60] [--segments 4] [--seed 12]
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import gc
import itertools
import random
import re
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from provider_pacing import sandbox  # the simulators in a process of their own, as the pacing benchmark starts them
from pydantic import SecretStr
from sqlalchemy import func, select

from bot import app as bot_app
from bot.config import Settings
from bot.domain import Condition
from bot.providers.pacing import WATCH_LANE, LocalPacer, Pacer
from bot.providers.registry import ProviderRegistry
from bot.sandbox.examples import side_by_side_start
from bot.sandbox.serve import serve_in_loop
from bot.sandbox.slack_api import FakeSlack
from bot.server import create_server
from bot.services import changes, grants, tasks
from bot.services.changes import Patch
from bot.services.deps import Actor
from bot.services.watcher import Watcher
from bot.store.engine import create_engine
from bot.store.models import Watch
from bot.store.schema import upgrade

TEAM, ADMIN, OPERATOR, APPROVER = "T0BENCH", "U0BENCHADM", "U0BENCHOPS", "U0BENCHAPR"
TOKEN, SECRET, KEY = "xoxb-bench", "bench-signing-secret", "bench-trtc-callback-key"
CHANNEL = "C0BENCHALERTS"
APP_ID, ROOM_ID, SDK_APP_ID = "benchapp", "benchroom", 1400000042
RATE_LIMIT_CODES = {"FlowLimitExceeded.QPSOverLimit", "FlowLimitExceeded", "AccountFlowLimitExceeded", "RequestLimitExceeded"}
SPARES = 4
"""Volcengine tasks the changes are made on; they never fail."""

_call: contextvars.ContextVar[tuple[str, float] | None] = contextvars.ContextVar("call", default=None)


@dataclass
class Calls:
    """Every provider call the bot made: (pace key, start before pacing, end)."""

    done: list[tuple[str, float, float]] = field(default_factory=list)
    events: list[tuple[float, float]] = field(default_factory=list)  # callbacks: arrived, answered (wall clock)

    def between(self, start: float, end: float, *, lane: str | None) -> list[tuple[str, float, float]]:
        return [c for c in self.done if start <= c[1] < end and (c[0].endswith("|" + WATCH_LANE)) == (lane == WATCH_LANE)]


class TimingPacer:
    """The real pacer, noting when each call asked to be let through (its pace key says its action and lane)."""

    def __init__(self, inner: Pacer) -> None:
        self.inner = inner

    async def acquire(self, key: str) -> None:
        _call.set((key, time.perf_counter()))
        await self.inner.acquire(key)


class TimingTransport(httpx.AsyncBaseTransport):
    """The real transport, noting when each call's answer came back."""

    def __init__(self, calls: Calls) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.calls = calls

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        await response.aread()
        started = _call.get()
        if started is not None:
            self.calls.done.append((started[0], started[1], time.perf_counter()))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class TimedSlack(FakeSlack):
    """The Slack stand-in, noting when each message was posted (wall clock, as the failures are)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.posted_at: dict[str, float] = {}

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        answer = super()._m_chat_postMessage(args)
        self.posted_at[str(answer["ts"])] = time.time()
        return answer


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


@asynccontextmanager
async def running_bot(env: dict[str, str], database_url: str, calls: Calls) -> AsyncIterator[tuple[bot_app.Bot, str, TimedSlack]]:
    slack = TimedSlack(
        bot_token=TOKEN, team_id=TEAM, users={ADMIN: "admin", OPERATOR: "ops", APPROVER: "apr"}, channels={CHANNEL: "alerts"}
    )
    engine = create_engine(database_url)
    await upgrade(engine)
    await engine.dispose()
    async with serve_in_loop(slack.app) as slack_url:
        slack.base_url = slack_url
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            slack_bot_token=SecretStr(TOKEN),
            slack_signing_secret=SecretStr(SECRET),
            slack_api_url=f"{slack_url}/api/",
            database_url=database_url,
            admin_users=ADMIN,
            notify_channel=CHANNEL,
            volc_accesskey=env["VOLC_ACCESSKEY"],
            volc_secretkey=SecretStr(env["VOLC_SECRETKEY"]),
            volcengine_endpoint=env["RTCOPS_VOLCENGINE_ENDPOINT"],
            volcengine_region=env["RTCOPS_VOLCENGINE_REGION"],
            tencentcloud_secret_id=env["TENCENTCLOUD_SECRET_ID"],
            tencentcloud_secret_key=SecretStr(env["TENCENTCLOUD_SECRET_KEY"]),
            tencent_endpoint=env["RTCOPS_TENCENT_ENDPOINT"],
            tencentcloud_region=env["TENCENTCLOUD_REGION"],
            tencent_site="intl",
            tencent_callback_key=SecretStr(KEY),
            watch_interval_seconds=1.0,
            log_level="WARNING",
        )
        providers = ProviderRegistry(
            settings, pacer=TimingPacer(LocalPacer.from_settings(settings)), transport=TimingTransport(calls)
        )
        bot = await bot_app.start(settings, providers=providers)
        watcher, bot.watcher = bot.watcher, None  # started by hand, after the idle phase
        bot.start_loops()
        assert watcher is not None
        bot.watcher = watcher
        try:

            async def timed_events(provider: str, headers: Any, body: bytes) -> tuple[int, str]:
                arrived = time.time()
                answer = await bot.provider_events(provider, headers, body)
                calls.events.append((arrived, time.time()))
                return answer

            async with serve_in_loop(create_server(bot.app, provider_events=timed_events)) as url:
                yield bot, url, slack
        finally:
            await bot_app.stop(bot)


async def start_tasks(http: httpx.AsyncClient, env: dict[str, str], bot: bot_app.Bot, volc: int, tencent: int) -> list[str]:
    """The tasks running at the simulators and registered in the bot; returns the ingests' TaskIds."""
    providers = bot.deps.providers
    gate = asyncio.Semaphore(32)

    async def volc_task(i: int) -> None:
        async with gate:
            body = side_by_side_start(
                AppId=APP_ID, RoomId=ROOM_ID, TaskId=f"push{i:04d}", PushURL=f"rtmp://cdn.example.com/live/{i}"
            )
            await providers.volcengine.start_push_mixed_stream_to_cdn(body)

    async def tencent_task(i: int) -> str:
        async with gate:
            started = await providers.tencent().start_stream_ingest(
                {"SdkAppId": SDK_APP_ID, "RoomId": f"room{i}", "RoomIdType": 0, "UserId": f"ingest{i}", "UserSig": "sig",
                 "StreamUrl": "https://media.example.com/loop.mp4"}
            )  # fmt: skip
            return str(started.result.task_id)

    results = await asyncio.gather(*(volc_task(i) for i in range(volc)), *(tencent_task(i) for i in range(tencent)))
    ingests = [r for r in results if isinstance(r, str)]
    admin = Actor(TEAM, ADMIN)

    async def register(provider: str, alias: str, ids: tuple[str, ...], options: dict[str, str]) -> None:
        async with gate:
            await tasks.add_task(bot.deps, admin, provider, alias, ids, options)

    await asyncio.gather(
        *(register("volcengine", f"push{i:04d}", (APP_ID, ROOM_ID, f"push{i:04d}"), {"canvas": "1280x720"}) for i in range(volc)),
        *(
            register(
                "tencent",
                f"ingest{i:03d}",
                (str(SDK_APP_ID), task),
                {"url": "https://media.example.com/loop.mp4", "volume": "100", "state": "running"},
            )
            for i, task in enumerate(ingests)
        ),
    )
    await grants.grant(bot.deps, admin, OPERATOR, "operator")
    await grants.grant(bot.deps, admin, APPROVER, "approver")
    return ingests


async def propose_forever(bot: bot_app.Bot, every: float, log: list[tuple[float, float, str]]) -> None:
    """A change on a spare task every `every` seconds: proposed, approved by someone else, applied by the applier."""
    operator, approver = Actor(TEAM, OPERATOR), Actor(TEAM, APPROVER)
    n = 0
    while True:
        alias = f"push{n % SPARES:04d}"
        bitrate = 2500 + 10 * (n // SPARES % 20) + 10
        started = time.perf_counter()
        try:
            proposed = await changes.propose(bot.deps, operator, alias, Patch({"Encode": {"VideoBitrate": bitrate}}))
            await changes.approve(bot.deps, approver, proposed.request_id)
            log.append((started, time.perf_counter(), "ok"))
        except Exception as exc:  # a locked task (its last change still applying): counted, not fatal
            log.append((started, time.perf_counter(), type(exc).__name__))
        n += 1
        await asyncio.sleep(every)


def latency_lines(name: str, calls: list[tuple[str, float, float]]) -> dict[str, tuple[float, float]]:
    by_action: dict[str, list[float]] = defaultdict(list)
    for key, start, end in calls:
        by_action[key.split("|")[1]].append((end - start) * 1000)
    return {action: (percentile(v, 0.5), percentile(v, 0.99)) for action, v in by_action.items() if v}


async def healthy(bot: bot_app.Bot) -> int:
    async with bot.deps.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Watch).where(Watch.condition == Condition.OK)) or 0)


async def until_healthy(bot: bot_app.Bot, total: int) -> None:
    """Until the watcher has seen every task healthy once: failures before that would count its first round."""
    for _ in itertools.count():
        if await healthy(bot) >= total:
            return
        await asyncio.sleep(0.5)


async def main(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    calls = Calls()
    with sandbox() as env, tempfile.TemporaryDirectory(prefix="rtcops-bench-watch-") as tmp:
        database_url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'rtcops.db'}"
        async with running_bot(env, database_url, calls) as (bot, url, slack), httpx.AsyncClient(timeout=10) as http:
            volc_url, tc_url = env["RTCOPS_VOLCENGINE_ENDPOINT"], env["RTCOPS_TENCENT_ENDPOINT"]
            await http.post(f"{tc_url}/_sandbox/callbacks", json={"Url": f"{url}/providers/tencent/events", "Key": KEY})
            t0 = time.perf_counter()
            ingests = await start_tasks(http, env, bot, args.volcengine, args.tencent)
            took = time.perf_counter() - t0
            print(f"setup: {args.volcengine} pushes and {len(ingests)} ingests started and registered in {took:.1f} s")
            gc.collect()
            gc.freeze()  # as `rtcops serve` does once started: what is loaded by now lives as long as the process

            proposals: list[tuple[float, float, str]] = []
            proposer = asyncio.get_running_loop().create_task(propose_forever(bot, args.every, proposals))
            await asyncio.sleep(5.0)  # warm-up: the first changes' calls (new connections, caches) count in no phase
            assert bot.watcher is not None
            watcher: Watcher = bot.watcher
            loop = asyncio.get_running_loop()
            idle_spans: list[tuple[float, float]] = []
            watched_spans: list[tuple[float, float]] = []
            for _ in range(args.segments):  # idle and watched in turns, so that the machine's load weighs on both alike
                start = time.perf_counter()
                await asyncio.sleep(args.segment)
                idle_spans.append((start, time.perf_counter()))
                running = loop.create_task(watcher.run())
                start = time.perf_counter()
                await asyncio.sleep(args.segment)
                watched_spans.append((start, time.perf_counter()))
                running.cancel()
                await asyncio.gather(running, return_exceptions=True)
            idle_end = time.perf_counter()
            watch_task = loop.create_task(watcher.run())
            bot.loops.append(watch_task)
            total = args.volcengine + len(ingests)
            await until_healthy(bot, total)
            watched_start = time.perf_counter()
            wall_start = time.time()
            print(f"watching: every task observed healthy {watched_start - idle_end:.1f} s after the watcher started")

            # 25 failures at random moments in the window
            spare = {f"push{i:04d}" for i in range(SPARES)}
            volc_victims = rng.sample(
                [i for i in range(args.volcengine) if f"push{i:04d}" not in spare], args.volcengine_failures
            )
            tc_victims = rng.sample(range(len(ingests)), args.tencent_failures)
            plan = sorted(
                [(rng.uniform(0, args.window), "volcengine", i) for i in volc_victims]
                + [(rng.uniform(0, args.window), "tencent", i) for i in tc_victims]
            )
            failed_at: dict[str, tuple[float, str]] = {}
            for offset, provider, i in plan:
                await asyncio.sleep(max(0.0, wall_start + offset - time.time()))
                when = time.time()
                if provider == "volcengine":
                    alias = f"push{i:04d}"
                    body = {"AppId": APP_ID, "RoomId": ROOM_ID, "TaskId": alias, "Status": 4, "StopReason": "BenchFailure"}
                    answer = await http.post(f"{volc_url}/_sandbox/tasks/health", json=body)
                else:
                    alias = f"ingest{i:03d}"
                    body = {"SdkAppId": SDK_APP_ID, "TaskId": ingests[i], "State": "failed", "Gone": False}
                    answer = await http.post(f"{tc_url}/_sandbox/tasks/health", json=body)
                assert answer.status_code == 200, answer.text
                failed_at[alias] = (when, provider)
            floor_polled = args.volcengine / (0.5 * 60)
            deadline = time.time() + 2 * floor_polled + 5
            while time.time() < deadline:
                told = {alias for alias in failed_at if _alerts(slack, alias)}
                if len(told) == len(failed_at):
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(3.0)  # a duplicate, had there been one, would be posted by now
            watched_end = time.perf_counter()
            watched_spans.append((watched_start, watched_end))
            wall_end = time.time()
            proposer.cancel()
            await asyncio.gather(proposer, return_exceptions=True)

            # --- what happened -------------------------------------------------------------------------------
            delays: dict[str, list[float]] = {"volcengine": [], "tencent": []}
            missed, duplicates = [], []
            for alias, (when, provider) in failed_at.items():
                found = _alerts(slack, alias)
                if not found:
                    missed.append(alias)
                    continue
                if len(found) > 1:
                    duplicates.append(alias)
                delays[provider].append(min(slack.posted_at[m.ts] for m in found) - when)
            false_alerts = sorted({a for m in _all_alerts(slack) for a in [_alias_of(m)] if a and a not in failed_at})

            rtt = []
            for _ in range(20):
                started = time.perf_counter()
                await http.get(f"{url}/healthz")
                rtt.append((time.perf_counter() - started) * 1000)
            volc_records = (await http.get(f"{volc_url}/_sandbox/requests")).json()
            tc_records = (await http.get(f"{tc_url}/_sandbox/requests")).json()

    span = watched_end - watched_start
    watch_calls = calls.between(watched_start, watched_end, lane=WATCH_LANE)
    reads = Counter(key.split("|")[1] for key, _, _ in watch_calls)
    limited = [r for r in volc_records + tc_records if r["code"] in RATE_LIMIT_CODES]
    in_window = [r for r in volc_records if r["action"] == "GetPushMixedStreamToCDNTask" and wall_start <= r["time"] < wall_end]
    floor_tencent = len(ingests) / (0.5 * 20)
    print()
    print(f"watched {args.volcengine} Volcengine pushes (polled), {len(ingests)} Tencent ingests (callbacks, polled as a backup)")
    kinds = f"{args.volcengine_failures} pushes: Status 4; {args.tencent_failures} ingests: 701 Status 1"
    print(f"failures: {len(failed_at)} ({kinds}) over {args.window:.0f} s")
    for provider, floor, how in (
        ("volcengine", floor_polled, f"polling floor {args.volcengine} tasks / 30 Get/s = {floor_polled:.1f} s"),
        ("tencent", percentile(rtt, 0.5) / 1000, f"loopback round trip {percentile(rtt, 0.5):.1f} ms"),
    ):
        d = delays[provider]
        print(
            f"time to alert, {provider}: p50 {percentile(d, 0.5):.2f} s, p99 {percentile(d, 0.99):.2f} s (n={len(d)}) "
            f"against the {how}"
            + (
                f"; target p99 <= 1.2 x floor + 1 s = {1.2 * floor + 1:.1f} s"
                if provider == "volcengine"
                else "; target p99 < 1 s"
            )
        )
    print(
        f"missed alerts: {len(missed)} {missed or ''}; duplicate alerts: {len(duplicates)} {duplicates or ''}; "
        f"alerts on tasks that did not fail: {len(false_alerts)} {false_alerts or ''}"
    )
    print(
        f"watcher's reads over {span:.0f} s: Get {reads['GetPushMixedStreamToCDNTask'] / span:.1f}/s against its budget 30/s "
        f"(a round of {args.volcengine} every {args.volcengine / max(reads['GetPushMixedStreamToCDNTask'] / span, 1e-9):.1f} s); "
        f"Describe {reads['DescribeStreamIngest'] / span:.1f}/s against its budget 10/s (a round of {len(ingests)} every "
        f"{len(ingests) / max(reads['DescribeStreamIngest'] / span, 1e-9):.1f} s; Tencent polling floor {floor_tencent:.1f} s)"
    )
    gets = len(in_window) / (wall_end - wall_start)
    print(f"all Gets at the simulator while watched (every lane): {gets:.1f}/s against the limit 60/s")
    print(f"rate-limit errors answered by the simulators: {len(limited)}")
    handled = [(end - start) * 1000 for start, end in calls.events if start >= wall_start]
    worst = max(handled, default=0.0)
    print(f"callbacks while watched: {len(handled)}, handled in p50 {percentile(handled, 0.5):.1f} ms, max {worst:.1f} ms")
    for alias, (when, provider) in sorted(failed_at.items()):
        if provider == "tencent":
            arrived = min((a for a, _ in calls.events if a >= when), default=float("nan"))
            found = _alerts(slack, alias)
            posted = min((slack.posted_at[m.ts] for m in found), default=float("nan"))
            print(f"  {alias}: callback arrived +{(arrived - when) * 1000:.0f} ms, alert posted +{(posted - when) * 1000:.0f} ms")
    idle = latency_lines("idle", [c for a, b in idle_spans for c in calls.between(a, b, lane=None)])
    busy = latency_lines("watched", [c for a, b in watched_spans for c in calls.between(a, b, lane=None)])
    outcomes = Counter(o for _, _, o in proposals)
    print(f"changes proposed and approved meanwhile: {dict(outcomes)}")
    for action in sorted(set(idle) & set(busy)):
        (i50, i99), (b50, b99) = idle[action], busy[action]
        print(
            f"change's {action} latency, pacing queue included: idle p50 {i50:.1f} ms p99 {i99:.1f} ms; "
            f"watched p50 {b50:.1f} ms p99 {b99:.1f} ms; watched/idle p50 {b50 / i50:.2f}, p99 {b99 / i99:.2f} (target <= 1.2)"
        )


def _all_alerts(slack: TimedSlack) -> list[Any]:
    return [m for m in slack.channel_messages(CHANNEL) if "incident #" in m.text]


def _alias_of(message: Any) -> str | None:
    match = re.search(r"(push\d{4}|ingest\d{3}):", message.text)
    return match.group(1) if match else None


def _alerts(slack: TimedSlack, alias: str) -> list[Any]:
    return [m for m in _all_alerts(slack) if _alias_of(m) == alias]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--volcengine", type=int, default=400)
    parser.add_argument("--tencent", type=int, default=100)
    parser.add_argument("--volcengine-failures", type=int, default=20)
    parser.add_argument("--tencent-failures", type=int, default=5)
    parser.add_argument("--window", type=float, default=60.0, help="seconds over which the failures are spread")
    parser.add_argument("--segments", type=int, default=4, help="turns of idle and watched before the failures")
    parser.add_argument("--segment", type=float, default=10.0, help="seconds of each idle or watched turn")
    parser.add_argument("--every", type=float, default=0.5, help="seconds between two changes")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--database-url", help="a migrated-or-empty database instead of a temporary SQLite file")
    asyncio.run(main(parser.parse_args()))
