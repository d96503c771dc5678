"""The watcher: polls every watched task within its share of the read budget, and does the periodic work of
`bot.services.watch` (thresholds, posting once a mute ends, closing flap windows).

- **One poller across replicas.** Polling is led by whoever holds the `watch_leases` row (renewed every tick,
  taken over LEASE_SECONDS after its holder stops renewing), so N replicas make the reads of one. Pushed events
  are taken by every replica (they arrive wherever the load balancer sends them); the store settles the rest.
- **Within budget, never starving changes.** Polls go through `ProviderRegistry.lane(WATCH_LANE)`, paced like
  every other call but in a lane of their own: RTCOPS_WATCH_READ_SHARE of each read action's limit (half by
  default), the other part kept for the reads of changes and commands (`bot.providers.pacing.settings_rates`).
- **A round adapts to the number of tasks.** Each kind of task (each target) is polled by its own workers, most
  overdue first, each task at most every RTCOPS_WATCH_INTERVAL seconds; the pacer holds the rest back, so with
  more tasks than the budget reads in that time a round takes tasks / budget. A change shows after at most
  max(interval, tasks / (share × limit)) plus a read, on average half that.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import or_, select

from bot.providers.pacing import WATCH_LANE
from bot.providers.registry import ProviderRegistry
from bot.services import watch
from bot.services.deps import Deps
from bot.services.errors import NoProvider
from bot.services.tasks import target_of, task_ref
from bot.store import incidents as store
from bot.store.models import Task, Watch
from bot.targets.base import ProviderState

log = logging.getLogger("rtcops.watcher")

LEASE = "watcher"
LEASE_SECONDS = 10.0
WORKERS = 16
"""Polls in flight per kind of task; the pacer, not this, sets the pace (enough that it is never waiting for one)."""
PRUNE_SECONDS = 3600.0
KNOWN_SECONDS = 60.0
"""How long a poll may judge an answer against a snapshot from an earlier poll. Whatever moves a task in the
store (an apply, an event, a click) also changes what the provider answers or what the snapshot holds, so a fresh
snapshot is taken then anyway; this bounds what could slip by (a change recorded that never reached the
provider, say) to a minute."""


@dataclass
class _Group:
    """The tasks of one target, most overdue first."""

    due: list[tuple[float, int, int]] = field(default_factory=list)  # (monotonic due time, order, task id)
    current: set[int] = field(default_factory=set)
    queued: set[int] = field(default_factory=set)
    polling: set[int] = field(default_factory=set)
    order: itertools.count[int] = field(default_factory=itertools.count)

    def push(self, task_id: int, at: float) -> None:
        """Due at `at`, unless already queued or being polled (it is queued again when that poll ends)."""
        if task_id in self.current and task_id not in self.queued and task_id not in self.polling:
            heapq.heappush(self.due, (at, next(self.order), task_id))
            self.queued.add(task_id)

    async def next(self) -> int:
        while True:
            while self.due and self.due[0][2] not in self.current:
                self.queued.discard(heapq.heappop(self.due)[2])
            delay = self.due[0][0] - time.monotonic() if self.due else 0.25
            if self.due and delay <= 0:
                task_id = heapq.heappop(self.due)[2]
                self.queued.discard(task_id)
                return task_id
            await asyncio.sleep(min(delay, 0.05))


class Watcher:
    def __init__(self, deps: Deps, *, tick_seconds: float = 1.0, replica: str | None = None) -> None:
        self._deps = deps
        self._tick = tick_seconds
        self.replica = replica or secrets.token_hex(8)
        self.leading = False
        self.polls = 0
        self._providers: ProviderRegistry | None = None
        self._groups: dict[str, _Group] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._pruned = 0.0
        self._known: dict[int, tuple[watch.Snapshot, float]] = {}

    @property
    def polling(self) -> bool:
        return self._deps.settings.watch_read_share > 0

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self.round()
                except Exception:  # the store may be down for a moment; the next round tries again
                    log.exception("watch round failed")
                await asyncio.sleep(self._tick)
        finally:
            await self._stop_polling()
            with contextlib.suppress(Exception):
                await store.release_lease(self._deps.sessions, LEASE, self.replica, now=self._deps.clock())

    async def round(self) -> None:
        """Renew (or take) the lease; as the leader, the periodic work and the polling."""
        now = self._deps.clock()
        until = now + timedelta(seconds=LEASE_SECONDS)
        self.leading = await store.take_lease(self._deps.sessions, LEASE, self.replica, now=now, until=until)
        if not self.leading:
            await self._stop_polling()
            return
        await watch.tick(self._deps)
        if self.polling:
            await self._refresh()
        if time.monotonic() - self._pruned > PRUNE_SECONDS:
            self._pruned = time.monotonic()
            await watch.prune_keys(self._deps)

    async def _refresh(self) -> None:
        """Which tasks to poll: every registered task whose watching is on, by target."""
        async with self._deps.sessions() as session:
            rows = (
                await session.execute(
                    select(Task.id, Task.provider)
                    .outerjoin(Watch, Watch.task_id == Task.id)
                    .where(Task.removed_at.is_(None), or_(Watch.task_id.is_(None), Watch.enabled.is_(True)))
                )
            ).all()
        wanted: dict[str, set[int]] = {}
        for task_id, provider in rows:
            wanted.setdefault(provider, set()).add(task_id)
        watched = set().union(*wanted.values()) if wanted else set()
        self._known = {k: v for k, v in self._known.items() if k in watched}  # watched again later: start afresh
        for provider in set(self._groups) - set(wanted):
            self._groups[provider].current.clear()
        for provider, ids in wanted.items():
            group = self._groups.get(provider)
            if group is None:
                group = self._groups[provider] = _Group()
                self._start_workers(group)
            group.current = ids
            for task_id in ids:
                group.push(task_id, time.monotonic())  # new ones are due now; the others keep their turn

    def _start_workers(self, group: _Group) -> None:
        if self._providers is None:
            self._providers = self._deps.providers.lane(WATCH_LANE)
        loop = asyncio.get_running_loop()
        self._workers += [loop.create_task(self._work(group)) for _ in range(WORKERS)]

    async def _work(self, group: _Group) -> None:
        interval = self._deps.settings.watch_interval_seconds
        while True:
            task_id = await group.next()
            await self._deps.signals.bulks.clear()  # a bulk apply paces from this loop: polls wait it out
            started = time.monotonic()
            group.polling.add(task_id)
            try:
                await self.poll(task_id)
            except Exception:
                log.exception("polling task %s failed", task_id)
            finally:
                group.polling.discard(task_id)
                group.push(task_id, started + interval)

    async def poll(self, task_id: int) -> None:
        """One read of one task, and what it means.

        Most answers say what the last one said. Against a snapshot of the task kept from an earlier poll (at most
        KNOWN_SECONDS old), such an answer costs no store access (`watch.unchanged`). Any other is judged afresh,
        as the rules need it: a snapshot first, then a read, then `watch.observe` (a snapshot taken after the read
        could already hold a change applied since, and call its own configuration drift)."""
        known = self._known.get(task_id)
        if known is not None and time.monotonic() - known[1] < KNOWN_SECONDS:
            state = await self._read(known[0])
            if state is None or watch.unchanged(known[0], state):
                return
        snap = await watch.snapshot(self._deps, task_id)
        if snap is None or (snap.watch is not None and not snap.watch.enabled):
            self._known.pop(task_id, None)
            return
        state = await self._read(snap)
        if state is None:
            return
        await watch.observe(self._deps, snap, state)
        if watch.unchanged(snap, state):
            self._known[task_id] = (snap, time.monotonic())
        else:
            self._known.pop(task_id, None)  # it changed: the next poll starts from a fresh snapshot

    async def _read(self, snap: watch.Snapshot) -> ProviderState | None:
        try:
            target = target_of(snap.task)
        except NoProvider:
            return None
        if self._providers is None:
            self._providers = self._deps.providers.lane(WATCH_LANE)
        state = await target.read(self._providers, task_ref(snap.task))
        self.polls += 1
        return state

    async def aclose(self) -> None:
        """Stop polling and close the clients it used (`run` does this itself when cancelled)."""
        await self._stop_polling()

    async def _stop_polling(self) -> None:
        workers, self._workers, self._groups, self._known = self._workers, [], {}, {}
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        if self._providers is not None:
            providers, self._providers = self._providers, None
            await providers.aclose()
