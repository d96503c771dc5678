"""A bare HTTP/1.1 client that streams a request body while listening for the answer, for tests of how the bot
treats bodies it should not read.

httpx (like most clients) writes the whole body before reading anything, so against a server that refuses
early it only ever reports a broken connection. This client reads concurrently and stops sending as soon as
the status line arrives, as curl does, which is what lets a test see the 413 or 401 and count how much of the
body the server took before answering.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from urllib.parse import urlsplit

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Pushed:
    """What came of one request: the status (None if the connection ended before a status line arrived), the
    body bytes written before the answer or the end, and the error that ended the writing, if any."""

    status: int | None
    sent: int
    error: str | None


async def push(
    url: str,
    headers: dict[str, str],
    size: int,
    *,
    chunked: bool = False,
    fill: bytes = b"a",
    seconds: float = 60.0,
) -> Pushed:
    """POST `size` bytes of `fill` to `url` (with Content-Length, or chunked), stopping once answered."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    reader, writer = await asyncio.open_connection(host, port)
    head = [f"POST {parts.path or '/'} HTTP/1.1", f"Host: {host}:{port}"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}")
    sent = 0
    error: str | None = None

    async def send_body() -> None:
        nonlocal sent, error
        block = (fill * (CHUNK // len(fill) + 1))[:CHUNK]
        try:
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
            while sent < size:
                piece = block[: min(CHUNK, size - sent)]
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                await writer.drain()
                sent += len(piece)
            if chunked:
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except (ConnectionError, OSError) as exc:
            error = type(exc).__name__

    async def read_status() -> int | None:
        try:
            line = await reader.readline()
        except (ConnectionError, OSError):
            return None
        fields = line.split()
        return int(fields[1]) if len(fields) >= 2 and fields[1].isdigit() else None

    sending = asyncio.create_task(send_body())
    try:
        async with asyncio.timeout(seconds):
            status = await read_status()
    finally:
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()
    return Pushed(status, sent, error)
