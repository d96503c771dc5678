"""The Tencent TRTC simulator, driven by requests signed with the official SDK's TC3 code
(AbstractClient._get_tc3_signature), never with bot/providers code."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from tencentcloud.common.abstract_client_async import AbstractClient

from bot.sandbox import tencent_sim as ts
from bot.sandbox.serve import BackgroundServer

HOST = "trtc.sandbox.test"
SID, SKEY = ts.DEFAULT_SECRET_ID, ts.DEFAULT_SECRET_KEY
APP = 1400000001


def sdk_headers(
    action: str,
    raw: bytes,
    *,
    host: str = HOST,
    secret_id: str = SID,
    secret_key: str = SKEY,
    timestamp: int | None = None,
    region: str = "ap-singapore",
    token: str | None = None,
) -> dict[str, str]:
    stamp = int(time.time()) if timestamp is None else timestamp
    date = datetime.fromtimestamp(stamp, tz=UTC).strftime("%Y-%m-%d")
    headers = {"Content-Type": "application/json", "Host": host, "X-TC-Timestamp": str(stamp)}
    signature = AbstractClient._get_tc3_signature("POST", "/", "", raw, headers, date, "trtc", secret_key, {})
    headers.update(
        {
            "X-TC-Action": action,
            "X-TC-Version": ts.VERSION,
            "X-TC-Region": region,
            "Authorization": f"TC3-HMAC-SHA256 Credential={secret_id}/{date}/trtc/tc3_request, "
            f"SignedHeaders=content-type;host, Signature={signature}",
        }
    )
    if token:
        headers["X-TC-Token"] = token
    return headers


class Tc:
    def __init__(self, client: httpx.AsyncClient, host: str = HOST) -> None:
        self.client = client
        self.host = host

    async def call(self, action: str, body: dict[str, Any], send: bytes | None = None, **sign: Any) -> dict[str, Any]:
        raw = json.dumps(body).encode()
        headers = sdk_headers(action, raw, host=self.host, **sign)
        response = await self.client.post("/", content=raw if send is None else send, headers=headers)
        payload: dict[str, Any] = response.json()["Response"]
        assert payload["RequestId"]
        payload["_http"] = response.status_code
        return payload


def code(payload: dict[str, Any]) -> str:
    assert payload["_http"] == 200, "Tencent answers errors with HTTP 200"
    return str(payload.get("Error", {}).get("Code", ""))


@pytest.fixture
def sim() -> tuple[Any, ts.TencentState]:
    return ts.create_tencent_sim(site="intl")


@pytest.fixture
def state(sim: tuple[Any, ts.TencentState]) -> ts.TencentState:
    return sim[1]


@pytest.fixture
async def tc(sim: tuple[Any, ts.TencentState]) -> AsyncIterator[Tc]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim[0]), base_url=f"http://{HOST}") as client:
        yield Tc(client)


def start_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "SdkAppId": APP,
        "RoomId": "room1",
        "RoomIdType": 0,
        "UserId": "ingest-bot",
        "UserSig": "sig",
        "StreamUrl": "https://media.example.com/a.mp4",
    }
    body.update(over)
    return body


async def started(tc: Tc) -> str:
    payload = await tc.call(ts.START, start_body())
    assert "Error" not in payload, payload
    task_id: str = payload["TaskId"]
    return task_id


# --- signatures -----------------------------------------------------------------------------------------


async def test_sdk_signed_start_is_accepted_and_returns_a_task_id(tc: Tc) -> None:
    payload = await tc.call(ts.START, start_body())
    assert code(payload) == "" and payload["TaskId"]
    again = await tc.call(ts.DESCRIBE, {"SdkAppId": APP, "TaskId": payload["TaskId"]})
    assert again["Status"] == "InProgress" and again["RequestId"] != payload["RequestId"]


async def test_wrong_secret_is_signature_failure(tc: Tc) -> None:
    assert code(await tc.call(ts.START, start_body(), secret_key="wrong")) == "AuthFailure.SignatureFailure"


async def test_unknown_secret_id(tc: Tc) -> None:
    assert code(await tc.call(ts.START, start_body(), secret_id="AKIDnobody")) == "AuthFailure.SecretIdNotFound"


async def test_timestamp_more_than_five_minutes_off_is_signature_expire(tc: Tc) -> None:
    now = int(time.time())
    for stamp in (now - 301, now + 301):
        assert code(await tc.call(ts.START, start_body(), timestamp=stamp)) == "AuthFailure.SignatureExpire"
    assert code(await tc.call(ts.START, start_body(), timestamp=now - 200)) == ""


async def test_tampered_body_is_signature_failure(tc: Tc) -> None:
    tampered = json.dumps(start_body(StreamUrl="https://evil.example.com/b.mp4")).encode()
    assert code(await tc.call(ts.START, start_body(), send=tampered)) == "AuthFailure.SignatureFailure"


async def test_missing_headers(tc: Tc) -> None:
    raw = json.dumps(start_body()).encode()
    for header, expected in (
        ("Authorization", "MissingParameter"),
        ("X-TC-Timestamp", "MissingParameter"),
        ("X-TC-Region", "MissingParameter"),
        ("X-TC-Action", "MissingParameter"),
    ):
        headers = sdk_headers(ts.START, raw)
        del headers[header]
        response = await tc.client.post("/", content=raw, headers=headers)
        assert response.status_code == 200
        assert response.json()["Response"]["Error"]["Code"] == expected, header
    headers = sdk_headers(ts.START, raw)
    headers["Authorization"] = "TC3-HMAC-SHA256 nonsense"
    response = await tc.client.post("/", content=raw, headers=headers)
    assert response.json()["Response"]["Error"]["Code"] == "AuthFailure.InvalidAuthorization"


async def test_session_token_must_match() -> None:
    account = ts.TencentAccount("AKIDsts", "sts-key", token="tok")
    app, _ = ts.create_tencent_sim(ts.TencentSimConfig(accounts=(account,)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{HOST}") as client:
        tc = Tc(client)
        assert code(await tc.call(ts.START, start_body(), secret_id="AKIDsts", secret_key="sts-key", token="tok")) == ""
        wrong = await tc.call(ts.START, start_body(UserId="b"), secret_id="AKIDsts", secret_key="sts-key")
        assert code(wrong) == "AuthFailure.TokenFailure"


async def test_unknown_action_and_regions(tc: Tc) -> None:
    assert code(await tc.call("StopMixTranscode", {"SdkAppId": APP})) == "InvalidAction"
    assert code(await tc.call(ts.START, start_body(), region="eu-frankfurt")) == "UnsupportedRegion"
    task_id = await started(tc)
    body = {"SdkAppId": APP, "TaskId": task_id}
    assert code(await tc.call(ts.UPDATE, {**body, "Volume": 50}, region="ap-tokyo")) == ""
    assert code(await tc.call(ts.DESCRIBE, body, region="ap-tokyo")) == "UnsupportedRegion"
    assert code(await tc.call(ts.STOP, body, region="ap-guangzhou")) == "UnsupportedRegion"


# --- bodies ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"TaskId": "t1"}, "MissingParameter.SdkAppId"),
        ({"SdkAppId": APP}, "MissingParameter.TaskId"),
        ({"SdkAppId": str(APP), "TaskId": "t1"}, "InvalidParameter"),
        ({"SdkAppId": APP, "TaskId": "t1", "Volume": 101}, "InvalidParameterValue"),
        ({"SdkAppId": APP, "TaskId": "t1", "Volume": "80"}, "InvalidParameter"),
        ({"SdkAppId": APP, "TaskId": "t1", "IsPause": 1}, "InvalidParameter"),
        ({"SdkAppId": APP, "TaskId": "t1", "StreamUrl": "ftp://x/a.mp4"}, "InvalidParameter.StreamUrl"),
        ({"SdkAppId": APP, "TaskId": "t1", "EnableProgress": True}, "UnknownParameter"),
        ({"SdkAppId": APP, "TaskId": "t1", "Tempo": 1.5}, "UnknownParameter"),
        ({"SdkAppId": APP, "TaskId": "bad id!"}, "InvalidParameter.TaskId"),
        ({"SdkAppId": APP, "TaskId": "t1"}, "FailedOperation.TaskNotExist"),
    ],
)
async def test_update_body_rules_on_the_intl_site(tc: Tc, body: dict[str, Any], expected: str) -> None:
    assert code(await tc.call(ts.UPDATE, body)) == expected


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        ({"RoomIdType": 1, "RoomId": "abc"}, "InvalidParameterValue"),
        ({"RepeatNum": 1001}, "InvalidParameterValue"),
        ({"MaxDuration": 60}, "InvalidParameterValue"),
        ({"RepeatNum": -1, "MaxDuration": 60}, ""),
        ({"StreamUrl": "not a url"}, "InvalidParameter.StreamUrl"),
        ({"Volume": 150}, "InvalidParameterValue"),
        ({"Extra": 1}, "UnknownParameter"),
    ],
)
async def test_start_body_rules(tc: Tc, over: dict[str, Any], expected: str) -> None:
    assert code(await tc.call(ts.START, start_body(**over))) == expected


async def test_start_needs_the_required_fields(tc: Tc) -> None:
    body = start_body()
    del body["UserSig"]
    assert code(await tc.call(ts.START, body)) == "MissingParameter"
    body = start_body()
    del body["StreamUrl"]
    assert code(await tc.call(ts.START, body)) == "MissingParameter"


async def test_china_site_takes_volume_to_200_progress_and_tempo() -> None:
    app, state = ts.create_tencent_sim(site="china")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{HOST}") as client:
        tc = Tc(client)
        task_id = await started(tc)
        body = {"SdkAppId": APP, "TaskId": task_id}
        ok = await tc.call(ts.UPDATE, {**body, "Volume": 200, "EnableProgress": True, "Tempo": 1.25})
        assert code(ok) == "" and ok["Status"] == "InProgress"
        assert code(await tc.call(ts.UPDATE, {**body, "Tempo": 3})) == "InvalidParameterValue"
        assert code(await tc.call(ts.UPDATE, {**body, "Volume": 201})) == "InvalidParameterValue"
        task = state.task(APP, task_id)
        assert task is not None and (task.volume, task.enable_progress, task.tempo) == (200, True, 1.25)


# --- task state -----------------------------------------------------------------------------------------


async def test_update_describe_stop_lifecycle(tc: Tc, state: ts.TencentState) -> None:
    task_id = await started(tc)
    body = {"SdkAppId": APP, "TaskId": task_id}
    update = await tc.call(ts.UPDATE, {**body, "StreamUrl": "https://media.example.com/b.mp4", "IsPause": True})
    assert update["Status"] == "InProgress"
    task = state.task(APP, task_id)
    assert task is not None and task.stream_url.endswith("b.mp4") and task.is_pause and task.volume == 100
    assert code(await tc.call(ts.STOP, body)) == ""
    assert (await tc.call(ts.DESCRIBE, body))["Status"] == "NotExist"
    assert code(await tc.call(ts.UPDATE, body)) == "FailedOperation.TaskNotExist"
    assert code(await tc.call(ts.STOP, body)) == "FailedOperation.TaskFinished"
    assert (await tc.call(ts.DESCRIBE, {"SdkAppId": APP, "TaskId": "never"}))["Status"] == "NotExist"
    assert code(await tc.call(ts.DESCRIBE, {"SdkAppId": APP + 1, "TaskId": task_id})) == ""


async def test_second_ingest_for_the_same_user_is_refused(tc: Tc) -> None:
    await started(tc)
    assert code(await tc.call(ts.START, start_body())) == "FailedOperation.TaskExist"


# --- QPS and faults -------------------------------------------------------------------------------------


async def test_qps_limit_is_request_limit_exceeded(tc: Tc, state: ts.TencentState) -> None:
    state.set_qps(limits={ts.DESCRIBE: 1})
    body = {"SdkAppId": APP, "TaskId": "t1"}
    assert code(await tc.call(ts.DESCRIBE, body)) == ""
    assert code(await tc.call(ts.DESCRIBE, body)) == "RequestLimitExceeded"
    assert code(await tc.call(ts.UPDATE, body)) == "FailedOperation.TaskNotExist"


async def test_faults_through_the_python_api(tc: Tc, state: ts.TencentState) -> None:
    body = {"SdkAppId": APP, "TaskId": "t1"}
    state.fail_first(1, "InternalError.DBError", action=ts.UPDATE)
    assert code(await tc.call(ts.UPDATE, body)) == "InternalError.DBError"
    state.fail_with_status(502)
    response = await tc.client.post("/", content=b"{}", headers=sdk_headers(ts.DESCRIBE, b"{}"))
    assert response.status_code == 502 and response.json()["Response"]["Error"]["Code"] == "ServiceUnavailable"
    assert code(await tc.call(ts.DESCRIBE, body)) == ""


def test_control_endpoints_drive_a_served_simulator() -> None:
    """What a benchmark or an e2e test does against `rtcops sandbox providers`: all over real HTTP."""
    app, _ = ts.create_tencent_sim(site="intl")
    with BackgroundServer(app) as server, httpx.Client(base_url=server.url, timeout=5) as client:
        host = server.url.removeprefix("http://")

        def call(action: str, body: dict[str, Any]) -> dict[str, Any]:
            raw = json.dumps(body).encode()
            payload: dict[str, dict[str, Any]] = client.post("/", content=raw, headers=sdk_headers(action, raw, host=host)).json()
            return payload["Response"]

        faults = [
            {"kind": "error", "code": "RequestLimitExceeded", "action": ts.START, "times": 2},
            {"kind": "latency", "seconds": 0.05, "times": 1},
        ]
        added = client.post("/_sandbox/faults", json=faults)
        assert added.status_code == 200 and [f["kind"] for f in added.json()] == ["error", "latency"]
        assert call(ts.START, start_body())["Error"]["Code"] == "RequestLimitExceeded"
        assert call(ts.START, start_body())["Error"]["Code"] == "RequestLimitExceeded"
        task_id = call(ts.START, start_body())["TaskId"]
        assert client.get("/_sandbox/faults").json() == []

        tasks = client.get("/_sandbox/tasks").json()
        assert [t["TaskId"] for t in tasks] == [task_id] and tasks[0]["Status"] == "InProgress"
        records = client.get("/_sandbox/requests", params={"action": ts.START}).json()
        assert [r["code"] for r in records] == ["RequestLimitExceeded", "RequestLimitExceeded", None]
        assert records[0]["headers"]["authorization"].startswith("TC3-HMAC-SHA256 Credential=")
        assert json.loads(records[2]["body"])["UserId"] == "ingest-bot"

        assert client.post("/_sandbox/tasks/end", json={"SdkAppId": APP, "TaskId": task_id}).json() == {"ended": True}
        assert call(ts.DESCRIBE, {"SdkAppId": APP, "TaskId": task_id})["Status"] == "NotExist"

        assert client.post("/_sandbox/qps", json={"limits": {ts.DESCRIBE: 1}}).json()["limits"][ts.DESCRIBE] == 1
        call(ts.DESCRIBE, {"SdkAppId": APP, "TaskId": task_id})
        assert call(ts.DESCRIBE, {"SdkAppId": APP, "TaskId": task_id})["Error"]["Code"] == "RequestLimitExceeded"
        assert client.post("/_sandbox/qps", json={"enabled": False}).json()["enabled"] is False

        bad = client.post("/_sandbox/faults", json={"kind": "status", "status": 404})
        assert bad.status_code == 400 and "5xx" in bad.json()["error"]
        assert client.post("/_sandbox/reset").json() == {"reset": True}
        assert client.get("/_sandbox/tasks").json() == [] and client.get("/_sandbox/requests").json() == []


def test_timeout_fault_over_loopback() -> None:
    app, state = ts.create_tencent_sim()
    state.add_timeout(1.0, action=ts.DESCRIBE, times=1)
    with BackgroundServer(app) as server, httpx.Client(base_url=server.url, timeout=0.2) as client:
        raw = json.dumps({"SdkAppId": APP, "TaskId": "t1"}).encode()
        host = server.url.removeprefix("http://")
        with pytest.raises(httpx.ReadTimeout):
            client.post("/", content=raw, headers=sdk_headers(ts.DESCRIBE, raw, host=host))
        retry = client.post("/", content=raw, headers=sdk_headers(ts.DESCRIBE, raw, host=host))
        assert retry.json()["Response"]["Status"] == "NotExist"
