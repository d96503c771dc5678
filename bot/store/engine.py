"""Engine and session factory for both supported databases.

SQLite gets the pragmas below on every connection, and ``BEGIN IMMEDIATE`` for every transaction: with the
default deferred BEGIN, two transactions that both read and then write deadlock and one fails at once with
"database is locked", whatever the busy timeout. Taking the write lock up front turns that into an orderly
wait. PostgreSQL is left as the driver sets it up.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

SQLITE_BUSY_MS = 30_000
SQLITE_PRAGMAS = (
    "journal_mode=WAL",
    "synchronous=NORMAL",
    f"busy_timeout={SQLITE_BUSY_MS}",
    "foreign_keys=ON",
)
"""Set on every new connection. WAL lets readers run beside the one writer, and with synchronous=NORMAL
it syncs at checkpoints rather than at every commit (a commit survives the process crashing, not always a
power cut): an fsync per commit held the bot's post-acknowledgement work to about 35 requests a second.
busy_timeout makes a writer wait for the lock rather than fail; SQLite enforces foreign keys only if asked."""


class UnsupportedDatabase(ValueError):
    pass


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    try:
        parsed = make_url(url)
    except Exception:
        raise UnsupportedDatabase("DATABASE_URL is not a valid database URL") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite":
        if driver not in ("", "aiosqlite"):
            raise UnsupportedDatabase("SQLite needs the async driver: use sqlite+aiosqlite:///path.db")
        parsed = parsed.set(drivername="sqlite+aiosqlite")
        engine = create_async_engine(parsed, connect_args={"timeout": SQLITE_BUSY_MS / 1000}, **kwargs)
        _sqlite_immediate(engine)
        return engine
    if backend in ("postgresql", "postgres"):
        if driver not in ("", "asyncpg"):
            raise UnsupportedDatabase("PostgreSQL needs the async driver: use postgresql+asyncpg://user@host/db")
        parsed = parsed.set(drivername="postgresql+asyncpg")
        return create_async_engine(parsed, pool_pre_ping=True, **kwargs)
    raise UnsupportedDatabase(f"unsupported database {backend!r}: use sqlite+aiosqlite:// or postgresql+asyncpg://")


def _sqlite_immediate(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine, *, audit_feed: bool = False) -> async_sessionmaker[AsyncSession]:
    """`audit_feed`: every audit event written through these sessions is also queued for the audit webhook
    (bot.store.audit_feed)."""
    if not audit_feed:
        return async_sessionmaker(engine, expire_on_commit=False)
    from bot.store.audit_feed import ForwardingSession

    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=ForwardingSession)


async def sqlite_threads_done() -> None:
    """aiosqlite answers from a worker thread through the event loop. After a failed connect, its clean-up
    answer can arrive once the loop is closed, and the thread then dies with a traceback (or a pytest
    warning). Whoever is about to close the loop awaits this after disposing of the engine."""
    for thread in threading.enumerate():
        if thread.name.endswith("(_connection_worker_thread)"):
            await asyncio.to_thread(thread.join, 5.0)
