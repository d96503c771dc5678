"""Field constraints shared by the provider models.

Every refusal names the valid range in the provider's terms, because the person reading it is an operator
mid-broadcast who needs to know what to type instead, not which pydantic constraint failed.
"""

from __future__ import annotations

import re
import unicodedata
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


def _max_chars(limit: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        if len(value) > limit:
            raise ValueError(f"must be at most {limit} characters, got {len(value)}")
        return value

    return check


_HIDDEN = {
    "Cc": "a control character",
    "Cf": "an invisible format character (a bidi control or a zero-width character)",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
    "Cs": "a lone surrogate, not a character",
}
"""General categories refused in every URL and id: none of them can be seen, and bidi controls (U+202E) reorder
the text around them, so what the approver reads would not be what is sent."""

_CONTROL_NAMES = {
    0x00: "NULL",
    0x07: "BELL",
    0x08: "BACKSPACE",
    0x09: "CHARACTER TABULATION",
    0x0A: "LINE FEED",
    0x0B: "LINE TABULATION",
    0x0C: "FORM FEED",
    0x0D: "CARRIAGE RETURN",
    0x1B: "ESCAPE",
    0x7F: "DELETE",
    0x85: "NEXT LINE",
}
"""Unicode's aliases for the control characters one meets; unicodedata.name knows none of them."""

URL_FORBIDDEN = frozenset('<>"\\^`{|}')
"""The printable ASCII characters RFC 3986 allows nowhere in a URL (with the space). In Slack, `<` and `>` also
make links and mentions: `rtmp://h/live/<!channel>` would ping a channel wherever the URL is shown."""


def char_name(char: str) -> str:
    """`U+202E RIGHT-TO-LEFT OVERRIDE`: the code point and its Unicode name (or alias), never the character itself."""
    name = unicodedata.name(char, "") or _CONTROL_NAMES.get(ord(char), "")
    return f"U+{ord(char):04X} {name}".rstrip()


def _percent_encoded(char: str) -> str:
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))


def hidden_character(value: str) -> str | None:
    """The first control, format, line or paragraph separator or lone surrogate in `value`, named with its
    position (1-based) and what it is, e.g. `U+202E RIGHT-TO-LEFT OVERRIDE (character 7), an invisible format
    character (...)`; None when there is none. Callers say "must not contain" before it."""
    for position, char in enumerate(value, 1):
        category = unicodedata.category(char)
        if category in _HIDDEN:
            return f"{char_name(char)} (character {position}), {_HIDDEN[category]}"
    return None


def url_character(value: str) -> str | None:
    """Like hidden_character, for a URL: also any whitespace, the ASCII characters RFC 3986 never allows (percent-
    encode them instead), and a host that is not ASCII (an internationalised name is written in its xn-- form,
    so that a look-alike letter cannot pass for another host). Everything else RFC 3986 allows is kept, `%`, `&`,
    `*` and `[ ]` around an IPv6 host included, and so are non-ASCII letters in the path and query."""
    hidden = hidden_character(value)
    if hidden:
        return hidden
    for position, char in enumerate(value, 1):
        if char.isspace():
            return f"{char_name(char)} (character {position}): a URL has no spaces; percent-encode it as {_percent_encoded(char)}"
        if char in URL_FORBIDDEN:
            return (
                f"{char_name(char)} (character {position}), which RFC 3986 allows nowhere in a URL; "
                f"percent-encode it as {_percent_encoded(char)}"
            )
    _, sep, rest = value.partition("://")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0] if sep else ""
    host = authority.rpartition("@")[2]
    start = len(value) - len(rest) + len(authority) - len(host)
    for offset, char in enumerate(host):
        if not char.isascii():
            try:
                hint = f" (here {host.encode('idna').decode('ascii')})"
            except UnicodeError:
                hint = ""
            return (
                f"{char_name(char)} (character {start + offset + 1}) in the host: a host must be ASCII, so write an "
                f"internationalised name in its xn-- form{hint}"
            )
    return None


def no_hidden_characters(value: str) -> str:
    """Refuse an id with a character no one can see (hidden_character)."""
    problem = hidden_character(value)
    if problem:
        raise ValueError(f"must not contain {problem}")
    return value


def url_with_scheme(schemes: Collection[str]) -> Callable[[str], str]:
    listed = list(schemes)
    names = listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " or " + listed[-1]

    def check(value: str) -> str:
        problem = url_character(value)
        if problem:
            raise ValueError(f"must be an {names} URL, without {problem}")
        parts = urlsplit(value)
        if parts.scheme.lower() not in schemes or not parts.netloc:
            raise ValueError(f"must be an {names} URL (scheme://host/…), got {value!r}")
        return value

    return check


def path_extension(url: str) -> str:
    """The file extension of a URL's last path segment, lower-case and without the dot ('' when it has none).
    The query string and fragment never count: `bg?id=7.gif` has no extension."""
    segment = urlsplit(url).path.rsplit("/", 1)[-1]
    stem, dot, ext = segment.rpartition(".")
    return ext.lower() if dot and stem else ""


IMAGE_FORMATS = ("jpg", "jpeg", "png")
"""What Volcengine's Canvas.BackgroundImage and Region.AlternateImage take (Go SDK model.go, 2020-12-01)."""
OTHER_IMAGE_EXTENSIONS = frozenset({"gif", "webp", "bmp", "svg", "tif", "tiff", "heic", "heif", "avif", "ico"})
"""Extensions that name an image of another format. Only these are refused: a URL without one (a query
string, a CDN path, `.php`) may well serve a JPG or PNG, and only the service can tell (README, assumptions)."""


def _image_url(value: str) -> str:
    ext = path_extension(value)
    if ext in OTHER_IMAGE_EXTENSIONS:
        raise ValueError(f"must point at a JPG, JPEG or PNG image; .{ext} names another format, got {value!r}")
    return value


INT32_MAX = 2**31 - 1


def _int32_not_negative(value: int) -> int:
    """An int32 the provider documents no negative meaning for (Index, SequenceNumber): a negative one is
    valid JSON for the API, but what the service does with it is unknown, so it is refused, saying why."""
    if value > INT32_MAX:
        raise ValueError(f"must be in [0, {INT32_MAX}] (an int32), got {value}")
    if value < 0:
        raise ValueError(
            f"must be in [0, {INT32_MAX}]: the API types it int32, but what the service does with a negative "
            f"value is not documented, so rtcops does not send one; got {value}"
        )
    return value


_ID = re.compile(r"[a-zA-Z0-9_@\-.]{1,128}")
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@-.")


def _volc_id(value: str) -> str:
    if _ID.fullmatch(value):
        return value
    rule = "must be 1-128 characters of a-z A-Z 0-9 _ @ - ."
    if not 1 <= len(value) <= 128:
        raise ValueError(f"{rule}, got {len(value)} characters")
    position, char = next((i, c) for i, c in enumerate(value, 1) if c not in _ID_CHARS)
    raise ValueError(f"{rule}; {char_name(char)} (character {position}) is not one of them")


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


def _text_id(value: str) -> str:
    """A provider id that is free text (Tencent's TaskId, RoomId, UserId): anything visible goes, but not a
    character that hides itself, reorders the text around it or breaks the line it is shown on."""
    return no_hidden_characters(_nonblank(value))


VolcId = Annotated[str, AfterValidator(_volc_id)]
Color = Annotated[str, AfterValidator(_color)]
EvenSize = Annotated[int, AfterValidator(_even_in(2, 1920))]
Share = Annotated[float, AfterValidator(in_range(0, 1, lo_open=True))]
"""A share of the canvas in (0, 1]."""
Position = Annotated[float, AfterValidator(_position)]
"""A top-left corner as a share of the canvas, in [0, 1)."""
ImageUrl = Annotated[
    str, AfterValidator(url_with_scheme(("http", "https"))), AfterValidator(_max_bytes(1024)), AfterValidator(_image_url)
]
"""Canvas.BackgroundImage: at most 1024 bytes."""
ImageUrl1024Chars = Annotated[
    str, AfterValidator(url_with_scheme(("http", "https"))), AfterValidator(_max_chars(1024)), AfterValidator(_image_url)
]
"""Region.AlternateImage: at most 1024 characters (the SDK counts this one in characters)."""
Spatial3 = Annotated[list[int], AfterValidator(_triple(-100, 100))]
NonBlank = Annotated[str, AfterValidator(_nonblank)]
TextId = Annotated[str, AfterValidator(_text_id)]
"""A free-text provider id: not blank, and no control, format or separator character (hidden_character)."""
PlainText = Annotated[str, AfterValidator(no_hidden_characters)]
"""Free text sent to a provider that may be empty (Volcengine BusinessId, Tencent PrivateMapKey)."""
Int32 = Annotated[int, AfterValidator(_int32_not_negative)]
"""A non-negative int32; see _int32_not_negative for why negatives are refused."""
