"""The Tencent TRTC simulator, driven by requests signed with the official SDK's TC3 code
(AbstractClient._get_tc3_signature), never with bot/providers code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tencentcloud.common.abstract_client_async import AbstractClient

from bot.sandbox import tencent_sim as ts
from bot.sandbox.serve import BackgroundServer
from bot.sandbox.sim_callbacks import RetryPolicy

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


# --- issue 11: the simulator against each site's request models and pages ------------------------------------

FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.mark.parametrize("site", ["intl", "china"])
def test_schemas_and_regions_are_each_sites_api_json_and_pages(site: ts.Site) -> None:
    """tests/fixtures/tencent_trtc_{site}_2019-07-22.json: the members of each action's request model (api.json)
    and the regions of its API page."""
    fixture = json.loads((FIXTURES / f"tencent_trtc_{site}_2019-07-22.json").read_text(encoding="utf-8"))
    for action, spec in fixture["actions"].items():
        members = {m["name"]: m for m in spec["members"]}
        schema = ts.schema_for(action, site)
        assert set(schema) == set(members), action
        assert {n for n, (_, _, required) in schema.items() if required} == {n for n, m in members.items() if m["required"]}
        assert ts.SITE_REGIONS[site][action] == frozenset(spec["regions"]), action


def china_sim(clock: Any = time.time) -> tuple[Any, ts.TencentState]:
    return ts.create_tencent_sim(ts.TencentSimConfig(clock=clock), site="china")


async def test_t2_china_update_is_served_in_the_china_regions() -> None:
    """China Update page (cloud.tencent.com/document/product/647/110076): ap-beijing, ap-chongqing, ap-guangzhou,
    ap-shanghai, ap-singapore. The simulator used to apply the international list to both sites."""
    app, _ = china_sim()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{HOST}") as client:
        tc = Tc(client)
        task_id = (await tc.call(ts.START, start_body(), region="ap-beijing"))["TaskId"]
        body = {"SdkAppId": APP, "TaskId": task_id, "Volume": 150}
        for region in ("ap-beijing", "ap-shanghai", "ap-chongqing"):
            assert code(await tc.call(ts.UPDATE, body, region=region)) == "", region
        for region in ("ap-tokyo", "ap-bangkok", "ap-jakarta", "ap-mumbai"):
            assert code(await tc.call(ts.UPDATE, body, region=region)) == "UnsupportedRegion", region


async def test_t3_china_start_takes_progress_tempo_and_idle_timeout(tc: Tc) -> None:
    """China api.json, StartStreamIngestRequest: EnableProgress, Tempo, IdleTimeout [0, 600]; intl has none."""
    extras = {"EnableProgress": True, "Tempo": 1.5, "IdleTimeout": 600}
    assert code(await tc.call(ts.START, start_body(**extras))) == "UnknownParameter"
    app, state = china_sim()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{HOST}") as client:
        china = Tc(client)
        assert code(await china.call(ts.START, start_body(UserId="b", IdleTimeout=601))) == "InvalidParameterValue"
        assert code(await china.call(ts.START, start_body(UserId="c", Tempo=3))) == "InvalidParameterValue"
        started = await china.call(ts.START, start_body(**extras))
        assert code(started) == ""
        task = state.task(APP, started["TaskId"])
        assert task is not None and (task.enable_progress, task.tempo, task.extra["IdleTimeout"]) == (True, 1.5, 600)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtmp://live.example.com/app/s", ""),
        ("https://live.example.com/app/s.m3u8", ""),
        ("http://live.example.com/app/s.flv", ""),
        ("https://vod.example.com/play?id=7", ""),  # assumption: the format is not shown, the source decides
        ("https://vod.example.com/" + "a" * 2000 + ".mp4", ""),  # no length limit is documented
        ("rtsp://cam.example.com/live", "InvalidParameter.StreamUrl"),
        ("rtmps://live.example.com/app/s", "InvalidParameter.StreamUrl"),
        ("https://vod.example.com/a.mkv", "InvalidParameter.StreamUrl"),  # assumption: a name of another format
    ],
)
async def test_t4_stream_sources(tc: Tc, url: str, expected: str) -> None:
    """Product pages 647/62716, 647/102957: live streams and on-demand files; RTMP, HLS, FLV, MP4. Update's own
    error for a source it cannot take: InvalidParameter.StreamUrl (API page, error codes)."""
    task_id = await started(tc)
    assert code(await tc.call(ts.UPDATE, {"SdkAppId": APP, "TaskId": task_id, "StreamUrl": url})) == expected


async def test_t6_a_volume_only_update_keeps_the_source(tc: Tc, state: ts.TencentState) -> None:
    """Update's StreamUrl is optional (api.json): left out, the source keeps playing; sent, even unchanged, it is
    assumed to restart the source (README, assumptions), which SourceSwitches counts."""
    task_id = await started(tc)
    body = {"SdkAppId": APP, "TaskId": task_id}
    assert code(await tc.call(ts.UPDATE, {**body, "Volume": 40})) == ""
    task = state.task(APP, task_id)
    assert task is not None and (task.stream_url, task.volume, task.source_switches) == (start_body()["StreamUrl"], 40, 0)
    assert code(await tc.call(ts.UPDATE, {**body, "StreamUrl": start_body()["StreamUrl"]})) == ""
    assert state.tasks_json()[0]["SourceSwitches"] == 1


async def test_t7_a_task_paused_for_more_than_twelve_hours_is_destroyed() -> None:
    """China SDK, UpdateStreamIngestRequest.IsPause: paused for more than 12 hours, the task is destroyed."""
    now = [1_700_000_000.0]
    app, state = china_sim(clock=lambda: now[0])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{HOST}") as client:
        tc = Tc(client)

        async def call(action: str, body: dict[str, Any]) -> dict[str, Any]:
            return await tc.call(action, body, timestamp=int(now[0]))

        task_id = (await call(ts.START, start_body()))["TaskId"]
        body = {"SdkAppId": APP, "TaskId": task_id}
        assert code(await call(ts.UPDATE, {**body, "IsPause": True})) == ""
        now[0] += 11 * 3600
        assert code(await call(ts.UPDATE, {**body, "IsPause": True, "Volume": 10})) == "", "still paused: no new start"
        now[0] += 3600
        assert (await call(ts.DESCRIBE, body))["Status"] == "InProgress", "exactly 12 hours: not more than 12"
        now[0] += 1
        assert (await call(ts.DESCRIBE, body))["Status"] == "NotExist"
        assert code(await call(ts.UPDATE, {**body, "IsPause": False})) == "FailedOperation.TaskNotExist"
        assert code(await call(ts.STOP, body)) == "FailedOperation.TaskFinished"
        assert state.tasks_json()[0]["EndReason"] == "paused for more than 12 hours"

        resumed = (await call(ts.START, start_body(UserId="b")))["TaskId"]
        other = {"SdkAppId": APP, "TaskId": resumed}
        await call(ts.UPDATE, {**other, "IsPause": True})
        now[0] += 6 * 3600
        await call(ts.UPDATE, {**other, "IsPause": False})
        now[0] += 13 * 3600
        assert (await call(ts.DESCRIBE, other))["Status"] == "InProgress", "a resumed task is not counted down"


# --- issue 9: a lost answer; issue 12: ingest health and stream-ingest callbacks, over loopback ------------


class Served:
    """A simulator on a real loopback port, called the way any client would, plus its /_sandbox controls."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.host = url.removeprefix("http://")
        self.control = httpx.Client(base_url=f"{url}/_sandbox", timeout=5)

    def call(self, action: str, body: dict[str, Any], timeout: float = 5, **sign: Any) -> dict[str, Any]:
        raw = json.dumps(body).encode()
        headers = sdk_headers(action, raw, host=self.host, **sign)
        payload: dict[str, Any] = httpx.post(f"{self.url}/", content=raw, headers=headers, timeout=timeout).json()["Response"]
        return payload

    def describe(self, task_id: str) -> str:
        return str(self.call(ts.DESCRIBE, {"SdkAppId": APP, "TaskId": task_id})["Status"])


@pytest.fixture
def served(sim: tuple[Any, ts.TencentState]) -> Iterator[Served]:
    with BackgroundServer(sim[0]) as server:
        s = Served(server.url)
        yield s
        s.control.close()


@dataclass
class Got:
    path: str
    headers: dict[str, str]
    raw: bytes
    body: dict[str, Any]
    verified: bool
    at: float


class Receiver:
    """The customer's callback server, written from the callback pages alone: it recomputes
    base64(HMAC-SHA256(key, raw body)) itself and answers as told (200 unless `answers` says otherwise)."""

    def __init__(self, key: str, answers: list[int] | None = None) -> None:
        self.key = key
        self.answers = list(answers or [])
        self.got: list[Got] = []
        self.cond = threading.Condition()
        self.app = Starlette(routes=[Route("/{hook}", self.endpoint, methods=["POST"])])

    async def endpoint(self, request: Request) -> Response:
        raw = await request.body()
        expected = base64.b64encode(hmac.new(self.key.encode(), raw, hashlib.sha256).digest()).decode()
        verified = hmac.compare_digest(request.headers.get("Sign", ""), expected)
        with self.cond:
            status = self.answers.pop(0) if self.answers else 200
            self.got.append(Got(request.url.path, dict(request.headers), raw, json.loads(raw), verified, time.monotonic()))
            self.cond.notify_all()
        return JSONResponse({"code": 0}, status_code=status)

    def wait(self, n: int, timeout: float = 10) -> list[Got]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.got) >= n, timeout), f"got {len(self.got)} of {n} callbacks"
            return list(self.got)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    hook = Receiver("callbackKey123")
    with BackgroundServer(hook.app) as server:
        yield hook, server.url


def events(got: list[Got]) -> list[tuple[int, int]]:
    return [(g.body["EventType"], g.body["EventInfo"]["Status"]) for g in got]


def test_lost_start_answer_leaves_an_ingest_the_client_cannot_name(served: Served, state: ts.TencentState) -> None:
    state.lose_answer(ts.START, seconds=1.0)
    with pytest.raises(httpx.ReadTimeout):
        served.call(ts.START, start_body(), timeout=0.2)
    (task,) = state.tasks_json()
    assert task["Status"] == "InProgress", "the Start was carried out before its answer was lost"
    assert served.call(ts.START, start_body())["Error"]["Code"] == "FailedOperation.TaskExist"
    assert served.describe(task["TaskId"]) == "InProgress"


def test_ingest_health_on_command_and_what_describe_answers(served: Served, state: ts.TencentState) -> None:
    task_id = served.call(ts.START, start_body())["TaskId"]
    ids = {"SdkAppId": APP, "TaskId": task_id}

    def health(**body: Any) -> httpx.Response:
        return served.control.post("/tasks/health", json={**ids, **body})

    retrying = health(State="retrying")
    assert retrying.status_code == 200 and retrying.json()["Health"] == "retrying"
    assert served.describe(task_id) == "InProgress"
    assert health(State="failed", Gone=False).json()["Status"] == "InProgress", "a failed attempt the service retries"
    assert served.control.post("/tasks/recover", json=ids).json()["Health"] == "running"

    failed = health(State="failed")
    assert failed.json()["Status"] == "NotExist" and failed.json()["EndReason"] == "start failed"
    assert served.describe(task_id) == "NotExist"
    assert served.call(ts.STOP, ids)["Error"]["Code"] == "FailedOperation.TaskFinished"
    assert health(State="retrying").status_code == 409, "an ingest that is gone does not retry"
    assert served.control.post("/tasks/recover", json=ids).json()["Status"] == "InProgress"
    assert served.describe(task_id) == "InProgress"
    assert "Error" not in served.call(ts.UPDATE, {**ids, "Volume": 10}), "recovered: it takes Updates again"

    assert health(State="stopped").json()["EndReason"] == "stopped by another caller"
    assert served.describe(task_id) == "NotExist"
    assert state.set_ingest_state(APP, task_id, "running")
    assert state.set_ingest_state(APP, task_id, "ended") and state.tasks_json()[0]["EndReason"] == "the source ended"
    assert not state.set_ingest_state(APP, task_id, "ended") and not state.set_ingest_state(APP, "nope", "running")

    for body, status, words in [
        ({"State": "exploded"}, 400, "State must be one of"),
        ({"State": "failed", "Gone": "yes"}, 400, "Gone must be"),
        ({"State": "running", "Colour": "red"}, 400, "unknown fields: Colour"),
        ({"State": "running", "TaskId": "nope"}, 404, "no ingest nope"),
        ({"State": "running", "SdkAppId": "1400000001"}, 400, "name the task"),
    ]:
        answer = health(**body)
        assert answer.status_code == status and words in answer.json()["error"], (body, answer.text)
    assert served.control.post("/tasks/drift", json=ids).status_code == 404, "an ingest has no configuration to drift"


def test_start_and_stop_post_signed_701_and_702_callbacks(
    served: Served, state: ts.TencentState, receiver: tuple[Receiver, str]
) -> None:
    """trtc.io/document/62717: POST, Content-Type application/json, SdkAppId and Sign headers, body EventGroupId 7,
    EventType, CallbackMsTs, EventInfo {EventMsTs, TaskId, Status}; Sign per trtc.io/document/54912."""
    hook, url = receiver
    registered = served.control.post("/callbacks", json={"Url": f"{url}/trtc", "Key": hook.key, "SdkAppId": APP})
    assert registered.status_code == 200 and registered.json()[0]["Signed"] is True
    before = int(time.time() * 1000)
    task_id = served.call(ts.START, start_body())["TaskId"]
    assert "Error" not in served.call(ts.STOP, {"SdkAppId": APP, "TaskId": task_id})
    started, stopped = hook.wait(2)
    for got in (started, stopped):
        assert got.path == "/trtc" and got.verified, got.headers
        assert got.headers["sdkappid"] == str(APP) and got.headers["content-type"] == "application/json"
        assert set(got.body) == {"EventGroupId", "EventType", "CallbackMsTs", "EventInfo"} and got.body["EventGroupId"] == 7
        assert set(got.body["EventInfo"]) == {"EventMsTs", "TaskId", "Status"} and got.body["EventInfo"]["TaskId"] == task_id
        assert before <= got.body["EventInfo"]["EventMsTs"] <= got.body["CallbackMsTs"] <= int(time.time() * 1000)
    assert events([started, stopped]) == [(701, 0), (702, 0)]
    assert state.callbacks.wait_idle(5)
    log = served.control.get("/callbacks").json()
    assert [(a["status"], a["final"], a["label"]["EventType"]) for a in log["attempts"]] == [(200, True, 701), (200, True, 702)]


def test_health_commands_send_their_callbacks_and_a_lost_start_still_names_its_task(
    served: Served, state: ts.TencentState, receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver
    state.set_callback(f"{url}/any", hook.key)  # every application's
    state.lose_answer(ts.START, seconds=1.0)
    with pytest.raises(httpx.ReadTimeout):
        served.call(ts.START, start_body(), timeout=0.2)
    (first,) = hook.wait(1)
    task_id = first.body["EventInfo"]["TaskId"]
    assert served.describe(task_id) == "InProgress", "the callback told what the lost answer would have"

    ids = {"SdkAppId": APP, "TaskId": task_id}
    for state_name in ("retrying", "failed"):
        served.control.post("/tasks/health", json={**ids, "State": state_name, "Gone": False}).raise_for_status()
    served.control.post("/tasks/recover", json=ids).raise_for_status()
    served.control.post("/tasks/health", json={**ids, "State": "ended"}).raise_for_status()
    got = hook.wait(5)
    assert events(got) == [(701, 0), (701, 2), (701, 1), (701, 0), (702, 0)]
    assert all(g.verified and g.body["EventInfo"]["TaskId"] == task_id for g in got)
    stamps = [g.body["EventInfo"]["EventMsTs"] for g in got]
    assert stamps == sorted(stamps)


def test_receiver_failures_are_retried_with_a_new_sending_time_then_given_up(served: Served, state: ts.TencentState) -> None:
    """62717: no 200 within 5 s is a failure; retry at once, then every 10 s, for a minute (shortened here)."""
    hook = Receiver("k3y", answers=[500, 503])
    with BackgroundServer(hook.app) as server:
        state.set_callback(f"{server.url}/flaky", hook.key, APP, RetryPolicy(timeout=1, retry_every=0.3, give_up_after=5))
        task_id = served.call(ts.START, start_body())["TaskId"]
        got = hook.wait(3)
        assert state.callbacks.wait_idle(5)
        assert [g.body["EventInfo"] for g in got] == [got[0].body["EventInfo"]] * 3, "one event, three deliveries"
        assert got[0].body["EventInfo"]["TaskId"] == task_id and all(g.verified for g in got)
        assert got[1].at - got[0].at < 0.25 <= got[2].at - got[1].at, "the first retry at once, the next after RetryEvery"
        assert [g.body["CallbackMsTs"] for g in got] == sorted(g.body["CallbackMsTs"] for g in got)
        attempts = state.callbacks.attempts()
        assert [(a.attempt, a.status, a.final) for a in attempts] == [(1, 500, False), (2, 503, False), (3, 200, True)]

        hook.answers = [500] * 20
        state.set_callback(f"{server.url}/down", hook.key, APP, RetryPolicy(timeout=1, retry_every=0.2, give_up_after=0.5))
        assert "Error" not in served.call(ts.STOP, {"SdkAppId": APP, "TaskId": task_id})
        assert state.callbacks.wait_idle(5)
        tries = [a for a in state.callbacks.attempts() if a.label["EventType"] == 702]
        assert 3 <= len(tries) <= 4 and all(a.status == 500 for a in tries)
        assert [a.final for a in tries] == [False] * (len(tries) - 1) + [True], "given up once the window closed"

    state.set_callback("http://127.0.0.1:9/nobody", "k", APP, RetryPolicy(timeout=1, retry_every=0.1, give_up_after=0.05))
    state.send_callback(APP, 701, task_id, 0)
    assert state.callbacks.wait_idle(5)
    assert state.callbacks.attempts()[-1].error is not None and state.callbacks.attempts()[-1].status is None


def test_events_on_command_duplicated_forged_arbitrary_and_unsigned(
    served: Served, state: ts.TencentState, receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver
    served.control.post("/callbacks", json={"Url": f"{url}/trtc", "Key": hook.key, "SdkAppId": APP}).raise_for_status()
    send = served.control.post("/callbacks/send", json={"SdkAppId": APP, "EventType": 702, "TaskId": "t1", "Status": 0,
                                                        "EventMsTs": 1701937900013, "Copies": 2})  # fmt: skip
    assert send.status_code == 200 and len(send.json()["events"]) == 2
    first, second = hook.wait(2)
    assert first.body["EventInfo"] == second.body["EventInfo"] == {"EventMsTs": 1701937900013, "TaskId": "t1", "Status": 0}
    assert first.verified and second.verified, "a duplicate is as genuine as the first: only dedup on EventInfo helps"

    served.control.post("/callbacks/send", json={"SdkAppId": APP, "TaskId": "t1", "SignWith": "forger"}).raise_for_status()
    forged = hook.wait(3)[2]
    assert not forged.verified and forged.headers["sign"] and events([forged]) == [(701, 0)]

    arbitrary = {"EventGroupId": 7, "EventType": 799, "CallbackMsTs": 1, "EventInfo": {"Anything": ["goes"]}}
    served.control.post("/callbacks/send", json={"SdkAppId": APP, "Body": arbitrary}).raise_for_status()
    extra = {"SdkAppId": APP, "TaskId": "t2", "EventInfo": {"RoomId": "r"}}
    served.control.post("/callbacks/send", json=extra).raise_for_status()
    got = hook.wait(5)
    assert got[3].body == arbitrary and got[3].verified
    info = got[4].body["EventInfo"]
    assert info == {"EventMsTs": info["EventMsTs"], "TaskId": "t2", "Status": 0, "RoomId": "r"}

    served.control.post("/callbacks", json={"Url": f"{url}/plain"}).raise_for_status()  # every other app, no key
    assert state.send_callback(APP + 1, 701, "t3", 2)
    unsigned = hook.wait(6)[5]
    assert unsigned.path == "/plain" and "sign" not in unsigned.headers and unsigned.headers["sdkappid"] == str(APP + 1)

    for body, status, words in [
        ({"SdkAppId": APP, "Copies": 0}, 400, "Copies must be"),
        ({"SdkAppId": APP, "Colour": 1}, 400, "unknown fields: Colour"),
        ({"TaskId": "t"}, 400, "SdkAppId"),
        ({"SdkAppId": APP, "Url": "ftp://x"}, 400, "Url must be"),
    ]:
        answer = served.control.post("/callbacks/send", json=body)
        assert answer.status_code == status and words in answer.json()["error"], (body, answer.text)
    for body, words in [({"Url": "nope"}, "Url must be"), ({"Url": "http://x", "Key": ""}, "Key must be"),
                        ({"Url": "http://x", "RetryEvery": 0}, "seconds in")]:  # fmt: skip
        answer = served.control.post("/callbacks", json=body)
        assert answer.status_code == 400 and words in answer.json()["error"], (body, answer.text)

    assert served.control.delete("/callbacks").json() == {"cleared": True}
    assert served.control.get("/callbacks").json() == {"registrations": [], "attempts": []}
    nowhere = served.control.post("/callbacks/send", json={"SdkAppId": APP})
    assert nowhere.status_code == 409 and "no callback URL" in nowhere.json()["error"]
    served.control.post("/callbacks", json={"Url": f"{url}/trtc", "Key": hook.key}).raise_for_status()
    assert served.control.post("/reset").status_code == 200
    assert served.control.get("/callbacks").json()["registrations"] == [], "reset forgets registrations"


def test_the_twelve_hour_pause_limit_sends_the_stop_callback_dated_when_it_ended(receiver: tuple[Receiver, str]) -> None:
    hook, url = receiver
    now = [1_700_000_000.0]
    app, state = ts.create_tencent_sim(ts.TencentSimConfig(clock=lambda: now[0]), site="china")
    state.set_callback(f"{url}/trtc", hook.key, APP)
    with BackgroundServer(app) as server:
        served = Served(server.url)
        task_id = served.call(ts.START, start_body(), region="ap-beijing", timestamp=int(now[0]))["TaskId"]
        paused = served.call(ts.UPDATE, {"SdkAppId": APP, "TaskId": task_id, "IsPause": True}, region="ap-beijing",
                             timestamp=int(now[0]))  # fmt: skip
        assert "Error" not in paused
        now[0] += 13 * 3600
        assert state.tasks_json()[0]["Status"] == "NotExist"
        started, stopped = hook.wait(2)
        served.control.close()
    assert events([started, stopped]) == [(701, 0), (702, 0)]
    assert stopped.body["EventInfo"]["EventMsTs"] == (1_700_000_000 + 12 * 3600) * 1000
    assert stopped.body["CallbackMsTs"] == int(now[0] * 1000)
