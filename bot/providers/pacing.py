"""Client-side pacing so that we stay under the providers' per-account, per-action rate limits.

The Protocol is the seam for sharing pacing across replicas later (a Redis-backed pacer with the same
`acquire`); this process uses `LocalPacer`, built on aiolimiter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from aiolimiter import AsyncLimiter

from bot.config import Settings

VOLCENGINE_GET_ACTIONS = frozenset({"GetPushMixedStreamToCDNTask"})


class Pacer(Protocol):
    async def acquire(self, key: str) -> None:
        """Wait until one more call under `key` (see `pace_key`) fits the limit."""
        ...


def pace_key(provider: str, account: str, action: str) -> str:
    """Limits apply per account and action; the account id is public (AK/SecretId), never the secret."""
    return f"{provider}|{action}|{account}"


def settings_rates(settings: Settings) -> Callable[[str], float]:
    """Requests per second for a `pace_key`, from Settings (the documented limits by default)."""

    def rate(key: str) -> float:
        provider, action, _ = key.split("|", 2)
        if provider == "volcengine":
            if action in VOLCENGINE_GET_ACTIONS:
                return settings.volcengine_get_qps
            return settings.volcengine_update_qps
        return settings.tencent_qps

    return rate


class LocalPacer:
    """Paces at the limit with a burst of ~2% of it: the provider's bucket holds a full second, so this
    headroom can never drain it, yet it absorbs timer lag that would otherwise cost achieved rate."""

    def __init__(self, rate_for: Callable[[str], float], burst_fraction: float = 0.02) -> None:
        self._rate_for = rate_for
        self._burst_fraction = burst_fraction
        self._limiters: dict[str, AsyncLimiter] = {}

    def limiter(self, key: str) -> AsyncLimiter:
        limiter = self._limiters.get(key)
        if limiter is None:
            rate = self._rate_for(key)
            burst = max(1.0, rate * self._burst_fraction)
            limiter = self._limiters[key] = AsyncLimiter(burst, burst / rate)
        return limiter

    async def acquire(self, key: str) -> None:
        await self.limiter(key).acquire()

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalPacer:
        return cls(settings_rates(settings))
