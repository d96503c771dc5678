"""A bulk change at the providers' ceilings, end to end: one approval, 200 Volcengine mixed pushes and 60 Tencent
stream ingests, from the Approve click to the last RequestId.

Three processes, as in production: `rtcops sandbox providers` (the simulators, QPS limits enforced), `rtcops serve`
(the bot, SQLite) and this one, which plays Slack: a fake Web API the bot answers through, and signed HTTP
requests to the bot. Set-up goes through Slack too: the tasks are started in the simulators, registered with
`/rtc task add` and tagged `night`; an operator saves a scene for the tag (`layout pip host,guest` for the mixed
pushes, `ingest volume=30` for the ingests) and applies it (`/rtc scene apply night`), which proposes one bulk
change over all 260 tasks; an approver clicks Approve all.

Measured from the click (just before the signed request leaves) to the moment the store holds a RequestId for
every task, by polling the bot's database. The reference is the combined ceiling: Volcengine's documented
Update limit (150/s) and Tencent's (20/s), both running side by side, so this set cannot finish before
max(200/150, 60/20) = 3.0 s; achieved / ceiling = that time / the time taken (the pacer runs at 98% of each
limit, so 0.98 is about the best there is). Also printed: rate-limit errors the simulators answered, how often
the progress message was redrawn while the tasks were applied, and the Slack Web API calls per task.

This machine is shared, so one figure swings with whatever else runs: the script measures several rounds (two
scenes applied in turn on the same tasks, so that each round changes every task), prints each, and takes the
median.

Run: .venv/bin/python bench/bulk.py [--volcengine 200] [--tencent 60] [--rounds 5]
To profile the bot, BULK_SERVE=<script.py> starts it as `python <script.py> serve …` instead, and sends that
process SIGUSR1 at each click and SIGUSR2 once the bar is full (the script decides what to do with them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from provider_pacing import RATE_LIMIT_CODES, sandbox  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.providers.registry import ProviderRegistry  # noqa: E402
from bot.sandbox.examples import APP_ID, ROOM_ID, side_by_side_start  # noqa: E402
from bot.sandbox.serve import BackgroundServer  # noqa: E402
from bot.sandbox.slack_api import FakeSlack, Message  # noqa: E402
from bot.sandbox.slack_driver import SlackDriver, plain_text  # noqa: E402

TOKEN = "xoxb-bench-token"
SECRET = "bench-signing-secret"
TEAM = "T0BENCH"
ADMIN, OPERATOR, APPROVER = "U0ADMIN01", "U0OPER002", "U0APPR003"
CHANNEL = "C0NIGHT"
SDK_APP_ID = 1400000001
INGEST_URL = "https://media.example.com/loop.mp4"
VOLC_LIMIT, TENCENT_LIMIT = 150.0, 20.0
RTCOPS = [sys.executable, "-c", "from bot.cli import main; main()"]
SERVE = [sys.executable, os.environ["BULK_SERVE"]] if os.environ.get("BULK_SERVE") else RTCOPS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait(check: Any, what: str, seconds: float = 120.0, every: float = 0.05) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        await asyncio.sleep(every)


async def start_tasks(env: dict[str, str], volcengine: int, tencent: int) -> list[str]:
    """The tasks running in the simulators (through the real clients, paced); returns the ingests' TaskIds."""
    settings = Settings(
        volc_accesskey=env["VOLC_ACCESSKEY"],
        volc_secretkey=env["VOLC_SECRETKEY"],
        volcengine_endpoint=env["RTCOPS_VOLCENGINE_ENDPOINT"],
        tencentcloud_secret_id=env["TENCENTCLOUD_SECRET_ID"],
        tencentcloud_secret_key=env["TENCENTCLOUD_SECRET_KEY"],
        tencent_endpoint=env["RTCOPS_TENCENT_ENDPOINT"],
        tencent_site="intl",
    )  # type: ignore[call-arg]
    providers = ProviderRegistry.from_settings(settings)
    try:

        async def volc(i: int) -> None:
            await providers.volcengine.start_push_mixed_stream_to_cdn(
                side_by_side_start(users=("a", "b"), TaskId=f"night-{i:03d}")
            )

        async def ingest(i: int) -> str:
            started = await providers.tencent().start_stream_ingest(
                {
                    "SdkAppId": SDK_APP_ID,
                    "RoomId": f"lobby-{i:03d}",
                    "RoomIdType": 0,
                    "UserId": f"ingest-{i:03d}",
                    "UserSig": "sig",
                    "StreamUrl": INGEST_URL,
                }
            )
            return started.result.task_id

        results = await asyncio.gather(*(volc(i) for i in range(volcengine)), *(ingest(i) for i in range(tencent)))
    finally:
        await providers.aclose()
    return [r for r in results if isinstance(r, str)]


def bulk_messages(fake: FakeSlack) -> list[Message]:
    return [
        m
        for m in fake.channel_messages(CHANNEL)
        if m.blocks and m.blocks[0]["type"] == "header" and "Bulk #" in json.dumps(m.blocks[0])
    ]


def answered(fake: FakeSlack, user: str, needle: str) -> int:
    return sum(1 for e in fake.ephemerals_for(user) if needle in e.text + json.dumps(e.blocks))


Measure = Any  # async (args, env, fake, slack, db, pid) -> None: what a benchmark does once the bot is up


def run(args: argparse.Namespace, env: dict[str, str], tmp: str, how: Measure = None) -> None:
    """The fake Slack (a thread of this process), then `rtcops serve` (a process of its own), then the load
    (`how`, this module's `measure` unless another benchmark brings its own)."""
    fake = FakeSlack(
        bot_token=TOKEN,
        team_id=TEAM,
        users={ADMIN: "admin", OPERATOR: "operator", APPROVER: "approver"},
        channels={CHANNEL: "night-ops"},
    )
    with BackgroundServer(fake.app, "127.0.0.1", 0) as slack_server:
        fake.base_url = slack_server.url
        db = f"{tmp}/bench.db"
        port = free_port()
        serve_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("VOLC_", "TENCENTCLOUD_", "RTCOPS_", "SLACK_"))},
            **{k: v for k, v in env.items() if not k.startswith("#")},
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": f"{slack_server.url}/api/",
            "DATABASE_URL": f"sqlite+aiosqlite:///{db}",
            "RTCOPS_ADMIN_USERS": ADMIN,
            "RTCOPS_NOTIFY_CHANNEL": CHANNEL,
            "RTCOPS_LOG_LEVEL": "WARNING",
        }
        subprocess.run([*RTCOPS, "db", "upgrade"], env=serve_env, cwd=ROOT, check=True, capture_output=True)
        bot = subprocess.Popen([*SERVE, "serve", "--port", str(port)], env=serve_env, cwd=ROOT, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            while not _listening(port):
                if time.monotonic() > deadline or bot.poll() is not None:
                    raise SystemExit("rtcops serve did not start")
                time.sleep(0.05)
            asyncio.run(drive(args, env, fake, port, db, bot.pid, how or measure))
        finally:
            bot.terminate()
            bot.wait(15)


async def drive(
    args: argparse.Namespace, env: dict[str, str], fake: FakeSlack, port: int, db: str, pid: int, how: Measure
) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        slack = SlackDriver(f"http://127.0.0.1:{port}", SECRET, fake, team=TEAM, http=http)
        await how(args, env, fake, slack, db, pid)


def _wall(stored: str) -> float:
    """A time the bot stored (UTC, naive in SQLite) as seconds since the epoch."""
    return datetime.fromisoformat(stored).replace(tzinfo=UTC).timestamp()


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


SCENES = (
    ("night", "layout pip host,guest ingest volume=30"),
    ("day", "layout side-by-side host,guest ingest volume=60"),
)
"""Applied in turn, one a round, so that every round changes every task."""


async def measure(args: argparse.Namespace, env: dict[str, str], fake: FakeSlack, slack: SlackDriver, db: str, pid: int) -> None:
    n = args.volcengine + args.tencent
    print(f"starting {args.volcengine} Volcengine mixed pushes and {args.tencent} Tencent ingests in the simulators…", flush=True)
    ingests = await start_tasks(env, args.volcengine, args.tencent)
    commands = [
        f"task add volcengine v{i:03d} {APP_ID} {ROOM_ID} night-{i:03d} canvas=1280x720 tags=night"
        for i in range(args.volcengine)
    ] + [
        f"task add tencent t{i:03d} {SDK_APP_ID} {task_id} url={INGEST_URL} volume=100 state=running tags=night"
        for i, task_id in enumerate(ingests)
    ]
    print(f"registering {n} tasks with /rtc task add over signed HTTP…", flush=True)
    for start in range(0, len(commands), 20):
        await asyncio.gather(*(slack.command(ADMIN, text, CHANNEL) for text in commands[start : start + 20]))
    await wait(lambda: answered(fake, ADMIN, "registered") >= n, f"{n} registrations", 300)
    for text in (f"grant <@{OPERATOR}> operator tag:night", f"grant <@{APPROVER}> approver tag:night"):
        await slack.command(ADMIN, text, CHANNEL)
    await wait(lambda: answered(fake, ADMIN, ":key:") >= 2, "the grants")
    for name, words in SCENES:
        await slack.command(OPERATOR, f"scene save tag:night {name} {words}", CHANNEL)
    await wait(lambda: answered(fake, OPERATOR, "saved as version") >= len(SCENES), "the scenes")
    floor = max(args.volcengine / VOLC_LIMIT, args.tencent / TENCENT_LIMIT)
    print(
        f"{args.rounds} rounds of one bulk change over {n} tasks ({args.volcengine} Volcengine, {args.tencent} Tencent), "
        f"one approval each; combined ceiling for this set {n / floor:.1f}/s (Volcengine {VOLC_LIMIT:.0f}/s and Tencent "
        f"{TENCENT_LIMIT:.0f}/s side by side: at least {floor:.2f} s)",
        flush=True,
    )
    figures = [await one_round(r, args, env, fake, slack, db, pid) for r in range(args.rounds)]
    print()
    ratios = sorted(f["ratio"] for f in figures)
    print(
        f"achieved / combined ceiling, median of {len(figures)} rounds = {statistics.median(ratios):.3f} "
        f"(rounds: {', '.join(f'{r:.3f}' for r in (f['ratio'] for f in figures))}; target >= 0.9; the pacer's 98% makes "
        "about 0.98 the best possible)"
    )
    print(f"rate-limit errors, all rounds: {sum(int(f['limited']) for f in figures)}")
    print(f"progress message redraws while applying, median: {statistics.median(f['rate'] for f in figures):.2f} per second")
    print(f"Slack Web API calls per task, median: {statistics.median(f['calls'] for f in figures):.3f}")


async def one_round(
    r: int, args: argparse.Namespace, env: dict[str, str], fake: FakeSlack, slack: SlackDriver, db: str, pid: int
) -> dict[str, float]:
    n = args.volcengine + args.tencent
    scene = SCENES[r % len(SCENES)][0]
    calls_before = len(fake.calls)
    before = len(bulk_messages(fake))
    await slack.command(OPERATOR, f"scene apply {scene}", CHANNEL)
    parent = (await wait(lambda: len(bulk_messages(fake)) > before and bulk_messages(fake), "the bulk request message", 120))[-1]
    await wait(
        lambda: any(b["type"] == "actions" for b in parent.blocks) and len(fake.thread(CHANNEL, parent.ts)) >= 2, "the thread"
    )
    await asyncio.sleep(1.0)  # the proposal's last notices delivered: the click starts on a quiet bot
    pictures = len([m for m in fake.thread(CHANNEL, parent.ts) if m.files])

    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    bulk_id = con.execute("select max(id) from bulks").fetchone()[0]

    def with_request_ids() -> int:
        query = "select count(*) from change_requests where bulk_id = ? and provider_request_id is not null"
        return int(con.execute(query, (bulk_id,)).fetchone()[0])

    async with httpx.AsyncClient() as http:
        logs_before = [len(await _log(http, env, which)) for which in ("volcengine", "tencent")]
    edits: list[float] = []
    if os.environ.get("BULK_SERVE"):
        os.kill(pid, signal.SIGUSR1)
    wall0 = time.time()
    t0 = time.monotonic()
    await slack.click(APPROVER, parent, "rtc_bulk_approve")
    t1 = None
    last_edits = parent.edits
    done_bar = False
    while not done_bar and time.monotonic() - t0 < 120:  # polls lightly: this process shares the machine's two cores
        now = time.monotonic()
        if parent.edits != last_edits:
            last_edits = parent.edits
            edits.append(now)
            done_bar = f"{n}/{n} applied" in plain_text(parent.blocks)
        if t1 is None and with_request_ids() >= n:
            t1 = now
        await asyncio.sleep(0.02)
    t_bar = time.monotonic()
    if os.environ.get("BULK_SERVE"):
        os.kill(pid, signal.SIGUSR2)
    await wait(lambda: any(f"(bulk #{bulk_id}," in m.text for m in fake.channel_messages(CHANNEL)), "the notification line", 30)
    await asyncio.sleep(1.5)
    states = dict(
        con.execute("select state, count(*) from change_requests where bulk_id = ? group by state", (bulk_id,)).fetchall()
    )
    con.close()
    if t1 is None:
        raise SystemExit(f"not every task got a RequestId: {states}")
    async with httpx.AsyncClient() as http:
        logs = [
            (await _log(http, env, which))[count:] for which, count in zip(("volcengine", "tencent"), logs_before, strict=True)
        ]
    limited = sum(1 for log in logs for rec in log if rec["code"] in RATE_LIMIT_CODES)
    paces = []
    for name, log in zip(("Volcengine", "Tencent"), logs, strict=True):
        stamps = sorted(rec["time"] - wall0 for rec in log)
        if len(stamps) > 1:
            pace = (len(stamps) - 1) / (stamps[-1] - stamps[0])
            paces.append(f"{name} {len(stamps)} Updates {stamps[0]:.2f}..{stamps[-1]:.2f} s ({pace:.1f}/s)")
    elapsed = t1 - t0
    floor = max(args.volcengine / VOLC_LIMIT, args.tencent / TENCENT_LIMIT)
    span = edits[-1] - edits[0] if len(edits) > 1 else 0.0
    rate = (len(edits) - 1) / span if span else 0.0
    slack_calls = [c for c in fake.calls[calls_before:] if c.method != "response_url"]
    print(
        f"round {r + 1} (scene {scene}, {pictures} picture): {states}; click -> last RequestId stored {elapsed:.2f} s = "
        f"{n / elapsed:.1f}/s, achieved / ceiling {floor / elapsed:.3f}; rate-limit errors {limited}; at the simulators: "
        f"{'; '.join(paces)}; progress message redrawn {len(edits)} times until {n}/{n} at {t_bar - t0:.2f} s "
        f"({rate:.2f}/s); Slack Web API calls {len(slack_calls)} ({len(slack_calls) / n:.3f} per task)",
        flush=True,
    )
    return {"ratio": floor / elapsed, "limited": limited, "rate": rate, "calls": len(slack_calls) / n}


async def _log(http: httpx.AsyncClient, env: dict[str, str], which: str) -> list[dict[str, Any]]:
    if which == "volcengine":
        url, action = env["RTCOPS_VOLCENGINE_ENDPOINT"], "UpdatePushMixedStreamToCDN"
    else:
        url, action = env["RTCOPS_TENCENT_ENDPOINT"], "UpdateStreamIngest"
    found: list[dict[str, Any]] = (await http.get(f"{url}/_sandbox/requests", params={"action": action})).json()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volcengine", type=int, default=200)
    parser.add_argument("--tencent", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5, help="bulk changes measured, one after another (default 5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, sandbox() as env:
        run(args, env, tmp)


if __name__ == "__main__":
    main()
