"""Our Volcengine signer against the official SDK (volcengine.auth.SignerV4), byte for byte."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from volcengine.auth.SignerV4 import SignerV4
from volcengine.auth.SignParam import SignParam
from volcengine.Credentials import Credentials

from bot.providers.signing_volcengine import VolcengineCredentials, canonical_query, sign_volcengine

GOLDEN_BODY = b'{"AppId":"app1","RoomId":"room1","TaskId":"task1","Layout":{"LayoutMode":0}}'
GOLDEN_QUERY = {"Action": "UpdatePushMixedStreamToCDN", "Version": "2020-12-01"}


def sdk_sign(
    *,
    method: str,
    host: str,
    query: Mapping[str, str | Sequence[str]],
    body: bytes,
    content_type: str | None,
    ak: str,
    sk: str,
    token: str | None,
    region: str,
    when: datetime,
) -> dict[str, str]:
    param = SignParam()
    param.set_method(method)
    param.set_host(host)
    param.set_path("/")
    param.set_body(body)
    param.set_query(OrderedDict((k, list(v) if not isinstance(v, str) else v) for k, v in query.items()))
    headers: OrderedDict[str, str] = OrderedDict(Host=host)
    if content_type is not None:
        headers["Content-Type"] = content_type
    param.set_header_list(headers)
    param.set_date(when.astimezone(UTC))
    result = SignerV4.sign_only(param, Credentials(ak, sk, "rtc", region, token or ""))
    out = {
        "X-Date": result.xdate,
        "X-Content-Sha256": result.xContextSha256,
        "Authorization": result.authorization,
    }
    if token:
        out["X-Security-Token"] = result.xSecurityToken
    return out


def test_golden_vector() -> None:
    headers = sign_volcengine(
        method="POST",
        host="rtc.volcengineapi.com",
        query=GOLDEN_QUERY,
        body=GOLDEN_BODY,
        credentials=VolcengineCredentials("AKLTexampleAK", "exampleSecretKey=="),
        region="cn-north-1",
        when=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    assert headers["X-Date"] == "20240102T030405Z"
    assert headers["Authorization"] == (
        "HMAC-SHA256 Credential=AKLTexampleAK/20240102/cn-north-1/rtc/request, "
        "SignedHeaders=content-type;host;x-content-sha256;x-date, "
        "Signature=450ad9fb52ba8d2644e3a9d2ac1c66780e758da51e4d40b8890aac9944adb1f2"
    )
    assert "X-Security-Token" not in headers


def test_get_signs_without_content_type_and_token_is_signed() -> None:
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    creds = VolcengineCredentials("AK", "SK", session_token="sts-token")
    ours = sign_volcengine(
        method="GET",
        host="rtc.volcengineapi.com",
        query={"Action": "GetPushMixedStreamToCDNTask"},
        body=b"",
        credentials=creds,
        region="cn-north-1",
        when=when,
        content_type=None,
    )
    assert "SignedHeaders=host;x-content-sha256;x-date;x-security-token," in ours["Authorization"]
    assert ours == sdk_sign(
        method="GET",
        host="rtc.volcengineapi.com",
        query={"Action": "GetPushMixedStreamToCDNTask"},
        body=b"",
        content_type=None,
        ak="AK",
        sk="SK",
        token="sts-token",
        region="cn-north-1",
        when=when,
    )


def test_canonical_query_encoding() -> None:
    assert canonical_query({"b": "x y", "a": ["2", "1"], "c": "a+b/~*"}) == "a=2&a=1&b=x%20y&c=a%2Bb%2F~%2A"


def test_naive_datetime_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        sign_volcengine(
            method="POST",
            host="h",
            query={},
            body=b"",
            credentials=VolcengineCredentials("a", "b"),
            region="r",
            when=datetime(2024, 1, 1),
        )


def test_secret_not_in_repr() -> None:
    assert "hunter2" not in repr(VolcengineCredentials("AK", "hunter2", "tok-hunter2"))


_text = st.text(st.characters(codec="utf-8"), max_size=40)
_query_text = st.text(st.sampled_from(list("aZ09 -_.~!*'();:@&=+$,/?#[]%é中\t")) | st.characters(codec="utf-8"), max_size=20)
_midnight = st.builds(
    lambda day, sec, tz: (datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=day, seconds=sec)).astimezone(tz),
    st.integers(0, 5000),
    st.integers(-5, 5),
    st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-7, minutes=-30))]),
)
_any_time = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC))


@settings(max_examples=500, deadline=None)
@given(
    method=st.sampled_from(["POST", "GET"]),
    host=st.sampled_from(["rtc.volcengineapi.com", "127.0.0.1:8123", "open-ap-singapore-1.volcengineapi.com:443"]),
    query=st.dictionaries(_query_text, _query_text | st.lists(_query_text, min_size=1, max_size=3), max_size=5),
    body=st.binary(max_size=300) | _text.map(lambda s: s.encode("utf-8")),
    content_type=st.sampled_from([None, "application/json", "application/json; charset=utf-8"]),
    ak=st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=30),
    sk=_text,
    token=st.none() | _text,
    region=st.sampled_from(["cn-north-1", "ap-singapore-1"]) | st.text(min_size=1, max_size=15),
    when=_midnight | _any_time,
)
def test_matches_sdk(
    method: str,
    host: str,
    query: dict[str, str | list[str]],
    body: bytes,
    content_type: str | None,
    ak: str,
    sk: str,
    token: str | None,
    region: str,
    when: datetime,
) -> None:
    if method == "GET":
        content_type = None
    ours = sign_volcengine(
        method=method,
        host=host,
        query=query,
        body=body,
        credentials=VolcengineCredentials(ak, sk, token),
        region=region,
        when=when,
        content_type=content_type,
    )
    theirs = sdk_sign(
        method=method,
        host=host,
        query=query,
        body=body,
        content_type=content_type,
        ak=ak,
        sk=sk,
        token=token,
        region=region,
        when=when,
    )
    assert ours == theirs
