"""Issue 15 in the store and the services: leases and the scheduler (PostgreSQL), the audit webhook fed through
the outbox, the audit export, and the database figures behind /metrics."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import io
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from svc_support import BOOT_ADMIN, TEAM, Clock

from bot.domain import NoticeKind
from bot.sandbox.serve import serve_in_loop
from bot.services import audit, grants, outbox, vitals
from bot.services.audit_webhook import SIGNATURE_HEADER, AuditWebhook
from bot.services.deps import Actor, Deps
from bot.services.errors import PermissionDenied
from bot.services.scheduler import DatabaseLeases, NoLeases, Scheduler
from bot.store import leases, session_factory
from bot.store.models import Notice

# --- leases and the scheduler ----------------------------------------------------------------------------


ON_POSTGRES = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
"""Leases are for PostgreSQL (SQLite has one replica): these run there only, never as a skipped SQLite case."""


@pytest.mark.postgres
@ON_POSTGRES
async def test_a_lease_has_one_holder_until_it_runs_out_or_is_given_up(engine: AsyncEngine, db_url: str) -> None:
    sessions = session_factory(engine)
    assert await leases.take(sessions, "sweep", "a", 0.6)
    assert not await leases.take(sessions, "sweep", "b", 0.6), "held by a"
    assert await leases.take(sessions, "sweep", "a", 0.6), "a renews its own"
    assert await leases.holder_of(sessions, "sweep") == "a"
    await asyncio.sleep(0.8)
    assert await leases.holder_of(sessions, "sweep") is None, "run out"
    assert await leases.take(sessions, "sweep", "b", 0.6), "anyone takes a lease that ran out"
    assert not await leases.take(sessions, "sweep", "a", 0.6)
    await leases.release(sessions, "sweep", "a")  # not a's to give up: nothing happens
    assert await leases.holder_of(sessions, "sweep") == "b"
    await leases.release(sessions, "sweep", "b")
    assert await leases.take(sessions, "sweep", "a", 0.6), "given up: taken at once"


@pytest.mark.postgres
@ON_POSTGRES
async def test_two_schedulers_run_a_timed_job_on_one_replica_and_hand_it_over_within_the_lease_period(
    engine: AsyncEngine, db_url: str
) -> None:
    sessions = session_factory(engine)
    period = 1.2
    runs: dict[str, list[float]] = {"a": [], "b": []}

    def scheduler(name: str) -> Scheduler:
        made = Scheduler(DatabaseLeases(sessions, period, holder=name))

        async def job() -> None:
            runs[name].append(time.monotonic())

        made.add("tick", 0.1, job)
        return made

    a = scheduler("a")
    a.start()
    await asyncio.sleep(0.3)  # a is alone: it takes the lease
    b = scheduler("b")
    b.start()
    await asyncio.sleep(1.5)
    assert len(runs["a"]) >= 8 and runs["b"] == [], "only the holder runs the timed job"

    # a dies without giving the lease up (its tasks stop; its row stays until it runs out)
    for task in a._tasks:
        task.cancel()
    await asyncio.gather(*a._tasks, return_exceptions=True)
    died = time.monotonic()
    while not runs["b"]:
        await asyncio.sleep(0.02)
        assert time.monotonic() - died < period + 0.5, "b never took over"
    handover = runs["b"][0] - died
    assert handover <= period, f"handed over in {handover:.2f} s, over the {period} s lease period"

    await b.stop()  # gives the lease up: a new replica takes it at its first try
    assert await leases.holder_of(sessions, "tick") is None


async def test_with_sqlite_one_replica_runs_every_job_without_a_lease() -> None:
    ran = asyncio.Event()
    scheduler = Scheduler(NoLeases())

    async def job() -> None:
        ran.set()

    scheduler.add("tick", 0.05, job)
    scheduler.start()
    try:
        async with asyncio.timeout(2):
            await ran.wait()
    finally:
        await scheduler.stop()


async def test_a_job_woken_by_its_own_process_runs_at_once_without_the_lease() -> None:
    class Never(NoLeases):
        def holds(self, name: str) -> bool:
            return False

        async def keep(self, names: list[str], gained: Any) -> None:
            await asyncio.Event().wait()

    count = 0

    async def job() -> None:
        nonlocal count
        count += 1

    wake = asyncio.Event()
    scheduler = Scheduler(Never())
    scheduler.add("applier", 0.05, job, wake=wake)
    scheduler.start()
    try:
        await asyncio.sleep(0.3)
        assert count == 0, "no timed run without the lease"
        wake.set()
        await asyncio.sleep(0.1)
        assert count == 1, "the fast path: an approval in this process applies here, lease or not"
    finally:
        await scheduler.stop()


# --- the audit webhook -----------------------------------------------------------------------------------


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[tuple[dict[str, Any], str, bytes]], list[int]]]:
    """A SIEM on loopback: records each post; answers with the statuses queued in `answers` (200 when none)."""
    got: list[tuple[dict[str, Any], str, bytes]] = []
    answers: list[int] = []

    async def post(request: Request) -> Response:
        body = await request.body()
        status = answers.pop(0) if answers else 200
        if status == 200:
            got.append((json.loads(body), request.headers.get(SIGNATURE_HEADER, ""), body))
        return JSONResponse({}, status_code=status)

    async with serve_in_loop(Starlette(routes=[Route("/siem", post, methods=["POST"])])) as url:
        yield f"{url}/siem", got, answers


async def test_every_audit_event_reaches_the_webhook_signed_in_order_once_after_a_refusal(
    engine: AsyncEngine, deps: Deps, receiver: Any
) -> None:
    url, got, answers = receiver
    key = "siem-hmac-key-0123456789"
    fed = Deps(session_factory(engine, audit_feed=True), deps.providers, deps.settings, deps.clock)
    await grants.grant(fed, BOOT_ADMIN, "U0ALICE01", "operator")
    await grants.grant(fed, BOOT_ADMIN, "U0BOB0002", "viewer")
    await grants.grant(deps, BOOT_ADMIN, "U0CAROL03", "viewer")  # a session without the feed: not forwarded
    async with fed.sessions() as session:
        queued = (await session.scalars(select(Notice).where(Notice.kind == NoticeKind.AUDIT_WEBHOOK.value))).all()
    assert len(queued) == 2 and all(n.audit_event_id for n in queued)
    assert await outbox.backlog(fed) == (0, 0.0), "the webhook's notices are not Slack's outbox (/readyz)"
    assert (await outbox.backlog(fed, webhook=True))[0] == 2

    webhook = AuditWebhook(fed, url, key)
    try:
        answers.append(503)
        assert await webhook.deliver_due() == 0, "refused: it waits, and holds the next one back"
        assert got == []
        async with fed.sessions() as session:
            first = await session.get(Notice, queued[0].id)
        assert first is not None and first.state == "pending" and first.last_error == "HTTP 503"
        # due again after its backoff
        fed.clock.advance(seconds=5)  # type: ignore[attr-defined]
        assert await webhook.deliver_due() == 2
    finally:
        await webhook.aclose()
    assert [event["detail"].split(",")[0] for event, _, _ in got] == ["operator on global", "viewer on global"]
    for event, signature, body in got:
        assert signature == "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
        assert event["team_id"] == TEAM and event["action"] == "grant" and event["actor"] == BOOT_ADMIN.user_id
    assert (await outbox.backlog(fed, webhook=True))[0] == 0


# --- the audit export ------------------------------------------------------------------------------------


async def test_the_export_is_scoped_to_the_team_filtered_by_time_task_and_tag_and_reads_as_csv(
    deps: Deps, clock: Clock, start_volc: Any, start_tencent: Any
) -> None:
    await start_volc("finals", tags=("live",))
    clock.advance(hours=2)
    await start_tencent("lobby", tags=("live", "ingest"))
    await grants.grant(deps, BOOT_ADMIN, "U0ALICE01", "operator")
    other = Actor("T0OTHERTEAM", "U0OTHERADM", system=True)
    await grants.grant(deps, other, "U0ALICE01", "admin")

    async def rows(actor: Actor, **kw: Any) -> list[dict[str, str]]:
        writer = audit.Writer("csv")
        text = writer.header() + "".join([writer.line(e) async for e in audit.export(deps, actor, **kw)])
        return list(csv.DictReader(io.StringIO(text, newline="")))

    everything = await rows(BOOT_ADMIN)
    assert [r["action"] for r in everything] == ["task.add", "task.add", "grant"]
    assert {r["team_id"] for r in everything} == {TEAM}, "another team's events never appear"
    assert [r["task_alias"] for r in await rows(BOOT_ADMIN, alias="lobby")] == ["lobby"]
    assert [r["task_alias"] for r in await rows(BOOT_ADMIN, tag="live")] == ["finals", "lobby"]
    assert [r["task_alias"] for r in await rows(BOOT_ADMIN, tag="ingest")] == ["lobby"]
    since = clock.now - timedelta(minutes=1)
    assert [r["action"] for r in await rows(BOOT_ADMIN, since=since)] == ["task.add", "grant"]
    assert [r["action"] for r in await rows(BOOT_ADMIN, until=since)] == ["task.add"]
    assert [r["team_id"] for r in await rows(other)] == ["T0OTHERTEAM"]
    first = everything[0]
    assert json.loads(first["after"]) and first["id"].isdigit() and first["at"].endswith("+00:00")

    with pytest.raises(PermissionDenied):
        await rows(Actor(TEAM, "U0ALICE01"))  # an operator is not an admin


def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_written_as_text() -> None:
    from bot.services.audit import _cell

    assert _cell('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert _cell("+1") == "'+1" and _cell("@SUM(A1)") == "'@SUM(A1)" and _cell("-5") == "'-5"
    assert _cell("volume 40") == "volume 40" and _cell(None) == "" and _cell({"a": 1}) == '{"a": 1}'


def test_times_are_read_as_operators_write_them() -> None:
    from datetime import UTC, datetime

    now = datetime(2030, 1, 31, 12, 0, tzinfo=UTC)
    assert audit.parse_when("7d", now) == datetime(2030, 1, 24, 12, 0, tzinfo=UTC)
    assert audit.parse_when("90m", now) == datetime(2030, 1, 31, 10, 30, tzinfo=UTC)
    assert audit.parse_when("2030-01-02", now) == datetime(2030, 1, 2, tzinfo=UTC)
    assert audit.parse_when("2030-01-02T03:04:05+08:00", now).utcoffset() == timedelta(hours=8)
    for wrong in ("yesterday", "7w", "", "2030-13-01"):
        with pytest.raises(audit.BadInput):
            audit.parse_when(wrong, now)


# --- what /metrics reads from the database ----------------------------------------------------------------


async def test_vitals_count_changes_by_state_and_age_the_outbox(deps: Deps, clock: Clock, start_tencent: Any) -> None:
    from bot.services import changes
    from bot.targets.tencent import IngestChange

    await start_tencent("lobby")
    await grants.grant(deps, BOOT_ADMIN, "U0OPER001", "operator")
    await changes.propose(deps, Actor(TEAM, "U0OPER001"), "lobby", IngestChange(volume=10), channel="C0REQ")
    clock.advance(seconds=30)
    found = await vitals.read(deps)
    assert sum(found.changes.values()) == 1
    state = next(iter(found.changes))
    assert state in ("pending", "approved")
    assert found.oldest_open[state] == pytest.approx(30, abs=1)
    depth, age = found.outbox["slack"]
    assert depth >= 1 and age == pytest.approx(30, abs=1)
    assert found.outbox["audit_webhook"] == (0, 0.0)
