"""Turning a provider call's failure into a verdict the services can trust: refused (nothing changed) or
unanswered (it may have changed). Shared by the targets, which add only which codes mean "the task is gone"."""

from __future__ import annotations

from collections.abc import Collection

from bot.providers.errors import InvalidRequest, ProviderError
from bot.targets.base import Refused, Unanswered


def describe_error(exc: Exception) -> str:
    """One line for people: the provider's code, message and RequestId verbatim (support asks for them)."""
    if isinstance(exc, ProviderError):
        return f"{exc.code}: {exc.message} (RequestId {exc.request_id or 'none'})"
    if isinstance(exc, InvalidRequest):
        return "; ".join(exc.problems)
    return f"{type(exc).__name__}: {exc}"


def from_error(
    exc: ProviderError | InvalidRequest, gone_codes: Collection[str], sequence_codes: Collection[str] = ()
) -> Refused | Unanswered:
    """A failure is a refusal only when no attempt of the call can have been acted on."""
    if isinstance(exc, InvalidRequest):
        return Refused("InvalidRequest", "; ".join(exc.problems))
    if exc.may_have_acted:
        return Unanswered(exc.code, exc.message, exc.request_id)
    return Refused(
        exc.code,
        exc.message,
        exc.request_id,
        gone=exc.code in gone_codes,
        transient=exc.retryable,
        stale_sequence=exc.code in sequence_codes,
    )
