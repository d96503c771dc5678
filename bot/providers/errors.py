"""Typed failures of provider calls.

Operators paste the provider's code and RequestId into support tickets, so both are kept verbatim and
shown as they came; `retryable` is decided once, from the tables in providers.md, by the client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import ValidationError

Provider = Literal["volcengine", "tencent"]


@dataclass(eq=False)
class ProviderError(Exception):
    provider: Provider
    action: str
    code: str
    message: str
    request_id: str | None = None
    http_status: int | None = None
    retryable: bool = False
    may_have_acted: bool = False
    """This answer, or an earlier attempt of the same call, leaves open whether the provider acted (a
    timeout, a lost connection, a 5xx after sending). Set by the retry loop, read by the targets: such a
    failure is never reported as "nothing changed"."""

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        rid = self.request_id or "none"
        status = f", HTTP {self.http_status}" if self.http_status is not None else ""
        return f"{self.provider} {self.action} failed: {self.code}: {self.message} (RequestId {rid}{status})"


class InvalidRequest(ValueError):
    """Our own validation refused a request before anything was sent; `problems` are field-path lines."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def field_path(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic location as the provider's own JSON path, e.g. Layout.CustomLayout.Regions[1].Alpha."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(("function-", "model-")) or part in {"json-or-python[json=", "list", "tagged-union"}:
            continue
        else:
            out += ("." if out else "") + part
    return out or "(body)"


def validation_problems(exc: ValidationError) -> list[str]:
    """One readable line per problem: the field path, then why; pydantic's boilerplate prefixes are dropped."""
    lines: list[str] = []
    for err in exc.errors(include_url=False):
        msg = str(err["msg"])
        for prefix in ("Value error, ", "Assertion failed, "):
            if msg.startswith(prefix):
                msg = msg[len(prefix) :]
        if err["type"] == "extra_forbidden":
            msg = "is not a field this action accepts"
        elif err["type"] == "missing":
            msg = "is required"
        loc = tuple(err["loc"])
        lines.append(f"{field_path(loc)}: {msg}" if field_path(loc) != "(body)" else msg)
    return lines
