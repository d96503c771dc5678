"""What the bulk and rundown delivery modules use of `handlers.lifecycle.Deliverer`, which calls them: a protocol,
so they need not import the module that imports them."""

from __future__ import annotations

from typing import Any, Protocol

from slack_sdk.web.async_client import AsyncWebClient

from bot.services.deps import Deps
from bot.services.outbox import Pending


class Deliverer(Protocol):
    @property
    def deps(self) -> Deps: ...

    @property
    def client(self) -> AsyncWebClient: ...

    async def post(
        self,
        notice: Pending,
        *,
        channel: str,
        text: str,
        blocks_: list[dict[str, Any]],
        thread_ts: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]: ...

    async def find(self, notice: Pending, channel: str, thread_ts: str | None) -> str | None: ...
