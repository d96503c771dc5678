"""Show mode across real `rtcops serve` processes: a scheduled change fires once on one of two replicas sharing
PostgreSQL, and two Next cue clicks sent to the two replicas together fire one cue; a restart across a schedule's
time fires it within the grace period, or reports it missed; and a rundown file round-trips through
`rtcops rundown import` and `export`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from bots import ADMIN, APPROVER, OPERATOR, REQUESTS, TEAM, World, postgres_database, start_tasks, until, world

from bot.sandbox import volcengine_sim
from bot.sandbox.slack_api import Message
from bot.sandbox.slack_driver import SlackDriver, plain_text

UPDATE = volcengine_sim.UPDATE
APPROVE, NEXT, RUNDOWN_APPROVE = "rtc_approve", "rtc_cue_next", "rtc_rundown_approve"


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path) as made:
        yield made


@pytest.fixture
def pg_world(tmp_path: Path) -> Iterator[World]:
    with postgres_database("the two-replica tests") as db, world(tmp_path, db) as made:
        yield made


def text_of(message: Message) -> str:
    return plain_text(message.blocks, message.text)


def soon(seconds: float) -> datetime:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0)


async def schedule_layout(w: World, slack: SlackDriver, at: datetime, alias: str = "finals") -> Message:
    seen = len(w.requests())
    await slack.command(OPERATOR, f"layout {alias} pip host,guest at={at.isoformat()}", REQUESTS)
    parent: Message = (await until(lambda: w.requests()[seen:], "the request message"))[0]
    await until(lambda: any(b["type"] == "actions" for b in parent.blocks), "the Approve button")
    assert "Scheduled for" in text_of(parent)
    await slack.click(APPROVER, parent, APPROVE)
    await until(lambda: not any(b["type"] == "actions" for b in parent.blocks), "the approval")
    return parent


def settled_lines(w: World, parent: Message) -> list[str]:
    return [t for t in w.thread_texts(parent) if "Its time has come" in t or "Schedule missed" in t]


@pytest.mark.postgres
async def test_a_scheduled_change_fires_once_on_one_of_two_replicas(pg_world: World) -> None:
    w = pg_world
    one, _two = w.serve(), w.serve()  # the second replica only watches the same clock
    async with w.driver(one) as a:
        await start_tasks(w, a)
        at = soon(6)
        parent = await schedule_layout(w, a, at)
        assert not w.volc.requests.all(UPDATE)
        await until(lambda: "Applied" in text_of(parent), "applied at its time", seconds=30)
        await asyncio.sleep(3)  # both replicas look every second: a second firing would have happened by now
    sent = w.volc.requests.all(UPDATE)
    assert len(sent) == 1 and at.timestamp() <= sent[0].time < at.timestamp() + 5  # at its time, not before
    assert len(settled_lines(w, parent)) == 1 and "Its time has come" in settled_lines(w, parent)[0]


@pytest.mark.postgres
async def test_two_next_clicks_on_two_replicas_fire_one_cue(pg_world: World) -> None:
    w = pg_world
    one, two = w.serve(), w.serve()
    async with w.driver(one) as a, w.driver(two) as b:
        await start_tasks(w, a)
        now = datetime.now(UTC)
        armed = f"{now - timedelta(minutes=1):%H:%M}-{now + timedelta(hours=1):%H:%M}"
        for text in (
            "rundown create talk",
            "rundown add talk intro: layout finals pip host,guest",
            "rundown add talk outro: layout finals grid host,guest; ingest lobby volume=40",
        ):
            seen = len(w.fake.ephemerals_for(OPERATOR))
            await a.command(OPERATOR, text, REQUESTS)
            answer = await until(lambda n=seen: w.fake.ephemerals_for(OPERATOR)[n:], f"the answer to {text}")
            assert ":warning:" not in answer[0].text, answer[0].text
        await a.command(OPERATOR, f"rundown arm talk {armed}", REQUESTS)
        board = (await until(lambda: [m for m in w.requests() if "Rundown talk" in text_of(m)], "the rundown message"))[0]
        await b.click(APPROVER, board, RUNDOWN_APPROVE)
        await until(lambda: "Next cue: 1" in str(board.blocks), "armed")
        clicks = await asyncio.gather(a.click(OPERATOR, board, NEXT), b.click(ADMIN, board, NEXT))
        assert all(r.status_code == 200 for r in clicks)
        await until(lambda: "Next cue: 2" in str(board.blocks), "cue 1 on air")
        on_air = await until(
            lambda: [e for u in (OPERATOR, ADMIN) for e in w.fake.ephemerals_for(u) if "already on air" in e.text],
            "the second click told the cue is on air",
        )
        assert len(on_air) == 1
        await asyncio.sleep(1.5)
    assert len(w.volc.requests.all(UPDATE)) == 1


async def test_a_restart_across_the_time_fires_within_the_grace_period_or_says_missed(w: World) -> None:
    bot = w.serve(RTCOPS_SCHEDULE_GRACE_SECONDS="30")
    async with w.driver(bot) as slack:
        await start_tasks(w, slack)
        first = await schedule_layout(w, slack, soon(4))
    bot.stop()  # down across the time
    await asyncio.sleep(6)
    assert not w.volc.requests.all(UPDATE)
    bot = w.serve(RTCOPS_SCHEDULE_GRACE_SECONDS="30")
    await until(lambda: "Applied" in text_of(first), "fired on recovery, within the grace period", seconds=30)
    assert len(w.volc.requests.all(UPDATE)) == 1
    bot.stop()

    bot = w.serve(RTCOPS_SCHEDULE_GRACE_SECONDS="2")
    async with w.driver(bot) as slack:
        second = await schedule_layout(w, slack, soon(4), alias="finals")
    bot.stop()
    await asyncio.sleep(8)  # back 4 s after its time: past a 2 s grace period
    w.serve(RTCOPS_SCHEDULE_GRACE_SECONDS="2")
    missed = await until(lambda: settled_lines(w, second), "the schedule reported missed", seconds=30)
    assert "Schedule missed" in missed[0] and "grace" in missed[0]
    await asyncio.sleep(2)
    assert len(w.volc.requests.all(UPDATE)) == 1  # only the first
    assert "expired" in text_of(second).lower()


def test_a_rundown_file_round_trips_through_import_and_export(w: World) -> None:
    doc = {
        "rundown": "talk",
        "cues": [
            {"label": "intro", "steps": ["layout finals speaker host,guest"]},
            {"label": "demo", "steps": ["layout finals pip host,guest", "ingest lobby volume=40"]},
            {"label": "back to the room", "steps": ["scene match tag:studio"]},
        ],
    }
    path = w.tmp / "talk.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    made = w.cli("rundown", "import", "--team", TEAM, str(path))
    assert made.returncode == 0, made.stderr
    assert "rundown talk: 3 cues" in made.stdout
    out = w.cli("rundown", "export", "--team", TEAM, "talk")
    assert out.returncode == 0, out.stderr
    assert yaml.safe_load(out.stdout) == doc
    as_json = w.cli("rundown", "export", "--team", TEAM, "talk", "--format", "json")
    (w.tmp / "talk.json").write_text(as_json.stdout, encoding="utf-8")
    again = w.cli("rundown", "import", "--team", TEAM, str(w.tmp / "talk.json"))
    assert again.returncode == 0 and "version 3" in again.stdout  # the same cues, as a new version
    bad = w.tmp / "bad.yaml"
    bad.write_text("rundown: talk\ncues:\n  - steps: [fly finals to the moon]\n", encoding="utf-8")
    refused = w.cli("rundown", "import", "--team", TEAM, str(bad))
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1 and "cue 1" in refused.stderr
    assert "Traceback" not in refused.stderr

