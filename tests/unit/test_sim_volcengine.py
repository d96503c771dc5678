"""The Volcengine simulator, driven by requests signed with the official SDK's SignerV4 (never with
bot/providers code), so a pass here says the simulator accepts exactly what the real service would."""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from volcengine.auth.SignerV4 import SignerV4
from volcengine.auth.SignParam import SignParam
from volcengine.Credentials import Credentials

from bot.sandbox import volcengine_sim as vs
from bot.sandbox.serve import BackgroundServer

HOST = "rtc.sandbox.test"
AK, SK = vs.DEFAULT_ACCESS_KEY, vs.DEFAULT_SECRET_KEY


def sdk_headers(
    method: str,
    query: dict[str, str],
    body: bytes,
    *,
    host: str = HOST,
    ak: str = AK,
    sk: str = SK,
    region: str = "cn-north-1",
    token: str = "",
    when: datetime | None = None,
) -> dict[str, str]:
    param = SignParam()
    param.set_method(method)
    param.set_host(host)
    param.set_path("/")
    param.set_query(OrderedDict(query))
    param.set_body(body)
    param.set_date(when or datetime.now(UTC))
    headers: OrderedDict[str, str] = OrderedDict(Host=host)
    if method == "POST":
        headers["Content-Type"] = "application/json"
    param.set_header_list(headers)
    result = SignerV4.sign_only(param, Credentials(ak, sk, "rtc", region, session_token=token))
    out = {"Authorization": result.authorization, "X-Date": result.xdate, "X-Content-Sha256": result.xContextSha256}
    if method == "POST":
        out["Content-Type"] = "application/json"
    if token:
        out["X-Security-Token"] = token
    return out


class Volc:
    """A tiny signed caller: what any client would do, with knobs to break each part of the signature."""

    def __init__(self, client: httpx.AsyncClient, host: str = HOST) -> None:
        self.client = client
        self.host = host

    async def call(
        self,
        action: str,
        body: dict[str, Any] | None = None,
        query: dict[str, str] | None = None,
        send_body: bytes | None = None,
        **sign: Any,
    ) -> httpx.Response:
        method = vs.METHODS.get(action, "POST")
        q = {"Action": action, "Version": vs.VERSION, **(query or {})}
        raw = json.dumps(body or {}).encode() if method == "POST" else b""
        headers = sdk_headers(method, q, raw, host=self.host, **sign)
        return await self.client.request(
            method, "/", params=q, content=send_body if send_body is not None else raw, headers=headers
        )


@pytest.fixture
def sim() -> tuple[Any, vs.VolcengineState]:
    return vs.create_volcengine_sim()


@pytest.fixture
async def volc(sim: tuple[Any, vs.VolcengineState]) -> AsyncIterator[Volc]:
    transport = httpx.ASGITransport(app=sim[0])
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{HOST}") as client:
        yield Volc(client)


@pytest.fixture
def state(sim: tuple[Any, vs.VolcengineState]) -> vs.VolcengineState:
    return sim[1]


IDS = {"AppId": "app1", "RoomId": "room1", "TaskId": "task1"}


def start_body(**over: Any) -> dict[str, Any]:
    # Deliberately not the example of bot/sandbox/examples.py: the simulator's tests need every section it
    # stores and checks (StreamType, the audio Encode fields, Control with SpatialConfig) in one Start.
    body: dict[str, Any] = {
        **IDS,
        "PushURL": "rtmp://push.example.com/live/s1",
        "TargetStreams": {"StreamList": [{"UserId": "u1", "Index": 0}, {"UserId": "u2", "Index": 1, "StreamType": 1}]},
        "Layout": {
            "LayoutMode": 2,
            "CustomLayout": {
                "Canvas": {"Width": 1280, "Height": 720, "Background": "#112233"},
                "Regions": [
                    {"StreamIndex": 0, "WidthProportion": 0.5, "HeightProportion": 1},
                    {"StreamIndex": 1, "LocationX": 0.5, "WidthProportion": 0.5, "HeightProportion": 1, "ZOrder": 1},
                ],
            },
        },
        "Encode": {"VideoFps": 30, "AudioProfile": 1, "AudioChannels": 2, "AudioBitrate": 96},
        "Control": {
            "MaxIdleTime": 300,
            "SpatialConfig": {"EnableSpatialRender": True, "AudienceSpatialPosition": [1, 2, 3]},
        },
    }
    body.update(over)
    return body


def error_of(response: httpx.Response) -> tuple[int, str]:
    meta = response.json()["ResponseMetadata"]
    assert meta["RequestId"]
    return response.status_code, meta.get("Error", {}).get("Code", "")


async def get_task(volc: Volc) -> dict[str, Any]:
    response = await volc.call(vs.GET, query=IDS)
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()["Result"]["PushMixedStreamToCDNTask"]
    return task


# --- signatures -----------------------------------------------------------------------------------------


async def test_sdk_signed_start_is_accepted_with_the_documented_envelope(volc: Volc) -> None:
    response = await volc.call(vs.START, start_body())
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload["Result"] == "ok"
    meta = payload["ResponseMetadata"]
    assert meta["Action"] == vs.START and meta["Version"] == vs.VERSION
    assert meta["Service"] == "rtc" and meta["Region"] == "cn-north-1"
    assert "Error" not in meta
    other = await volc.call(vs.GET, query=IDS)
    assert other.json()["ResponseMetadata"]["RequestId"] != meta["RequestId"]


async def test_wrong_secret_is_signature_does_not_match(volc: Volc) -> None:
    response = await volc.call(vs.START, start_body(), sk="not-the-secret")
    assert error_of(response) == (401, "SignatureDoesNotMatch")
    assert "Result" not in response.json()


async def test_unknown_access_key_and_missing_authorization(volc: Volc) -> None:
    assert error_of(await volc.call(vs.START, start_body(), ak="AKLTnobody")) == (401, "InvalidAccessKey")
    response = await volc.client.post("/", params={"Action": vs.START, "Version": vs.VERSION}, content=b"{}")
    assert error_of(response) == (401, "MissingAuthenticationToken")


async def test_clock_skew_beyond_fifteen_minutes_is_invalid_timestamp(volc: Volc) -> None:
    late = datetime.now(UTC) - timedelta(minutes=16)
    assert error_of(await volc.call(vs.START, start_body(), when=late)) == (400, "InvalidTimestamp")
    early = datetime.now(UTC) + timedelta(minutes=16)
    assert error_of(await volc.call(vs.START, start_body(), when=early)) == (400, "InvalidTimestamp")
    fine = datetime.now(UTC) - timedelta(minutes=14)
    assert (await volc.call(vs.START, start_body(), when=fine)).status_code == 200


async def test_tampered_body_is_rejected(volc: Volc) -> None:
    body = start_body()
    tampered = json.dumps({**body, "PushURL": "rtmp://evil.example.com/x"}).encode()
    assert error_of(await volc.call(vs.START, body, send_body=tampered)) == (401, "SignatureDoesNotMatch")


async def test_content_hash_must_match_the_body_even_when_the_signature_covers_it(volc: Volc) -> None:
    raw = json.dumps(start_body()).encode()
    q = {"Action": vs.START, "Version": vs.VERSION}
    headers = sdk_headers("POST", q, raw)
    headers["X-Content-Sha256"] = "0" * 64
    response = await volc.client.post("/", params=q, content=raw, headers=headers)
    assert error_of(response) == (401, "SignatureDoesNotMatch")
    assert "X-Content-Sha256" in response.json()["ResponseMetadata"]["Error"]["Message"]


async def test_wrong_region_in_scope_is_rejected(volc: Volc) -> None:
    response = await volc.call(vs.START, start_body(), region="ap-singapore-1")
    assert error_of(response) == (401, "SignatureDoesNotMatch")
    assert "region" in response.json()["ResponseMetadata"]["Error"]["Message"]


async def test_unsigned_header_list_must_cover_host_date_and_hash(volc: Volc) -> None:
    raw = json.dumps(start_body()).encode()
    q = {"Action": vs.START, "Version": vs.VERSION}
    headers = sdk_headers("POST", q, raw)
    headers["Authorization"] = headers["Authorization"].replace("host;", "")
    assert error_of(await volc.client.post("/", params=q, content=raw, headers=headers)) == (401, "SignatureDoesNotMatch")


async def test_session_token_is_checked_and_signed() -> None:
    account = vs.VolcengineAccount("AKLTsts", "sts-secret", session_token="sts-token-1")
    app, _ = vs.create_volcengine_sim(vs.VolcengineSimConfig(accounts=(account,)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{HOST}") as client:
        volc = Volc(client)
        ok = await volc.call(vs.START, start_body(), ak="AKLTsts", sk="sts-secret", token="sts-token-1")
        assert ok.status_code == 200, ok.text
        # Volcengine's common error codes (www.volcengine.com/docs/6408/78947): a bad STS token is InvalidSecretToken
        wrong = await volc.call(vs.GET, query=IDS, ak="AKLTsts", sk="sts-secret", token="other")
        assert error_of(wrong) == (401, "InvalidSecretToken")
        absent = await volc.call(vs.GET, query=IDS, ak="AKLTsts", sk="sts-secret")
        assert error_of(absent) == (401, "InvalidSecretToken")


async def test_malformed_authorization_is_invalid_authorization_400(volc: Volc) -> None:
    """Volcengine's common error codes (www.volcengine.com/docs/6408/78947): InvalidAuthorization, HTTP 400."""
    raw = json.dumps(start_body()).encode()
    q = {"Action": vs.START, "Version": vs.VERSION}
    headers = sdk_headers("POST", q, raw)
    headers["Authorization"] = "HMAC-SHA256 nonsense"
    assert error_of(await volc.client.post("/", params=q, content=raw, headers=headers)) == (400, "InvalidAuthorization")


async def test_get_signs_a_canonical_query_with_reserved_characters(volc: Volc) -> None:
    await volc.call(vs.START, start_body())
    response = await volc.call(vs.GET, query={**IDS, "Note": "a b/c~d*e+f&g=h"})
    assert response.status_code == 200, response.text


async def test_unknown_action_or_version_is_404(volc: Volc) -> None:
    assert error_of(await volc.call("StopPushMixedStreamToCDN", IDS)) == (404, "InvalidActionOrVersion")
    response = await volc.call(vs.GET, query={**IDS, "Version": "2023-11-01"})
    assert error_of(response) == (404, "InvalidActionOrVersion")


# --- bodies ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({k: v for k, v in start_body().items() if k != "AppId"}, "MissingParameter"),
        (start_body(RoomId="room 1"), "InvalidParameter"),
        (start_body(TaskId="t" * 129), "InvalidParameter"),
        ({k: v for k, v in start_body().items() if k != "PushURL"}, "MissingParameter"),
        (start_body(PushURL="https://push.example.com/live"), "InvalidParameter.InvalidRtmpAddress"),
        (start_body(TargetStreams={"StreamList": [{"Index": 0}]}), "MissingParameter"),
        (start_body(TargetStreams={"StreamList": [{"UserId": "u1", "Index": 0}, {"UserId": "u2", "Index": 0}]}),
         "InvalidParameter"),
    ],
)  # fmt: skip
async def test_required_field_problems_are_rejected(volc: Volc, body: dict[str, Any], code: str) -> None:
    status, got = error_of(await volc.call(vs.START, body))
    assert (status, got) == (400, code)


def with_regions(regions: list[dict[str, Any]]) -> dict[str, Any]:
    body = start_body()
    body["Layout"]["CustomLayout"]["Regions"] = regions
    return body


@pytest.mark.parametrize(
    ("region", "code", "words"),
    [
        ({"StreamIndex": 7, "WidthProportion": 0.5, "HeightProportion": 0.5}, "InvalidParameter", "StreamIndex"),
        ({"StreamIndex": 0, "HeightProportion": 0.5}, "MissingParameter", "WidthProportion"),
        ({"StreamIndex": 0, "WidthProportion": 1.5, "HeightProportion": 0.5}, "InvalidParameter", "(0, 1]"),
        ({"StreamIndex": 0, "LocationX": 0.6, "WidthProportion": 0.5, "HeightProportion": 0.5}, "InvalidParameter",
         "LocationX + WidthProportion"),
        ({"StreamIndex": 0, "LocationY": 1.0, "WidthProportion": 0.5, "HeightProportion": 0.5}, "InvalidParameter",
         "[0, 1)"),
    ],
)  # fmt: skip
async def test_region_rules_are_loud(volc: Volc, region: dict[str, Any], code: str, words: str) -> None:
    response = await volc.call(vs.START, with_regions([region]))
    assert error_of(response) == (400, code)
    assert words in response.json()["ResponseMetadata"]["Error"]["Message"]


async def test_invalid_optional_values_are_silently_replaced_by_defaults(volc: Volc, state: vs.VolcengineState) -> None:
    body = start_body(Encode={"VideoFps": 100, "VideoGop": 9, "AudioSampleRate": 22050})
    body["Layout"]["CustomLayout"]["Canvas"]["Background"] = "red"
    body["Layout"]["CustomLayout"]["Regions"][0].update(Alpha=1.5, ZOrder=101, RenderMode=5)
    response = await volc.call(vs.START, body)
    assert response.status_code == 200, response.text
    task = await get_task(volc)
    assert task["Encode"]["VideoFps"] == 15 and task["Encode"]["VideoGop"] == 4
    assert task["Encode"]["AudioSampleRate"] == 48000
    assert task["Layout"]["CustomLayout"]["Canvas"]["Background"] == "#000000"
    region = task["Layout"]["CustomLayout"]["Regions"][0]
    assert (region["Alpha"], region["ZOrder"], region["RenderMode"]) == (1.0, 0, 0)
    paths = {r["path"]: r for r in state.silent_resets()}
    assert paths["Encode.VideoFps"] == {"action": vs.START, "path": "Encode.VideoFps", "sent": 100, "applied": 15}
    assert {"Layout.CustomLayout.Canvas.Background", "Layout.CustomLayout.Regions[0].Alpha"} <= set(paths)


async def test_audio_bitrate_above_the_profile_cap_is_reset(volc: Volc, state: vs.VolcengineState) -> None:
    body = start_body(Encode={"AudioProfile": 2, "AudioBitrate": 128})
    assert (await volc.call(vs.START, body)).status_code == 200
    assert (await get_task(volc))["Encode"]["AudioBitrate"] == 64
    assert [r["path"] for r in state.silent_resets()] == ["Encode.AudioBitrate"]


async def test_corner_radius_above_half_the_shorter_side_is_ignored(volc: Volc, state: vs.VolcengineState) -> None:
    body = start_body()
    regions = body["Layout"]["CustomLayout"]["Regions"]
    regions[0]["CornerRadius"] = 0.5  # 640 px on a 1280-wide canvas; the region is 640 x 720: 320 px at most
    regions[1]["CornerRadius"] = 0.25  # exactly 320 px: kept
    assert (await volc.call(vs.START, body)).status_code == 200
    kept = (await get_task(volc))["Layout"]["CustomLayout"]["Regions"]
    assert "CornerRadius" not in kept[0] and kept[1]["CornerRadius"] == 0.25
    assert state.silent_resets() == [
        {"action": vs.START, "path": "Layout.CustomLayout.Regions[0].CornerRadius", "sent": 0.5, "applied": None}
    ]


# --- task state -----------------------------------------------------------------------------------------


async def test_get_reports_the_task_in_force(volc: Volc) -> None:
    await volc.call(vs.START, start_body())
    task = await get_task(volc)
    assert task["Status"] == 2 and task["PushStreamState"] == 5
    assert task["StartTime"] > 0 and task["EndTime"] == 0
    assert task["PushURL"] == "rtmp://push.example.com/live/s1" and task["StopReason"] == ""
    assert task["Layout"]["LayoutMode"] == 2
    assert task["Layout"]["CustomLayout"]["Canvas"] == {"Width": 1280, "Height": 720, "Background": "#112233"}
    assert [s["UserId"] for s in task["TargetStreams"]["StreamList"]] == ["u1", "u2"]
    assert task["Encode"]["VideoFps"] == 30 and task["Encode"]["VideoWidth"] == 640
    assert task["Control"]["MaxIdleTime"] == 300 and task["Control"]["SpatialConfig"]["EnableSpatialRender"] is True


async def test_duplicate_start_is_task_already_exists(volc: Volc) -> None:
    await volc.call(vs.START, start_body())
    assert error_of(await volc.call(vs.START, start_body())) == (400, "InvalidParameter.TaskAlreadyExists")


async def test_update_without_partial_flag_resets_every_omitted_updatable_field(volc: Volc) -> None:
    await volc.call(vs.START, start_body())
    update = {
        **IDS,
        "TargetStreams": {"StreamList": [{"UserId": "u3", "Index": 4}]},
        "Layout": {"CustomLayout": {"Regions": [{"StreamIndex": 4, "WidthProportion": 1, "HeightProportion": 1}]}},
    }
    response = await volc.call(vs.UPDATE, update)
    assert response.status_code == 200, response.text
    task = await get_task(volc)
    canvas = task["Layout"]["CustomLayout"]["Canvas"]
    assert canvas == {"Width": 1280, "Height": 720, "Background": "#000000"}  # size kept, colour reset
    assert task["Encode"]["VideoFps"] == 15 and task["Encode"]["AudioBitrate"] == 64  # reset
    assert task["Encode"]["AudioProfile"] == 1  # not updatable: kept
    assert "SpatialConfig" not in task["Control"] and task["Control"]["MaxIdleTime"] == 300
    assert task["Layout"]["LayoutMode"] == 2
    assert [s["UserId"] for s in task["TargetStreams"]["StreamList"]] == ["u3"]


async def test_update_ignores_fields_it_cannot_change(volc: Volc, state: vs.VolcengineState) -> None:
    await volc.call(vs.START, start_body())
    update = {
        **IDS,
        "IsUpdatePartialParam": True,
        "Layout": {"LayoutMode": 0, "CustomLayout": {"Canvas": {"Width": 641}}},
        "Encode": {"AudioProfile": 0, "VideoCodec": 1},
    }
    assert (await volc.call(vs.UPDATE, update)).status_code == 200
    task = await get_task(volc)
    assert task["Layout"]["LayoutMode"] == 2 and task["Layout"]["CustomLayout"]["Canvas"]["Width"] == 1280
    assert task["Encode"]["AudioProfile"] == 1 and task["Encode"]["VideoCodec"] == 0
    ignored = state.requests.all(vs.UPDATE)[-1].ignored
    assert "Encode.AudioProfile (not updatable)" in ignored and "Layout.LayoutMode (not updatable)" in ignored
    assert state.silent_resets() == []  # an ignored field is not also reported as reset


async def test_partial_update_changes_only_what_is_sent(volc: Volc) -> None:
    await volc.call(vs.START, start_body())
    partial = {**IDS, "IsUpdatePartialParam": True, "Encode": {"VideoFps": 25}}
    assert (await volc.call(vs.UPDATE, partial)).status_code == 200
    task = await get_task(volc)
    assert task["Encode"]["VideoFps"] == 25 and task["Encode"]["AudioBitrate"] == 96
    assert task["Layout"]["CustomLayout"]["Canvas"]["Background"] == "#112233"
    assert len(task["Layout"]["CustomLayout"]["Regions"]) == 2
    assert task["Control"]["SpatialConfig"]["AudienceSpatialPosition"] == [1, 2, 3]


async def test_partial_update_replaces_arrays_whole(volc: Volc) -> None:
    await volc.call(vs.START, start_body())
    regions = [
        {"StreamIndex": 1, "WidthProportion": 0.25, "HeightProportion": 0.25},
        {"StreamIndex": 0, "LocationX": 0.5, "WidthProportion": 0.5, "HeightProportion": 0.5},
    ]
    partial = {**IDS, "IsUpdatePartialParam": True, "Layout": {"CustomLayout": {"Regions": regions}}}
    assert (await volc.call(vs.UPDATE, partial)).status_code == 200
    task = await get_task(volc)
    first, second = task["Layout"]["CustomLayout"]["Regions"]
    assert first["StreamIndex"] == 1 and first["Alpha"] == 1.0 and first["LocationX"] == 0
    assert first["ZOrder"] == 0, "the element is whole: stream 1's region no longer has the ZOrder it started with"
    assert second["StreamIndex"] == 0 and second["LocationX"] == 0.5
    assert len(task["TargetStreams"]["StreamList"]) == 2


async def test_partial_update_still_checks_regions_against_streams(volc: Volc) -> None:
    await volc.call(vs.START, start_body())
    partial = {**IDS, "IsUpdatePartialParam": True, "TargetStreams": {"StreamList": [{"UserId": "u1", "Index": 0}]}}
    assert error_of(await volc.call(vs.UPDATE, partial)) == (400, "InvalidParameter")


async def test_sequence_number_must_grow(volc: Volc) -> None:
    await volc.call(vs.START, start_body())
    base = {**IDS, "IsUpdatePartialParam": True, "Encode": {"VideoFps": 20}}
    assert (await volc.call(vs.UPDATE, {**base, "SequenceNumber": 5})).status_code == 200
    for stale in (5, 4):
        response = await volc.call(vs.UPDATE, {**base, "SequenceNumber": stale, "Encode": {"VideoFps": 10}})
        assert error_of(response) == (400, "InvalidParameter.SequenceNumber")
    assert (await get_task(volc))["Encode"]["VideoFps"] == 20
    assert (await volc.call(vs.UPDATE, {**base, "SequenceNumber": 6})).status_code == 200
    assert (await volc.call(vs.UPDATE, base)).status_code == 200


async def test_update_of_unknown_or_stopped_task_is_active_task_not_found(volc: Volc) -> None:
    code = (400, "InvalidParameter.ErrorActiveTaskNotFound")
    assert error_of(await volc.call(vs.UPDATE, IDS)) == code
    await volc.call(vs.START, start_body())
    assert (await volc.call(vs.STOP, IDS)).status_code == 200
    assert error_of(await volc.call(vs.UPDATE, IDS)) == code
    assert error_of(await volc.call(vs.STOP, IDS)) == code
    task = await get_task(volc)
    assert task["Status"] == 3 and task["StopReason"] == "StopByAPI" and task["EndTime"] >= task["StartTime"]


async def test_get_of_a_never_started_task(volc: Volc) -> None:
    assert error_of(await volc.call(vs.GET, query=IDS)) == (400, "InvalidParameter.ErrorActiveTaskNotFound")
    assert error_of(await volc.call(vs.GET, query={"AppId": "app1", "RoomId": "room1"})) == (400, "MissingParameter")


async def test_get_sees_only_tasks_started_in_the_last_72_hours() -> None:
    """The service's clock moves on while the task runs; signatures follow it, so only the window decides."""
    now = [time.time()]
    app, _ = vs.create_volcengine_sim(vs.VolcengineSimConfig(clock=lambda: now[0]))
    window = 72 * 3600

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{HOST}") as client:
        volc = Volc(client)

        async def call_at(action: str, body: dict[str, Any] | None = None, query: dict[str, str] | None = None) -> httpx.Response:
            return await volc.call(action, body, query=query, when=datetime.fromtimestamp(now[0], UTC))

        assert (await call_at(vs.START, start_body())).status_code == 200
        by_user = {"AppId": "app1", "RoomId": "room1", "UserId": "u1"}
        now[0] += window - 1
        for query in (IDS, by_user):
            response = await call_at(vs.GET, query=query)
            assert response.status_code == 200, response.text
        assert (await call_at(vs.UPDATE, {**IDS, "IsUpdatePartialParam": True, "Encode": {"VideoFps": 20}})).status_code == 200

        now[0] += 2
        never_started = error_of(await call_at(vs.GET, query={**IDS, "TaskId": "never"}))
        assert never_started == (400, "InvalidParameter.ErrorActiveTaskNotFound")
        for query in (IDS, by_user):
            assert error_of(await call_at(vs.GET, query=query)) == never_started
        # Only Get's view is limited: the task itself still runs and takes updates.
        assert (await call_at(vs.UPDATE, {**IDS, "IsUpdatePartialParam": True, "Encode": {"VideoFps": 25}})).status_code == 200

        assert (await call_at(vs.START, start_body(TaskId="task2"))).status_code == 200
        found = await call_at(vs.GET, query=by_user)
        assert found.json()["Result"]["PushMixedStreamToCDNTask"]["StartTime"] == int(now[0] * 1000)


async def test_update_needs_a_task_started_in_custom_layout(volc: Volc) -> None:
    body = start_body(Layout={"LayoutMode": 0})
    assert (await volc.call(vs.START, body)).status_code == 200
    response = await volc.call(vs.UPDATE, IDS)
    assert error_of(response) == (400, "InvalidParameter")
    assert "LayoutMode 2" in response.json()["ResponseMetadata"]["Error"]["Message"]


async def test_task_ended_by_the_service_is_reported(volc: Volc, state: vs.VolcengineState) -> None:
    await volc.call(vs.START, start_body())
    assert state.end_task("app1", "room1", "task1", reason="IdleTimeOut")
    task = await get_task(volc)
    assert (task["Status"], task["StopReason"]) == (3, "IdleTimeOut")


# --- QPS and faults -------------------------------------------------------------------------------------


async def test_qps_limit_answers_429_per_account_and_action(volc: Volc, state: vs.VolcengineState) -> None:
    await volc.call(vs.START, start_body())
    state.set_qps(limits={vs.GET: 1})
    assert (await volc.call(vs.GET, query=IDS)).status_code == 200
    assert error_of(await volc.call(vs.GET, query=IDS)) == (429, "FlowLimitExceeded.QPSOverLimit")
    assert (await volc.call(vs.UPDATE, {**IDS, "IsUpdatePartialParam": True})).status_code == 200  # own bucket
    state.set_qps(enabled=False)
    for _ in range(5):
        assert (await volc.call(vs.GET, query=IDS)).status_code == 200


async def test_qps_buckets_are_per_account() -> None:
    other = vs.VolcengineAccount("AKLTother", "other-secret")
    app, state = vs.create_volcengine_sim(vs.VolcengineSimConfig(accounts=(vs.VolcengineAccount(), other)))
    state.set_qps(limits={vs.GET: 1})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{HOST}") as client:
        volc = Volc(client)
        first = await volc.call(vs.GET, query=IDS)
        assert error_of(first)[1] == "InvalidParameter.ErrorActiveTaskNotFound"  # passed the limiter
        assert error_of(await volc.call(vs.GET, query=IDS))[1] == "FlowLimitExceeded.QPSOverLimit"
        again = await volc.call(vs.GET, query=IDS, ak="AKLTother", sk="other-secret")
        assert error_of(again)[1] == "InvalidParameter.ErrorActiveTaskNotFound"


async def test_first_n_calls_fail_with_the_chosen_code(volc: Volc, state: vs.VolcengineState) -> None:
    state.fail_first(2, "InternalError", action=vs.START)
    assert error_of(await volc.call(vs.START, start_body())) == (500, "InternalError")
    assert error_of(await volc.call(vs.START, start_body())) == (500, "InternalError")
    assert (await volc.call(vs.START, start_body())).status_code == 200
    assert state.faults.list() == []


async def test_chosen_code_hits_only_its_action(volc: Volc, state: vs.VolcengineState) -> None:
    state.fail_with_code("AccessDenied.NoPermissionForApp", action=vs.UPDATE)
    assert (await volc.call(vs.START, start_body())).status_code == 200
    for _ in range(2):
        assert error_of(await volc.call(vs.UPDATE, IDS)) == (403, "AccessDenied.NoPermissionForApp")
    state.clear_faults()
    assert (await volc.call(vs.UPDATE, IDS)).status_code == 200


async def test_status_fault_answers_5xx_with_the_envelope(volc: Volc, state: vs.VolcengineState) -> None:
    state.fail_with_status(503, times=1)
    assert error_of(await volc.call(vs.GET, query=IDS)) == (503, "ServiceUnavailableTemp")
    assert error_of(await volc.call(vs.GET, query=IDS)) == (400, "InvalidParameter.ErrorActiveTaskNotFound")


async def test_faults_apply_after_the_signature_is_checked(volc: Volc, state: vs.VolcengineState) -> None:
    state.fail_first(1, "InternalError")
    assert error_of(await volc.call(vs.START, start_body(), sk="bad")) == (401, "SignatureDoesNotMatch")
    assert error_of(await volc.call(vs.START, start_body())) == (500, "InternalError")


async def test_latency_fault_delays_the_answer(volc: Volc, state: vs.VolcengineState) -> None:
    state.add_latency(0.2, action=vs.GET, times=1)
    began = time.monotonic()
    await volc.call(vs.GET, query=IDS)
    assert time.monotonic() - began >= 0.2
    assert state.requests.all(vs.GET)[-1].faults


def test_timeout_fault_outlasts_the_client_and_the_call_still_happens() -> None:
    app, state = vs.create_volcengine_sim()
    state.add_timeout(1.0, action=vs.START)
    with BackgroundServer(app) as server, httpx.Client(base_url=server.url, timeout=0.2) as client:
        raw = json.dumps(start_body()).encode()
        q = {"Action": vs.START, "Version": vs.VERSION}
        host = server.url.removeprefix("http://")
        with pytest.raises(httpx.ReadTimeout):
            client.post("/", params=q, content=raw, headers=sdk_headers("POST", q, raw, host=host))
        deadline = time.monotonic() + 5
        while state.task("app1", "room1", "task1") is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert state.task("app1", "room1", "task1") is not None  # a Start that timed out may have happened
        retry = client.post("/", params=q, content=raw, headers=sdk_headers("POST", q, raw, host=host))
        assert retry.json()["ResponseMetadata"]["Error"]["Code"] == "InvalidParameter.TaskAlreadyExists"


async def test_request_log_keeps_action_headers_body_and_outcome(volc: Volc, state: vs.VolcengineState) -> None:
    await volc.call(vs.START, start_body(), sk="bad")
    (record,) = state.requests.all()
    assert record.action == vs.START and record.code == "SignatureDoesNotMatch" and record.status == 401
    assert record.headers["authorization"].startswith("HMAC-SHA256 Credential=")
    assert json.loads(record.body)["TaskId"] == "task1"


# --- issue 11: the simulator against the Go SDK's 2020-12-01 model ------------------------------------------

THREE = {"StreamList": [{"UserId": "u1", "Index": 0}, {"UserId": "u2", "Index": 1}, {"UserId": "u3", "Index": 2}]}


async def test_v1_every_stream_needs_exactly_one_region_in_a_custom_layout(volc: Volc, state: vs.VolcengineState) -> None:
    """Go SDK model.go, CustomLayout.Regions: StreamIndex and StreamList Index correspond one to one, else
    InvalidParameter; the simulator used to check only the region side."""
    response = await volc.call(vs.START, start_body(TargetStreams=THREE))
    assert error_of(response) == (400, "InvalidParameter")
    assert "StreamList[2] (UserId u3)" in response.json()["ResponseMetadata"]["Error"]["Message"]
    no_index = {"StreamList": [{"UserId": "u1", "Index": 0}, {"UserId": "u2", "Index": 1}, {"UserId": "u3"}]}
    assert error_of(await volc.call(vs.START, start_body(TargetStreams=no_index))) == (400, "InvalidParameter")
    assert state.tasks == {}
    adaptive = start_body(TargetStreams=THREE, Layout={"LayoutMode": 0})
    assert (await volc.call(vs.START, adaptive)).status_code == 200, "outside a custom layout no region is needed"


async def test_v1_a_partial_update_adding_a_stream_without_a_region_is_refused(volc: Volc) -> None:
    await volc.call(vs.START, start_body())
    partial = {**IDS, "IsUpdatePartialParam": True, "TargetStreams": THREE}
    assert error_of(await volc.call(vs.UPDATE, partial)) == (400, "InvalidParameter")
    assert len((await get_task(volc))["TargetStreams"]["StreamList"]) == 2


CONTROL_FOUR = {"MaxRecordTime": 0, "TalkVolume": 40, "VolumeIndicationInterval": 5, "VolumeIndicationMode": True}


async def test_v4_control_has_four_more_start_only_fields(volc: Volc, state: vs.VolcengineState) -> None:
    """Go SDK model.go, …BodyControl: MaxRecordTime, TalkVolume [0, 255], VolumeIndicationInterval [1, ∞) and
    VolumeIndicationMode; Get reports them (…TaskControl). Update cannot change them (API page, 接口行为)."""
    assert (await volc.call(vs.START, start_body(Control=CONTROL_FOUR))).status_code == 200
    control = (await get_task(volc))["Control"]
    assert {k: control[k] for k in CONTROL_FOUR} == CONTROL_FOUR
    assert not any("unknown field" in i for r in state.requests.all() for i in r.ignored)
    update = {**IDS, "IsUpdatePartialParam": True, "Control": {"TalkVolume": 200}}
    assert (await volc.call(vs.UPDATE, update)).status_code == 200
    assert (await get_task(volc))["Control"]["TalkVolume"] == 40
    assert "Control.TalkVolume (not updatable)" in state.requests.all(vs.UPDATE)[-1].ignored


async def test_v4_an_invalid_talk_volume_is_replaced_by_its_default(volc: Volc, state: vs.VolcengineState) -> None:
    assert (await volc.call(vs.START, start_body(Control={"TalkVolume": 256}))).status_code == 200
    assert (await get_task(volc))["Control"]["TalkVolume"] == 0
    assert [r["path"] for r in state.silent_resets()] == ["Control.TalkVolume"]


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://img.example.com/bg?id=7", True),  # Go SDK: a URL to a JPG/JPEG/PNG image; nothing about its name
        ("https://img.example.com/bg.jpeg", True),
        ("https://img.example.com/bg.gif", False),  # assumption: a name that says another format is dropped
        ("https://img.example.com/" + "x" * 1020 + ".png", False),  # over 1024 bytes
    ],
)
async def test_v5_background_image(volc: Volc, state: vs.VolcengineState, url: str, kept: bool) -> None:
    body = start_body()
    body["Layout"]["CustomLayout"]["Canvas"]["BackgroundImage"] = url
    assert (await volc.call(vs.START, body)).status_code == 200
    canvas = (await get_task(volc))["Layout"]["CustomLayout"]["Canvas"]
    assert (canvas.get("BackgroundImage") == url) is kept
    assert bool(state.silent_resets()) is not kept


async def test_v6_he_aac_v2_mono_becomes_stereo(volc: Volc, state: vs.VolcengineState) -> None:
    """Go SDK model.go, Encode.AudioProfile: 2 supports stereo output only; an invalid optional value takes
    its default (AudioChannels: 2)."""
    assert (await volc.call(vs.START, start_body(Encode={"AudioProfile": 2, "AudioChannels": 1}))).status_code == 200
    assert (await get_task(volc))["Encode"]["AudioChannels"] == 2
    assert state.silent_resets() == [{"action": vs.START, "path": "Encode.AudioChannels", "sent": 1, "applied": 2}]


async def test_v7_negative_index_and_sequence_number_are_refused(volc: Volc) -> None:
    """int32 in the Go SDK, meaning of negatives undocumented: the sandbox refuses them (README, assumptions)."""
    negative = {"StreamList": [{"UserId": "u1", "Index": -1}, {"UserId": "u2", "Index": 1}]}
    assert error_of(await volc.call(vs.START, start_body(TargetStreams=negative))) == (400, "InvalidParameter")
    await volc.call(vs.START, start_body())
    partial = {**IDS, "IsUpdatePartialParam": True, "Encode": {"VideoFps": 20}}
    assert error_of(await volc.call(vs.UPDATE, {**partial, "SequenceNumber": -5})) == (400, "InvalidParameter")
    assert (await volc.call(vs.UPDATE, {**partial, "SequenceNumber": 0})).status_code == 200


async def test_v8_result_is_ok_on_success_and_absent_on_failure(volc: Volc) -> None:
    """API page, 返回调用结果: Result is "ok" only on success, empty on failure."""
    ok = await volc.call(vs.START, start_body())
    assert ok.json()["Result"] == "ok"
    failed = await volc.call(vs.START, start_body())
    assert error_of(failed) == (400, "InvalidParameter.TaskAlreadyExists")
    assert failed.json().get("Result") in (None, "")


@pytest.mark.parametrize(
    ("profile", "channels", "sent", "encoded"),
    [(1, 2, 160, 128), (1, 1, 96, 64), (2, 2, 96, 64), (1, 2, 128, 128), (0, 2, 192, 192)],
)
async def test_v10_a_bitrate_above_the_profile_cap_is_encoded_at_the_cap(
    volc: Volc, state: vs.VolcengineState, profile: int, channels: int, sent: int, encoded: int
) -> None:
    """Go SDK model.go, Encode.AudioBitrate: HE-AAC v1 mono and HE-AAC v2 above 64 are encoded at 64, HE-AAC v1
    stereo above 128 at a fixed 128 (not 64)."""
    encode = {"AudioProfile": profile, "AudioChannels": channels, "AudioBitrate": sent}
    assert (await volc.call(vs.START, start_body(Encode=encode))).status_code == 200
    assert (await get_task(volc))["Encode"]["AudioBitrate"] == encoded
    resets = [r for r in state.silent_resets() if r["path"] == "Encode.AudioBitrate"]
    expected = {"action": vs.START, "path": "Encode.AudioBitrate", "sent": sent, "applied": encoded}
    assert resets == ([] if sent == encoded else [expected])


async def test_main_video_stream_wins_over_its_deprecated_index(volc: Volc, state: vs.VolcengineState) -> None:
    """Go SDK model.go, Layout.MainVideoStreamIndex: with both set, only MainVideoStream takes effect."""
    layout = {"LayoutMode": 1, "MainVideoStream": {"UserId": "u2", "Index": 1}, "MainVideoStreamIndex": 0}
    assert (await volc.call(vs.START, start_body(Layout=layout))).status_code == 200
    got = (await get_task(volc))["Layout"]
    assert got["MainVideoStream"]["UserId"] == "u2" and "MainVideoStreamIndex" not in got
    assert "Layout.MainVideoStreamIndex (MainVideoStream is set)" in state.requests.all(vs.START)[-1].ignored


FIXTURE = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "volcengine_rtc_2020-12-01.json").read_text(encoding="utf-8")
)
GIVEN = {
    "PushURL": "rtmp://push.example.com/live/all",
    "UserId": "u1",
    "BusinessId": "biz",
    "BackgroundImage": "https://img.example.com/bg.png",
    "AlternateImage": "https://img.example.com/slate.jpg",
    "CornerRadius": 0.01,
    "EnableSpatialRender": True,
    "Forward": [1.0, 0.0, 0.0],
    "Right": [0.0, 1.0, 0.0],
    "Up": [0.0, 0.0, 1.0],
    "LayoutMode": 2,
}


def every_field(obj: str) -> dict[str, Any]:
    """One valid value for every field of a fixture object: given above, else the default, else the lowest."""
    out: dict[str, Any] = {}
    for field in FIXTURE["objects"][obj]:
        name = field["name"]
        if field.get("deprecated"):
            continue  # MainVideoStreamIndex beside MainVideoStream would be ignored; it has its own test
        if field["type"] == "object":
            out[name] = every_field(field["object"])
        elif field["type"] == "array":
            out[name] = [every_field(field["object"])]
        elif name in GIVEN:
            out[name] = GIVEN[name]
        elif name in ("AppId", "RoomId", "TaskId"):
            out[name] = "all"
        elif field.get("default") not in (None, "adaptive"):
            out[name] = field["default"]
        elif "enum" in field:
            out[name] = field["enum"][0]
        elif field["type"] == "float32":
            out[name] = field["max"]
        else:
            out[name] = field.get("min", 0)
    return out


async def test_every_documented_start_field_is_known_to_the_simulator(volc: Volc, state: vs.VolcengineState) -> None:
    """tests/fixtures/volcengine_rtc_2020-12-01.json (Go SDK model.go): a Start that sets every field, each to a
    valid value, is taken whole: no field unknown, none reset, and Get reports the configuration sections."""
    body = every_field("StartBody")
    response = await volc.call(vs.START, body)
    assert response.status_code == 200, response.text
    record = state.requests.all(vs.START)[-1]
    assert record.ignored == [] and record.resets == []
    task = (await volc.call(vs.GET, query={"AppId": "all", "RoomId": "all", "TaskId": "all"})).json()["Result"]
    control = task["PushMixedStreamToCDNTask"]["Control"]
    assert {name: control[name] for name in body["Control"] if name != "SpatialConfig"} == {
        name: value for name, value in body["Control"].items() if name != "SpatialConfig"
    }


# --- issue 9: a lost answer; issue 12: task health and drift, on command, over loopback -------------------


@pytest.fixture
def served(sim: tuple[Any, vs.VolcengineState]) -> Iterator[str]:
    with BackgroundServer(sim[0]) as server:
        yield server.url


@pytest.fixture
async def volc_http(served: str) -> AsyncIterator[Volc]:
    async with httpx.AsyncClient(base_url=served, timeout=5) as client:
        yield Volc(client, host=served.removeprefix("http://"))


@pytest.fixture
def control(served: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{served}/_sandbox", timeout=5) as client:
        yield client


async def test_lost_answer_the_start_happened_before_the_answer_came(volc_http: Volc, state: vs.VolcengineState) -> None:
    state.lose_answer(vs.START, seconds=0.6)
    began = time.monotonic()
    call = asyncio.create_task(volc_http.call(vs.START, start_body()))
    while state.task("app1", "room1", "task1") is None:
        assert time.monotonic() - began < 5, "the Start was never carried out"
        await asyncio.sleep(0.01)
    assert not call.done(), "the task exists while its answer is still withheld"
    response = await call
    assert response.status_code == 200 and response.json()["Result"] == "ok"
    assert time.monotonic() - began >= 0.6
    (record,) = state.requests.all(vs.START)
    assert record.status == 200 and record.held_seconds == 0.6 and record.faults
    assert (await volc_http.call(vs.START, start_body())).status_code == 400, "the fault hit one call only"


def test_lost_answer_from_the_fault_endpoint_a_retried_update_meets_its_own_sequence_number(
    served: str, control: httpx.Client, state: vs.VolcengineState
) -> None:
    """The client times out, the Update was applied all the same, and a retry with the same SequenceNumber is
    refused: a client must read the task back rather than retry blindly."""
    host = served.removeprefix("http://")

    def call(action: str, body: dict[str, Any], timeout: float = 5) -> httpx.Response:
        q = {"Action": action, "Version": vs.VERSION}
        raw = json.dumps(body).encode()
        return httpx.post(f"{served}/", params=q, content=raw, headers=sdk_headers("POST", q, raw, host=host), timeout=timeout)

    assert call(vs.START, start_body()).status_code == 200
    added = control.post("/faults", json={"kind": "lose", "action": vs.UPDATE, "seconds": 1}).json()
    assert [(f["kind"], f["seconds"], f["times"]) for f in added] == [("lose", 1.0, None)]
    update = {**IDS, "IsUpdatePartialParam": True, "SequenceNumber": 7, "Encode": {"VideoFps": 24}}
    with pytest.raises(httpx.ReadTimeout):
        call(vs.UPDATE, update, timeout=0.2)
    task = state.task("app1", "room1", "task1")
    assert task is not None and task.config["Encode"]["VideoFps"] == 24 and task.last_sequence == 7
    control.delete("/faults")
    retry = call(vs.UPDATE, update)
    assert error_of(retry) == (400, "InvalidParameter.SequenceNumber")


def test_health_on_command_is_what_get_reports(served: str, control: httpx.Client, state: vs.VolcengineState) -> None:
    host = served.removeprefix("http://")

    def call(action: str, body: dict[str, Any] | None = None) -> httpx.Response:
        method = vs.METHODS[action]
        q = {"Action": action, "Version": vs.VERSION, **(IDS if method == "GET" else {})}
        raw = json.dumps(body).encode() if method == "POST" else b""
        headers = sdk_headers(method, q, raw, host=host)
        return httpx.request(method, f"{served}/", params=q, content=raw, headers=headers, timeout=5)

    def get() -> dict[str, Any]:
        task: dict[str, Any] = call(vs.GET).json()["Result"]["PushMixedStreamToCDNTask"]
        return task

    assert call(vs.START, start_body()).status_code == 200
    reconnecting = control.post("/tasks/health", json={**IDS, "PushStreamState": 3})
    assert reconnecting.status_code == 200 and reconnecting.json()["PushStreamState"] == 3
    assert {k: get()[k] for k in ("Status", "PushStreamState", "EndTime")} == {"Status": 2, "PushStreamState": 3, "EndTime": 0}

    failed = control.post("/tasks/health", json={**IDS, "Status": 4, "StopReason": "StartTaskFailed"})
    assert failed.status_code == 200
    task = get()
    assert (task["Status"], task["PushStreamState"], task["StopReason"]) == (4, 6, "StartTaskFailed")
    assert task["EndTime"] >= task["StartTime"] > 0
    assert error_of(call(vs.UPDATE, {**IDS, "IsUpdatePartialParam": True})) == (400, "InvalidParameter.ErrorActiveTaskNotFound")
    assert error_of(call(vs.STOP, IDS)) == (400, "InvalidParameter.ErrorActiveTaskNotFound")

    assert control.post("/tasks/recover", json=IDS).status_code == 200
    task = get()
    assert (task["Status"], task["PushStreamState"], task["StopReason"], task["EndTime"]) == (2, 5, "", 0)
    assert call(vs.UPDATE, {**IDS, "IsUpdatePartialParam": True}).status_code == 200

    assert state.set_task_health("app1", "room1", "task1", status=3, push_stream_state=1, stop_reason="IdleTimeOut")
    assert (get()["Status"], get()["PushStreamState"], get()["StopReason"]) == (3, 1, "IdleTimeOut"), "a given state wins"
    assert call(vs.START, start_body()).status_code == 200, "an ended task's ids may start again"
    assert not state.set_task_health("app1", "room1", "nope", status=4)
    with pytest.raises(ValueError, match="PushStreamState"):
        state.set_task_health("app1", "room1", "task1", push_stream_state=7)

    for body, status, words in [
        ({**IDS, "Status": 5}, 400, "Status must be"),
        ({**IDS, "PushStreamState": "3"}, 400, "PushStreamState must be"),
        ({**IDS, "StopReason": 1}, 400, "StopReason must be"),
        ({**IDS}, 400, "give Status"),
        ({**IDS, "Status": 2, "Colour": "red"}, 400, "unknown fields: Colour"),
        ({"AppId": "app1", "TaskId": "task1", "Status": 2}, 400, "name the task"),
        ({**IDS, "TaskId": "nope", "Status": 2}, 404, "no task nope"),
    ]:
        answer = control.post("/tasks/health", json=body)
        assert answer.status_code == status and words in answer.json()["error"], (body, answer.text)
    assert control.post("/tasks/recover", json={**IDS, "TaskId": "nope"}).status_code == 404


def test_drift_changes_the_configuration_behind_the_clients_back(
    served: str, control: httpx.Client, state: vs.VolcengineState
) -> None:
    host = served.removeprefix("http://")

    def call(action: str, body: dict[str, Any] | None = None) -> httpx.Response:
        method = vs.METHODS[action]
        q = {"Action": action, "Version": vs.VERSION, **(IDS if method == "GET" else {})}
        raw = json.dumps(body).encode() if method == "POST" else b""
        headers = sdk_headers(method, q, raw, host=host)
        return httpx.request(method, f"{served}/", params=q, content=raw, headers=headers, timeout=5)

    def get() -> dict[str, Any]:
        task: dict[str, Any] = call(vs.GET).json()["Result"]["PushMixedStreamToCDNTask"]
        return task

    assert call(vs.START, start_body()).status_code == 200
    assert call(vs.UPDATE, {**IDS, "IsUpdatePartialParam": True, "SequenceNumber": 5}).status_code == 200
    before = get()

    drift = {
        **IDS,
        "Layout": {"CustomLayout": {"Canvas": {"Background": "#FF0000"}}},
        "Encode": {"VideoFps": 10, "AudioProfile": 2},
        "TargetStreams": {"StreamList": [{"UserId": "intruder", "Index": 0}, {"UserId": "u2", "Index": 1, "StreamType": 1}]},
    }
    answer = control.post("/tasks/drift", json=drift)
    assert answer.status_code == 200, answer.text
    shown = answer.json()
    assert shown["Ignored"] == ["Encode.AudioProfile (not updatable)"] and shown["Resets"] == []
    assert shown["ExternalUpdates"] == 1 and shown["Updates"] == 1 and shown["LastSequenceNumber"] == 5
    after = get()
    assert after["Layout"]["CustomLayout"]["Canvas"]["Background"] == "#FF0000"
    assert after["Encode"]["VideoFps"] == 10 and after["Encode"]["AudioProfile"] == before["Encode"]["AudioProfile"]
    assert [s["UserId"] for s in after["TargetStreams"]["StreamList"]] == ["intruder", "u2"]
    assert after["Layout"]["CustomLayout"]["Regions"] == before["Layout"]["CustomLayout"]["Regions"], "partial: the rest stays"
    assert call(vs.UPDATE, {**IDS, "IsUpdatePartialParam": True, "SequenceNumber": 6}).status_code == 200, (
        "a drift takes no SequenceNumber"
    )

    refused = control.post("/tasks/drift", json={**IDS, "Layout": {"CustomLayout": {"Regions": [
        {"StreamIndex": 9, "WidthProportion": 1, "HeightProportion": 1}]}}})  # fmt: skip
    assert refused.status_code == 409 and refused.json()["error"].startswith("InvalidParameter:")
    assert get()["Layout"] == after["Layout"], "a refused drift changes nothing"

    full = control.post("/tasks/drift", json={**IDS, "IsUpdatePartialParam": False, "Encode": {"VideoFps": 20}})
    assert full.status_code == 200
    task = get()
    assert task["Encode"]["VideoFps"] == 20 and task["TargetStreams"]["StreamList"] == []
    assert task["Layout"]["CustomLayout"]["Regions"] == [] and task["Layout"]["CustomLayout"]["Canvas"]["Background"] == "#000000"
    assert task["Layout"]["CustomLayout"]["Canvas"]["Width"] == 1280, "the canvas size is not updatable"

    with pytest.raises(vs.ApiError, match="not"):
        state.drift_task("app1", "room1", "task1", {"PushURL": "rtmp://elsewhere/x"})
    assert call(vs.STOP, IDS).status_code == 200
    gone = control.post("/tasks/drift", json={**IDS, "Encode": {"VideoFps": 5}})
    assert gone.status_code == 404 and "ErrorActiveTaskNotFound" in gone.json()["error"]
    assert control.post("/tasks/drift", json={**IDS, "IsUpdatePartialParam": "yes"}).status_code == 400
    assert "not PushURL" in control.post("/tasks/drift", json={**IDS, "PushURL": "rtmp://x/y"}).json()["error"]
