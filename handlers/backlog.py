"""Where post-acknowledgement work waits: behind the acknowledgements, a few jobs at a time.

Acknowledgements and the work they promise share one event loop. The work (store writes, provider calls,
Web API answers) is slow and mostly CPU in the ORM; an acknowledgement is microseconds of CPU that Slack
times. So an acknowledgement in flight goes first: a job does not start while one is being produced,
unless it has already been held back for `defer_seconds` (a steady stream of requests must not starve
the work either). Started jobs share `slots`, so at most that many CPU slices queue ahead of an
acknowledgement that arrives meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Iterator
from typing import Any

SLOTS = 2
"""Jobs running at once. Each also keeps a store connection's thread busy, and those threads take the GIL
from the loop; with two, a burst of 2,500 requests still drains in seconds (bench/slack_ack.py)."""
DEFER_SECONDS = 0.25
"""Longest a job waits for a moment with no acknowledgement in flight: well below what a person notices
between their click and the bot's first word in the thread."""


class Backlog:
    def __init__(self, slots: int = SLOTS, defer_seconds: float = DEFER_SECONDS) -> None:
        self._slots = asyncio.Semaphore(slots)
        self._defer = defer_seconds
        self._acking = 0
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._jobs: set[asyncio.Task[None]] = set()

    @contextlib.contextmanager
    def acknowledging(self) -> Iterator[None]:
        """Marks one request between its arrival at the listeners and its acknowledgement."""
        self._acking += 1
        self._quiet.clear()
        try:
            yield
        finally:
            self._acking -= 1
            if not self._acking:
                self._quiet.set()

    def start(self, job: Coroutine[Any, Any, None]) -> None:
        """Run `job` later; it must handle its own failures (errors.guarded does)."""
        task = asyncio.get_running_loop().create_task(self._run(job))
        self._jobs.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._jobs.discard)

    @property
    def pending(self) -> int:
        return len(self._jobs)

    async def drain(self) -> None:
        """Wait for every job started so far (and those they start); for shutdown and tests."""
        while self._jobs:
            await asyncio.gather(*self._jobs, return_exceptions=True)

    async def _run(self, job: Coroutine[Any, Any, None]) -> None:
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._defer):
                    await self._quiet.wait()
            async with self._slots:
                await job
        finally:
            job.close()  # cancelled before it started (shutdown): no "never awaited" warning
