"""The ASGI application `rtcops serve` runs: Slack traffic at /slack/events, the install flow at /slack/install
and /slack/oauth_redirect (several workspaces), and for operations /healthz (liveness), /readyz (readiness,
`bot.readiness`) and /metrics (Prometheus, `bot.metrics`). `ops_app` serves the last three alone, beside a
Socket Mode connection.

/slack/events is open to the internet, so nothing an unauthenticated sender controls is parsed, buffered past
a bound, or logged. Each request is checked in this order, and the first failure answers at once:

1. **Signature headers** (401): exactly one `X-Slack-Signature` of the form `v0=<64 hex>` and one
   `X-Slack-Request-Timestamp` of decimal digits within `REPLAY_WINDOW_SECONDS` of now. Checked before a byte of
   the body is read, so a request without them costs nothing whatever it claims to carry.
2. **Size** (413): a `Content-Length` above `MAX_BODY_BYTES` is refused without reading the body; a chunked body
   is read until it passes the cap and refused there. Memory per request is bounded by the cap.
3. **Signature** (401): HMAC-SHA256 of `v0:<timestamp>:<raw body bytes>` compared in constant time. It is computed
   on the raw bytes, so a body that is not even UTF-8 is still judged by its signature, not by a decode error.
   slack_sdk's SignatureVerifier is not used for this first check because it is not total over what a sender
   can send: it raises on a timestamp that is not a number (ValueError), a body that is not UTF-8
   (UnicodeDecodeError) and a signature header with a non-ASCII character (TypeError), each a 500.
4. **Form** (400): a signed body must be UTF-8 and read by Bolt as a JSON object; a sender holding the secret
   who sends something else gets 400, not a traceback and a 500.

Only then does Bolt see the request. Bolt's own signature middleware stays on (`bot.app.build_bolt`): a second,
independent implementation (slack_sdk's SignatureVerifier) of the same check, so a bug in either one alone does
not open the endpoint. Every refusal closes the connection (the rest of an unread body is never drained) and
writes one log line naming the reason, never the body or a header value.

`POST /providers/<name>/events` takes what a provider pushes (TRTC's stream-ingest callbacks): the body is read
up to EVENTS_MAX_BODY_BYTES (413 past it), then handed whole to `provider_events`, which verifies the provider's
own signature on the raw bytes and refuses forgeries and replays with 401 (`bot.services.watch.receive`). The
same rules hold: one log line per refusal naming the reason, never the body or a header value.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler, to_async_bolt_request, to_starlette_response
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from bot import logs, metrics

log = logging.getLogger("rtcops.server")

HealthCheck = Callable[[], Awaitable[str | None]]
"""Returns None when healthy, else a short reason (never a secret)."""
ProviderEvents = Callable[[str, Mapping[str, Sequence[str]], bytes], Awaitable[tuple[int, str]]]
"""(provider name, headers by lower-case name, raw body) -> (HTTP status, a reason for the log)."""

EVENTS_MAX_BODY_BYTES = 64 * 1024
"""A TRTC callback is a few hundred bytes; nothing a provider pushes to us comes near this."""
_PROVIDER_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
ReadyCheck = Callable[[], Awaitable[dict[str, str | None]]]
"""Each part and its problem (None when ready); see bot.readiness."""
MetricsRefresh = Callable[[], Awaitable[None]]
"""Sets the gauges read from the database, before /metrics answers."""

MAX_BODY_BYTES = 1024 * 1024
"""1 MiB. Slack documents no largest request; its largest are interactivity payloads, form-encoded as
`payload=<JSON>`, that carry a whole message (at most 50 blocks of at most 3,000 characters) and a whole modal
(at most 100 blocks). Both at those limits, in English, come to about 0.5 MiB
(tests/unit/test_server_guard.py builds it); rtcops' own messages and editors are far smaller. Text that is
mostly non-ASCII costs up to 9 bytes a character once percent-encoded, so a modal filled to the limits in,
say, Chinese would not fit; rtcops builds no such thing. The cap bounds what an unauthenticated sender can
make the server hold before the signature can be checked: at most this much per open request."""

REPLAY_WINDOW_SECONDS = 300
"""Slack's recommendation: a request signed more than five minutes from now is refused as a possible replay."""

LINGER_SECONDS = 0.5
"""How long a refusal sent before the body was read keeps the connection open before closing it (see
RefusalResponse)."""

_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
"""ASCII digits only: int() alone would also take ' 1', '1_0' and other digits than 0-9."""


class Refused(Exception):
    """A request refused before Bolt sees it: the HTTP status and a reason fit for the log (it names no value
    the sender chose)."""

    def __init__(self, status: int, reason: str, *, body_read: bool = True) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.body_read = body_read


@dataclass(frozen=True)
class SlackSignature:
    """Slack's v0 request signature, checked on the raw bytes. `clock` is for tests of the replay window."""

    secret: str
    window_seconds: int = REPLAY_WINDOW_SECONDS
    clock: Callable[[], float] = field(default=time.time)

    def check_headers(self, headers: Headers) -> tuple[str, str]:
        """The timestamp and signature, or Refused(401) if either is missing, repeated, malformed or stale."""
        timestamps = headers.getlist("x-slack-request-timestamp")
        signatures = headers.getlist("x-slack-signature")
        if not timestamps or not signatures:
            raise Refused(401, "unsigned: no X-Slack-Request-Timestamp or X-Slack-Signature header", body_read=False)
        if len(timestamps) > 1 or len(signatures) > 1:
            raise Refused(401, "X-Slack-Request-Timestamp or X-Slack-Signature given more than once", body_read=False)
        timestamp, signature = timestamps[0], signatures[0]
        if not _TIMESTAMP.fullmatch(timestamp):
            raise Refused(401, "X-Slack-Request-Timestamp is not a whole number of seconds", body_read=False)
        if not _SIGNATURE.fullmatch(signature):
            raise Refused(401, "X-Slack-Signature is not of the form v0=<64 hex digits>", body_read=False)
        skew = abs(self.clock() - int(timestamp))
        if skew > self.window_seconds:
            raise Refused(
                401, f"timestamp is {skew:.0f} s from now, outside the {self.window_seconds} s replay window", body_read=False
            )
        return timestamp, signature

    def check_body(self, timestamp: str, signature: str, body: bytes) -> None:
        """Refused(401) unless `signature` is the HMAC of this exact body under the secret."""
        base = b"v0:" + timestamp.encode("ascii") + b":" + body
        expected = "v0=" + hmac.new(self.secret.encode(), base, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii")):
            raise Refused(401, "signature does not match the body")


async def read_capped(request: Request, limit: int) -> bytes:
    """The whole body, or Refused(413) as soon as it is known to be longer than `limit`: from Content-Length
    before anything is read, or, for a chunked body, on the chunk that passes the cap."""
    lengths = request.headers.getlist("content-length")
    if lengths:
        if len(lengths) > 1 or not lengths[0].isascii() or not lengths[0].isdigit():
            raise Refused(400, "Content-Length is not one decimal number", body_read=False)
        if int(lengths[0]) > limit:
            raise Refused(413, f"body of {int(lengths[0])} bytes is over the {limit}-byte limit", body_read=False)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refused(413, f"body passed the {limit}-byte limit", body_read=False)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_for_bolt(request: Request, body: bytes) -> AsyncBoltRequest:
    """Bolt's request, or Refused(400) if the signed body is not a Slack request Bolt can read. Bolt parses in
    the constructor (form, `payload=<JSON>` or JSON, then the team, user and enterprise fields), so any
    exception raised there is about the body; its type is logged, never its text, which may quote the body."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "signed body is not UTF-8") from None
    try:
        bolt_request = to_async_bolt_request(request, body)
    except Exception as exc:
        raise Refused(400, f"signed body is not a Slack request ({type(exc).__name__} while parsing)") from None
    if not isinstance(bolt_request.body, dict):
        raise Refused(400, "signed body is not a JSON object")
    return bolt_request


_WORDS = {400: "bad request", 401: "invalid request", 404: "not found", 413: "request too large", 500: "server error"}


class RefusalResponse(JSONResponse):
    """A refusal that closes the connection without reading what is left of the body, yet reaches the sender.

    Closing a socket with unread data in it makes the kernel send a reset at once, and a client still sending
    then loses the response it had not read yet. So the refusal is written in full but finished only
    `linger` seconds later: meanwhile the client can read it (curl and the test clients stop sending when a
    final answer arrives), and the server reads nothing (uvicorn stops reading once 64 KiB wait unread), so
    the wait costs a connection for half a second, not memory. Go's net/http does the same
    (rstAvoidanceDelay)."""

    def __init__(self, status: int, *, linger: float) -> None:
        super().__init__({"error": _WORDS[status]}, status_code=status, headers={"Connection": "close"})
        self.linger = linger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        if self.linger <= 0:
            await send({"type": "http.response.body", "body": self.body})
            return
        await send({"type": "http.response.body", "body": self.body, "more_body": True})
        await asyncio.sleep(self.linger)
        await send({"type": "http.response.body", "body": b""})


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


def create_server(
    bolt_app: AsyncApp,
    health: HealthCheck | None = None,
    *,
    ready: ReadyCheck | None = None,
    refresh_metrics: MetricsRefresh | None = None,
    signing_secret: str | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    linger_seconds: float = LINGER_SECONDS,
    provider_events: ProviderEvents | None = None,
) -> Starlette:
    """The ASGI app. `signing_secret` defaults to the one the Bolt app was built with; there is no way to
    serve /slack/events without one (ValueError), so a wiring mistake cannot open the endpoint. Without
    `provider_events`, /providers/<name>/events answers 404."""
    secret = signing_secret if signing_secret is not None else _bolt_signing_secret(bolt_app)
    if not secret:
        raise ValueError("create_server needs the Slack signing secret to verify requests at /slack/events")
    signature = SlackSignature(secret)

    async def events(request: Request) -> Response:
        with logs.bound(request_id=uuid.uuid4().hex[:16]):
            try:
                timestamp, sig = signature.check_headers(request.headers)
                body = await read_capped(request, max_body_bytes)
                signature.check_body(timestamp, sig, body)
                bolt_request = parse_for_bolt(request, body)
            except Refused as refused:
                metrics.SLACK_REQUESTS.labels("unknown", "refused").inc()
                log.warning("refused a request from %s: %s (HTTP %d)", _client(request), refused.reason, refused.status)
                return RefusalResponse(refused.status, linger=0 if refused.body_read else linger_seconds)
            except ClientDisconnect:
                metrics.SLACK_REQUESTS.labels("unknown", "refused").inc()
                log.info("a request from %s was abandoned by its sender before its body ended", _client(request))
                return RefusalResponse(400, linger=0)
            return to_starlette_response(await bolt_app.async_dispatch(bolt_request))

    async def events_from_provider(request: Request) -> Response:
        name = request.path_params["provider"]
        if provider_events is None or not _PROVIDER_NAME.fullmatch(name):
            return RefusalResponse(404, linger=0)
        try:
            body = await read_capped(request, EVENTS_MAX_BODY_BYTES)
        except Refused as refused:
            log.warning("refused %s events from %s: %s (HTTP %d)", name, _client(request), refused.reason, refused.status)
            return RefusalResponse(refused.status, linger=0 if refused.body_read else linger_seconds)
        except ClientDisconnect:
            return RefusalResponse(400, linger=0)
        headers = {key: request.headers.getlist(key) for key in request.headers}
        try:
            status, reason = await provider_events(name, headers, body)
        except Exception:
            log.exception("%s events from %s could not be applied; the provider retries", name, _client(request))
            return RefusalResponse(500, linger=0)
        if status != 200:
            log.warning("refused %s events from %s: %s (HTTP %d)", name, _client(request), reason, status)
            return RefusalResponse(status if status in _WORDS else 400, linger=0)
        log.info("%s events from %s: %s", name, _client(request), reason)
        return JSONResponse({"ok": True})

    routes = [
        Route("/slack/events", events, methods=["POST"]),
        Route("/providers/{provider}/events", events_from_provider, methods=["POST"]),
        *ops_routes(health, ready, refresh_metrics),
    ]
    flow = bolt_app.oauth_flow
    if flow is not None:  # several workspaces: Bolt's install flow (state cookie, oauth.v2.access, the store)
        handler = AsyncSlackRequestHandler(bolt_app)

        async def oauth(request: Request) -> Response:
            return await handler.handle(request)

        routes += [Route(flow.install_path, oauth, methods=["GET"]), Route(flow.redirect_uri_path, oauth, methods=["GET"])]
    return Starlette(routes=routes)


def ops_routes(
    health: HealthCheck | None, ready: ReadyCheck | None, refresh_metrics: MetricsRefresh | None
) -> list[Route]:
    """/healthz (alive: answers, and the database does), /readyz (every part named, 503 if one fails) and
    /metrics: the same in HTTP and Socket Mode."""

    async def healthz(request: Request) -> Response:
        problem = await health() if health is not None else None
        if problem is not None:
            return JSONResponse({"ok": False, "error": problem}, status_code=503)
        return JSONResponse({"ok": True})

    async def readyz(request: Request) -> Response:
        parts = await ready() if ready is not None else {}
        failing = {name: problem for name, problem in parts.items() if problem is not None}
        body = {"ok": not failing, "failing": sorted(failing), "checks": {n: p or "ok" for n, p in parts.items()}}
        if failing:
            log.warning("not ready: %s", "; ".join(f"{n}: {p}" for n, p in failing.items()))
        return JSONResponse(body, status_code=503 if failing else 200)

    async def metrics_page(request: Request) -> Response:
        if refresh_metrics is not None:
            try:
                await refresh_metrics()
            except Exception as exc:  # the counters are still worth scraping; the gauges keep their last values
                log.warning("metrics from the database could not be read (%s)", type(exc).__name__)
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_page, methods=["GET"]),
    ]


def ops_app(health: HealthCheck | None, ready: ReadyCheck | None, refresh_metrics: MetricsRefresh | None) -> Starlette:
    """/healthz, /readyz and /metrics alone: what runs beside a Socket Mode connection."""
    return Starlette(routes=ops_routes(health, ready, refresh_metrics))


def _bolt_signing_secret(bolt_app: AsyncApp) -> str:
    """The secret the Bolt app verifies with. Bolt keeps it in a private attribute; if a Bolt release renames
    it, this returns '' and create_server refuses to start rather than serve unverified (pass signing_secret)."""
    value = getattr(bolt_app, "_signing_secret", "")
    return value if isinstance(value, str) else ""
