"""Leases on PostgreSQL: which replica runs a periodic job's timed part.

A lease is one row per job name. Taking or renewing it is one upsert that succeeds only if nobody holds it, its
holder's time ran out, or we are the holder; expiry is reckoned on the database's clock (`now()`), so replicas
whose clocks disagree still agree on who holds it. A lease row rather than an advisory lock: a session lock
lives as long as its connection, so a replica that hangs (or a connection a pooler keeps open) would keep it
for good, while a row with an expiry is handed over at a known time whatever happened to its holder.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

Sessions = async_sessionmaker[AsyncSession]

_TAKE = text(
    """
    INSERT INTO leases (name, holder, expires_at)
    VALUES (:name, :holder, now() + make_interval(secs => :ttl))
    ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
    WHERE leases.holder = excluded.holder OR leases.expires_at < now()
    RETURNING holder
    """
)
_RELEASE = text("DELETE FROM leases WHERE name = :name AND holder = :holder")
_HOLDER = text("SELECT holder FROM leases WHERE name = :name AND expires_at >= now()")


async def take(sessions: Sessions, name: str, holder: str, ttl_seconds: float) -> bool:
    """True if `holder` now holds `name` for `ttl_seconds` from the database's now (taken or renewed)."""
    async with sessions.begin() as session:
        row = (await session.execute(_TAKE, {"name": name, "holder": holder, "ttl": float(ttl_seconds)})).first()
    return row is not None


async def release(sessions: Sessions, name: str, holder: str) -> None:
    """Gives the lease up at once (a replica stopping), so another takes it without waiting for the expiry."""
    async with sessions.begin() as session:
        await session.execute(_RELEASE, {"name": name, "holder": holder})


async def holder_of(sessions: Sessions, name: str) -> str | None:
    async with sessions() as session:
        return (await session.execute(_HOLDER, {"name": name})).scalar_one_or_none()
