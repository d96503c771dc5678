"""Which provider failures may be retried, and the bounded, jittered retry loop around one call.

Classification follows the tables in providers.md §1.3 and §2.1. A Start is special: when we cannot tell
whether the provider received it (a timeout, a dropped connection, an internal timeout), a retry could
start a second task on a live broadcast, so only failures that prove nothing happened are retried.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from bot.config import Settings
from bot.providers.errors import Provider, ProviderError

T = TypeVar("T")

START_ACTIONS = frozenset({"StartPushMixedStreamToCDN", "StartStreamIngest"})
CLOCK_SKEW_CODES = frozenset({"InvalidTimestamp", "AuthFailure.SignatureExpire"})

# Our own codes for failures that never reached a provider envelope.
CONNECT_FAILED = "ConnectionFailed"  # no connection was made: the request certainly was not received
TIMEOUT = "Timeout"  # ambiguous: the request may have been received
NETWORK_ERROR = "NetworkError"  # ambiguous: the connection broke mid-request
MALFORMED = "MalformedResponse"

_VOLC_RATE = frozenset({"FlowLimitExceeded.QPSOverLimit", "FlowLimitExceeded", "AccountFlowLimitExceeded"})
_VOLC_TRANSIENT = frozenset({"InternalError", "InternalServiceTimeout", "ServiceUnavailableTemp"})
_TENCENT_TRANSIENT = frozenset(
    {
        "InternalError",
        "ServiceUnavailable",
        "ResourceUnavailable",
        "ResourceInsufficient.RequestRejection",
        "FailedOperation.QueryTaskInfoFailed",
    }
)
# Transient answers that still prove the request was refused before any work, so even a Start may retry.
_REFUSED_BEFORE_WORK = frozenset(
    {"ServiceUnavailableTemp", "ServiceUnavailable", "ResourceUnavailable", "ResourceInsufficient.RequestRejection"}
)


def _rate_limited(provider: str, code: str) -> bool:
    if provider == "volcengine":
        return code in _VOLC_RATE
    return code == "RequestLimitExceeded" or code.startswith("RequestLimitExceeded.")


def _transient(provider: str, code: str, http_status: int | None) -> bool:
    if code in (TIMEOUT, NETWORK_ERROR):
        return True
    if provider == "volcengine" and code in _VOLC_TRANSIENT:
        return True
    if provider == "tencent" and (code in _TENCENT_TRANSIENT or code.startswith("InternalError.")):
        return True
    # Any other 5xx (including a gateway's non-JSON error page) is transient too.
    return http_status is not None and http_status >= 500


def may_have_acted(provider: str, code: str, http_status: int | None) -> bool:
    """Whether a failed attempt leaves open that the provider carried the request out: a timeout, a broken
    connection, a garbled answer or a server error, unless the error proves the request was turned away
    before any work (a rate limit, a "temporarily unavailable")."""
    if code in (TIMEOUT, NETWORK_ERROR, MALFORMED):
        return True
    if code in _REFUSED_BEFORE_WORK or code == CONNECT_FAILED or _rate_limited(provider, code):
        return False
    return _transient(provider, code, http_status)


def is_retryable(provider: str, action: str, code: str, http_status: int | None) -> bool:
    """Decided once, when the ProviderError is built; `RetryPolicy` only reads the flag."""
    if code == CONNECT_FAILED or code in CLOCK_SKEW_CODES or _rate_limited(provider, code):
        return True
    if not _transient(provider, code, http_status):
        return False
    if action in START_ACTIONS:
        return code in _REFUSED_BEFORE_WORK
    return True


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded by attempts and by an overall deadline; a clock-skew
    refusal is retried once only (re-signing fixes a stale timestamp, not a wrong clock)."""

    max_attempts: int = 4
    deadline_seconds: float = 30.0
    initial_backoff: float = 0.1
    max_backoff: float = 2.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(max_attempts=settings.provider_max_attempts, deadline_seconds=settings.provider_deadline_seconds)

    async def run(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Call `attempt` (which must build, sign and send afresh) until it succeeds or a limit is hit."""
        skew_retries = 0
        uncertain = False

        def should_retry(exc: BaseException) -> bool:
            nonlocal skew_retries, uncertain
            if not isinstance(exc, ProviderError):
                return False
            uncertain = uncertain or may_have_acted(exc.provider, exc.code, exc.http_status)
            exc.may_have_acted = uncertain
            if not exc.retryable:
                return False
            if exc.code in CLOCK_SKEW_CODES:
                skew_retries += 1
                return skew_retries <= 1
            return True

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts) | stop_before_delay(self.deadline_seconds),
            wait=wait_random_exponential(multiplier=self.initial_backoff, max=self.max_backoff),
            retry=retry_if_exception(should_retry),
            reraise=True,
        )
        return await retrying(attempt)


def transport_failure(provider: Provider, action: str, exc: httpx.TransportError) -> ProviderError:
    """An httpx failure as a ProviderError; only a connection that never opened proves nothing was sent."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        code, what = CONNECT_FAILED, "could not connect"
    elif isinstance(exc, httpx.TimeoutException):
        code, what = TIMEOUT, "no answer in time (the request may have been received)"
    else:
        code, what = NETWORK_ERROR, "connection broke (the request may have been received)"
    detail = type(exc).__name__
    return ProviderError(
        provider=provider,
        action=action,
        code=code,
        message=f"{what}: {detail}",
        retryable=is_retryable(provider, action, code, None),
    )
