"""Envelope parsing, retry classification, the retry loop and client-side refusals (no simulator needed)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.config import MissingSetting, Settings
from bot.providers import tencent_client, volcengine_client
from bot.providers.errors import InvalidRequest, ProviderError
from bot.providers.pacing import WATCH_LANE, LocalPacer, pace_key, settings_rates
from bot.providers.registry import ProviderRegistry
from bot.providers.retry import RetryPolicy, is_retryable
from bot.providers.volcengine_models import GetPushMixedStreamToCDNTaskResult

FAST = RetryPolicy(max_attempts=3, deadline_seconds=5, initial_backoff=0.001, max_backoff=0.002)


def _volc(status: int, payload: Any) -> Any:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return volcengine_client.parse_response("UpdatePushMixedStreamToCDN", status, raw, volcengine_client._ok)


def _tencent(status: int, payload: Any) -> Any:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return tencent_client.parse_response("UpdateStreamIngest", status, raw, lambda r: r)


def test_volcengine_success_and_error_envelopes() -> None:
    reply = _volc(200, {"ResponseMetadata": {"RequestId": "rid-1"}, "Result": "ok"})
    assert (reply.request_id, reply.result, reply.action) == ("rid-1", "ok", "UpdatePushMixedStreamToCDN")

    with pytest.raises(ProviderError) as info:
        _volc(401, {"ResponseMetadata": {"RequestId": "rid-2", "Error": {"Code": "SignatureDoesNotMatch", "Message": "bad sig"}}})
    err = info.value
    assert (err.provider, err.code, err.message, err.request_id, err.http_status, err.retryable) == (
        "volcengine",
        "SignatureDoesNotMatch",
        "bad sig",
        "rid-2",
        401,
        False,
    )
    # An error in the envelope counts even with HTTP 200.
    with pytest.raises(ProviderError, match=r"InvalidParameter\.ErrorActiveTaskNotFound"):
        _volc(200, {"ResponseMetadata": {"RequestId": "r", "Error": {"Code": "InvalidParameter.ErrorActiveTaskNotFound"}}})


@pytest.mark.parametrize(
    ("status", "raw", "needle"),
    [
        (502, b"<html>Bad Gateway</html>", "not JSON"),
        (200, b"[1, 2]", "no ResponseMetadata"),
        (200, b'{"ResponseMetadata": {"Error": "boom"}}', "not an object"),
        (200, b'{"ResponseMetadata": {"RequestId": "r"}, "Result": {"x": 1}}', "unexpected answer"),
    ],
)
def test_volcengine_malformed_answers(status: int, raw: bytes, needle: str) -> None:
    with pytest.raises(ProviderError, match=needle) as info:
        _volc(status, raw)
    assert info.value.code == "MalformedResponse"
    assert info.value.retryable is (status >= 500)


@pytest.mark.parametrize("result", ["", "OK", "done", None, 1])
def test_volcengine_result_other_than_ok_is_not_a_success(result: Any) -> None:
    """Issue 11, V8 (API page, 返回调用结果): Result is "ok" on success and empty on failure."""
    payload: dict[str, Any] = {"ResponseMetadata": {"RequestId": "r8"}}
    if result is not None:
        payload["Result"] = result
    with pytest.raises(ProviderError, match='expected Result "ok"') as info:
        _volc(200, payload)
    assert (info.value.code, info.value.request_id, info.value.retryable) == ("MalformedResponse", "r8", False)


def test_volcengine_non_2xx_without_error_is_a_failure() -> None:
    with pytest.raises(ProviderError) as info:
        _volc(503, {"ResponseMetadata": {"RequestId": "r9"}})
    assert (info.value.code, info.value.request_id, info.value.retryable) == ("HTTP503", "r9", True)


def test_volcengine_get_result_parses() -> None:
    payload = {
        "ResponseMetadata": {"RequestId": "r"},
        "Result": {"PushMixedStreamToCDNTask": {"Status": 2, "PushURL": "rtmp://x/y", "StartTime": 1}},
    }
    reply = volcengine_client.parse_response(
        "GetPushMixedStreamToCDNTask",
        200,
        json.dumps(payload).encode(),
        GetPushMixedStreamToCDNTaskResult.model_validate,
    )
    task = reply.result.push_mixed_stream_to_cdn_task
    assert task is not None and task.running and task.push_url == "rtmp://x/y"


def test_tencent_envelopes() -> None:
    assert _tencent(200, {"Response": {"Status": "InProgress", "RequestId": "t1"}}).request_id == "t1"
    with pytest.raises(ProviderError) as info:
        _tencent(200, {"Response": {"Error": {"Code": "RequestLimitExceeded", "Message": "slow down"}, "RequestId": "t2"}})
    assert (info.value.code, info.value.request_id, info.value.http_status, info.value.retryable) == (
        "RequestLimitExceeded",
        "t2",
        200,
        True,
    )
    with pytest.raises(ProviderError, match="no Response object"):
        _tencent(200, {"Error": "x"})
    with pytest.raises(ProviderError, match="not JSON"):
        _tencent(200, b"\xff\xfe")


@pytest.mark.parametrize(
    ("provider", "action", "code", "status", "expected"),
    [
        ("volcengine", "UpdatePushMixedStreamToCDN", "FlowLimitExceeded.QPSOverLimit", 429, True),
        ("volcengine", "UpdatePushMixedStreamToCDN", "InternalError", 500, True),
        ("volcengine", "UpdatePushMixedStreamToCDN", "InternalServiceTimeout", 504, True),
        ("volcengine", "UpdatePushMixedStreamToCDN", "InvalidTimestamp", 400, True),
        ("volcengine", "UpdatePushMixedStreamToCDN", "SignatureDoesNotMatch", 401, False),
        ("volcengine", "UpdatePushMixedStreamToCDN", "InvalidParameter", 400, False),
        ("volcengine", "UpdatePushMixedStreamToCDN", "AccessDenied", 403, False),
        ("volcengine", "UpdatePushMixedStreamToCDN", "Timeout", None, True),
        ("volcengine", "StartPushMixedStreamToCDN", "Timeout", None, False),
        ("volcengine", "StartPushMixedStreamToCDN", "NetworkError", None, False),
        ("volcengine", "StartPushMixedStreamToCDN", "InternalServiceTimeout", 504, False),
        ("volcengine", "StartPushMixedStreamToCDN", "InternalError", 500, False),
        ("volcengine", "StartPushMixedStreamToCDN", "ConnectionFailed", None, True),
        ("volcengine", "StartPushMixedStreamToCDN", "FlowLimitExceeded", 429, True),
        ("volcengine", "StartPushMixedStreamToCDN", "ServiceUnavailableTemp", 503, True),
        ("tencent", "UpdateStreamIngest", "RequestLimitExceeded.UinLimitExceeded", 200, True),
        ("tencent", "UpdateStreamIngest", "InternalError.DBError", 200, True),
        ("tencent", "UpdateStreamIngest", "AuthFailure.SignatureExpire", 200, True),
        ("tencent", "UpdateStreamIngest", "AuthFailure.SignatureFailure", 200, False),
        ("tencent", "UpdateStreamIngest", "FailedOperation.TaskNotExist", 200, False),
        ("tencent", "UpdateStreamIngest", "UnsupportedRegion", 200, False),
        ("tencent", "StartStreamIngest", "Timeout", None, False),
        ("tencent", "StartStreamIngest", "InternalError", 200, False),
        ("tencent", "StartStreamIngest", "RequestLimitExceeded", 200, True),
    ],
)
def test_retry_classification(provider: str, action: str, code: str, status: int | None, expected: bool) -> None:
    assert is_retryable(provider, action, code, status) is expected


def _err(code: str, retryable: bool) -> ProviderError:
    return ProviderError("tencent", "UpdateStreamIngest", code, "m", "rid", 200, retryable)


async def test_retry_policy_retries_until_success_and_bounds_attempts() -> None:
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise _err("InternalError", True)
        return "done"

    assert await FAST.run(flaky) == "done"
    assert len(calls) == 3

    calls.clear()

    async def always() -> str:
        calls.append(1)
        raise _err("InternalError", True)

    with pytest.raises(ProviderError, match="InternalError"):
        await FAST.run(always)
    assert len(calls) == FAST.max_attempts


async def test_retry_policy_skips_permanent_and_retries_clock_skew_once() -> None:
    calls: list[str] = []

    async def permanent() -> str:
        calls.append("p")
        raise _err("InvalidParameter", False)

    with pytest.raises(ProviderError):
        await FAST.run(permanent)
    assert calls == ["p"]

    calls.clear()

    async def skewed() -> str:
        calls.append("s")
        raise _err("AuthFailure.SignatureExpire", True)

    with pytest.raises(ProviderError, match="SignatureExpire"):
        await RetryPolicy(max_attempts=5, initial_backoff=0.001, max_backoff=0.001).run(skewed)
    assert calls == ["s", "s"]


def test_pacer_limits_come_from_settings() -> None:
    settings = Settings(_env_file=None, volcengine_update_qps=150, volcengine_get_qps=60, tencent_qps=20)
    rate = settings_rates(settings)
    assert rate(pace_key("volcengine", "AK", "UpdatePushMixedStreamToCDN")) == 150
    assert rate(pace_key("volcengine", "AK", "StartPushMixedStreamToCDN")) == 150
    # A read action's limit is shared by two lanes: the watcher's polls and everything else (half each by default).
    assert rate(pace_key("volcengine", "AK", "GetPushMixedStreamToCDNTask")) == 30
    assert rate(pace_key("volcengine", "AK", "GetPushMixedStreamToCDNTask") + "|" + WATCH_LANE) == 30
    assert rate(pace_key("tencent", "AKID", "DescribeStreamIngest")) == 10
    assert rate(pace_key("tencent", "AKID", "UpdateStreamIngest") + "|" + WATCH_LANE) == 20  # only reads are split
    unwatched = settings_rates(Settings(_env_file=None, volcengine_get_qps=60, watch_read_share=0))
    assert unwatched(pace_key("volcengine", "AK", "GetPushMixedStreamToCDNTask")) == 60
    tilted = settings_rates(Settings(_env_file=None, tencent_qps=20, watch_read_share=0.25))
    assert tilted(pace_key("tencent", "AKID", "DescribeStreamIngest")) == 15
    assert tilted(pace_key("tencent", "AKID", "DescribeStreamIngest") + "|" + WATCH_LANE) == 5
    pacer = LocalPacer(rate)
    limiter = pacer.limiter(pace_key("volcengine", "AK", "UpdatePushMixedStreamToCDN"))
    # Refilled just under the limit, with a bucket of one call and 10 ms of calls more: a late timer is made up,
    # and the limit's next call still comes at least 10 ms after a second.
    for limit, paced in ((150, limiter), (20, pacer.limiter(pace_key("tencent", "AKID", "UpdateStreamIngest")))):
        rate = paced.max_rate / paced.time_period
        assert rate == pytest.approx(limit * 0.98)
        assert paced.max_rate == pytest.approx(1 + rate * 0.01)
        assert (limit + 1 - paced.max_rate) / rate >= 1.01  # the time the bucket needs to let limit + 1 calls through
    assert pacer.limiter(pace_key("volcengine", "AK2", "UpdatePushMixedStreamToCDN")) is not limiter


def _registry(**env: Any) -> ProviderRegistry:
    return ProviderRegistry.from_settings(Settings(_env_file=None, **env))


async def test_registry_missing_credentials_named_only_when_used() -> None:
    registry = _registry(volc_accesskey="AK", volc_secretkey="SK")
    assert registry.volcengine.endpoint == "https://rtc.volcengineapi.com"
    with pytest.raises(MissingSetting, match="TENCENTCLOUD_SECRET_ID"):
        registry.tencent()
    await registry.aclose()
    with pytest.raises(MissingSetting, match="VOLC_SECRETKEY"):
        _ = _registry(volc_accesskey="AK").volcengine


async def test_registry_tencent_hosts() -> None:
    registry = _registry(tencentcloud_secret_id="id", tencentcloud_secret_key="key")
    assert registry.tencent("china").endpoint == "https://trtc.tencentcloudapi.com"
    assert registry.tencent().endpoint == "https://trtc.intl.tencentcloudapi.com"
    assert registry.tencent("china").site == "china"
    await registry.aclose()
    override = _registry(tencentcloud_secret_id="id", tencentcloud_secret_key="key", tencent_endpoint="http://127.0.0.1:9")
    assert override.tencent("china").endpoint == "http://127.0.0.1:9"
    await override.aclose()


async def test_invalid_requests_are_refused_before_sending() -> None:
    # The endpoint refuses connections: reaching it would give ConnectionFailed, not InvalidRequest.
    registry = _registry(
        volc_accesskey="AK",
        volc_secretkey="SK",
        volcengine_endpoint="http://127.0.0.1:9",
        tencentcloud_secret_id="id",
        tencentcloud_secret_key="key",
        tencent_endpoint="http://127.0.0.1:9",
    )
    with pytest.raises(InvalidRequest) as info:
        await registry.volcengine.update_push_mixed_stream_to_cdn(
            {"AppId": "a", "RoomId": "r", "TaskId": "t", "Encode": {"VideoFps": 61}}
        )
    assert any(p.startswith("Encode.VideoFps") for p in info.value.problems)
    with pytest.raises(InvalidRequest) as info:
        await registry.tencent().update_stream_ingest({"SdkAppId": 1400000000, "TaskId": "t", "Tempo": 1.5})
    assert any("Tempo" in p for p in info.value.problems)
    with pytest.raises(InvalidRequest, match="Region"):
        await registry.tencent().describe_stream_ingest({"SdkAppId": 1, "TaskId": "t"}, region="ap-tokyo")
    # The China site accepts Volume 150 and Tempo, so the request is sent (and the connection fails).
    with pytest.raises(ProviderError) as sent:
        await registry.tencent("china").update_stream_ingest({"SdkAppId": 1400000000, "TaskId": "t", "Volume": 150, "Tempo": 1.5})
    assert sent.value.code == "ConnectionFailed"
    await registry.aclose()
