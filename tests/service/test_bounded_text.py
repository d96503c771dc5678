"""Every command at the edge of what it accepts is taken or refused in words, never by the database (issue 10).

Each case below drives one command through the services with the longest input the command calls valid (a
64-character alias and tags, 128-character Volcengine ids, a 17-stream grid of 128-character stream user ids, a
1024-byte URL, a rollback to version 99999999999, a 5,000-character delivery error, ...). It must either succeed
or raise a ServiceError; a database error means some writer let a value through that its column cannot hold.
PostgreSQL refuses such a value (StringDataRightTruncation, or NumericValueOutOfRange for an int32 column);
SQLite stores it silently, so after each case every String(n) column is also read back and measured.

Two cases are values no one types but no document bounds either: a provider's RequestId and a Slack permalink.

Each column is bounded at the one place that writes it. A case that fails for a known reason can be marked with
`Case.fails` (xfail, strict, on the databases named), so that the fix turns into a failure until the mark goes.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import String, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from svc_support import BOOT_ADMIN, SDK_APP_ID, START_CONFIG, TEAM, Sims

from bot.sandbox import tencent_sim
from bot.services import applying, catalogue, changes, grants, locks, outbox, tasks
from bot.services.changes import Patch, Rollback
from bot.services.deps import Actor, Deps
from bot.services.errors import ServiceError
from bot.store.models import Base, Notice
from bot.targets.layout_changes import RegionEdit

ALIAS = "a" + "-long-alias" * 5 + "-x" * 4  # 64 characters, the longest alias names.alias takes
TAG = "t" * 64
VOLC_IDS = ("A" * 128, "R" * 128, "T" * 128)  # AppId, RoomId, TaskId: 1-128 characters each
CHANNEL = "C" + "0" * 31  # the longest channel id names.channel takes
USER = "U" + "1" * 31  # the longest user id grants.parse_subject takes
GROUP = "S" + "2" * 31
URL = "https://media.example.com/" + "v" * (1024 - len("https://media.example.com/") - 4) + ".mp4"
OPERATOR = Actor(TEAM, USER)
APPROVER = Actor(TEAM, "U" + "3" * 31)

assert len(ALIAS) == 64 and len(URL.encode()) == 1024


async def _start_volcengine(deps: Deps, alias: str = ALIAS) -> None:
    app_id, room_id, task_id = VOLC_IDS
    body = {"AppId": app_id, "RoomId": room_id, "TaskId": task_id, "PushURL": "rtmp://cdn.example.com/live/x"}
    await deps.providers.volcengine.start_push_mixed_stream_to_cdn({**body, **START_CONFIG})
    options = {"tags": ",".join(f"{TAG[:-2]}{i:02d}" for i in range(20)), "channel": f"<#{CHANNEL}|n>"}
    await tasks.add_task(deps, BOOT_ADMIN, "volcengine", alias, VOLC_IDS, {**options, "business-id": "b" * 128})


async def _start_tencent(deps: Deps, alias: str = ALIAS) -> None:
    reply = await deps.providers.tencent().start_stream_ingest(
        {"SdkAppId": SDK_APP_ID, "RoomId": "r" * 64, "RoomIdType": 0, "UserId": "u" * 64, "UserSig": "s", "StreamUrl": URL}
    )
    options = {"url": URL, "volume": "100", "state": "running", "tags": TAG, "channel": CHANNEL}
    await tasks.add_task(deps, BOOT_ADMIN, "tencent", alias, (str(SDK_APP_ID), reply.result.task_id), options)


async def _people(deps: Deps) -> None:
    await grants.grant(deps, BOOT_ADMIN, f"<@{OPERATOR.user_id}|op>", "operator", f"task:{ALIAS}")
    await grants.grant(deps, BOOT_ADMIN, f"<@{APPROVER.user_id}|ap>", "approver", f"task:{ALIAS}")


async def _propose_approve_apply(deps: Deps, change: Any, *, channel: str | None = CHANNEL) -> None:
    proposed = await changes.propose(deps, OPERATOR, ALIAS, change, channel=channel)
    if proposed.state == "pending":
        key = f"approve:{proposed.request_id}:{TEAM}:{APPROVER.user_id}:" + "k" * 1000  # handlers/actions.py's form
        await changes.approve(deps, APPROVER, proposed.request_id, expected_hash=proposed.payload_hash, idempotency_key=key)
    applied = await applying.apply(deps, APPROVER, proposed.request_id)
    assert applied.state == "applied", applied
    link = "https://x.slack.com/" + "p" * 180
    await changes.attach_message(deps, proposed.request_id, channel_id=CHANNEL, message_ts="1700000000.000200", permalink=link)


async def register_volcengine(deps: Deps) -> None:
    await _start_volcengine(deps)


async def register_tencent_with_a_1024_byte_url(deps: Deps) -> None:
    await _start_tencent(deps)


async def register_tencent_with_the_largest_ids(deps: Deps) -> None:
    """An SdkAppId of 2**64-1 and a TaskId of 4,000 characters: forced, since the simulator knows neither."""
    await tasks.add_task(deps, BOOT_ADMIN, "tencent", ALIAS, (str(2**64 - 1), "x" * 4000), {"url": URL}, force=True)


async def grant_on_the_longest_scopes(deps: Deps) -> None:
    await _start_volcengine(deps)
    for subject, role, scope in (
        (f"<@{USER}|someone-with-a-long-display-name>", "admin", f"task:{ALIAS}"),
        (f"<!subteam^{GROUP}|@a-long-group-handle>", "approver", f"tag:{TAG[:-2]}00"),
        (USER, "operator", "provider:volcengine"),
    ):
        await grants.grant(deps, BOOT_ADMIN, subject, role, scope)
        await grants.revoke(deps, BOOT_ADMIN, subject, role, scope)


async def layout_grid_of_17_streams_with_128_character_user_ids(deps: Deps) -> None:
    await _start_volcengine(deps)
    await _people(deps)
    users = ",".join(f"{i:02d}" + "u" * 126 for i in range(17))
    await _propose_approve_apply(deps, catalogue.parse_change("layout", ["grid", users]))


async def region_and_canvas_images_of_1024_bytes(deps: Deps) -> None:
    """The editor's region edit (AlternateImage, 1024 characters) and the CLI's patch (BackgroundImage, 1024 bytes)."""
    await _start_volcengine(deps)
    await _people(deps)
    image = "https://img.example.com/" + "i" * (1024 - len("https://img.example.com/") - 4) + ".png"
    await _propose_approve_apply(deps, RegionEdit(0, {"AlternateImage": image, "AlternateImageFillMode": 1}))
    canvas = {"Layout": {"CustomLayout": {"Canvas": {"BackgroundImage": image.replace("/i", "/j", 1)}}}}
    await _propose_approve_apply(deps, Patch(canvas, summary_text="patch " + "s" * 1000))


async def ingest_with_a_1024_byte_url(deps: Deps) -> None:
    await _start_tencent(deps)
    await _people(deps)
    other = URL.replace("/v", "/w", 1)
    await _propose_approve_apply(deps, catalogue.parse_change("ingest", [f"url={other}", "volume=100", "pause"]))


async def rollback_to_version_99999999999(deps: Deps) -> None:
    await _start_tencent(deps)
    await _people(deps)
    await changes.propose(deps, OPERATOR, ALIAS, Rollback(99999999999), channel=CHANNEL)


async def rollback_to_the_largest_int32(deps: Deps) -> None:
    await _start_tencent(deps)
    await _people(deps)
    await changes.propose(deps, OPERATOR, ALIAS, Rollback(2**31 - 1), channel=CHANNEL)


async def rollback_to_a_negative_version(deps: Deps) -> None:
    await _start_tencent(deps)
    await _people(deps)
    await changes.propose(deps, OPERATOR, ALIAS, Rollback(-(2**40)), channel=CHANNEL)


async def reject_and_cancel_with_long_keys(deps: Deps) -> None:
    await _start_tencent(deps)
    await _people(deps)
    await changes.set_policy(deps, BOOT_ADMIN, ALIAS, "volume", True)
    first = await changes.propose(deps, OPERATOR, ALIAS, catalogue.parse_change("ingest", ["volume=1"]), channel=CHANNEL)
    await changes.reject(deps, APPROVER, first.request_id, idempotency_key=f"reject:{first.request_id}:" + "r" * 5000)
    second = await changes.propose(deps, OPERATOR, ALIAS, catalogue.parse_change("ingest", ["volume=2"]), channel=CHANNEL)
    await changes.cancel(deps, OPERATOR, second.request_id)
    third = await changes.propose(deps, OPERATOR, ALIAS, catalogue.parse_change("ingest", ["volume=3"]), channel=CHANNEL)
    assert third.state == "pending"
    await locks.unlock(deps, BOOT_ADMIN, ALIAS)
    await tasks.remove_task(deps, BOOT_ADMIN, ALIAS)


async def a_provider_request_id_of_300_characters(deps: Deps, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not typed by anyone, and bounded by no document: the RequestId a provider answers with. Tencent's are
    UUIDs today; a longer one (or an intermediary's) must not make an applied change unrecordable."""
    await _start_tencent(deps)
    await _people(deps)
    monkeypatch.setattr(tencent_sim, "new_request_id", lambda: "req-" + "9" * 296)
    await _propose_approve_apply(deps, catalogue.parse_change("ingest", ["volume=7"]))


async def a_slack_permalink_of_600_characters(deps: Deps, monkeypatch: pytest.MonkeyPatch) -> None:
    """Also from outside and bounded by no document: the permalink chat.getPermalink gives for a request message."""
    await _start_tencent(deps)
    await _people(deps)
    proposed = await changes.propose(deps, OPERATOR, ALIAS, catalogue.parse_change("ingest", ["volume=8"]), channel=CHANNEL)
    link = f"https://example.enterprise.slack.com/archives/{CHANNEL}/p1700000000000200?thread_ts=1&cid=" + "c" * 500
    await changes.attach_message(deps, proposed.request_id, channel_id=CHANNEL, message_ts="1700000000.000200", permalink=link)


async def delivery_errors_of_5000_characters(deps: Deps) -> None:
    """What Slack answers a failed post goes into the notice's last_error and, when a request's message
    cannot be posted, into an undeliverable notice."""
    await _start_tencent(deps)
    await _people(deps)
    proposed = await changes.propose(deps, OPERATOR, ALIAS, catalogue.parse_change("ingest", ["volume=3"]), channel=CHANNEL)
    claimed = await outbox.claim(deps, limit=10)
    assert claimed, "proposing in a channel leaves a notice to deliver"
    await outbox.later(deps, claimed[0].id, seconds=1, error="e" * 5000, uncertain=True)
    await outbox.dropped(deps, claimed[-1].id, "d" * 5000)
    await outbox.undeliverable(deps, proposed.request_id, channel=CHANNEL, error="u" * 5000)


@dataclass(frozen=True)
class Case:
    run: Callable[..., Awaitable[None]]
    fails: str | None = None
    """Why it fails today: the writer and the column. None when it passes."""
    on: tuple[str, ...] = ("postgresql", "sqlite")
    """The databases it fails on: PostgreSQL refuses, SQLite stores the value and the length check finds it."""


CASES: dict[str, Case] = {
    case.run.__name__: case
    for case in (
        Case(register_volcengine),
        Case(register_tencent_with_a_1024_byte_url),
        Case(register_tencent_with_the_largest_ids),
        Case(grant_on_the_longest_scopes),
        Case(layout_grid_of_17_streams_with_128_character_user_ids),
        Case(region_and_canvas_images_of_1024_bytes),
        Case(ingest_with_a_1024_byte_url),
        Case(rollback_to_version_99999999999),
        Case(rollback_to_the_largest_int32),
        Case(rollback_to_a_negative_version),
        Case(reject_and_cancel_with_long_keys),
        Case(delivery_errors_of_5000_characters),
        Case(a_provider_request_id_of_300_characters),
        Case(a_slack_permalink_of_600_characters),
    )
}


async def overlong_values(engine: AsyncEngine) -> list[str]:
    """Every stored value longer than its String(n) column, as `table.column: length > n`."""
    found: list[str] = []
    async with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                length = getattr(column.type, "length", None)
                if not isinstance(column.type, String) or length is None:
                    continue
                longest = await conn.scalar(select(func.max(func.length(column))))
                if longest is not None and longest > length:
                    found.append(f"{table.name}.{column.name}: {longest} > {length}")
    return found


@pytest.mark.parametrize("case", sorted(CASES))
async def test_the_longest_valid_input_is_taken_or_refused_in_words_never_by_the_database(
    deps: Deps,
    engine: AsyncEngine,
    db_url: str,
    sims: Sims,
    case: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    known = CASES[case]
    if known.fails and db_url.split("+")[0] in known.on:
        request.applymarker(pytest.mark.xfail(strict=True, reason=known.fails))
    run = known.run
    outcome = "succeeded"
    try:
        await (run(deps, monkeypatch) if "monkeypatch" in inspect.signature(run).parameters else run(deps))
    except ServiceError as refusal:
        outcome = f"refused: {type(refusal).__name__}: {refusal}"
    except SQLAlchemyError as exc:
        pytest.fail(f"{case}: the database refused what a writer let through: {type(exc).__name__}: {exc}"[:2000])
    print(f"{case}: {outcome}")
    assert await overlong_values(engine) == [], "values longer than their columns were stored"
    async with deps.sessions() as session:
        await session.scalar(select(func.count()).select_from(Notice))  # the store still answers
