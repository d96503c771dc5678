"""Serve ASGI apps on loopback with uvicorn, for tests, benchmarks and `rtcops sandbox providers`.

Tests need real HTTP (real sockets, real timeouts) without owning the process's signal handling, so
the server never installs signal handlers: whoever starts it decides when it stops. The socket is bound
before the server starts, so port 0 yields a known URL at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Any

import uvicorn


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening-ready TCP socket; raises OSError (e.g. port in use) before any thread starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP: asyncio only sets TCP_NODELAY on accepted sockets that say so, and without it
    # Nagle plus delayed ACKs add ~40 ms to every kept-alive request.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        # listening from here on: a client told the port before the server's loop starts is queued, not refused
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _server(app: Any, graceful_seconds: float) -> _Server:
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=max(1, round(graceful_seconds)),
    )
    return _Server(config)


class BackgroundServer:
    """One app served from a daemon thread with its own event loop; use it as a context manager.

    A separate loop keeps slow simulated calls (timeouts, latency faults) from blocking the test's loop.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, graceful_seconds: float = 1.0) -> None:
        self._sock = bind(host, port)
        self.url = _url(self._sock)
        self.port: int = self._sock.getsockname()[1]
        self._server = _server(app, graceful_seconds)
        self._thread = threading.Thread(target=self._run, name=f"sandbox-{self.port}", daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # reported by start()
            self._error = exc

    def start(self, timeout: float = 10.0) -> str:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"sandbox server on {self.url} did not start: {self._error!r}")
            time.sleep(0.01)
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> BackgroundServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


@contextlib.asynccontextmanager
async def serve_in_loop(app: Any, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve from the caller's event loop (for async tests that want one loop); yields the base URL."""
    sock = bind(host, port)
    server = _server(app, 1.0)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("sandbox server stopped during start-up")
            await asyncio.sleep(0.01)
        yield _url(sock)
    finally:
        server.should_exit = True
        await task
        sock.close()
