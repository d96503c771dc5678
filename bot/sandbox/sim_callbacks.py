"""Event callbacks (webhooks) from a simulator to a receiver the test or the bot runs, over real HTTP.

A provider posts its events from its own servers, on its own schedule, and retries when the receiver does
not answer in time; a receiver has to cope with events that come late, twice, out of order, or not at all.
So delivery here is not part of the request that caused the event: events are queued and a thread of the
sender's own posts them, with the provider's retry schedule (RetryPolicy), while the simulator answers its
API calls. Every attempt is logged with what was sent and what came back, so a test can see what the
receiver was shown.

What goes into a body and how it is signed is the provider's; a simulator passes both in (`render`, `sign`)
and this module only carries them. The body is rendered again for each attempt, because a provider stamps
each sending with its own time (TRTC's CallbackMsTs), so a retried event is not byte-identical to the first.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx


@dataclass(frozen=True)
class RetryPolicy:
    """An answer other than HTTP 200 within `timeout` seconds is a failure; the first failure is retried at
    once, later ones every `retry_every` seconds, and no attempt starts more than `give_up_after` seconds
    after the first. The defaults are TRTC's (5 s, 10 s, 1 minute); tests shorten them."""

    timeout: float = 5.0
    retry_every: float = 10.0
    give_up_after: float = 60.0


@dataclass
class Outgoing:
    """One event on its way: rendered and signed afresh for every attempt."""

    id: int
    url: str
    render: Callable[[], bytes]
    sign: Callable[[bytes], dict[str, str]]
    policy: RetryPolicy
    label: dict[str, Any]
    generation: int
    first_at: float | None = None
    attempts: int = 0


@dataclass
class Attempt:
    """One POST as the receiver got it (or did not), for the delivery log."""

    seq: int
    event: int
    attempt: int
    time: float
    url: str
    headers: dict[str, str]
    body: str
    status: int | None
    error: str | None
    final: bool  # no attempt follows: delivered, or given up
    label: dict[str, Any] = field(default_factory=dict)


class CallbackSender:
    """Queues events and posts them from a daemon thread that starts with the first event and stops after
    `idle_exit` seconds with nothing to do, so an idle simulator holds no thread."""

    def __init__(self, idle_exit: float = 1.0, log_size: int = 10_000) -> None:
        self._idle_exit = idle_exit
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Outgoing]] = []
        self._order = itertools.count()
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)
        self._log: deque[Attempt] = deque(maxlen=log_size)
        self._thread: threading.Thread | None = None
        self._busy = 0
        self._generation = 0

    def send(
        self,
        url: str,
        render: Callable[[], bytes],
        sign: Callable[[bytes], dict[str, str]],
        policy: RetryPolicy,
        label: dict[str, Any] | None = None,
    ) -> int:
        """Queue one event for delivery now; returns its id (the `event` of its attempts in the log)."""
        with self._cond:
            event = Outgoing(next(self._ids), url, render, sign, policy, dict(label or {}), self._generation)
            heapq.heappush(self._heap, (time.monotonic(), next(self._order), event))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sandbox-callbacks", daemon=True)
                self._thread.start()
            self._cond.notify_all()
            return event.id

    def attempts(self) -> list[Attempt]:
        with self._cond:
            return list(self._log)

    def attempts_json(self) -> list[dict[str, Any]]:
        return [asdict(a) for a in self.attempts()]

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is queued or being sent (retries included); False if `timeout` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._heap and self._busy == 0, timeout)

    def clear(self) -> None:
        """Drop queued events and the log; an attempt under way finishes but is neither logged nor retried."""
        with self._cond:
            self._heap.clear()
            self._log.clear()
            self._generation += 1
            self._cond.notify_all()

    def _next(self) -> Outgoing | None:
        """The next due event, waiting for it; None when idle long enough to stop the thread."""
        with self._cond:
            while True:
                if not self._heap:
                    if not self._cond.wait(self._idle_exit) and not self._heap:
                        self._thread = None
                        self._cond.notify_all()
                        return None
                    continue
                delay = self._heap[0][0] - time.monotonic()
                if delay <= 0:
                    event = heapq.heappop(self._heap)[2]
                    self._busy += 1
                    return event
                self._cond.wait(delay)

    def _run(self) -> None:
        # trust_env=False: the receiver is the URL a test registered, never reached through a proxy.
        with httpx.Client(trust_env=False) as client:
            while (event := self._next()) is not None:
                try:
                    self._attempt(client, event)
                finally:
                    with self._cond:
                        self._busy -= 1
                        self._cond.notify_all()

    def _attempt(self, client: httpx.Client, event: Outgoing) -> None:
        started = time.monotonic()
        if event.first_at is None:
            event.first_at = started
        event.attempts += 1
        body = event.render()
        headers = {"Content-Type": "application/json", **event.sign(body)}
        status: int | None = None
        error: str | None = None
        try:
            status = client.post(event.url, content=body, headers=headers, timeout=event.policy.timeout).status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        retry_at: float | None = None
        if status != 200:
            now = time.monotonic()
            retry_at = now if event.attempts == 1 else now + event.policy.retry_every
            if retry_at - event.first_at > event.policy.give_up_after:
                retry_at = None
        with self._cond:
            if event.generation != self._generation:
                return
            self._log.append(
                Attempt(
                    seq=next(self._seq),
                    event=event.id,
                    attempt=event.attempts,
                    time=time.time(),
                    url=event.url,
                    headers=headers,
                    body=body.decode("utf-8", errors="replace"),
                    status=status,
                    error=error,
                    final=retry_at is None,
                    label=event.label,
                )
            )
            if retry_at is not None:
                heapq.heappush(self._heap, (retry_at, next(self._order), event))
                self._cond.notify_all()
