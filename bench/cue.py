"""A rundown's cue on 17 tasks, end to end: from the Next cue click to the last RequestId.

The same three processes as `bench/bulk.py` (the simulators with QPS limits enforced, `rtcops serve` on SQLite, and
this one playing Slack over signed HTTP). 17 Volcengine mixed pushes are started and registered with `/rtc task add`
(tag `semis`, the tournament night's 17 rooms); an operator builds a rundown of cues on `tag:semis` with `/rtc
rundown add`, arms it for a window around now, an approver approves it once, and the operator then clicks Next cue
for each cue in turn.

Measured from each click (just before the signed request leaves) to the moment the store holds a RequestId for
every task of that cue, by polling the bot's database. A cue reads what each task runs (Volcengine GetPushMixedStream
ToCDNTask, 60/s) before it sends its Updates (150/s), so the named reference is the providers' floor for one cue:
17/60 + 17/150 = 0.40 s; floor / time taken is printed (1.0 would be a cue at the documented limits with no
overhead at all; the pacer runs at 98% of each).

Run: .venv/bin/python bench/cue.py [--tasks 17] [--cues 8]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bulk  # noqa: E402
from provider_pacing import RATE_LIMIT_CODES, sandbox  # noqa: E402

from bot.sandbox.examples import APP_ID, ROOM_ID  # noqa: E402
from bot.sandbox.slack_api import FakeSlack, Message  # noqa: E402
from bot.sandbox.slack_driver import SlackDriver  # noqa: E402

GET_LIMIT, UPDATE_LIMIT = 60.0, 150.0
LAYOUTS = ("pip host,guest", "side-by-side guest,host", "speaker host,guest", "grid host,guest")


def board(fake: FakeSlack) -> Message | None:
    found = [m for m in fake.channel_messages(bulk.CHANNEL) if m.blocks and "Rundown night" in str(m.blocks[:1])]
    return found[-1] if found else None


async def measure(args: argparse.Namespace, env: dict[str, str], fake: FakeSlack, slack: SlackDriver, db: str, pid: int) -> None:
    n = args.tasks
    print(f"starting and registering {n} Volcengine mixed pushes…", flush=True)
    await bulk.start_tasks(env, n, 0)
    for i in range(n):
        await slack.command(
            bulk.ADMIN, f"task add volcengine s{i:02d} {APP_ID} {ROOM_ID} night-{i:03d} canvas=1280x720 tags=semis", bulk.CHANNEL
        )
    await bulk.wait(lambda: bulk.answered(fake, bulk.ADMIN, "registered") >= n, f"{n} registrations", 120)
    for text in (f"grant <@{bulk.OPERATOR}> operator tag:semis", f"grant <@{bulk.APPROVER}> approver tag:semis"):
        await slack.command(bulk.ADMIN, text, bulk.CHANNEL)
    await bulk.wait(lambda: bulk.answered(fake, bulk.ADMIN, ":key:") >= 2, "the grants")
    await slack.command(bulk.OPERATOR, "rundown create night", bulk.CHANNEL)
    await bulk.wait(lambda: bulk.answered(fake, bulk.OPERATOR, "created") >= 1, "the rundown")
    for c in range(args.cues):
        await slack.command(
            bulk.OPERATOR, f"rundown add night cue{c + 1}: layout tag:semis {LAYOUTS[c % len(LAYOUTS)]}", bulk.CHANNEL
        )
        await bulk.wait(lambda c=c: bulk.answered(fake, bulk.OPERATOR, f"*{c + 1}* cue{c + 1}") >= 1, f"cue {c + 1}")
    now = datetime.now(UTC)
    await slack.command(
        bulk.OPERATOR, f"rundown arm night {now - timedelta(minutes=1):%H:%M}-{now + timedelta(hours=1):%H:%M}", bulk.CHANNEL
    )
    message = await bulk.wait(lambda: board(fake), "the rundown message", 60)
    await slack.click(bulk.APPROVER, message, "rtc_rundown_approve")
    await bulk.wait(lambda: "Next cue: 1" in str(message.blocks), "the rundown armed", 60)
    floor = n / GET_LIMIT + n / UPDATE_LIMIT
    print(f"{args.cues} cues of {n} tasks each; the providers' floor for one cue is {floor:.3f} s ({n} reads at "
          f"{GET_LIMIT:.0f}/s, then {n} Updates at {UPDATE_LIMIT:.0f}/s)", flush=True)  # fmt: skip
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    times: list[float] = []
    calls_per_cue: list[int] = []
    for c in range(1, args.cues + 1):
        await bulk.wait(lambda c=c: f"Next cue: {c}" in str(message.blocks), f"the Next cue {c} button", 60)
        await asyncio.sleep(1.0)  # the last cue's notices said: the click starts on a quiet bot
        calls_before = len(fake.calls)
        t0 = time.monotonic()
        await slack.click(bulk.OPERATOR, message, "rtc_cue_next")

        def stored(c: int = c) -> bool:
            row = con.execute("select id from bulks where cue_position = ? order by id desc limit 1", (c,)).fetchone()
            if row is None:
                return False
            query = "select count(*) from change_requests where bulk_id = ? and provider_request_id is not null"
            return int(con.execute(query, (row[0],)).fetchone()[0]) >= n

        await bulk.wait(stored, f"the RequestIds of cue {c}", 60, every=0.01)
        elapsed = time.monotonic() - t0
        times.append(elapsed)
        await bulk.wait(lambda c=c: f"*ON AIR* *{c}*" in str(message.blocks), f"cue {c} on air", 60)
        await asyncio.sleep(1.5)
        calls_per_cue.append(len([x for x in fake.calls[calls_before:] if x.method != "response_url"]))
        print(f"cue {c}: click -> last RequestId {elapsed:.3f} s (floor / time {floor / elapsed:.2f}); "
              f"Slack Web API calls {calls_per_cue[-1]}", flush=True)  # fmt: skip
    con.close()
    import httpx

    async with httpx.AsyncClient() as http:
        logs = [await bulk._log(http, env, "volcengine")]
        gets = (await http.get(f"{env['RTCOPS_VOLCENGINE_ENDPOINT']}/_sandbox/requests")).json()
    limited = sum(1 for log in (*logs, gets) for rec in log if rec.get("code") in RATE_LIMIT_CODES)
    print()
    print(f"Next cue click -> last RequestId of a {n}-task cue: median {statistics.median(times):.3f} s, "
          f"best {min(times):.3f} s, worst {max(times):.3f} s over {len(times)} cues")  # fmt: skip
    print(f"providers' floor for one cue {floor:.3f} s; floor / median = {floor / statistics.median(times):.2f}")
    print(f"rate-limit errors: {limited}; Slack Web API calls per cue, median {statistics.median(calls_per_cue):.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=17)
    parser.add_argument("--cues", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, sandbox() as env:
        bulk.run(args, env, tmp, measure)


if __name__ == "__main__":
    main()
