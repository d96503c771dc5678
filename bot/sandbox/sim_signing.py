"""Server-side signature checks for the two simulators, written from providers.md §1.4 and §2.2, and the
signature TRTC puts on the event callbacks it sends (tencent_sim's module docstring gives the pages).

This is deliberately a second, independent implementation: it never imports bot/providers, so a bug in
the client's signer cannot hide behind the same bug here. It rebuilds the canonical request from what
actually arrived on the wire (method, path, query, headers, body bytes), not from what the client claims.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

VOLC_ALGORITHM = "HMAC-SHA256"
TC3_ALGORITHM = "TC3-HMAC-SHA256"

_AUTH_FIELDS = re.compile(r"\s*(Credential|SignedHeaders|Signature)=([^,\s]*)\s*")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def _auth_fields(value: str, algorithm: str) -> dict[str, str] | None:
    """Split `ALGO Credential=…, SignedHeaders=…, Signature=…` into its three fields, or None if malformed."""
    prefix = algorithm + " "
    if not value.startswith(prefix):
        return None
    fields: dict[str, str] = {}
    for part in value[len(prefix) :].split(","):
        match = _AUTH_FIELDS.fullmatch(part)
        if match is None or match.group(1) in fields:
            return None
        fields[match.group(1)] = match.group(2)
    if set(fields) != {"Credential", "SignedHeaders", "Signature"}:
        return None
    return fields


@dataclass(frozen=True)
class Authorization:
    """A parsed Authorization header; `scope` is everything after the key id in Credential."""

    key_id: str
    scope: tuple[str, ...]
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str, algorithm: str, scope_parts: int) -> Authorization | None:
    fields = _auth_fields(value, algorithm)
    if fields is None:
        return None
    credential = fields["Credential"].split("/")
    if len(credential) != scope_parts + 1 or not all(credential):
        return None
    signed = tuple(fields["SignedHeaders"].split(";"))
    if not all(signed) or list(signed) != sorted(set(signed)) or any(h != h.lower() for h in signed):
        return None
    if not re.fullmatch(r"[0-9a-f]{64}", fields["Signature"]):
        return None
    return Authorization(credential[0], tuple(credential[1:]), signed, fields["Signature"])


def canonical_headers(headers: dict[str, str], signed: tuple[str, ...]) -> str:
    """`name:value\\n` per signed header; `headers` has lowercase names. Missing headers raise KeyError."""
    return "".join(f"{name}:{headers[name]}\n" for name in signed)


# --- Volcengine -------------------------------------------------------------------------------------


def volc_canonical_query(pairs: list[tuple[str, str]]) -> str:
    """Keys sorted (duplicates keep their order), RFC 3986 unreserved characters left as they are."""
    ordered = sorted(pairs, key=lambda kv: kv[0])
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in ordered)


def volc_host(value: str) -> str:
    """The host as the signer saw it: default ports are dropped before signing."""
    host, sep, port = value.rpartition(":")
    if sep and port in {"80", "443"} and "]" not in port:
        return host
    return value


def volc_signature(
    *,
    secret_key: str,
    x_date: str,
    region: str,
    service: str,
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    signed_headers: tuple[str, ...],
    body_hash: str,
) -> str:
    canonical = "\n".join(
        [
            method,
            quote(path, safe="/"),
            volc_canonical_query(query),
            canonical_headers(headers, signed_headers),
            ";".join(signed_headers),
            body_hash,
        ]
    )
    date = x_date[:8]
    scope = f"{date}/{region}/{service}/request"
    string_to_sign = "\n".join([VOLC_ALGORITHM, x_date, scope, sha256_hex(canonical.encode("utf-8"))])
    key = secret_key.encode("utf-8")
    for part in (date, region, service, "request"):
        key = _hmac(key, part)
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def parse_x_date(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


# --- Tencent TC3 ------------------------------------------------------------------------------------


def tc3_date(timestamp: int) -> str:
    """The scope date is the UTC date of the timestamp, never the local one."""
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d")


def tc3_signature(
    *,
    secret_key: str,
    timestamp: int,
    service: str,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    signed_headers: tuple[str, ...],
    body: bytes,
) -> str:
    canonical = "\n".join(
        [
            method,
            path,
            query,
            canonical_headers(headers, signed_headers),
            ";".join(signed_headers),
            sha256_hex(body),
        ]
    )
    date = tc3_date(timestamp)
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join([TC3_ALGORITHM, str(timestamp), scope, sha256_hex(canonical.encode("utf-8"))])
    key = ("TC3" + secret_key).encode("utf-8")
    for part in (date, service, "tc3_request"):
        key = _hmac(key, part)
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def trtc_callback_sign(key: str, body: bytes) -> str:
    """The `Sign` header of a TRTC event callback: base64(HMAC-SHA256(key, the raw body bytes)), the key being
    the one configured for callbacks (trtc.io/document/54912 and /document/62717)."""
    return base64.b64encode(hmac.new(key.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def same_signature(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())
