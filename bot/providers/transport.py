"""What every provider call shares, whatever the provider: one reused httpx client per account, pacing per
account and action, a fresh signature on every attempt, transport failures as ProviderErrors, and the retry
policy around the whole attempt. The clients add only their signing scheme and envelope."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from bot import logs, metrics
from bot.providers.errors import Provider, ProviderError
from bot.providers.pacing import Pacer, pace_key
from bot.providers.reply import ProviderReply
from bot.providers.retry import RetryPolicy, transport_failure

R = TypeVar("R")
log = logging.getLogger("rtcops.providers")


def encode_body(body: Mapping[str, Any]) -> bytes:
    """Serialised once: these exact bytes are hashed, signed and sent."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class ProviderClientBase:
    provider: Provider

    def __init__(
        self,
        endpoint: str,
        account: str,
        pacer: Pacer,
        retry: RetryPolicy,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._account = account
        self._pacer = pacer
        self._retry = retry
        self._host = httpx.URL(self.endpoint).netloc.decode("ascii")
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport, follow_redirects=False)

    async def _exchange(
        self,
        action: str,
        method: str,
        url: str,
        content: bytes,
        sign: Callable[[], dict[str, str]],
        parse: Callable[[int, bytes], ProviderReply[R]],
    ) -> ProviderReply[R]:
        """Pace, sign, send and parse, retried as the policy allows; `sign` runs again for every attempt."""
        key = pace_key(self.provider, self._account, action)

        async def attempt() -> ProviderReply[R]:
            waited = time.perf_counter()
            await self._pacer.acquire(key)
            started = time.perf_counter()
            metrics.PACING_WAIT_SECONDS.labels(self.provider, action).observe(started - waited)
            headers = sign()
            headers["Host"] = self._host
            code, request_id = "OK", None
            try:
                try:
                    response = await self._http.request(method, url, content=content, headers=headers)
                except httpx.TransportError as exc:
                    raise transport_failure(self.provider, action, exc) from None
                reply = parse(response.status_code, response.content)
                request_id = reply.request_id
                return reply
            except ProviderError as exc:
                code, request_id = exc.code, exc.request_id
                raise
            finally:
                elapsed = time.perf_counter() - started
                metrics.PROVIDER_CALLS.labels(self.provider, action, code[:64]).inc()
                metrics.PROVIDER_CALL_SECONDS.labels(self.provider, action).observe(elapsed)
                logs.bind(provider_request_id=request_id)
                log.debug(
                    "provider call %s %s: %s in %.0f ms", self.provider, action, code, elapsed * 1000,
                    extra={"provider": self.provider, "provider_action": action, "code": code},
                )

        return await self._retry.run(attempt)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()
