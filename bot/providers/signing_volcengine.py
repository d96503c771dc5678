"""Volcengine "HMAC-SHA256" request signing (providers.md §1.4) as a pure function.

Pure so the client can re-sign every retry attempt with a fresh X-Date, and so tests can compare it
byte for byte with the official SDK at a fixed instant.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import quote

ALGORITHM = "HMAC-SHA256"
_UNRESERVED = "-_.~"


@dataclass(frozen=True)
class VolcengineCredentials:
    access_key: str
    secret_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.digest(key, msg.encode("utf-8"), "sha256")


@lru_cache(maxsize=64)
def _signing_key(secret_key: str, day: str, region: str, service: str) -> bytes:
    """Derived keys change once a day, so deriving them per request (four HMACs) is wasted work."""
    key = _hmac(secret_key.encode("utf-8"), day)
    for part in (region, service, "request"):
        key = _hmac(key, part)
    return key


def canonical_query(query: Mapping[str, str | Sequence[str]]) -> str:
    """Sorted keys; repeated keys keep their given order; only A-Za-z0-9-_.~ stay unescaped (space is %20)."""
    parts: list[str] = []
    for key in sorted(query):
        value = query[key]
        values = [value] if isinstance(value, str) else list(value)
        qkey = quote(key, safe=_UNRESERVED)
        parts.extend(f"{qkey}={quote(v, safe=_UNRESERVED)}" for v in values)
    return "&".join(parts)


def _signed_host(host: str) -> str:
    # Default ports are not part of the Host the server sees, so they are not signed either.
    name, sep, port = host.partition(":")
    return name if sep and port in ("80", "443") else host


def sign_volcengine(
    *,
    method: str,
    host: str,
    query: Mapping[str, str | Sequence[str]],
    body: bytes,
    credentials: VolcengineCredentials,
    region: str,
    when: datetime,
    content_type: str | None = "application/json",
    service: str = "rtc",
) -> dict[str, str]:
    """Headers that authenticate one request: X-Date, X-Content-Sha256, Authorization (+ X-Security-Token)."""
    if when.tzinfo is None:
        raise ValueError("when must be timezone-aware")
    t = when.astimezone(UTC)
    x_date = f"{t.year:04d}{t.month:02d}{t.day:02d}T{t.hour:02d}{t.minute:02d}{t.second:02d}Z"
    day = x_date[:8]
    body_hash = hashlib.sha256(body).hexdigest()

    signed: dict[str, str] = {"host": _signed_host(host), "x-content-sha256": body_hash, "x-date": x_date}
    if content_type is not None:
        signed["content-type"] = content_type
    if credentials.session_token:
        signed["x-security-token"] = credentials.session_token
    names = sorted(signed)
    signed_headers = ";".join(names)
    header_block = "".join(f"{n}:{signed[n]}\n" for n in names)
    canonical = "\n".join([method.upper(), "/", canonical_query(query), header_block, signed_headers, body_hash])

    scope = f"{day}/{region}/{service}/request"
    to_sign = "\n".join([ALGORITHM, x_date, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    key = _signing_key(credentials.secret_key, day, region, service)
    signature = _hmac(key, to_sign).hex()

    headers = {
        "X-Date": x_date,
        "X-Content-Sha256": body_hash,
        "Authorization": (
            f"{ALGORITHM} Credential={credentials.access_key}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
        ),
    }
    if credentials.session_token:
        headers["X-Security-Token"] = credentials.session_token
    return headers
