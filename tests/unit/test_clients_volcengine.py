"""VolcengineClient against the Volcengine simulator over real loopback HTTP."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from bot.providers.errors import InvalidRequest, ProviderError
from bot.providers.pacing import LocalPacer
from bot.providers.retry import RetryPolicy
from bot.providers.signing_volcengine import VolcengineCredentials
from bot.providers.volcengine_client import VolcengineClient
from bot.sandbox.examples import USERS, side_by_side_start, task_config
from bot.sandbox.volcengine_sim import DEFAULT_ACCESS_KEY, DEFAULT_QPS, DEFAULT_SECRET_KEY

UPDATE = "UpdatePushMixedStreamToCDN"
START = "StartPushMixedStreamToCDN"
IDS = {"AppId": "app1", "RoomId": "room1", "TaskId": "task1"}
START_BODY = side_by_side_start(**IDS)
UPDATE_BODY = {**IDS, **task_config(START_BODY), "Encode": {"VideoFps": 30}}
FAST_RETRY = RetryPolicy(max_attempts=4, deadline_seconds=10, initial_backoff=0.01, max_backoff=0.05)


def stepping_clock() -> Callable[[], float]:
    """Each signing happens one second later, so every attempt's X-Date (and signature) differs."""
    ticks = itertools.count()
    base = time.time()
    return lambda: base + next(ticks)


def settle(state: Any) -> None:
    """Let requests held by a timeout fault finish, so they cannot act after the next test's reset."""
    deadline = time.monotonic() + 5
    while any(r.status == 0 for r in state.requests.all()) and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.fixture
def sim(volcengine_sim: tuple[str, Any]) -> Iterator[tuple[str, Any]]:
    url, state = volcengine_sim
    state.reset()
    yield url, state
    settle(state)
    state.reset()
    state.set_qps(True, DEFAULT_QPS)


def make_client(
    url: str,
    *,
    secret: str = DEFAULT_SECRET_KEY,
    retry: RetryPolicy = FAST_RETRY,
    timeout: float = 5.0,
    rate: float = 150.0,
    clock: Callable[[], float] = time.time,
) -> VolcengineClient:
    return VolcengineClient(
        url,
        "cn-north-1",
        VolcengineCredentials(DEFAULT_ACCESS_KEY, secret),
        LocalPacer(lambda _key: rate),
        retry,
        timeout,
        clock=clock,
    )


async def started(url: str) -> VolcengineClient:
    client = make_client(url)
    reply = await client.start_push_mixed_stream_to_cdn(START_BODY)
    assert reply.result == "ok" and reply.request_id
    return client


async def test_start_update_get_stop(sim: tuple[str, Any]) -> None:
    url, state = sim
    async with await started(url) as client:
        reply = await client.update_push_mixed_stream_to_cdn(UPDATE_BODY)
        assert (reply.result, reply.action) == ("ok", UPDATE)
        assert state.task("app1", "room1", "task1").config["Encode"]["VideoFps"] == 30
        get = await client.get_push_mixed_stream_to_cdn_task(IDS)
        assert get.request_id
        await client.stop_push_stream_to_cdn(IDS)
        assert not state.task("app1", "room1", "task1").running
    # The bytes signed are the bytes sent: the simulator verified every signature above.
    assert [r.status for r in state.requests.all()] == [200, 200, 200, 200]


async def test_wrong_secret_is_the_signature_error_with_request_id(sim: tuple[str, Any]) -> None:
    url, state = sim
    async with make_client(url, secret="not-the-secret") as client:
        with pytest.raises(ProviderError) as info:
            await client.update_push_mixed_stream_to_cdn(UPDATE_BODY)
    err = info.value
    assert (err.provider, err.action, err.code, err.http_status, err.retryable) == (
        "volcengine",
        UPDATE,
        "SignatureDoesNotMatch",
        401,
        False,
    )
    records = state.requests.all(UPDATE)
    assert len(records) == 1 and err.request_id == records[0].request_id
    assert "not-the-secret" not in str(err)


@pytest.mark.parametrize(
    ("inject", "client_timeout"),
    [
        (lambda s: s.fail_first(2, "FlowLimitExceeded.QPSOverLimit", action=UPDATE), 5.0),
        (lambda s: s.fail_with_status(500, action=UPDATE, times=2), 5.0),
        (lambda s: s.fail_with_status(503, action=UPDATE, times=1), 5.0),
        # held well past the client's timeout, and the timeout well above a loaded machine's loopback round trip: a
        # 0.3 s timeout once timed out an ordinary attempt too, and its late answer counted as one more request
        (lambda s: s.add_timeout(2.5, action=UPDATE, times=1), 1.0),
    ],
    ids=["rate-limit", "500", "503", "timeout"],
)
async def test_transient_faults_are_retried_re_signed_and_succeed(
    sim: tuple[str, Any], inject: Callable[[Any], Any], client_timeout: float
) -> None:
    url, state = sim
    await (await started(url)).aclose()
    inject(state)
    async with make_client(url, timeout=client_timeout, clock=stepping_clock()) as client:
        reply = await client.update_push_mixed_stream_to_cdn(UPDATE_BODY)
    assert reply.result == "ok"
    records = state.requests.all(UPDATE)
    assert len(records) >= 2 and records[-1].status == 200
    assert all(r.faults for r in records[:-1]) and not records[-1].faults
    assert len({r.headers["x-date"] for r in records}) == len(records)
    assert len({r.headers["authorization"] for r in records}) == len(records)
    assert len({r.body for r in records}) == 1


async def test_start_is_not_retried_after_a_timeout(sim: tuple[str, Any]) -> None:
    url, state = sim
    state.add_timeout(0.5, action=START, times=1)
    async with make_client(url, timeout=0.2) as client:
        with pytest.raises(ProviderError) as info:
            await client.start_push_mixed_stream_to_cdn(START_BODY)
    assert (info.value.code, info.value.retryable) == ("Timeout", False)
    assert len(state.requests.all(START)) == 1
    # The held Start went through after all: a retry would have met a running task.
    settle(state)
    assert state.task("app1", "room1", "task1").running


@pytest.mark.parametrize("code", ["InvalidParameter", "AccessDenied", "InvalidActionOrVersion"])
async def test_non_retryable_errors_are_not_retried(sim: tuple[str, Any], code: str) -> None:
    url, state = sim
    await (await started(url)).aclose()
    state.fail_with_code(code, action=UPDATE, times=3)
    async with make_client(url) as client:
        with pytest.raises(ProviderError) as info:
            await client.update_push_mixed_stream_to_cdn(UPDATE_BODY)
    assert info.value.code == code and not info.value.retryable
    assert len(state.requests.all(UPDATE)) == 1


async def test_clock_skew_is_retried_once_re_signed(sim: tuple[str, Any]) -> None:
    url, state = sim
    await (await started(url)).aclose()
    times = iter([time.time() - 3600, time.time()])
    async with make_client(url, clock=lambda: next(times)) as client:
        assert (await client.update_push_mixed_stream_to_cdn(UPDATE_BODY)).result == "ok"
    assert [r.code for r in state.requests.all(UPDATE)] == ["InvalidTimestamp", None]


async def test_unknown_task_is_task_not_found(sim: tuple[str, Any]) -> None:
    url, _ = sim
    async with make_client(url) as client:
        with pytest.raises(ProviderError) as info:
            await client.update_push_mixed_stream_to_cdn({**UPDATE_BODY, "TaskId": "nope"})
        assert info.value.code == "InvalidParameter.ErrorActiveTaskNotFound" and info.value.request_id
        with pytest.raises(ProviderError, match="ErrorActiveTaskNotFound"):
            await client.get_push_mixed_stream_to_cdn_task({**IDS, "TaskId": "nope"})


async def test_sequence_number_ordering_is_enforced(sim: tuple[str, Any]) -> None:
    url, state = sim
    async with await started(url) as client:
        await client.update_push_mixed_stream_to_cdn({**UPDATE_BODY, "SequenceNumber": 5})
        for stale in (5, 4):
            with pytest.raises(ProviderError) as info:
                await client.update_push_mixed_stream_to_cdn({**UPDATE_BODY, "SequenceNumber": stale})
            assert info.value.code.startswith("InvalidParameter") and "SequenceNumber" in info.value.message
        await client.update_push_mixed_stream_to_cdn({**UPDATE_BODY, "SequenceNumber": 6})
    assert state.task("app1", "room1", "task1").last_sequence == 6


async def test_partial_update_sends_arrays_whole_under_their_full_path(sim: tuple[str, Any]) -> None:
    """IsUpdatePartialParam: Regions sent alone point at the task's streams, which only the provider knows;
    the model must let that through, and the simulator checks the merged task (providers.md §1.1)."""
    url, state = sim
    swapped = [
        {"StreamIndex": 1, "WidthProportion": 0.5, "HeightProportion": 1.0},
        {"StreamIndex": 0, "LocationX": 0.5, "WidthProportion": 0.5, "HeightProportion": 1.0, "ZOrder": 1},
    ]
    partial = {**IDS, "IsUpdatePartialParam": True, "Layout": {"CustomLayout": {"Regions": swapped}}}
    async with await started(url) as client:
        assert (await client.update_push_mixed_stream_to_cdn(partial, context={"canvas": (1280, 720)})).result == "ok"
        config = state.task("app1", "room1", "task1").config
        assert [r["StreamIndex"] for r in config["Layout"]["CustomLayout"]["Regions"]] == [1, 0]
        assert [s["UserId"] for s in config["TargetStreams"]["StreamList"]] == list(USERS)
        assert config["Layout"]["CustomLayout"]["Canvas"]["Width"] == 1280

        stray = {**partial, "Layout": {"CustomLayout": {"Regions": [{**swapped[0], "StreamIndex": 7}]}}}
        with pytest.raises(ProviderError) as info:
            await client.update_push_mixed_stream_to_cdn(stray)
        assert (info.value.code, info.value.retryable) == ("InvalidParameter", False)

        mismatched = {**stray, "TargetStreams": {"StreamList": [{"UserId": "carol", "Index": 2}]}}
        with pytest.raises(InvalidRequest) as refused:
            await client.update_push_mixed_stream_to_cdn(mismatched)
        assert any("Regions[0].StreamIndex 7" in p for p in refused.value.problems)
        with pytest.raises(InvalidRequest, match=r"need TargetStreams\.StreamList"):
            await client.update_push_mixed_stream_to_cdn({**IDS, "Layout": partial["Layout"]})

    sent = [json.loads(r.body) for r in state.requests.all(UPDATE)]
    assert len(sent) == 2, "the model's refusals sent nothing"
    assert sent[0] == partial, "sent as given: the whole array, under Layout.CustomLayout, with the flag"
    assert [r["StreamIndex"] for r in state.task("app1", "room1", "task1").config["Layout"]["CustomLayout"]["Regions"]] == [1, 0]


async def _burst(url: str, limit: float, rate: float, n: int) -> tuple[list[Any], list[dict[str, Any]]]:
    async with httpx.AsyncClient(base_url=url) as control:
        (await control.post("/_sandbox/reset")).raise_for_status()
        (await control.post("/_sandbox/qps", json={"enabled": True, "limits": {UPDATE: limit}})).raise_for_status()
        await (await started(url)).aclose()
        async with make_client(url, rate=rate, retry=RetryPolicy(max_attempts=1), timeout=30) as client:
            results = await asyncio.gather(
                *(client.update_push_mixed_stream_to_cdn(UPDATE_BODY) for _ in range(n)), return_exceptions=True
            )
        records = (await control.get("/_sandbox/requests", params={"action": UPDATE})).json()
    return results, records


@pytest.mark.load
async def test_a_paced_burst_of_450_draws_no_rate_limit_error(volcengine_child: str) -> None:
    """450 calls at once (three times what the simulator's full bucket holds), paced at the documented 150/s
    against a simulator enforcing 150/s."""
    results, records = await _burst(volcengine_child, DEFAULT_QPS[UPDATE], DEFAULT_QPS[UPDATE], 450)
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert len(records) == 450
    assert [r["code"] for r in records if r["code"]] == []


@pytest.mark.load
async def test_an_unpaced_burst_does_draw_rate_limit_errors(volcengine_child: str) -> None:
    """The control for the test above: without pacing, the simulator refuses part of a burst."""
    results, records = await _burst(volcengine_child, 50.0, 1e9, 300)
    codes = {r.code for r in results if isinstance(r, ProviderError)}
    assert codes == {"FlowLimitExceeded.QPSOverLimit"}
    assert len(records) == 300
