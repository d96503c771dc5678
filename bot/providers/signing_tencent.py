"""Tencent Cloud "TC3-HMAC-SHA256" request signing (providers.md §2.2) as pure functions.

Pure so every retry is re-signed with a fresh X-TC-Timestamp and tests can pin the instant.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

ALGORITHM = "TC3-HMAC-SHA256"
SIGNED_HEADERS = "content-type;host"


@dataclass(frozen=True)
class TencentCredentials:
    secret_id: str
    secret_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.digest(key, msg.encode("utf-8"), "sha256")


@lru_cache(maxsize=16)
def _day(days_since_epoch: int) -> str:
    return datetime.fromtimestamp(days_since_epoch * 86400, UTC).strftime("%Y-%m-%d")


def utc_date(timestamp: int) -> str:
    """The scope date is the UTC day of the timestamp, whatever the local zone is."""
    return _day(timestamp // 86400)


@lru_cache(maxsize=64)
def _signing_key(secret_key: str, date: str, service: str) -> bytes:
    """Derived keys change once a day, so deriving them per request (three HMACs) is wasted work."""
    return _hmac(_hmac(_hmac(("TC3" + secret_key).encode("utf-8"), date), service), "tc3_request")


def tc3_signature(
    *,
    secret_key: str,
    timestamp: int,
    service: str,
    host: str,
    content_type: str,
    body: bytes,
    method: str = "POST",
    query: str = "",
) -> str:
    """Hex signature over the canonical request; only content-type and host are signed, as the SDKs do."""
    canonical = (
        f"{method}\n/\n{query}\ncontent-type:{content_type}\nhost:{host}\n\n{SIGNED_HEADERS}\n{hashlib.sha256(body).hexdigest()}"
    )
    date = utc_date(timestamp)
    to_sign = f"{ALGORITHM}\n{timestamp}\n{date}/{service}/tc3_request\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"
    return _hmac(_signing_key(secret_key, date, service), to_sign).hex()


def sign_tencent(
    *,
    host: str,
    body: bytes,
    credentials: TencentCredentials,
    action: str,
    version: str,
    region: str,
    timestamp: int,
    content_type: str = "application/json",
    service: str = "trtc",
    language: str | None = None,
) -> dict[str, str]:
    """Every header a TC3 request needs besides Host: X-TC-*, Content-Type and Authorization."""
    signature = tc3_signature(
        secret_key=credentials.secret_key,
        timestamp=timestamp,
        service=service,
        host=host,
        content_type=content_type,
        body=body,
    )
    scope = f"{utc_date(timestamp)}/{service}/tc3_request"
    headers = {
        "Content-Type": content_type,
        "X-TC-Action": action,
        "X-TC-Version": version,
        "X-TC-Timestamp": str(timestamp),
        "X-TC-Region": region,
        "Authorization": (
            f"{ALGORITHM} Credential={credentials.secret_id}/{scope}, SignedHeaders={SIGNED_HEADERS}, Signature={signature}"
        ),
    }
    if credentials.session_token:
        headers["X-TC-Token"] = credentials.session_token
    if language:
        headers["X-TC-Language"] = language
    return headers
