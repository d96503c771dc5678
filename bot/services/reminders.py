"""Approvers are reminded once of a request still waiting at half its lifetime, so a request does not quietly
expire because the one approver on call missed the first message. Each reminder is written by whichever process
marks the request reminded first (a conditional move), so replicas remind once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.domain import BulkState, ChangeState, RundownState
from bot.services import bulk_notices, notices, rundown_notices
from bot.services.deps import Deps
from bot.store import bulks as bulk_store
from bot.store import change_requests as transitions
from bot.store import rundowns as rundown_store
from bot.store.models import Bulk, ChangeRequest, Rundown

LIMIT = 500


def _halfway(created: datetime, expires: datetime, now: datetime) -> bool:
    return created + (expires - created) / 2 <= now < expires


async def remind_due(deps: Deps) -> int:
    """Reminds every waiting request, bulk change and rundown past half its lifetime; returns how many."""
    now = deps.clock()
    async with deps.sessions() as session:
        reqs = (
            await session.scalars(
                select(ChangeRequest)
                .where(
                    ChangeRequest.state == ChangeState.PENDING,
                    ChangeRequest.bulk_id.is_(None),
                    ChangeRequest.reminded_at.is_(None),
                    ChangeRequest.channel_id.is_not(None),
                )
                .limit(LIMIT)
            )
        ).all()
        bulks = (
            await session.scalars(select(Bulk).where(Bulk.state == BulkState.PENDING, Bulk.reminded_at.is_(None)).limit(LIMIT))
        ).all()
        rundowns = (
            await session.scalars(
                select(Rundown).where(Rundown.state == RundownState.PENDING, Rundown.reminded_at.is_(None)).limit(LIMIT)
            )
        ).all()
    reminded = 0
    for req in reqs:
        if _halfway(req.created_at, req.expires_at, now):
            reminded += await transitions.remind(deps.sessions, req, at=now, notices=notices.reminder(req, now))
    for bulk in bulks:
        if bulk.channel_id and _halfway(bulk.created_at, bulk.expires_at, now):
            reminded += await bulk_store.remind(
                deps.sessions, bulk, at=now, notices=[bulk_notices.reminder(bulk.team_id, bulk.id, now)]
            )
    for rundown in rundowns:
        if rundown.requested_at and rundown.expires_at and _halfway(rundown.requested_at, rundown.expires_at, now):
            told = [rundown_notices.reminder(rundown.team_id, rundown.id, now)]
            reminded += await rundown_store.remind(deps.sessions, rundown, at=now, notices=told)
    if reminded:
        deps.signals.deliver.set()
    return reminded
