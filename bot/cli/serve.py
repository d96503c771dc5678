"""`rtcops serve`: the Slack bot, over HTTP (uvicorn) or Socket Mode.

Start-up refuses to run on a schema that is behind, and reconciles change requests a crash left in
"applying" before taking traffic, so that no user click can race the recovery; what it found is posted
into each request's thread and the notification channel, like any outcome.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from dataclasses import dataclass
from typing import Any, NoReturn

import click
from pydantic import ValidationError

from bot.config import Settings

log = logging.getLogger("rtcops.serve")
SHUTDOWN_DRAIN_SECONDS = 30.0
_NOISY = ("slack_sdk", "slack_bolt", "httpx", "httpcore", "aiohttp")
"""Libraries whose DEBUG output can carry request headers; they never log below INFO."""


def _fail(line: str) -> NoReturn:
    click.echo(f"error: {line}", err=True)
    sys.exit(2)


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        _fail(f"invalid setting {'.'.join(map(str, first['loc']))}: {first['msg']}")


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for name in _NOISY:
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLogger().level))


@dataclass
class Started:
    app: Any  # the Bolt AsyncApp
    deps: Any  # bot.services.deps.Deps
    engine: Any  # the store's AsyncEngine, disposed by whoever started it
    backlog: Any  # handlers.backlog.Backlog: work acknowledged but not yet done, drained on shutdown


async def _open(settings: Settings) -> tuple[Any, Any, list[Any]]:
    """Schema check, Deps, start-up recovery (logged): (deps, engine, outcomes)."""
    from bot.providers.registry import ProviderRegistry
    from bot.services.deps import Deps
    from bot.services.recovery import in_flight_limit, recover_applying
    from bot.store.engine import create_engine, session_factory
    from bot.store.schema import ensure_current

    engine = create_engine(settings.database_url)
    try:
        await ensure_current(engine)
    except BaseException:
        await engine.dispose()
        raise
    deps = Deps(sessions=session_factory(engine), providers=ProviderRegistry.from_settings(settings), settings=settings)
    recovered = await recover_applying(deps, older_than=in_flight_limit(deps))
    for outcome in recovered:
        log.warning("recovered request #%s on %s: %s (%s)", outcome.request_id, outcome.alias, outcome.state, outcome.detail)
    return deps, engine, recovered


async def prepare(settings: Settings) -> tuple[Any, Any]:
    """(deps, engine) after the schema check and recovery, for callers that build their own app; recovery
    is only logged here, so prefer `start`, which also reports it in Slack."""
    deps, engine, _ = await _open(settings)
    return deps, engine


async def start(settings: Settings, *, socket_mode: bool = False) -> Started:
    """Everything before traffic: schema check, Deps, start-up recovery, the Bolt app, and the recovery's
    outcomes reported in Slack (each request's thread and the notification channel) as well as logged.
    Raises SchemaNotCurrent or UnsupportedDatabase."""
    from handlers import build_app
    from handlers.actions import report_recovered
    from handlers.backlog import Backlog

    deps, engine, recovered = await _open(settings)
    backlog = Backlog()
    app = build_app(settings, deps, socket_mode=socket_mode, backlog=backlog)
    await report_recovered(deps, app.client, recovered)
    return Started(app, deps, engine, backlog)


async def _run(settings: Settings, host: str, port: int, socket_mode: bool) -> None:
    from bot.store.engine import UnsupportedDatabase
    from bot.store.schema import SchemaNotCurrent

    try:
        started = await start(settings, socket_mode=socket_mode)
    except (SchemaNotCurrent, UnsupportedDatabase) as exc:
        _fail(str(exc))
    app, deps, engine = started.app, started.deps, started.engine
    sweeper = asyncio.create_task(sweep_applying(app, deps))
    # Everything loaded so far lives as long as the process; freezing it keeps the collector from
    # rescanning it, which otherwise shows up as pauses in the acknowledgement latency.
    gc.collect()
    gc.freeze()
    try:
        if socket_mode:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            handler = AsyncSocketModeHandler(app, settings.require("slack_app_token", "for Socket Mode (--socket)"))
            log.info("connecting to Slack in Socket Mode")
            await handler.start_async()  # type: ignore[no-untyped-call]
        else:
            await _serve_http(app, deps, host, port)
    finally:
        sweeper.cancel()
        # Acknowledged work finishes before the store and clients close: a user who saw the ack gets an answer.
        try:
            await asyncio.wait_for(started.backlog.drain(), SHUTDOWN_DRAIN_SECONDS)
        except TimeoutError:
            log.error("stopped with acknowledged work unfinished; requests still applying are settled by the next sweep")
        await deps.providers.aclose()
        await engine.dispose()


async def sweep_applying(app: Any, deps: Any, every_seconds: float = 30.0) -> None:
    """Requests still "applying" past the in-flight limit lost their answer: a replica that crashed after the
    others started, or one that restarted within the limit. Every replica sweeps; each request's state change
    is conditional, so exactly one reports it."""
    from bot.services.recovery import in_flight_limit, recover_applying
    from handlers.actions import report_recovered

    while True:
        await asyncio.sleep(every_seconds)
        try:
            found = await recover_applying(deps, older_than=in_flight_limit(deps))
            await report_recovered(deps, app.client, found)
        except Exception:  # the next sweep tries again; a failing store shows in /healthz
            log.exception("sweep of requests left applying failed")


async def _serve_http(app: Any, deps: Any, host: str, port: int) -> None:
    import uvicorn
    from sqlalchemy import text

    from bot.server import create_server

    async def health() -> str | None:
        try:
            async with deps.sessions() as session:
                await session.execute(text("SELECT 1"))
        except Exception as exc:
            return f"database unreachable ({type(exc).__name__})"
        return None

    config = uvicorn.Config(
        create_server(app, health),
        host=host,
        port=port,
        lifespan="off",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    click.echo(f"rtcops listening on http://{host}:{port}/slack/events", err=True)
    await server.serve()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="interface to listen on (HTTP mode)")
@click.option("--port", default=3000, show_default=True, type=click.IntRange(1, 65535), help="port (HTTP mode)")
@click.option("--socket", "socket_mode", is_flag=True, help="Socket Mode: connect out to Slack with SLACK_APP_TOKEN")
def serve(host: str, port: int, socket_mode: bool) -> None:
    """Run the Slack bot: /slack/events and /healthz over HTTP, or Socket Mode with --socket."""
    settings = _settings()
    settings.require("slack_bot_token", "to run `rtcops serve`")
    if socket_mode:
        settings.require("slack_app_token", "for Socket Mode (`rtcops serve --socket`)")
    else:
        settings.require("slack_signing_secret", "to verify requests from Slack (`rtcops serve`)")
    configure_logging(settings.log_level)
    asyncio.run(_run(settings, host, port, socket_mode))
