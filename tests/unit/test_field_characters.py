"""Nothing typed into a URL or a provider id can ping, spoof or hide (issue 10): every request model that takes one
refuses Slack's link and mention syntax, bidi controls, zero-width and control characters, naming the character
by code point and name and saying where it is, and still takes the URLs and ids people really use.

Each field is reached through the model that sends it, so a model that stops using the shared rule fails here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from bot.providers.errors import validation_problems
from bot.providers.fields import URL_FORBIDDEN, char_name
from bot.providers.tencent_models import StartStreamIngest, TaskRef, UpdateStreamIngest
from bot.providers.volcengine_models import (
    Canvas,
    GetPushMixedStreamToCDNTask,
    Region,
    StartPushMixedStreamToCDN,
    Stream,
    UpdatePushMixedStreamToCDN,
)

VOLC_IDS = {"AppId": "app1", "RoomId": "room1", "TaskId": "task1"}
TENCENT_START = {
    "SdkAppId": 1400000001,
    "RoomId": "lobby",
    "RoomIdType": 0,
    "UserId": "ingest-lobby",
    "UserSig": "eJyrVgrxCdYrSy1SslIy0jNQ0gHzM1NS8kqgq",
    "StreamUrl": "https://media.example.com/loop.mp4",
}


@dataclass(frozen=True)
class Field:
    """One field of one request model: how to build a body around a value for it, and its path in messages."""

    path: str
    model: type[BaseModel]
    body: Callable[[str], dict[str, Any]]
    template: str
    """Where a hostile fragment goes: `{}` in an otherwise valid value."""


URL_FIELDS = [
    Field(
        "Layout.CustomLayout.Canvas.BackgroundImage",
        UpdatePushMixedStreamToCDN,
        lambda v: {**VOLC_IDS, "Layout": {"CustomLayout": {"Canvas": {"BackgroundImage": v}}}},
        "https://media.example.com/bg/{}/a.png",
    ),
    Field("BackgroundImage", Canvas, lambda v: {"BackgroundImage": v}, "https://media.example.com/bg/{}/a.png"),
    Field(
        "AlternateImage",
        Region,
        lambda v: {"StreamIndex": 0, "WidthProportion": 1, "HeightProportion": 1, "AlternateImage": v},
        "https://media.example.com/alt/{}/a.jpg",
    ),
    Field(
        "PushURL",
        StartPushMixedStreamToCDN,
        lambda v: {**VOLC_IDS, "PushURL": v},
        "rtmp://push.example.com/live/{}?auth_key=1700000000-0-0-abc",
    ),
    Field(
        "StreamUrl",
        UpdateStreamIngest,
        lambda v: {"SdkAppId": 1400000001, "TaskId": "t-1", "StreamUrl": v},
        "https://media.example.com/{}/loop.mp4",
    ),
    Field("StreamUrl", StartStreamIngest, lambda v: {**TENCENT_START, "StreamUrl": v}, "rtmp://live.example.com/app/{}"),
]

ID_FIELDS = [
    Field("TaskId", UpdateStreamIngest, lambda v: {"SdkAppId": 1400000001, "TaskId": v, "Volume": 50}, "task{}1"),
    Field("TaskId", TaskRef, lambda v: {"SdkAppId": 1400000001, "TaskId": v}, "task{}1"),
    Field("RoomId", StartStreamIngest, lambda v: {**TENCENT_START, "RoomId": v}, "lobby{}1"),
    Field("UserId", StartStreamIngest, lambda v: {**TENCENT_START, "UserId": v}, "ingest{}1"),
    Field("UserSig", StartStreamIngest, lambda v: {**TENCENT_START, "UserSig": v}, "eJyr{}Vgr"),
    Field("PrivateMapKey", StartStreamIngest, lambda v: {**TENCENT_START, "PrivateMapKey": v}, "key{}1"),
    Field(
        "TargetStreams.StreamList[0].UserId",
        UpdatePushMixedStreamToCDN,
        lambda v: {**VOLC_IDS, "IsUpdatePartialParam": True, "TargetStreams": {"StreamList": [{"UserId": v, "Index": 0}]}},
        "host{}1",
    ),
    Field("UserId", Stream, lambda v: {"UserId": v}, "guest{}2"),
    Field("UserId", GetPushMixedStreamToCDNTask, lambda v: {"AppId": "app1", "RoomId": "room1", "UserId": v}, "guest{}2"),
    Field(
        "TaskId", StartPushMixedStreamToCDN, lambda v: {**VOLC_IDS, "TaskId": v, "PushURL": "rtmp://p.example.com/l/s"}, "t{}1"
    ),
    Field("BusinessId", UpdatePushMixedStreamToCDN, lambda v: {**VOLC_IDS, "BusinessId": v}, "biz{}1"),
]

HOSTILE = {
    "Slack channel ping": "<!channel>",
    "Slack link whose text lies": "<https://phish.example.net|media.example.com/ok>",
    "right-to-left override": "\u202e",
    "zero-width space": "\u200b",
    "bell": "\u0007",
    "tab": "\t",
}
"""What each is refused for: its first character that no URL or id may hold."""


def refusal(field: Field, value: str) -> str:
    with pytest.raises(ValidationError) as info:
        field.model.model_validate(field.body(value))
    [problem] = [p for p in validation_problems(info.value) if p.startswith(field.path)]
    return problem


def first_refused(value: str, url: bool) -> tuple[int, str]:
    for position, char in enumerate(value, 1):
        hidden = unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs")
        if hidden or (url and (char.isspace() or char in URL_FORBIDDEN)):
            return position, char
    raise AssertionError(f"nothing in {value!r} is refused")


def check_named(problem: str, value: str, *, url: bool) -> None:
    position, char = first_refused(value, url)
    assert f"{char_name(char)} (character {position})" in problem, problem
    assert re.search(r"U\+[0-9A-F]{4} [A-Z]", problem), f"no code point and name in: {problem}"
    for shown in ("<!", "|", "\u202e", "\u200b", "\u0007", "\t"):
        assert shown not in problem, f"the message repeats {shown!r}: {problem!r}"


@pytest.mark.parametrize("kind", sorted(HOSTILE))
@pytest.mark.parametrize("field", URL_FIELDS, ids=lambda f: f"{f.model.__name__}.{f.path}")
def test_every_url_field_refuses_hostile_text_naming_the_character_and_where(field: Field, kind: str) -> None:
    value = field.template.format(HOSTILE[kind])
    check_named(refusal(field, value), value, url=True)


@pytest.mark.parametrize("field", URL_FIELDS, ids=lambda f: f"{f.model.__name__}.{f.path}")
def test_a_whole_slack_link_is_refused_as_a_url(field: Field) -> None:
    value = HOSTILE["Slack link whose text lies"]
    problem = refusal(field, value)
    assert "U+003C LESS-THAN SIGN (character 1)" in problem and "%3C" in problem, problem


INVISIBLE = ("right-to-left override", "zero-width space", "bell", "tab")
VOLC_FIXED_ALPHABET = [f for f in ID_FIELDS if f.path != "BusinessId" and f.model.__module__.endswith("volcengine_models")]


@pytest.mark.parametrize("kind", INVISIBLE)
@pytest.mark.parametrize("field", ID_FIELDS, ids=lambda f: f"{f.model.__name__}.{f.path}")
def test_every_id_field_refuses_invisible_characters_naming_them(field: Field, kind: str) -> None:
    value = field.template.format(HOSTILE[kind])
    check_named(refusal(field, value), value, url=False)


@pytest.mark.parametrize("kind", ["Slack channel ping", "Slack link whose text lies"])
@pytest.mark.parametrize("field", VOLC_FIXED_ALPHABET, ids=lambda f: f"{f.model.__name__}.{f.path}")
def test_volcengine_ids_name_the_first_character_outside_their_alphabet(field: Field, kind: str) -> None:
    value = field.template.format(HOSTILE[kind])
    problem = refusal(field, value)
    position = value.index("<") + 1
    assert f"1-128 characters of a-z A-Z 0-9 _ @ - .; U+003C LESS-THAN SIGN (character {position}) is not one" in problem
    assert "<!" not in problem and "|" not in problem


@pytest.mark.parametrize(
    "value",
    ["task<!channel>1", "room|1", "<b>"],
)
def test_tencent_free_text_ids_keep_visible_punctuation(value: str) -> None:
    """Tencent documents TaskId, RoomId and UserId only as strings; visible characters are the provider's to
    judge, and what Slack would make of them is handled where they are shown."""
    assert TaskRef.model_validate({"SdkAppId": 1, "TaskId": value}).task_id == value


ORDINARY_URLS = [
    "https://media.example.com/bg.png?token=a%20b&exp=1700000000&sig=x*y",
    "https://media.example.com:8443/path/to/bg.png",
    "https://[2001:db8::1]:8443/bg.png",
    "http://192.0.2.7/bg.jpeg",
    "https://cdn.example.com/%E7%9B%B4%E6%92%AD/bg.png",
    "https://cdn.example.com/a;b=1,2/!$'()*+~_-.png",
    "https://xn--r8jz45g.example/bg.png",
    "https://cdn.example.com/直播/背景.png",
    "https://cdn.example.com/bg.png#frag",
    "https://cdn.example.com/render?w=1280&h=720&fmt=png&sig=AbC%2F%2B%3D",
]
"""RFC 3986 allows all of these (the non-ASCII path is an IRI's, which the host rule leaves alone)."""


@pytest.mark.parametrize("url", ORDINARY_URLS)
def test_ordinary_image_urls_still_pass(url: str) -> None:
    assert Canvas.model_validate({"BackgroundImage": url}).background_image == url
    region = {"StreamIndex": 0, "WidthProportion": 1, "HeightProportion": 1, "AlternateImage": url}
    assert Region.model_validate(region).alternate_image == url


@pytest.mark.parametrize(
    "url",
    [
        "rtmp://push.example.com/live/s1?auth_key=1700000000-0-0-0a1b2c&txSecret=9f8e&txTime=65A0B1C2",
        "rtmp://push.example.com:1935/live/s1",
        "rtmp://[2001:db8::2]:1935/live/s1",
        "rtmp://203.0.113.9/live/a*b",
    ],
)
def test_ordinary_push_urls_still_pass(url: str) -> None:
    assert StartPushMixedStreamToCDN.model_validate({**VOLC_IDS, "PushURL": url}).push_url == url


@pytest.mark.parametrize(
    "url",
    [
        "https://media.example.com/vod/loop.mp4?sign=abc%3D%3D&t=1700000000",
        "https://media.example.com:8443/hls/index.m3u8",
        "http://[2001:db8::3]/live/stream.flv",
        "rtmp://live.example.com/app/stream?txSecret=a&txTime=b",
        "https://media.example.com/%E5%9B%9E%E6%94%BE.mp4",
    ],
)
def test_ordinary_stream_urls_still_pass(url: str) -> None:
    assert UpdateStreamIngest.model_validate({"SdkAppId": 1, "TaskId": "t", "StreamUrl": url}).stream_url == url


@pytest.mark.parametrize("value", ["1400000001-abc", "直播间", "a b", "x:y/z+=", "🎥"])
def test_ordinary_free_text_ids_still_pass(value: str) -> None:
    assert TaskRef.model_validate({"SdkAppId": 1, "TaskId": value}).task_id == value
    assert StartStreamIngest.model_validate({**TENCENT_START, "RoomId": value}).room_id == value


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://medіa.example.com/bg.png", "U+0456 CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I (character 12) in the host"),
        ("https://例え.jp/bg.png", "xn--r8jz45g.jp"),
    ],
)
def test_a_host_must_be_ascii_so_a_look_alike_letter_cannot_pass_for_another(url: str, expected: str) -> None:
    problem = refusal(URL_FIELDS[1], url)
    assert expected in problem, problem


@pytest.mark.parametrize(
    ("char", "name"),
    [
        ("\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("\u200b", "U+200B ZERO WIDTH SPACE"),
        ("\u0007", "U+0007 BELL"),
        ("\t", "U+0009 CHARACTER TABULATION"),
        ("\u2028", "U+2028 LINE SEPARATOR"),
        ("\u0001", "U+0001"),
    ],
)
def test_characters_are_named_by_code_point_and_unicode_name(char: str, name: str) -> None:
    assert char_name(char) == name


def test_a_room_id_of_type_1_takes_only_ascii_digits() -> None:
    """str.isdigit() also takes other scripts' digits; RoomIdType 1 is an integer room id."""
    with pytest.raises(ValidationError, match="RoomId must be an integer"):
        StartStreamIngest.model_validate({**TENCENT_START, "RoomIdType": 1, "RoomId": "١٢٣"})
    assert StartStreamIngest.model_validate({**TENCENT_START, "RoomIdType": 1, "RoomId": "123"}).room_id == "123"
