"""Volcengine RTC client: validate, serialise once, pace, sign, send, parse; one httpx client per account.

The exact bytes that were signed are the bytes sent (`content=`), so a re-serialisation can never break the
signature; each retry attempt is paced and signed afresh so a stale X-Date cannot follow it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from bot.providers.envelope import parse_envelope
from bot.providers.errors import InvalidRequest, Provider, validation_problems
from bot.providers.pacing import Pacer
from bot.providers.reply import ProviderReply
from bot.providers.retry import RetryPolicy
from bot.providers.signing_volcengine import VolcengineCredentials, canonical_query, sign_volcengine
from bot.providers.transport import ProviderClientBase, encode_body
from bot.providers.volcengine_models import (
    API_VERSION,
    SERVICE,
    GetPushMixedStreamToCDNTask,
    GetPushMixedStreamToCDNTaskResult,
    StartPushMixedStreamToCDN,
    StopPushStreamToCDN,
    UpdatePushMixedStreamToCDN,
)

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")
PROVIDER: Provider = "volcengine"
JSON = "application/json"


def _validated(model: type[M], data: M | Mapping[str, Any], context: Mapping[str, Any] | None) -> M:
    """Refuse before sending; a ready model is trusted (the services validated it with their context)."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data, context=dict(context or {}))
    except ValidationError as exc:
        raise InvalidRequest(validation_problems(exc)) from None


class VolcengineClient(ProviderClientBase):
    provider = PROVIDER

    def __init__(
        self,
        endpoint: str,
        region: str,
        credentials: VolcengineCredentials,
        pacer: Pacer,
        retry: RetryPolicy,
        timeout: float,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(endpoint, credentials.access_key, pacer, retry, timeout, transport)
        self.region = region
        self._credentials = credentials
        self._clock = clock

    async def update_push_mixed_stream_to_cdn(
        self, body: UpdatePushMixedStreamToCDN | Mapping[str, Any], *, context: Mapping[str, Any] | None = None
    ) -> ProviderReply[str]:
        model = _validated(UpdatePushMixedStreamToCDN, body, context)
        return await self._call("POST", "UpdatePushMixedStreamToCDN", {}, model.body(), _ok)

    async def start_push_mixed_stream_to_cdn(self, body: StartPushMixedStreamToCDN | Mapping[str, Any]) -> ProviderReply[str]:
        model = _validated(StartPushMixedStreamToCDN, body, None)
        return await self._call("POST", "StartPushMixedStreamToCDN", {}, model.body(), _ok)

    async def stop_push_stream_to_cdn(self, body: StopPushStreamToCDN | Mapping[str, Any]) -> ProviderReply[str]:
        model = _validated(StopPushStreamToCDN, body, None)
        return await self._call("POST", "StopPushStreamToCDN", {}, model.body(), _ok)

    async def get_push_mixed_stream_to_cdn_task(
        self, query: GetPushMixedStreamToCDNTask | Mapping[str, Any]
    ) -> ProviderReply[GetPushMixedStreamToCDNTaskResult]:
        model = _validated(GetPushMixedStreamToCDNTask, query, None)
        return await self._call(
            "GET", "GetPushMixedStreamToCDNTask", model.query(), None, GetPushMixedStreamToCDNTaskResult.model_validate
        )

    async def _call(
        self,
        method: str,
        action: str,
        params: Mapping[str, str],
        body: Mapping[str, Any] | None,
        parse: Callable[[Any], R],
    ) -> ProviderReply[R]:
        content = encode_body(body) if body is not None else b""
        query = {**params, "Action": action, "Version": API_VERSION}
        content_type = JSON if method == "POST" else None

        def sign() -> dict[str, str]:
            headers = sign_volcengine(
                method=method,
                host=self._host,
                query=query,
                body=content,
                credentials=self._credentials,
                region=self.region,
                when=datetime.fromtimestamp(self._clock(), UTC),
                content_type=content_type,
                service=SERVICE,
            )
            if content_type:
                headers["Content-Type"] = content_type
            return headers

        url = f"{self.endpoint}/?{canonical_query(query)}"
        return await self._exchange(
            action, method, url, content, sign, lambda status, raw: parse_response(action, status, raw, parse)
        )


def _ok(result: Any) -> str:
    """The action answers Result "ok" on success and an empty one on failure (API page, 返回调用结果), so any
    other answer without an Error is not a success to report."""
    if result != "ok":
        raise ValueError(f'expected Result "ok", got {result!r}')
    return "ok"


def parse_response(action: str, status: int, raw: bytes, parse: Callable[[Any], R]) -> ProviderReply[R]:
    """Failure is a non-2xx status or ResponseMetadata.Error; the envelope is read either way."""
    return parse_envelope(
        PROVIDER, action, status, raw, envelope="ResponseMetadata", result_of=lambda data, meta: data.get("Result"), parse=parse
    )
