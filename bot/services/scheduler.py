"""Time-driven work, on exactly one replica at a time: the one mechanism every periodic job uses (the applier's
poll, outbox delivery, the recovery sweep, the audit webhook; watch cycles and schedules register the same way).

A job has two ways to run:
- **timed**: every `every` seconds, only on the replica that holds the job's lease. With PostgreSQL the lease is a
  row (`bot.store.leases`) taken for `period / 2` on the database's clock and renewed every `period / 4`, so a
  holder that misses one renewal keeps it; when the holder dies, its lease runs out within `period / 2`, another
  replica takes it at its next try (within `period / 4` more) and runs the job at once: the work goes on within
  `period` (RTCOPS_LEASE_SECONDS). A replica that stops gives its leases up, so the next one takes over at once.
  With SQLite there is one replica and no lease (`NoLeases`).
- **woken**: when this process made work for the job (an approval wakes the applier, a written notice the
  deliverer), it runs here and now, lease or not. Every job is safe to run on two replicas at once (each step is
  a conditional UPDATE); the lease is what keeps N replicas from polling N times, not what keeps it correct.

A holder counts itself the holder only until `period / 2` after it *sent* its last successful renewal (on its
own monotonic clock), which is no later than the database's expiry, so it stops running the job before
anybody else can start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from bot import metrics
from bot.store import leases as store

log = logging.getLogger("rtcops.scheduler")


class Leases(Protocol):
    def holds(self, name: str) -> bool: ...

    async def keep(self, names: list[str], gained: Callable[[str], None]) -> None:
        """Runs until cancelled: takes and renews the leases of `names`, calling `gained` on each one taken."""

    async def release(self) -> None: ...


class NoLeases:
    """One replica (SQLite): it runs every job."""

    def holds(self, name: str) -> bool:
        return True

    async def keep(self, names: list[str], gained: Callable[[str], None]) -> None:
        for name in names:
            metrics.LEASE_HELD.labels(name).set(1)
            gained(name)
        await asyncio.Event().wait()

    async def release(self) -> None:
        return None


def replica_id() -> str:
    """Names this process in the leases table (host, pid and a random part: a restarted pid is someone else)."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class DatabaseLeases:
    def __init__(self, sessions: store.Sessions, period: float, *, holder: str | None = None) -> None:
        self._sessions = sessions
        self.period = period
        self.ttl = period / 2
        self.every = period / 4
        self.holder = holder or replica_id()
        self._until: dict[str, float] = {}

    def holds(self, name: str) -> bool:
        return time.monotonic() < self._until.get(name, float("-inf"))

    async def keep(self, names: list[str], gained: Callable[[str], None]) -> None:
        while True:
            for name in names:
                await self._renew(name, gained)
            await asyncio.sleep(self.every)

    async def _renew(self, name: str, gained: Callable[[str], None]) -> None:
        had = self.holds(name)
        sent = time.monotonic()
        try:
            ok = await store.take(self._sessions, name, self.holder, self.ttl)
        except Exception as exc:  # the database is away: what we hold runs out by itself
            log.warning("could not renew the lease of %s (%s)", name, type(exc).__name__)
            metrics.LEASE_HELD.labels(name).set(1 if self.holds(name) else 0)
            return
        if ok:
            self._until[name] = sent + self.ttl
            if not had:
                log.info("this replica now runs the periodic job %s", name)
                gained(name)
        else:
            if had:
                log.warning("the lease of %s went to another replica", name)
            self._until.pop(name, None)
        metrics.LEASE_HELD.labels(name).set(1 if self.holds(name) else 0)

    async def release(self) -> None:
        held = [name for name in self._until if self.holds(name)]
        self._until.clear()
        for name in held:
            metrics.LEASE_HELD.labels(name).set(0)
            try:
                await store.release(self._sessions, name, self.holder)
            except Exception as exc:  # it runs out by itself
                log.warning("could not give up the lease of %s (%s)", name, type(exc).__name__)


@dataclass
class Job:
    name: str
    every: float
    run: Callable[[], Awaitable[object]]
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class Scheduler:
    def __init__(self, leases: Leases) -> None:
        self.leases = leases
        self.jobs: dict[str, Job] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def add(self, name: str, every: float, run: Callable[[], Awaitable[object]], *, wake: asyncio.Event | None = None) -> Job:
        """A periodic job; `wake` is the event this process sets when it made work for it."""
        if name in self.jobs:
            raise ValueError(f"a job named {name!r} is already scheduled")
        job = Job(name, every, run, wake if wake is not None else asyncio.Event())
        self.jobs[name] = job
        return job

    def start(self) -> list[asyncio.Task[None]]:
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self._loop(job)) for job in self.jobs.values()]
            self._tasks.append(loop.create_task(self.leases.keep(list(self.jobs), self._gained)))
        return self._tasks

    def _gained(self, name: str) -> None:
        """A lease just taken: its job runs at once (the previous holder may have died with work due)."""
        self.jobs[name].wake.set()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self.leases.release()

    async def _loop(self, job: Job) -> None:
        due = time.monotonic() + job.every
        while True:
            woken = False
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, due - time.monotonic())):
                    await job.wake.wait()
                    woken = True
            if woken:
                job.wake.clear()
                await self._run(job, "signal")
                continue
            now = time.monotonic()
            metrics.SCHEDULER_LAG_SECONDS.labels(job.name).observe(max(0.0, now - due))
            due = now + job.every
            if self.leases.holds(job.name):
                await self._run(job, "timer")

    async def _run(self, job: Job, trigger: str) -> None:
        metrics.SCHEDULER_RUNS.labels(job.name, trigger).inc()
        try:
            await job.run()
        except Exception:  # the next run tries again; a failing store shows in /readyz
            log.exception("periodic job %s failed", job.name)
