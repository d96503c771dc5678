"""One rate budget per provider account and action, shared by every replica through Redis.

Turned on by RTCOPS_REDIS_URL; without it each process paces alone (`LocalPacer`).

Shared budget. Each `pace_key` is a GCRA budget kept in Redis by throttled-py (its Lua script runs atomically
and reads Redis's own clock, so replicas on hosts whose clocks disagree still share one timeline), at 98% of the
documented limit. A call reserves the next free slot on that timeline: GCRA moves its theoretical arrival time
(TAT) on by one interval per call, so slots are never closer than 1 / rate, and the caller sleeps until its slot
(reset_after − interval in GCRA's answer) before it goes out. Slots may be reserved ahead by h = 2% of a
second's calls rounded down, at least one (2 slots at 147/s, 14 ms; 1 at 19.6/s, 51 ms): GCRA's capacity − 1,
here a reservation horizon; further ahead GCRA refuses and the caller asks again after the retry-after it answers.
So:

- any one-second window holds at most floor(0.98 × limit) + 1 ≤ limit slots, however many replicas ask and
  whichever way the provider counts its second;
- a caller that wakes up late by less than the horizon loses nothing, because its slot was fixed when it asked
  (with plain GCRA admission every late wake-up costs the budget that much time: 0.95 of the limit at 20/s
  instead of 0.98);
- at most h + 1 reserved calls are waiting to go out at any moment, across all replicas (3 at 147/s, 2 at
  19.6/s). A replica that stalls (GC, a busy CPU) while holding some sends them late and together, so a
  second of sends can hold that many more than a second of slots; `LocalPacer`'s calls let through just before
  a stall go out late the same way. The 2% headroom is what absorbs this and network jitter: about 20 ms'
  worth of calls.

Within a replica, callers of one key queue behind a lock to reserve, so only one of them at a time asks Redis.

Keys, under a prefix (default ``rtcops:pacing``; tests use their own):

- ``<prefix>:v1:gcra:<provider>|<action>|<account>``: the budget (throttled-py's layout: the prefix, its schema
  version and algorithm, then our `pace_key`): the TAT, expiring once it has passed.
- ``<prefix>:replicas``: a sorted set, one member per live replica (host:pid:random), scored with the Redis time
  of its last heartbeat (every second); members older than 3 s are dropped, so a crashed replica stops counting.
- ``<prefix>:settling``: present for 3 s after any replica finds Redis again after losing it (see Recovery).

Fallback. A failed or timed-out Redis call (0.5 s) switches the replica to a local share at once; it never
waits for Redis, and calls keep going:

- share: floor(limit / n) calls per second (paced by `LocalPacer`, so at 98% of that), with n = the replicas it
  saw at its last heartbeat + 1. The + 1 is room for a replica that joined after that heartbeat; the floor
  keeps whole calls per second, so n replicas' one-second windows add up to at most n × floor(limit / n) ≤
  limit. A replica that has never reached Redis knows no count and assumes n = 8 (`UNKNOWN_REPLICAS`).
  When n > limit no whole share is left; the replica then paces at limit / n, and only the average holds.
- a quiet period first: local calls start one second and one horizon (the longest of the keys in use) after
  the failure was seen. Redis granted nothing after it failed and no reserved slot lies more than a horizon
  after that, so no one-second window holds both shared and local calls.

Recovery. The heartbeat keeps probing. A replica that reaches Redis again settles for 3 s before using the
shared budget alone: it sets ``<prefix>:settling`` and, while settling, each call takes both the shared budget
and its local share. Every replica that reads the mark at its heartbeat settles too. Three seconds is more than
one heartbeat, one Redis timeout and one second of pacing window, so by the time a replica drops its local cap,
every replica that can reach Redis is charging the shared budget, and calls still paced only locally fall in
no window with calls paced only by the budget.

Limits of the rule (stated, not hidden): it assumes Redis fails for all replicas together (the server stops,
restarts or hangs). If Redis stays reachable for some replicas and not others, those that keep it use the whole
budget while the others add their local shares. A replica that missed an outage altogether (idle, and no
heartbeat fell inside it) learns of the recovery at its next heartbeat, up to a second later. Replicas must be
configured with the same limits: GCRA uses the spacing of whichever replica asks.

`health()` is None while the shared budget is in use and otherwise one line for /readyz saying which local
share applies and why. The Redis URL may hold a password: it is never logged or put in `health()`; log lines
name the host, port and database only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import secrets
import socket
import time
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from throttled.asyncio import Quota, Rate, RateLimiterType, RedisStore, Throttled
from throttled.exceptions import BaseThrottledError

from bot.providers.pacing import LocalPacer

log = logging.getLogger("rtcops.pacing")

DEFAULT_PREFIX = "rtcops:pacing"
HEARTBEAT_SECONDS = 1.0
REPLICA_TTL_SECONDS = 3.0
SETTLE_SECONDS = 3.0
QUIET_SECONDS = 1.0  # plus the longest reservation horizon in use: see _fall_back
REDIS_TIMEOUT_SECONDS = 0.5
UNKNOWN_REPLICAS = 8
# GCRA spacing is given to throttled-py as `limit` calls per `period` whole seconds; 100 s keeps the rate exact
# to 0.01 call/s (rounded down, so never faster than asked).
_QUOTA_PERIOD_SECONDS = 100



class _Diverted(Exception):
    """Raised to a call queued for the shared budget when the pacer fell back while it waited."""


_UNAVAILABLE: tuple[type[BaseException], ...] = (RedisError, BaseThrottledError, OSError, TimeoutError, _Diverted)


def budget_key(prefix: str, key: str) -> str:
    """Where throttled-py keeps the GCRA state of `key` (a `pace_key`) under `prefix`."""
    return f"{prefix}:v1:{RateLimiterType.GCRA.value}:{key}"


def replicas_key(prefix: str) -> str:
    return f"{prefix}:replicas"


def settling_key(prefix: str) -> str:
    return f"{prefix}:settling"


def shared_quota(limit: float, headroom: float = 0.02) -> tuple[float, int]:
    """(calls per second, GCRA capacity) of the shared budget for a documented `limit`. Slots are spaced 1 / rate
    apart, so floor(rate) + 1 ≤ limit calls fit in a second. The capacity lets slots be reserved capacity − 1
    intervals ahead: 2% of a second's calls (as `LocalPacer`'s burst) rounded down, at least one."""
    rate = limit * (1 - headroom)
    return rate, 1 + max(1, math.floor(rate * headroom))


def fallback_limit(limit: float, replicas_seen: int | None) -> float:
    """The limit this replica paces against (at 98%, through `LocalPacer`) while Redis is unreachable.

    n = replicas seen at the last heartbeat + 1 (room for one that joined since), or `UNKNOWN_REPLICAS` if Redis
    was never reached. Whole calls per second, so that n replicas' one-second windows add up to ≤ limit."""
    n = UNKNOWN_REPLICAS if replicas_seen is None else replicas_seen + 1
    whole = math.floor(limit / n)
    return float(whole) if whole >= 1 else limit / n


def fallback_replicas(replicas_seen: int | None) -> int:
    return UNKNOWN_REPLICAS if replicas_seen is None else replicas_seen + 1


def redacted_location(url: str) -> str:
    """scheme://host:port/db of a Redis URL, without user or password: what log lines may show."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


class Mode(Enum):
    SHARED = "shared"
    SETTLING = "settling"
    FALLBACK = "fallback"


class RedisPacer:
    """The `Pacer` shared across replicas; see the module docstring for the budget, the fallback and recovery."""

    def __init__(
        self,
        redis_url: str,
        rate_for: Callable[[str], float],
        *,
        prefix: str = DEFAULT_PREFIX,
        headroom: float = 0.02,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        replica_ttl_seconds: float = REPLICA_TTL_SECONDS,
        settle_seconds: float = SETTLE_SECONDS,
        quiet_seconds: float = QUIET_SECONDS,
        redis_timeout_seconds: float = REDIS_TIMEOUT_SECONDS,
        replica_id: str | None = None,
    ) -> None:
        if not 0 <= headroom < 0.5:
            raise ValueError("headroom must be in [0, 0.5)")
        self._url = redis_url
        self._location = redacted_location(redis_url)
        self._rate_for = rate_for
        self.prefix = prefix
        self._headroom = headroom
        self._heartbeat_seconds = heartbeat_seconds
        self._replica_ttl = replica_ttl_seconds
        self._settle_seconds = settle_seconds
        self._quiet_seconds = quiet_seconds
        self._timeout = redis_timeout_seconds
        self.replica_id = replica_id or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"

        self.mode = Mode.SHARED
        self.replicas_seen: int | None = None
        self._since = 0.0  # wall clock of the last mode change, for health()
        self._reason = ""
        self._local: LocalPacer | None = None
        self._local_n = 0
        self._local_after = 0.0  # loop time before which fallback calls wait (the quiet period)
        self._settle_until = 0.0  # loop time
        self._locks: dict[str, asyncio.Lock] = {}
        self._budgets: dict[str, tuple[Throttled, float]] = {}  # pace_key -> (GCRA budget, interval in seconds)
        self._longest_horizon = 0.0  # how far ahead a reserved slot can lie, over every key used so far
        self._store: RedisStore | None = None
        self._client: aioredis.Redis | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._starting: asyncio.Task[None] | None = None

    # --- the Pacer interface -------------------------------------------------------------------------------

    async def acquire(self, key: str) -> None:
        await self._start()
        entered = self.mode
        if entered is Mode.FALLBACK:
            await self._acquire_local(key)
            return
        if entered is Mode.SETTLING:
            await self._acquire_local(key)
        try:
            await self._acquire_shared(key)
        except Exception as exc:  # Redis down (expected) or anything unforeseen: pacing must go on either way
            if not isinstance(exc, _UNAVAILABLE):
                log.exception("shared pacing: unexpected failure of the shared budget")
            self._fall_back(exc)
            if entered is Mode.SHARED:  # a settling call already holds its local share
                await self._acquire_local(key)
            return
        if entered is Mode.SHARED and self.mode is not Mode.SHARED:
            # The mode changed while this call queued for the budget: it needs the local share as well.
            await self._acquire_local(key)

    def health(self) -> str | None:
        """None while the shared budget is in use; otherwise one line saying what applies instead, and why."""
        since = datetime.fromtimestamp(self._since, UTC).strftime("%H:%M:%S UTC")
        if self.mode is Mode.SHARED:
            return None
        share = f"1/{self._local_n} of each limit, in whole calls per second"
        if self.mode is Mode.FALLBACK:
            counted = (
                f"{self.replicas_seen} replica(s) seen + 1"
                if self.replicas_seen is not None
                else f"replica count unknown, {UNKNOWN_REPLICAS} assumed"
            )
            return f"pacing: Redis unreachable since {since} ({self._reason}); local share {share} ({counted})"
        return (
            f"pacing: Redis reachable again since {since}; settling: the shared budget and the local share ({share}) "
            "both apply for a few seconds, until every replica is back on the shared budget"
        )

    async def aclose(self) -> None:
        """Stop the heartbeat, leave the replica set (best effort) and close the connections."""
        tasks = [t for t in (self._starting, self._heartbeat) if t is not None]
        self._starting = self._heartbeat = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, *_UNAVAILABLE):
                await task
        client, store = self._client, self._store
        # Locks and budgets belong to this event loop and these connections; a later acquire starts afresh.
        self._client, self._store, self._budgets, self._locks = None, None, {}, {}
        if client is not None:
            with contextlib.suppress(*_UNAVAILABLE):
                await asyncio.wait_for(client.zrem(replicas_key(self.prefix), self.replica_id), self._timeout)
            await client.aclose()
        if store is not None:
            # throttled-py has no close(); its async backend gives each store a pool of its own (REUSE_CONNECTION is
            # off for asyncio), so closing that pool closes only this pacer's connections.
            with contextlib.suppress(*_UNAVAILABLE):
                await cast("aioredis.Redis", store._backend.get_client()).aclose(close_connection_pool=True)

    # --- shared budget -------------------------------------------------------------------------------------

    def _budget(self, key: str) -> tuple[Throttled, float]:
        budget = self._budgets.get(key)
        if budget is None:
            assert self._store is not None
            rate, capacity = shared_quota(self._rate_for(key), self._headroom)
            calls = math.floor(rate * _QUOTA_PERIOD_SECONDS + 1e-9)
            quota = Quota(Rate(period=timedelta(seconds=_QUOTA_PERIOD_SECONDS), limit=calls), burst=capacity)
            throttled = Throttled(
                using=RateLimiterType.GCRA.value, quota=quota, store=self._store, key_prefix=self.prefix, timeout=-1
            )
            budget = self._budgets[key] = (throttled, _QUOTA_PERIOD_SECONDS / calls)
            self._longest_horizon = max(self._longest_horizon, (capacity - 1) * budget[1])
        return budget

    async def _acquire_shared(self, key: str) -> None:
        """Reserve the next slot of the budget, then sleep until it."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            throttled, interval = self._budget(key)
            while True:
                if self.mode is Mode.FALLBACK:
                    raise _Diverted  # Redis failed for a call ahead of this one: don't wait for its timeout again
                result = await throttled.limit(key)
                if not result.limited:
                    break
                await asyncio.sleep(result.state.retry_after)  # the next slot is taken: wait for the one after
        # GCRA answered reset_after = TAT - now, the TAT being one interval past the slot it just gave this call.
        until_slot = result.state.reset_after - interval
        if until_slot > 0:
            await asyncio.sleep(until_slot)

    # --- local share ---------------------------------------------------------------------------------------

    def _use_local(self, replicas_seen: int | None) -> None:
        rate_for, seen = self._rate_for, replicas_seen
        self._local = LocalPacer(lambda key: fallback_limit(rate_for(key), seen), self._headroom)
        self._local_n = fallback_replicas(seen)

    async def _acquire_local(self, key: str) -> None:
        wait = self._local_after - asyncio.get_running_loop().time()
        if wait > 0:
            await asyncio.sleep(wait)
        assert self._local is not None
        await self._local.acquire(key)

    def _fall_back(self, exc: BaseException) -> None:
        if self.mode is Mode.FALLBACK:
            return
        self._reason = _describe(exc)
        if self.mode is Mode.SHARED or self._local is None:
            self._use_local(self.replicas_seen)
        self.mode = Mode.FALLBACK
        self._since = time.time()
        self._local_after = asyncio.get_running_loop().time() + self._quiet_seconds + self._longest_horizon
        log.warning(
            "shared pacing: Redis at %s unreachable (%s); pacing locally at 1/%d of each limit until it is back",
            self._location,
            self._reason,
            self._local_n,
        )

    # --- heartbeat, probing and recovery -------------------------------------------------------------------

    async def _start(self) -> None:
        if self._heartbeat is not None:
            return
        if self._starting is None:
            self._starting = asyncio.create_task(self._first_beat())
        await asyncio.shield(self._starting)

    async def _first_beat(self) -> None:
        self._client = aioredis.Redis.from_url(
            self._url, socket_timeout=self._timeout, socket_connect_timeout=self._timeout
        )
        self._store = RedisStore(
            server=self._url, options={"SOCKET_TIMEOUT": self._timeout, "SOCKET_CONNECT_TIMEOUT": self._timeout}
        )
        await self._beat()
        self._heartbeat = asyncio.create_task(self._beat_forever())

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_seconds)
            try:
                await self._beat()
            except Exception as exc:  # unforeseen: fall back rather than let the heartbeat die
                log.exception("shared pacing: heartbeat failed unexpectedly")
                self._fall_back(exc)

    async def _beat(self) -> None:
        """Register this replica, count the live ones, and move between fallback, settling and shared."""
        assert self._client is not None
        loop = asyncio.get_running_loop()
        try:
            count, settle_ms = await asyncio.wait_for(self._register(self._client), self._timeout * 2)
            if self.mode is Mode.FALLBACK:
                await self._client.set(settling_key(self.prefix), self.replica_id, px=round(self._settle_seconds * 1000))
                settle_ms = round(self._settle_seconds * 1000)
        except _UNAVAILABLE as exc:
            self._fall_back(exc)
            return
        self.replicas_seen = count
        now = loop.time()
        if self.mode is Mode.FALLBACK:
            self.mode, self._since = Mode.SETTLING, time.time()
            self._settle_until = now + settle_ms / 1000
            log.warning(
                "shared pacing: Redis at %s reachable again; settling for %.0f s (shared budget and local share)",
                self._location,
                self._settle_seconds,
            )
        elif settle_ms > 0:
            if self.mode is Mode.SHARED:
                self._use_local(count)
                self.mode, self._since = Mode.SETTLING, time.time()
                log.info("shared pacing: another replica is back from a Redis outage; settling with it")
            self._settle_until = max(self._settle_until, now + settle_ms / 1000)
        elif self.mode is Mode.SETTLING and now >= self._settle_until:
            self.mode, self._since, self._local = Mode.SHARED, time.time(), None
            log.warning("shared pacing: back on the shared budget in Redis at %s", self._location)

    async def _register(self, client: aioredis.Redis) -> tuple[int, int]:
        seconds, micros = await client.time()
        now = seconds + micros / 1_000_000
        registry = replicas_key(self.prefix)
        async with client.pipeline(transaction=True) as pipe:
            pipe.zadd(registry, {self.replica_id: now})
            pipe.zremrangebyscore(registry, "-inf", now - self._replica_ttl)
            pipe.zcard(registry)
            pipe.expire(registry, math.ceil(self._replica_ttl * 2))
            pipe.pttl(settling_key(self.prefix))
            replies: list[Any] = await pipe.execute()
        return int(replies[2]), int(replies[4])


def _describe(exc: BaseException) -> str:
    """The failure's kind, without its text: redis-py messages may quote the address, never anything else we
    want in a log, but the kind is what an operator needs."""
    cause = exc.__cause__ if isinstance(exc, BaseThrottledError) and exc.__cause__ is not None else exc
    return type(cause).__name__
