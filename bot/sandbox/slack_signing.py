"""The sending side of Slack's request signing, for tests and benchmarks that must talk to the bot
exactly as Slack does (v0 HMAC-SHA256 over "v0:<timestamp>:<body>").

Written from Slack's published scheme, not from slack_sdk, so a bug in one side cannot hide in both.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode


def signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, *, timestamp: int | None = None, retry_num: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature(secret, ts, body),
    }
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return headers


def command_body(fields: dict[str, str]) -> bytes:
    """A slash command as Slack posts it: form fields."""
    return urlencode(fields).encode()


def interaction_body(payload: dict[str, Any]) -> bytes:
    """An interactivity request as Slack posts it: one form field, payload=<JSON>."""
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()
