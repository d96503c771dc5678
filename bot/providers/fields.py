"""Field constraints shared by the provider models.

Every refusal names the valid range in the provider's terms, because the person reading it is an operator
mid-broadcast who needs to know what to type instead, not which pydantic constraint failed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, AliasGenerator, ConfigDict
from pydantic.alias_generators import to_pascal

N = TypeVar("N", int, float)

_EXPLICIT_ALIASES = {
    "push_url": "PushURL",
    "code_n": "CodeN",
    "push_mixed_stream_to_cdn_task": "PushMixedStreamToCDNTask",
}


def _alias(name: str) -> str:
    return _EXPLICIT_ALIASES.get(name, to_pascal(name))


REQUEST_CONFIG = ConfigDict(
    alias_generator=AliasGenerator(alias=_alias),
    populate_by_name=True,
    extra="forbid",
    strict=True,
    frozen=True,
)
"""Requests: unknown names are refused (a typo would otherwise be dropped and the field reset) and no
coercion happens, so "15" is not quietly taken for 15."""

RESPONSE_CONFIG = ConfigDict(
    alias_generator=AliasGenerator(alias=_alias),
    populate_by_name=True,
    extra="ignore",
    frozen=True,
)
"""Responses: providers add fields over time; an unknown one must not break a running bot."""


def _fmt(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return f"{value:g}"


def in_range(lo: float, hi: float, *, lo_open: bool = False, unit: str = "") -> Callable[[N], N]:
    left = "(" if lo_open else "["
    suffix = f" {unit}" if unit else ""

    def check(value: N) -> N:
        if (value <= lo if lo_open else value < lo) or value > hi:
            raise ValueError(f"must be in {left}{_fmt(lo)}, {_fmt(hi)}]{suffix}, got {_fmt(value)}")
        return value

    return check


def one_of(choices: Collection[Any], meaning: str = "") -> Callable[[Any], Any]:
    listed = ", ".join(str(c) for c in choices)

    def check(value: Any) -> Any:
        if value not in choices:
            hint = f" ({meaning})" if meaning else ""
            raise ValueError(f"must be one of {listed}{hint}, got {value!r}")
        return value

    return check


def _even_in(lo: int, hi: int) -> Callable[[int], int]:
    def check(value: int) -> int:
        if value < lo or value > hi or value % 2:
            raise ValueError(f"must be an even number in [{lo}, {hi}], got {value}")
        return value

    return check


def _max_bytes(limit: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        if len(value.encode()) > limit:
            raise ValueError(f"must be at most {limit} bytes, got {len(value.encode())}")
        return value

    return check


def url_with_scheme(schemes: Collection[str], *, suffixes: Collection[str] = ()) -> Callable[[str], str]:
    listed = list(schemes)
    names = listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " or " + listed[-1]

    def check(value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme.lower() not in schemes or not parts.netloc or any(c.isspace() for c in value):
            raise ValueError(f"must be an {names} URL without spaces, got {value!r}")
        if suffixes and not parts.path.lower().endswith(tuple(suffixes)):
            raise ValueError(f"must point at a {'/'.join(suffixes)} file, got {value!r}")
        return value

    return check


_ID = re.compile(r"[a-zA-Z0-9_@\-.]{1,128}")


def _volc_id(value: str) -> str:
    if not _ID.fullmatch(value):
        raise ValueError(f"must be 1-128 characters of a-z A-Z 0-9 _ @ - . , got {value!r}")
    return value


_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")


def _color(value: str) -> str:
    if not _COLOR.fullmatch(value):
        raise ValueError(f"must be a colour as #RRGGBB, got {value!r}")
    return value


def _triple(lo: int, hi: int) -> Callable[[list[int]], list[int]]:
    def check(value: list[int]) -> list[int]:
        if len(value) != 3 or any(v < lo or v > hi for v in value):
            raise ValueError(f"must be three integers, each in [{lo}, {hi}], got {value}")
        return value

    return check


def _position(value: float) -> float:
    if value < 0 or value >= 1:
        raise ValueError(f"must be in [0, 1), got {_fmt(value)}")
    return value


def _nonblank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


VolcId = Annotated[str, AfterValidator(_volc_id)]
Color = Annotated[str, AfterValidator(_color)]
EvenSize = Annotated[int, AfterValidator(_even_in(2, 1920))]
Share = Annotated[float, AfterValidator(in_range(0, 1, lo_open=True))]
"""A share of the canvas in (0, 1]."""
Position = Annotated[float, AfterValidator(_position)]
"""A top-left corner as a share of the canvas, in [0, 1)."""
ImageUrl = Annotated[
    str, AfterValidator(_max_bytes(1024)), AfterValidator(url_with_scheme(("http", "https"), suffixes=(".jpg", ".jpeg", ".png")))
]
Url1024 = Annotated[str, AfterValidator(_max_bytes(1024)), AfterValidator(url_with_scheme(("http", "https")))]
Spatial3 = Annotated[list[int], AfterValidator(_triple(-100, 100))]
NonBlank = Annotated[str, AfterValidator(_nonblank)]
Int32 = Annotated[int, AfterValidator(in_range(0, 2**31 - 1))]
