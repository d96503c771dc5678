"""`rtcops serve`: the Slack bot, over HTTP (uvicorn) or Socket Mode.

Start-up refuses to run on a schema that is behind or with a Slack token that Slack refuses (one line each),
and settles what a crash left approved or applying before taking traffic (`bot.app.start`), so no user click
can race the recovery.

Both modes serve /healthz, /readyz and /metrics (over HTTP beside /slack/events; in Socket Mode on --host and
--port beside the socket), and both stop the same way on SIGTERM or SIGINT: no new Slack traffic is taken, and
what was acknowledged, the applies in flight and the notices being delivered finish before the process exits
(`bot.app.stop`). uvicorn's own signal handling is left out: it would re-raise the signal once the server has
stopped, and the process would die before that drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NoReturn

import click
from pydantic import ValidationError

from bot.config import Settings

if TYPE_CHECKING:
    import uvicorn
    from starlette.applications import Starlette

    from bot.app import Bot

log = logging.getLogger("rtcops.serve")


def _fail(line: str) -> NoReturn:
    click.echo(f"error: {line}", err=True)
    sys.exit(2)


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        _fail(f"invalid setting {'.'.join(map(str, first['loc']))}: {first['msg']}")


def configure_logging(settings: Settings) -> None:
    """RTCOPS_LOG_LEVEL and RTCOPS_LOG_FORMAT, with every secret of the settings kept out of every line."""
    from bot import logs

    logs.configure(settings.log_level, settings.log_format, secrets=logs.settings_secrets(settings))


async def _run(settings: Settings, host: str, port: int, socket_mode: bool) -> None:
    from bot import app as bot_app
    from bot.cli.db import database_problem
    from bot.config import MissingSetting
    from bot.store.engine import UnsupportedDatabase
    from bot.store.schema import SchemaNotCurrent

    try:
        bot = await bot_app.start(settings, socket_mode=socket_mode)
    except (SchemaNotCurrent, UnsupportedDatabase, bot_app.CannotStart, MissingSetting) as exc:
        _fail(str(exc))
    except Exception as exc:
        line = database_problem(exc)
        if line is None:
            raise
        click.echo(f"error: {line}", err=True)
        sys.exit(1)
    bot.start_loops()
    # Everything loaded so far lives as long as the process; freezing it keeps the collector from
    # rescanning it, which otherwise shows up as pauses in the acknowledgement latency.
    gc.collect()
    gc.freeze()
    stopping = asyncio.Event()
    try:
        with _on_stop_signals(stopping):
            if socket_mode:
                await _serve_socket(bot, host, port, stopping)
            else:
                await _serve_http(bot, host, port, stopping)
    finally:
        log.info("stopping: finishing acknowledged work, applies in flight and deliveries")
        await bot_app.stop(bot)


@contextlib.contextmanager
def _on_stop_signals(stopping: asyncio.Event) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, stopping.set)
    try:
        yield
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


def _uvicorn(app: Starlette, host: str, port: int) -> uvicorn.Server:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn without its signal handlers: `_run` owns SIGTERM and SIGINT (module docstring)."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    config = uvicorn.Config(
        app, host=host, port=port, lifespan="off", access_log=False, log_level="warning", timeout_graceful_shutdown=5
    )
    return Server(config)


async def _until_stopped(server: uvicorn.Server, stopping: asyncio.Event) -> None:
    serving = asyncio.ensure_future(server.serve())
    waiting = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({serving, waiting}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        server.should_exit = True
        await serving
        waiting.cancel()


async def _serve_http(bot: Bot, host: str, port: int, stopping: asyncio.Event) -> None:
    from bot.server import create_server

    app = create_server(
        bot.app,
        bot.health,
        ready=bot.readiness.check,
        refresh_metrics=bot.refresh_metrics,
        signing_secret=bot.settings.require("slack_signing_secret", "to verify requests"),
        provider_events=bot.provider_events,
    )
    log.info("rtcops listening on http://%s:%s/slack/events", host, port)
    await _until_stopped(_uvicorn(app, host, port), stopping)


async def _serve_socket(bot: Bot, host: str, port: int, stopping: asyncio.Event) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from bot.server import ops_app

    handler: Any = AsyncSocketModeHandler(bot.app, bot.settings.require("slack_app_token", "for Socket Mode (--socket)"))
    ops = _uvicorn(ops_app(bot.health, bot.readiness.check, bot.refresh_metrics), host, port)
    log.info("connecting to Slack in Socket Mode; /healthz, /readyz and /metrics on http://%s:%s", host, port)
    await handler.connect_async()
    try:
        await _until_stopped(ops, stopping)
    finally:
        await handler.close_async()  # no new events; what was acknowledged drains in bot_app.stop


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="interface to listen on")
@click.option(
    "--port", default=3000, show_default=True, type=click.IntRange(1, 65535),
    help="port: /slack/events, /healthz, /readyz, /metrics (with --socket: the last three)",
)  # fmt: skip
@click.option("--socket", "socket_mode", is_flag=True, help="Socket Mode: connect out to Slack with SLACK_APP_TOKEN")
def serve(host: str, port: int, socket_mode: bool) -> None:
    """Run the Slack bot: /slack/events over HTTP, or Socket Mode with --socket; /healthz, /readyz and /metrics
    either way."""
    settings = _settings()
    if not settings.oauth:
        settings.require("slack_bot_token", "to run `rtcops serve` (or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET)")
    if socket_mode:
        settings.require("slack_app_token", "for Socket Mode (`rtcops serve --socket`)")
    else:
        settings.require("slack_signing_secret", "to verify requests from Slack (`rtcops serve`)")
    configure_logging(settings)
    asyncio.run(_run(settings, host, port, socket_mode))
