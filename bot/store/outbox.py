"""The outbox: notices waiting to be delivered, claimed one lane head at a time.

A notice is claimed with a lease (a conditional UPDATE), so two replicas never deliver the same one at once,
and one whose deliverer died is claimed again once its lease runs out. Within a lane only the oldest pending
notice is due: a thread reads in the order things happened, and a lane held back by Slack holds back no other.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bot.domain import NoticeKind
from bot.store.models import Notice

Sessions = async_sessionmaker[AsyncSession]
PENDING, DELIVERED, DROPPED = "pending", "delivered", "dropped"
WEBHOOK_LANE = "audit:webhook"
"""Audit events go to the webhook one after another, in the order their notices were written."""


def _sink(webhook: bool) -> Any:
    """Slack's notices, or the audit webhook's: two deliverers, each claiming its own (a lane holds one kind)."""
    return Notice.kind == NoticeKind.AUDIT_WEBHOOK.value if webhook else Notice.kind != NoticeKind.AUDIT_WEBHOOK.value


def lane_of(request_id: int) -> str:
    return f"change:{request_id}"


async def claim(sessions: Sessions, *, now: datetime, lease: timedelta, limit: int, webhook: bool = False) -> list[Notice]:
    """Up to `limit` due lane heads of one sink, each claimed for `lease` (attempts counted)."""
    earlier = aliased(Notice)
    blocked = exists().where(and_(earlier.lane == Notice.lane, earlier.state == PENDING, earlier.id < Notice.id))
    due = (
        select(Notice.id)
        .where(
            Notice.state == PENDING,
            Notice.next_at <= now,
            or_(Notice.claimed_until.is_(None), Notice.claimed_until < now),
            ~blocked,
            _sink(webhook),
        )
        .order_by(Notice.id)
        .limit(limit)
    )
    claimed: list[Notice] = []
    async with sessions() as session:
        ids = list((await session.scalars(due)).all())
    for notice_id in ids:
        async with sessions.begin() as session:
            result = await session.execute(
                update(Notice)
                .where(
                    Notice.id == notice_id,
                    Notice.state == PENDING,
                    or_(Notice.claimed_until.is_(None), Notice.claimed_until < now),
                )
                .values(claimed_until=now + lease, attempts=Notice.attempts + 1)
                .execution_options(synchronize_session=False)
            )
            if int(getattr(result, "rowcount", 0) or 0) != 1:
                continue
            notice = await session.get(Notice, notice_id)
            if notice is not None:
                claimed.append(notice)
    return claimed


async def settle(sessions: Sessions, notice_id: int, *, state: str, now: datetime, error: str | None = None) -> None:
    """Delivered, or dropped for good (a channel that does not exist, a thread that never was)."""
    async with sessions.begin() as session:
        await session.execute(
            update(Notice)
            .where(Notice.id == notice_id, Notice.state == PENDING)
            .values(state=state, delivered_at=now, claimed_until=None, last_error=None if error is None else error[:200])
            .execution_options(synchronize_session=False)
        )


async def retry(sessions: Sessions, notice_id: int, *, at: datetime, error: str) -> None:
    """Not delivered this time; due again at `at`, and its lane waits for it."""
    async with sessions.begin() as session:
        await session.execute(
            update(Notice)
            .where(Notice.id == notice_id, Notice.state == PENDING)
            .values(next_at=at, claimed_until=None, last_error=error[:200])
            .execution_options(synchronize_session=False)
        )


async def backlog(sessions: Sessions, *, now: datetime, webhook: bool = False) -> tuple[int, float]:
    """(pending notices of one sink, age in seconds of the oldest one)."""
    async with sessions() as session:
        count, oldest = (
            await session.execute(
                select(func.count(Notice.id), func.min(Notice.created_at)).where(Notice.state == PENDING, _sink(webhook))
            )
        ).one()
    age = 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())
    return int(count or 0), age


async def due_soon(sessions: Sessions, *, now: datetime, webhook: bool = False) -> bool:
    """Whether a notice of one sink could be claimed now or is being delivered: a quiet outbox has neither."""
    async with sessions() as session:
        found = await session.scalar(
            select(Notice.id)
            .where(Notice.state == PENDING, or_(Notice.next_at <= now, Notice.claimed_until.is_not(None)), _sink(webhook))
            .limit(1)
        )
    return found is not None


def pending_notice(
    team_id: str, lane: str, kind: str, now: datetime, *, change_request_id: int | None, **payload: object
) -> Notice:
    return Notice(
        team_id=team_id,
        lane=lane,
        kind=kind,
        change_request_id=change_request_id,
        payload=dict(payload),
        state=PENDING,
        attempts=0,
        created_at=now,
        next_at=now,
    )


async def add(sessions: Sessions, notices: list[Notice]) -> None:
    async with sessions.begin() as session:
        session.add_all(notices)


async def pending_in_lane(sessions: Sessions, lane: str, kind: str, *, after: int, limit: int = 200) -> list[Notice]:
    """Pending notices of one kind in a lane after id `after`, oldest first: what a coalescing delivery (a bulk's
    progress) may cover along with its lane's head."""
    query = select(Notice).where(Notice.lane == lane, Notice.kind == kind, Notice.state == PENDING, Notice.id > after)
    async with sessions() as session:
        return list((await session.scalars(query.order_by(Notice.id).limit(limit))).all())


async def remember(sessions: Sessions, notice_id: int, payload: dict[str, object]) -> None:
    """Sets a pending notice's payload: what a first delivery attempt decided, so a retry does the same."""
    async with sessions.begin() as session:
        await session.execute(
            update(Notice)
            .where(Notice.id == notice_id, Notice.state == PENDING)
            .values(payload=payload)
            .execution_options(synchronize_session=False)
        )


async def settle_many(sessions: Sessions, notice_ids: list[int], *, now: datetime) -> None:
    """Delivered: notices said together with their lane's head (which is settled by its own delivery)."""
    if not notice_ids:
        return
    async with sessions.begin() as session:
        await session.execute(
            update(Notice)
            .where(Notice.id.in_(notice_ids), Notice.state == PENDING)
            .values(state=DELIVERED, delivered_at=now, claimed_until=None)
            .execution_options(synchronize_session=False)
        )
