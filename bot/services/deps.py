"""Who is acting and what the services may use; passed explicitly so that tests build real ones."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
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


@dataclass(frozen=True)
class Signals:
    """Wake-ups inside one process: the applier and the outbox deliverer wait on these (and poll the store
    as well, so work written by another replica, or before a restart, is found too)."""

    apply: asyncio.Event = field(default_factory=asyncio.Event)
    deliver: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True)
class Deps:
    sessions: async_sessionmaker[AsyncSession]
    providers: ProviderRegistry
    settings: Settings
    clock: Callable[[], datetime] = utcnow
    signals: Signals = field(default_factory=Signals)
