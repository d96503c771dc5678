"""Our TC3-HMAC-SHA256 signer against the official SDK's own signing function, byte for byte."""

from __future__ import annotations

import json
import time

from hypothesis import given, settings
from hypothesis import strategies as st
from tencentcloud.common.abstract_client_async import AbstractClient

from bot.providers.signing_tencent import TencentCredentials, sign_tencent, tc3_signature


def sdk_signature(*, secret: str, timestamp: int, service: str, host: str, content_type: str, body: bytes) -> str:
    headers = {"Content-Type": content_type, "Host": host, "X-TC-Timestamp": str(timestamp)}
    date = time.strftime("%Y-%m-%d", time.gmtime(timestamp))
    return str(AbstractClient._get_tc3_signature("POST", "/", "", body, headers, date, service, secret, {}))


def test_golden_intl_update() -> None:
    body = json.dumps(
        {
            "SdkAppId": 1400000000,
            "TaskId": "task-abc",
            "StreamUrl": "https://example.com/a.mp4",
            "Volume": 80,
            "IsPause": False,
        }
    ).encode()
    headers = sign_tencent(
        host="trtc.intl.tencentcloudapi.com",
        body=body,
        credentials=TencentCredentials("AKIDEXAMPLE", "SECRETKEYEXAMPLE"),
        action="UpdateStreamIngest",
        version="2019-07-22",
        region="ap-singapore",
        timestamp=1700000000,
    )
    assert headers["Authorization"] == (
        "TC3-HMAC-SHA256 Credential=AKIDEXAMPLE/2023-11-14/trtc/tc3_request, "
        "SignedHeaders=content-type;host, "
        "Signature=851047e4cd86489a5a3e19b288a8c6857345ecbbc649a345ced839ff056794bc"
    )
    assert headers["X-TC-Timestamp"] == "1700000000"
    assert headers["X-TC-Action"] == "UpdateStreamIngest"
    assert "X-TC-Token" not in headers


def test_golden_tencent_documented_example() -> None:
    body = json.dumps({"Limit": 1, "Filters": [{"Values": ["未命名"], "Name": "instance-name"}]}).encode()
    assert (
        tc3_signature(
            secret_key="Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
            timestamp=1551113065,
            service="cvm",
            host="cvm.tencentcloudapi.com",
            content_type="application/json; charset=utf-8",
            body=body,
        )
        == "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    )


def test_token_and_language_headers() -> None:
    headers = sign_tencent(
        host="h",
        body=b"{}",
        credentials=TencentCredentials("id", "key", "tok"),
        action="A",
        version="v",
        region="ap-tokyo",
        timestamp=1,
        language="en-US",
    )
    assert headers["X-TC-Token"] == "tok"
    assert headers["X-TC-Language"] == "en-US"
    assert "key" not in repr(TencentCredentials("id", "key-secret", "tok-secret")).replace("secret_key", "")


_text = st.text(st.characters(codec="utf-8"), max_size=40)
_near_midnight = st.builds(lambda d, s: d * 86400 + s, st.integers(0, 40000), st.integers(-5, 5)).filter(lambda t: t >= 0)


@settings(max_examples=500, deadline=None)
@given(
    secret=_text,
    timestamp=_near_midnight | st.integers(0, 4_000_000_000),
    service=st.sampled_from(["trtc", "cvm"]),
    host=st.sampled_from(["trtc.intl.tencentcloudapi.com", "trtc.tencentcloudapi.com", "127.0.0.1:40123"]),
    content_type=st.sampled_from(["application/json", "application/json; charset=utf-8"]),
    body=st.binary(max_size=300)
    | _text.map(lambda s: s.encode("utf-8"))
    | st.dictionaries(_text, _text | st.integers() | st.booleans(), max_size=5).map(
        lambda d: json.dumps(d, ensure_ascii=False).encode("utf-8")
    ),
    secret_id=st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=30),
    token=st.none() | _text,
)
def test_matches_sdk(
    secret: str,
    timestamp: int,
    service: str,
    host: str,
    content_type: str,
    body: bytes,
    secret_id: str,
    token: str | None,
) -> None:
    expected = sdk_signature(secret=secret, timestamp=timestamp, service=service, host=host, content_type=content_type, body=body)
    headers = sign_tencent(
        host=host,
        body=body,
        credentials=TencentCredentials(secret_id, secret, token),
        action="UpdateStreamIngest",
        version="2019-07-22",
        region="ap-singapore",
        timestamp=timestamp,
        content_type=content_type,
        service=service,
    )
    date = time.strftime("%Y-%m-%d", time.gmtime(timestamp))
    assert headers["Authorization"] == (
        f"TC3-HMAC-SHA256 Credential={secret_id}/{date}/{service}/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={expected}"
    )
    assert headers["X-TC-Timestamp"] == str(timestamp)
