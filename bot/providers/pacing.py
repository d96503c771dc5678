"""Client-side pacing so that we stay under the providers' per-account, per-action rate limits.

`bot.providers.registry.pacer_from_settings` picks the pacer: with RTCOPS_REDIS_URL, `RedisPacer`
(bot/providers/shared_pacing.py), one budget per account and action shared by every replica; without it,
`LocalPacer`, built on aiolimiter, which paces this process alone. The clients need only `Pacer.acquire`;
whoever owns the pacer also uses `health()` and `aclose()` (`ManagedPacer`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from aiolimiter import AsyncLimiter

from bot.config import Settings

VOLCENGINE_GET_ACTIONS = frozenset({"GetPushMixedStreamToCDNTask"})
READ_ACTIONS = frozenset({"GetPushMixedStreamToCDNTask", "DescribeStreamIngest"})
"""The actions that only read a task: polling shares their limits with everything else (`settings_rates`)."""
WATCH_LANE = "watch"
"""The lane of the watcher's polls (`LanePacer`)."""


class Pacer(Protocol):
    async def acquire(self, key: str) -> None:
        """Wait until one more call under `key` (see `pace_key`) fits the limit."""
        ...


@runtime_checkable
class ManagedPacer(Pacer, Protocol):
    """A pacer its owner can ask about and close; the clients only ever call `acquire`."""

    def health(self) -> str | None:
        """None when pacing works as configured; otherwise one line for /readyz. Pacing goes on either way."""
        ...

    async def aclose(self) -> None: ...


def pace_key(provider: str, account: str, action: str) -> str:
    """Limits apply per account and action; the account id is public (AK/SecretId), never the secret."""
    return f"{provider}|{action}|{account}"


def settings_rates(settings: Settings) -> Callable[[str], float]:
    """Requests per second for a `pace_key`, from Settings (the documented limits by default).

    A read action's limit is split in two lanes (RTCOPS_WATCH_READ_SHARE, half by default): the watcher's
    polls (`LanePacer` with `WATCH_LANE`) get their share, every other read the rest. The two add up to the
    limit, so polling at full speed never makes a change's read wait, and together they never pass it."""
    share = settings.watch_read_share

    def rate(key: str) -> float:
        provider, action, rest = key.split("|", 2)
        lane = rest.partition("|")[2]
        if provider == "volcengine":
            base = settings.volcengine_get_qps if action in VOLCENGINE_GET_ACTIONS else settings.volcengine_update_qps
        else:
            base = settings.tencent_qps
        if action not in READ_ACTIONS or share <= 0:
            return base
        return base * share if lane == WATCH_LANE else base * (1 - share)

    return rate


class LanePacer:
    """Paces its calls in a lane of their own: under `key|lane`, whose rate `settings_rates` gives, beside
    the calls of the same account and action that go through the pacer directly."""

    def __init__(self, inner: Pacer, lane: str) -> None:
        self._inner = inner
        self._lane = lane

    async def acquire(self, key: str) -> None:
        await self._inner.acquire(f"{key}|{self._lane}")


class LocalPacer:
    """Paces at 98% of the limit. Providers do not say how they count a second (a token bucket, a fixed or a
    sliding window), so no window of one second may hold more than the limit, whichever they use: at 98% the
    limit's next call falls 1/0.98 − 1 = 20 ms past the second, and that gap is split in two. The bucket holds one
    call and 10 ms of calls more, so a timer that fires up to 10 ms late is made up by the next call instead of
    being lost for good (bench/bulk.py: with a bucket of one call, the Tencent set ran at 18.9/s of its 19.6/s
    while the Volcengine set shared the event loop); the other 10 ms are left for the network to bunch calls
    together before they reach the provider."""

    def __init__(self, rate_for: Callable[[str], float], headroom: float = 0.02) -> None:
        if not 0 <= headroom < 0.5:
            raise ValueError("headroom must be in [0, 0.5)")
        self._rate_for = rate_for
        self._headroom = headroom
        self._limiters: dict[str, AsyncLimiter] = {}

    def limiter(self, key: str) -> AsyncLimiter:
        limiter = self._limiters.get(key)
        if limiter is None:
            rate = self._rate_for(key) * (1 - self._headroom)
            burst = 1.0 + rate * self._headroom / 2
            limiter = self._limiters[key] = AsyncLimiter(burst, burst / rate)
        return limiter

    async def acquire(self, key: str) -> None:
        await self.limiter(key).acquire()

    def health(self) -> str | None:
        return None  # nothing outside this process to lose

    async def aclose(self) -> None:
        return None

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalPacer:
        return cls(settings_rates(settings))
