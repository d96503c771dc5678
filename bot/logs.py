"""Logging for `rtcops serve` and the CLI: one JSON object per line, or a readable line on a terminal, with the
context of the work in hand (team, user, channel, command or action, request id, change id, provider RequestId)
on every line, and no secret on any line.

**Why structlog as the formatter, and the standard library everywhere else.** Every module, Bolt, slack_sdk and
uvicorn already log through `logging`; structlog's `ProcessorFormatter` renders those records (ours and theirs)
as JSON, and `structlog.contextvars` carries the context across `await`s and into the tasks the backlog starts
(a task copies the context it was created in). So no call site changes, and the libraries' own lines come out
in the same shape. A hand-written JSON formatter would need its own context store and exception rendering.

**Secrets.** Two guards, both on every line:
- `BodyFilter` rewrites the lines in which Bolt quotes a whole request body (a refused signature, a request no
  listener took, a middleware that did not call next): a body carries the legacy verification token and the
  response_url, a capability to answer in the user's name. The request guard in `bot.server` has already
  logged the refusal in its own words.
- `Redactor` replaces, in every string of the event (message, extra fields, the formatted traceback), every
  configured secret value and anything shaped like a Slack token, a Slack response URL or an OAuth code. It
  runs before rendering, so a secret that JSON would escape is still found.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal

import structlog
from structlog.contextvars import bind_contextvars, bound_contextvars, unbind_contextvars
from structlog.types import EventDict, Processor, WrappedLogger

LogFormat = Literal["auto", "json", "text"]

CONTEXT_KEYS = ("team", "user", "channel", "command", "action", "request_id", "change_id", "provider_request_id")
"""What a line may carry about the work in hand; each one only where it exists."""

LIBRARIES = ("slack_bolt", "slack_sdk")
"""Follow RTCOPS_LOG_LEVEL, DEBUG included: their lines pass the same two guards as ours."""
QUIET = ("httpx", "httpcore", "aiohttp", "asyncio", "uvicorn.error", "aiosqlite")
"""Never below INFO: their DEBUG lines are transport chatter (bytes on the wire, each query), not operations."""

REDACTED = "[redacted]"
_TOKEN = re.compile(r"\bxox(?:[a-z]|e\.xox[a-z])?-[A-Za-z0-9-]+|\bxapp-[A-Za-z0-9-]+")
_RESPONSE_URL = re.compile(
    r"https?://[^\s'\"]+/(?:commands|actions)/[A-Z0-9]+/\d+/[A-Za-z0-9]+|https://hooks\.slack(?:-gov)?\.com/\S+"
)
"""A response_url (`https://hooks.slack.com/commands/T…/123…/secret`, on whatever host: GovSlack, a proxy)."""
_OAUTH_CODE = re.compile(r"\b\d{6,}\.\d{6,}\.[0-9a-f]{16,}\b")
"""Slack's OAuth codes (`<digits>.<digits>.<hex>`): single use and short-lived, still not for a log."""
_SECRET_FIELD = re.compile(
    r"""(['"]?\b(?:client_secret|access_token|refresh_token|bot_token|user_token|token|signing_secret|secret)['"]?\s*[:=]\s*['"]?)"""
    r"""[^'",}\s]{6,}"""
)
_BOLT_BODY_LINES = (
    ("Invalid request signature detected", "Bolt refused a request's signature (its body is not logged)"),
    ("without providing a response for the request", "a middleware ended a request without a response (its body is not logged)"),
    ("Unhandled request", "no listener took a request (its body is not logged)"),
)


class Redactor:
    """Replaces secret values, and anything shaped like one, in every string of a log event."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so that a secret containing another is replaced whole; short values (a 1-character
        # setting, say) would redact half of every line and protect nothing.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        value = _TOKEN.sub(REDACTED, value)
        value = _RESPONSE_URL.sub(REDACTED, value)
        value = _OAUTH_CODE.sub(REDACTED, value)
        return _SECRET_FIELD.sub(lambda m: m.group(1) + REDACTED, value)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        if isinstance(value, int | float | bool) or value is None:
            return value
        return self.text(str(value))

    def __call__(self, logger: WrappedLogger, name: str, event: EventDict) -> EventDict:
        return {key: self.value(v) for key, v in event.items()}


class BodyFilter(logging.Filter):
    """Rewrites the Bolt lines that quote a whole request body (see the module docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("slack_bolt"):
            return True
        message = record.getMessage()
        for marker, replacement in _BOLT_BODY_LINES:
            if marker in message:
                record.msg, record.args = replacement, None
                return True
        if "response_url" in message or "'token':" in message:
            record.msg, record.args = "a Bolt line that quoted a request body (left out)", None
        return True


def _rename(logger: WrappedLogger, name: str, event: EventDict) -> EventDict:
    """`event` reads `message` in the JSON lines; the level in lower case, as most log pipelines expect."""
    event["message"] = event.pop("event", "")
    return event


def _text_renderer(logger: WrappedLogger, name: str, event: EventDict) -> str:
    level = str(event.pop("level", "")).upper()
    head = f"{event.pop('timestamp', '')} {level} {event.pop('logger', '')} {event.pop('message', '')}"
    trace = event.pop("exception", None)
    tail = " ".join(f"{k}={v}" for k, v in event.items() if v is not None)
    line = f"{head} {tail}" if tail else head
    return f"{line}\n{trace}" if trace else line


def use_json(fmt: LogFormat, stream: Any = None) -> bool:
    """`auto` is text on a terminal and JSON anywhere else (a container's log collector, a file)."""
    if fmt == "auto":
        target = stream if stream is not None else sys.stderr
        return not (hasattr(target, "isatty") and target.isatty())
    return fmt == "json"


def configure(level: str = "INFO", fmt: LogFormat = "auto", *, secrets: Iterable[str] = (), stream: Any = None) -> None:
    """Replaces the root logger's handlers with one that writes `fmt` to `stream` (stderr by default)."""
    redactor = Redactor(secrets)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    json_mode = use_json(fmt, stream)
    final: list[Processor] = [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
        structlog.processors.format_exc_info,
        _rename,
        redactor,
        structlog.processors.JSONRenderer(default=str) if json_mode else _text_renderer,
    ]
    formatter = structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processors=final)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(BodyFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(root.level)
    for name in list(logging.root.manager.loggerDict):  # their children follow (Bolt sets its app logger's level)
        if name.startswith(tuple(f"{library}." for library in LIBRARIES)):
            logging.getLogger(name).setLevel(logging.NOTSET)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def bind(**values: Any) -> None:
    """Adds context to every later line of this task (and of the tasks it starts); None values are skipped."""
    bind_contextvars(**{k: v for k, v in values.items() if v is not None})


def unbind(*keys: str) -> None:
    unbind_contextvars(*keys)


@contextmanager
def bound(**values: Any) -> Iterator[None]:
    """Context for the lines written inside the block only."""
    with bound_contextvars(**{k: v for k, v in values.items() if v is not None}):
        yield


def settings_secrets(settings: Any) -> list[str]:
    """Every secret value in Settings (each SecretStr field), and each key of a comma-separated key list."""
    from pydantic import SecretStr

    found: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name, None)
        if isinstance(value, SecretStr):
            text = value.get_secret_value()
            found.append(text)
            found.extend(part.strip() for part in text.split(",") if part.strip())
            if "://" in text and "@" in text:  # a URL with a password: the password alone too
                userinfo = text.split("://", 1)[1].split("@", 1)[0]
                found.append(userinfo.partition(":")[2])
    return [s for s in found if s]
