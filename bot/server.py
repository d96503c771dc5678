"""The ASGI application `rtcops serve` runs: Slack traffic at /slack/events, liveness at /healthz.

Bolt verifies each request's signature and timestamp (a forged or replayed request gets 401) before any
listener runs, so nothing here reads a Slack body itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

HealthCheck = Callable[[], Awaitable[str | None]]
"""Returns None when healthy, else a short reason (never a secret)."""


def create_server(bolt_app: AsyncApp, health: HealthCheck | None = None) -> Starlette:
    handler = AsyncSlackRequestHandler(bolt_app)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    async def healthz(request: Request) -> Response:
        problem = await health() if health is not None else None
        if problem is not None:
            return JSONResponse({"ok": False, "error": problem}, status_code=503)
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/slack/events", events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )
