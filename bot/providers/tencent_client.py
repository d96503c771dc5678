"""Tencent TRTC client: validate for the site, serialise once, pace, sign (TC3), send, parse.

One client serves one site (intl or China) because the site decides both the host and what validation
allows (Volume range, China-only fields); the region is per call, as tasks live in different regions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from bot.providers.envelope import parse_envelope
from bot.providers.errors import InvalidRequest, Provider, ProviderError, validation_problems
from bot.providers.pacing import Pacer
from bot.providers.reply import ProviderReply
from bot.providers.retry import RetryPolicy
from bot.providers.signing_tencent import TencentCredentials, sign_tencent
from bot.providers.tencent_models import (
    API_VERSION,
    SERVICE,
    DescribeStreamIngest,
    IngestStatus,
    Site,
    StartStreamIngest,
    StartStreamIngestResult,
    StopStreamIngest,
    StopStreamIngestResult,
    UpdateStreamIngest,
    check_region,
)
from bot.providers.transport import ProviderClientBase, encode_body

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")
PROVIDER: Provider = "tencent"
TASK_FINISHED = "FailedOperation.TaskFinished"


class TencentClient(ProviderClientBase):
    provider = PROVIDER

    def __init__(
        self,
        endpoint: str,
        credentials: TencentCredentials,
        pacer: Pacer,
        retry: RetryPolicy,
        timeout: float,
        *,
        site: Site = "intl",
        default_region: str = "ap-singapore",
        language: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(endpoint, credentials.secret_id, pacer, retry, timeout, transport)
        self.site: Site = site
        self.default_region = default_region
        self._credentials = credentials
        self._language = language
        self._clock = clock

    async def update_stream_ingest(
        self, body: UpdateStreamIngest | Mapping[str, Any], *, region: str | None = None
    ) -> ProviderReply[IngestStatus]:
        return await self._call("UpdateStreamIngest", UpdateStreamIngest, body, region, IngestStatus.model_validate)

    async def start_stream_ingest(
        self, body: StartStreamIngest | Mapping[str, Any], *, region: str | None = None
    ) -> ProviderReply[StartStreamIngestResult]:
        return await self._call("StartStreamIngest", StartStreamIngest, body, region, StartStreamIngestResult.model_validate)

    async def describe_stream_ingest(
        self, body: DescribeStreamIngest | Mapping[str, Any], *, region: str | None = None
    ) -> ProviderReply[IngestStatus]:
        return await self._call("DescribeStreamIngest", DescribeStreamIngest, body, region, IngestStatus.model_validate)

    async def stop_stream_ingest(
        self, body: StopStreamIngest | Mapping[str, Any], *, region: str | None = None
    ) -> ProviderReply[StopStreamIngestResult]:
        """A task that had already finished counts as stopped (providers.md §2.1: treat as done)."""
        try:
            return await self._call("StopStreamIngest", StopStreamIngest, body, region, StopStreamIngestResult.model_validate)
        except ProviderError as exc:
            if exc.code != TASK_FINISHED:
                raise
            result = StopStreamIngestResult(request_id=exc.request_id)
            return ProviderReply(request_id=exc.request_id or "", result=result, action=exc.action)

    def _validated(self, model: type[M], data: M | Mapping[str, Any], action: str, region: str) -> M:
        """Always (re)validated with this client's site, so a body checked for China cannot reach intl."""
        problems: list[str] = []
        try:
            check_region(region, action, self.site)
        except ValueError as exc:
            problems.append(f"Region: {exc}")
        raw = data.model_dump(by_alias=True, exclude_none=True, mode="json") if isinstance(data, BaseModel) else data
        try:
            validated = model.model_validate(raw, context={"site": self.site})
        except ValidationError as exc:
            problems.extend(validation_problems(exc))
        if problems:
            raise InvalidRequest(problems)
        return validated

    async def _call(
        self,
        action: str,
        model: type[BaseModel],
        data: BaseModel | Mapping[str, Any],
        region: str | None,
        parse: Callable[[Any], R],
    ) -> ProviderReply[R]:
        region = region or self.default_region
        body = self._validated(model, data, action, region).model_dump(by_alias=True, exclude_none=True, mode="json")
        content = encode_body(body)

        def sign() -> dict[str, str]:
            return sign_tencent(
                host=self._host,
                body=content,
                credentials=self._credentials,
                action=action,
                version=API_VERSION,
                region=region,
                timestamp=int(self._clock()),
                service=SERVICE,
                language=self._language,
            )

        return await self._exchange(
            action, "POST", self.endpoint + "/", content, sign, lambda status, raw: parse_response(action, status, raw, parse)
        )


def parse_response(action: str, status: int, raw: bytes, parse: Callable[[Any], R]) -> ProviderReply[R]:
    """Errors normally come with HTTP 200 in Response.Error, so the body decides, not the status."""
    return parse_envelope(PROVIDER, action, status, raw, envelope="Response", result_of=lambda data, meta: meta, parse=parse)
