"""Who is acting and what the services may use; passed explicitly so that tests build real ones."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings

if TYPE_CHECKING:
    from bot.providers.registry import ProviderRegistry


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Actor:
    """A Slack user, always with the team, plus the user groups the handler resolved for them.

    ``system`` is for the admin CLI only: whoever can run it already holds the database, so checking them
    against grants would protect nothing. Slack handlers never set it.
    """

    team_id: str
    user_id: str
    group_ids: frozenset[str] = field(default_factory=frozenset)
    system: bool = False

    @classmethod
    def cli(cls, team_id: str, name: str) -> Actor:
        return cls(team_id=team_id, user_id=f"cli:{name}"[:64], system=True)

    @property
    def label(self) -> str:
        return self.user_id


class BulkGate:
    """Bulk applies running in this process. The watcher holds its polls while one runs: its reads share the event
    loop whose punctuality sets a bulk's pace (each millisecond the loop is late is lost to the slower provider's
    set, bench/bulk.py), and what it would read then is being changed and answered by the apply itself."""

    HOLD_SECONDS = 10.0
    """The longest a running bulk holds the watcher: one whose answers are slow in coming (re-sends, a provider
    holding its Updates) must not silence the watcher when it matters most."""

    def __init__(self) -> None:
        self._running = 0
        self._since = 0.0
        self._clear = asyncio.Event()
        self._clear.set()

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        if not self._running:
            self._since = time.monotonic()
        self._running += 1
        self._clear.clear()
        try:
            yield
        finally:
            self._running -= 1
            if not self._running:
                self._clear.set()

    async def clear(self) -> None:
        """Returns once no bulk apply is running, or once they have held the watcher HOLD_SECONDS."""
        left = self._since + self.HOLD_SECONDS - time.monotonic()
        if not self._clear.is_set() and left > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._clear.wait(), left)


@dataclass(frozen=True)
class Signals:
    """Wake-ups inside one process: the applier and the outbox deliverer wait on these (and poll the store
    as well, so work written by another replica, or before a restart, is found too)."""

    apply: asyncio.Event = field(default_factory=asyncio.Event)
    deliver: asyncio.Event = field(default_factory=asyncio.Event)
    bulks: BulkGate = field(default_factory=BulkGate)


@dataclass(frozen=True)
class Deps:
    sessions: async_sessionmaker[AsyncSession]
    providers: ProviderRegistry
    settings: Settings
    clock: Callable[[], datetime] = utcnow
    signals: Signals = field(default_factory=Signals)
