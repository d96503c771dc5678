"""Slack redelivers events and people double-click: the first claim of a key wins, every later one loses.

The primary key settles it inside the database, so two deliveries racing on two workers cannot both win.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from bot.services.deps import Deps
from bot.store.change_requests import bounded_key
from bot.store.models import IdempotencyKey


async def claim(deps: Deps, key: str) -> bool:
    """True for the first caller with this key (e.g. "click:<request>:<action_ts>"), False afterwards."""
    try:
        async with deps.sessions.begin() as session:
            session.add(IdempotencyKey(key=bounded_key(key), created_at=deps.clock()))
    except IntegrityError:
        return False
    return True


async def prune(deps: Deps, older_than: timedelta = timedelta(days=2)) -> int:
    """Slack stops retrying within minutes; keys older than this only take space."""
    async with deps.sessions.begin() as session:
        result = await session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < deps.clock() - older_than))
    return int(getattr(result, "rowcount", 0) or 0)
