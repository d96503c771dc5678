"""`rtcops db upgrade | check`: migrations from any directory, using DATABASE_URL."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import click

from bot.config import get_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")


def run_with_engine(work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """One line on failure, never a traceback; the URL is not echoed since it may hold a password.
    SQLAlchemy is imported here, not at the top, so that `--help` does not pay for it."""
    from bot.store import create_engine, schema
    from bot.store.engine import UnsupportedDatabase, sqlite_threads_done

    try:
        engine = create_engine(get_settings().database_url)
    except UnsupportedDatabase as exc:
        click.echo(f"error: DATABASE_URL: {exc}", err=True)
        sys.exit(2)

    async def main() -> T:
        try:
            return await work(engine)
        finally:
            await engine.dispose()
            await sqlite_threads_done()

    try:
        return asyncio.run(main())
    except schema.SchemaNotCurrent as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:
        line = database_problem(exc)
        if line is None:
            raise
        click.echo(f"error: {line}", err=True)
        sys.exit(1)


def database_problem(exc: BaseException) -> str | None:
    """The one line to print when `exc` says the database cannot be used (wrong host or port, a missing
    database or SQLite directory, refused credentials); None for anything else. Never the URL itself."""
    if isinstance(exc, OSError | ConnectionError):
        return f"cannot reach the database in DATABASE_URL: {exc.__class__.__name__}: {exc}"
    if type(exc).__module__.startswith(("sqlalchemy", "asyncpg", "sqlite3", "aiosqlite")):
        detail = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        return f"database: {detail}"
    return None


@click.group()
def db() -> None:
    """Database schema: apply migrations, compare models with migrations."""


@db.command()
def upgrade() -> None:
    """Bring the schema to the newest revision (safe to run again)."""
    from bot.store import schema

    state = run_with_engine(schema.upgrade)
    click.echo(f"database schema at revision {state.current} (head)")


@db.command()
def check() -> None:
    """Exit 1 if the models and the migrations disagree, or the schema is behind."""
    from bot.store import schema

    async def work(engine: AsyncEngine) -> list[str]:
        await schema.ensure_current(engine)
        return [str(d) for d in await schema.model_differences(engine)]

    differences = run_with_engine(work)
    if differences:
        for line in differences:
            click.echo(line)
        sys.exit(1)
    click.echo("models and migrations agree")
