"""Reading a provider's answer into a result or a typed ProviderError.

Both providers wrap every answer in an envelope that carries the RequestId and, on failure, an Error
object; they differ only in the envelope's key and where the result sits. An answer that is not what the
documentation promises becomes a `MalformedResponse` error with the RequestId when there is one, so an
operator gets something to quote instead of a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import ValidationError

from bot.providers.errors import Provider, ProviderError
from bot.providers.reply import ProviderReply
from bot.providers.retry import MALFORMED, is_retryable

R = TypeVar("R")


def provider_error(
    provider: Provider, action: str, status: int, code: str, message: str, request_id: str | None
) -> ProviderError:
    return ProviderError(
        provider=provider,
        action=action,
        code=code,
        message=message,
        request_id=request_id,
        http_status=status,
        retryable=is_retryable(provider, action, code, status),
    )


def parse_envelope(
    provider: Provider,
    action: str,
    status: int,
    raw: bytes,
    *,
    envelope: str,
    result_of: Callable[[dict[str, Any], dict[str, Any]], Any],
    parse: Callable[[Any], R],
) -> ProviderReply[R]:
    """`envelope` names the object holding RequestId and Error; `result_of(data, envelope)` finds the result.
    A failure is an Error in the envelope, whatever the HTTP status, or a non-2xx status."""

    def fail(code: str, message: str, request_id: str | None = None) -> ProviderError:
        return provider_error(provider, action, status, code, message, request_id)

    try:
        data = json.loads(raw)
    except ValueError:
        snippet = raw[:120].decode("utf-8", "replace")
        raise fail(MALFORMED, f"answer is not JSON: {snippet!r}") from None
    meta = data.get(envelope) if isinstance(data, dict) else None
    if not isinstance(meta, dict):
        raise fail(MALFORMED, f"answer has no {envelope} object")
    request_id = meta.get("RequestId")
    request_id = str(request_id) if request_id is not None else None
    error = meta.get("Error")
    if error is not None:
        if not isinstance(error, dict):
            raise fail(MALFORMED, f"{envelope}.Error is not an object", request_id)
        raise fail(str(error.get("Code") or f"HTTP{status}"), str(error.get("Message") or ""), request_id)
    if not 200 <= status < 300:
        raise fail(f"HTTP{status}", f"non-2xx status without {envelope}.Error", request_id)
    try:
        result = parse(result_of(data, meta))
    except (ValidationError, ValueError) as exc:
        raise fail(MALFORMED, f"unexpected answer: {exc}", request_id) from None
    return ProviderReply(request_id=request_id or "", result=result, action=action)
