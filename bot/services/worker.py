"""The applier: approved changes are applied by whoever finds them first, at once when this process approved
them, and within a second when another replica did, or when the process that approved them died.

The approved tasks of a bulk change go together (`bot.services.bulk_apply`), as one provider set per target,
each paced by its provider alone: sets of different targets run side by side, neither waiting for the other.

No Slack call sits between an approval and its apply: the approval commits, the applier is woken, and what
people are told follows from the store. Its poll is a periodic job of `bot.services.scheduler`.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select

from bot import logs
from bot.domain import ChangeState
from bot.services.applying import apply, system_actor
from bot.services.bulk_apply import apply_set
from bot.services.deps import Deps
from bot.services.errors import ServiceError
from bot.store.models import ChangeRequest

log = logging.getLogger("rtcops.applier")
POLL_SECONDS = 1.0
CONCURRENCY = 64
"""Applies at once; the pacer keeps them within each provider's QPS, so this only bounds open calls."""


class Applier:
    def __init__(self, deps: Deps, *, poll_seconds: float = POLL_SECONDS, concurrency: int = CONCURRENCY) -> None:
        self._deps = deps
        self._poll = poll_seconds
        self._slots = asyncio.Semaphore(concurrency)
        self._running: dict[int, asyncio.Task[None]] = {}

    @property
    def poll_seconds(self) -> float:
        return self._poll

    @property
    def busy(self) -> bool:
        return bool(self._running)

    async def start_approved(self) -> None:
        """Starts an apply for each approved request not yet running here. The scheduler runs this every
        `poll_seconds` on the replica holding the applier's lease, and at once in the process that approved."""
        async with self._deps.sessions() as session:
            rows = (
                await session.execute(
                    select(ChangeRequest.id, ChangeRequest.team_id, ChangeRequest.bulk_id)
                    # a scheduled change holds no lock until its time: it is not due before then
                    .where(ChangeRequest.state == ChangeState.APPROVED, ChangeRequest.open_slot.is_not(None))
                    .order_by(ChangeRequest.id)
                )
            ).all()
        sets: dict[tuple[str, int], list[int]] = {}
        for request_id, team_id, bulk_id in rows:
            if request_id in self._running:
                continue
            if bulk_id is not None:
                sets.setdefault((team_id, bulk_id), []).append(request_id)
            else:
                task = asyncio.get_running_loop().create_task(self._apply(request_id, team_id))
                self._running[request_id] = task
        for (team_id, _), ids in sets.items():
            job = asyncio.get_running_loop().create_task(self._apply_set(ids, team_id))
            for request_id in ids:
                self._running[request_id] = job

    async def _apply(self, request_id: int, team_id: str) -> None:
        logs.bind(change_id=request_id, team=team_id)  # this task's lines, and the provider calls it makes
        try:
            async with self._slots:
                await apply(self._deps, system_actor(team_id), request_id)
        except ServiceError:
            pass  # another replica took it, or it went stale: the request says which
        except Exception:
            log.exception("applying request #%s failed unexpectedly; the sweep settles it", request_id)
        finally:
            self._running.pop(request_id, None)

    async def _apply_set(self, request_ids: list[int], team_id: str) -> None:
        """Not under the slots: a set waits for its provider's pace, and holding slots while it did would keep
        the other provider's set (and single changes) waiting for nothing."""
        try:
            await apply_set(self._deps, system_actor(team_id), request_ids)
        except Exception:
            log.exception("applying a bulk set of %d requests failed unexpectedly; the sweep settles them", len(request_ids))
        finally:
            for request_id in request_ids:
                self._running.pop(request_id, None)

    async def drain(self) -> None:
        while self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)
