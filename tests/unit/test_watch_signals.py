"""How the targets read their providers' signals for the watcher: Volcengine's Get fields as health, and TRTC's
stream-ingest callbacks verified and read as events (signature on the raw bytes, replay window, forms the pages
allow, what is ignored), plus the events endpoint's own refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from slack_bolt.async_app import AsyncApp

from bot.config import Settings
from bot.domain import Condition
from bot.providers.tencent_events import callback_sign, signature_matches
from bot.providers.volcengine_models import PushMixedStreamToCDNTaskInfo
from bot.server import EVENTS_MAX_BODY_BYTES, create_server
from bot.targets.base import EventRefused
from bot.targets.tencent import TencentTarget
from bot.targets.volcengine import health_of

KEY = "unit-callback-key"
NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
MS = int(NOW.timestamp() * 1000)
SETTINGS = Settings(_env_file=None, tencent_callback_key=SecretStr(KEY))  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("fields", "condition", "words"),
    [
        ({"Status": 2, "PushStreamState": 5}, Condition.OK, "pushing to CDN (PushStreamState 5)"),
        ({"Status": 2, "PushStreamState": 3}, Condition.RECONNECTING, "push to CDN reconnecting (PushStreamState 3)"),
        ({"Status": 2, "PushStreamState": 6, "StopReason": "CDNRefused"}, Condition.FAILED, "StopReason CDNRefused"),
        ({"Status": 4, "StopReason": "StartTaskFailed", "EndTime": MS}, Condition.FAILED, "push to CDN failed (Status 4"),
        (
            {"Status": 3, "StopReason": "IdleTimeOut", "EndTime": MS},
            Condition.ENDED,
            "task ended (Status 3, StopReason IdleTimeOut)",
        ),
        ({"Status": 1}, Condition.RECONNECTING, "task not started (Status 1)"),
        ({"Status": 0}, Condition.UNKNOWN, "Status 0"),
    ],
)
def test_volcengine_get_fields_read_as_health(fields: dict[str, Any], condition: Condition, words: str) -> None:
    health = health_of(PushMixedStreamToCDNTaskInfo.model_validate(fields))
    assert health.condition == condition and words in health.words and health.definite
    if "EndTime" in fields:
        assert health.since == NOW.replace(microsecond=0)


def body(event_type: int = 701, status: int | None = 1, *, sent: int = MS, event_ms: Any = MS, group: int = 7) -> bytes:
    info: dict[str, Any] = {"EventMsTs": event_ms, "TaskId": "task-1"}
    if status is not None:
        info["Status"] = status
    return json.dumps({"EventGroupId": group, "EventType": event_type, "CallbackMsTs": sent, "EventInfo": info}).encode()


def headers(raw: bytes, key: str = KEY, app: str = "1400000001") -> dict[str, list[str]]:
    return {"sign": [callback_sign(key, raw)], "sdkappid": [app]}


def read(raw: bytes, given: dict[str, list[str]] | None = None, settings: Settings = SETTINGS) -> Any:
    return TencentTarget().read_events(settings, given if given is not None else headers(raw), raw, NOW)


def test_the_signature_is_the_hmac_of_the_raw_bytes_in_base64() -> None:
    raw = b'{"EventGroupId":7}'
    assert signature_matches(KEY, raw, callback_sign(KEY, raw))
    assert not signature_matches(KEY, raw + b" ", callback_sign(KEY, raw))
    assert not signature_matches(KEY, raw, callback_sign("other", raw))
    assert not signature_matches(KEY, raw, "ünïcode")


@pytest.mark.parametrize(
    ("event_type", "status", "condition"),
    [(701, 0, Condition.OK), (701, 1, Condition.FAILED), (701, 2, Condition.RECONNECTING), (702, 0, Condition.ENDED)],
)
def test_stream_ingest_events_read_as_health(event_type: int, status: int, condition: Condition) -> None:
    delivery = read(body(event_type, status))
    [event] = delivery.events
    assert event.health.condition == condition and event.ids == {"SdkAppId": 1400000001, "TaskId": "task-1"}
    assert event.at == NOW.replace(microsecond=0) and event.health.definite


def test_a_retried_event_has_the_same_key_and_another_fingerprint() -> None:
    first, retry = read(body(sent=MS)), read(body(sent=MS + 10_000))
    assert first.events[0].key == retry.events[0].key and first.fingerprint != retry.fingerprint
    assert read(body(event_ms=str(MS))).events[0].key == first.events[0].key  # EventMsTs as a string, as the table says


def test_other_events_are_acknowledged_and_ignored() -> None:
    assert read(body(group=3, event_type=301)).events == ()
    assert read(body(701, 9)).events == ()


@pytest.mark.parametrize(
    ("raw", "given", "status"),
    [
        (body(), {"sdkappid": ["1400000001"]}, 401),  # unsigned
        (body(), {"sign": [callback_sign(KEY, body())] * 2, "sdkappid": ["1400000001"]}, 401),  # two Sign headers
        (body(), headers(body(), key="forged"), 401),
        (body(sent=MS - 6 * 60 * 1000), None, 401),  # outside the replay window
        (body(sent=MS + 6 * 60 * 1000), None, 401),
        (b"not json", None, 400),
        (body(), headers(body(), app="14e9"), 400),
        (json.dumps({"EventGroupId": 7, "EventType": 701, "CallbackMsTs": MS, "EventInfo": {"Status": 1}}).encode(), None, 400),
    ],
)
def test_what_is_refused_and_how(raw: bytes, given: dict[str, list[str]] | None, status: int) -> None:
    with pytest.raises(EventRefused) as refused:
        read(raw, given)
    assert refused.value.status == status
    assert KEY not in refused.value.reason and "task-1" not in refused.value.reason


def test_without_a_key_callbacks_are_not_configured() -> None:
    with pytest.raises(EventRefused) as refused:
        read(body(), settings=Settings(_env_file=None))  # type: ignore[call-arg]
    assert refused.value.status == 404


async def test_the_events_endpoint_caps_the_body_and_knows_only_provider_names(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[tuple[str, bytes]] = []

    async def events(provider: str, given: Any, raw: bytes) -> tuple[int, str]:
        seen.append((provider, raw))
        return (401, "Sign does not match the body") if raw == b"forged" else (200, "1 event(s) applied")

    app = AsyncApp(token="xoxb-unit", signing_secret="unit-secret")
    server = create_server(app, provider_events=events, linger_seconds=0)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server), base_url="http://test") as http:
        assert (await http.post("/providers/tencent/events", content=b"{}")).status_code == 200
        assert (await http.post("/providers/tencent/events", content=b"forged")).status_code == 401
        assert (await http.post("/providers/Tencent%20x/events", content=b"{}")).status_code == 404
        too_big = b"x" * (EVENTS_MAX_BODY_BYTES + 1)
        assert (await http.post("/providers/tencent/events", content=too_big)).status_code == 413
    assert seen == [("tencent", b"{}"), ("tencent", b"forged")]
    assert "Sign does not match the body" in caplog.text and "b'forged'" not in caplog.text
    unwired = create_server(app, linger_seconds=0)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=unwired), base_url="http://test") as http:
        assert (await http.post("/providers/tencent/events", content=b"{}")).status_code == 404


def test_a_callback_four_minutes_old_is_within_the_replay_window() -> None:
    assert read(body(sent=int((NOW - timedelta(minutes=4)).timestamp() * 1000))).events
