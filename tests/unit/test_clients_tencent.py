"""TencentClient against the Tencent simulator over real loopback HTTP."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from bot.providers.errors import InvalidRequest, ProviderError
from bot.providers.pacing import LocalPacer
from bot.providers.retry import RetryPolicy
from bot.providers.signing_tencent import TencentCredentials
from bot.providers.tencent_client import TencentClient
from bot.providers.tencent_models import Site
from bot.sandbox.tencent_sim import DEFAULT_QPS, DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY

UPDATE = "UpdateStreamIngest"
START = "StartStreamIngest"
APP = 1400000000
START_BODY = {
    "SdkAppId": APP,
    "RoomId": "room1",
    "RoomIdType": 0,
    "UserId": "ingest-bot",
    "UserSig": "sig",
    "StreamUrl": "https://media.example.com/a.mp4",
}
FAST_RETRY = RetryPolicy(max_attempts=4, deadline_seconds=10, initial_backoff=0.01, max_backoff=0.05)


def settle(state: Any) -> None:
    """Let requests held by a timeout fault finish, so they cannot act after the next test's reset."""
    deadline = time.monotonic() + 5
    while any(r.status == 0 for r in state.requests.all()) and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.fixture
def sim(tencent_sim: tuple[str, Any]) -> Iterator[tuple[str, Any]]:
    url, state = tencent_sim
    state.reset()
    yield url, state
    settle(state)
    state.reset()
    state.set_qps(True, DEFAULT_QPS)


def make_client(
    url: str,
    *,
    secret: str = DEFAULT_SECRET_KEY,
    site: Site = "intl",
    retry: RetryPolicy = FAST_RETRY,
    timeout: float = 5.0,
    rate: float = 20.0,
    clock: Callable[[], float] = time.time,
) -> TencentClient:
    return TencentClient(
        url,
        TencentCredentials(DEFAULT_SECRET_ID, secret),
        LocalPacer(lambda _key: rate),
        retry,
        timeout,
        site=site,
        clock=clock,
    )


async def start_task(url: str, site: Site = "intl") -> str:
    async with make_client(url, site=site) as client:
        reply = await client.start_stream_ingest(START_BODY)
    assert reply.request_id
    return reply.result.task_id


async def test_start_update_describe_stop(sim: tuple[str, Any]) -> None:
    url, state = sim
    task_id = await start_task(url)
    async with make_client(url) as client:
        reply = await client.update_stream_ingest(
            {"SdkAppId": APP, "TaskId": task_id, "Volume": 80, "IsPause": True}, region="ap-tokyo"
        )
        assert (reply.result.status, reply.action) == ("InProgress", UPDATE) and reply.request_id
        task = state.task(APP, task_id)
        assert (task.volume, task.is_pause) == (80, True)
        assert (await client.describe_stream_ingest({"SdkAppId": APP, "TaskId": task_id})).result.exists
        await client.stop_stream_ingest({"SdkAppId": APP, "TaskId": task_id})
        described = await client.describe_stream_ingest({"SdkAppId": APP, "TaskId": task_id})
        assert described.result.status == "NotExist" and not described.result.exists
        # Stopping an already finished task counts as done.
        again = await client.stop_stream_ingest({"SdkAppId": APP, "TaskId": task_id})
        assert again.request_id
    assert [r.headers["x-tc-region"] for r in state.requests.all(UPDATE)] == ["ap-tokyo"]


async def test_china_site_accepts_its_own_fields(tencent_china_sim: tuple[str, Any]) -> None:
    url, state = tencent_china_sim
    state.reset()
    task_id = await start_task(url, "china")
    async with make_client(url, site="china") as client:
        body = {"SdkAppId": APP, "TaskId": task_id, "Volume": 150, "Tempo": 1.5, "EnableProgress": True}
        assert (await client.update_stream_ingest(body)).result.status == "InProgress"
    assert state.task(APP, task_id).volume == 150
    async with make_client(url, site="intl") as intl:
        with pytest.raises(InvalidRequest) as info:
            await intl.update_stream_ingest(body)
    assert any("Volume" in p for p in info.value.problems)
    state.reset()


async def test_wrong_secret_is_the_signature_error_with_request_id(sim: tuple[str, Any]) -> None:
    url, state = sim
    async with make_client(url, secret="not-the-secret") as client:
        with pytest.raises(ProviderError) as info:
            await client.update_stream_ingest({"SdkAppId": APP, "TaskId": "t1", "Volume": 10})
    err = info.value
    assert (err.provider, err.code, err.http_status, err.retryable) == ("tencent", "AuthFailure.SignatureFailure", 200, False)
    records = state.requests.all(UPDATE)
    assert len(records) == 1 and err.request_id == records[0].request_id


@pytest.mark.parametrize(
    ("inject", "client_timeout"),
    [
        (lambda s: s.fail_first(2, "RequestLimitExceeded", action=UPDATE), 5.0),
        (lambda s: s.fail_with_status(500, action=UPDATE, times=2), 5.0),
        (lambda s: s.fail_first(1, "InternalError.DBError", action=UPDATE), 5.0),
        # as in test_clients_volcengine: only the held attempt may time out, never an ordinary one on a loaded machine
        (lambda s: s.add_timeout(2.5, action=UPDATE, times=1), 1.0),
    ],
    ids=["rate-limit", "500", "InternalError.DBError", "timeout"],
)
async def test_transient_faults_are_retried_re_signed_and_succeed(
    sim: tuple[str, Any], inject: Callable[[Any], Any], client_timeout: float
) -> None:
    url, state = sim
    task_id = await start_task(url)
    inject(state)
    ticks = itertools.count()
    base = time.time()
    async with make_client(url, timeout=client_timeout, clock=lambda: base + next(ticks)) as client:
        reply = await client.update_stream_ingest({"SdkAppId": APP, "TaskId": task_id, "Volume": 5})
    assert reply.result.status == "InProgress"
    records = state.requests.all(UPDATE)
    assert len(records) >= 2 and records[-1].status == 200 and records[-1].code is None
    assert all(r.faults for r in records[:-1]) and not records[-1].faults
    assert len({r.headers["x-tc-timestamp"] for r in records}) == len(records)
    assert len({r.headers["authorization"] for r in records}) == len(records)
    assert len({r.body for r in records}) == 1


async def test_start_is_not_retried_after_a_timeout_or_internal_error(sim: tuple[str, Any]) -> None:
    url, state = sim
    state.add_timeout(0.5, action=START, times=1)
    state.fail_first(1, "InternalError", action=START)
    async with make_client(url, timeout=0.2) as client:
        with pytest.raises(ProviderError) as timeout:
            await client.start_stream_ingest(START_BODY)
        with pytest.raises(ProviderError) as internal:
            await client.start_stream_ingest(START_BODY)
    assert (timeout.value.code, internal.value.code) == ("Timeout", "InternalError")
    assert len(state.requests.all(START)) == 2


@pytest.mark.parametrize("code", ["InvalidParameter.StreamUrl", "UnauthorizedOperation", "FailedOperation.NotAllowed"])
async def test_non_retryable_errors_are_not_retried(sim: tuple[str, Any], code: str) -> None:
    url, state = sim
    state.fail_with_code(code, action=UPDATE, times=3)
    async with make_client(url) as client:
        with pytest.raises(ProviderError) as info:
            await client.update_stream_ingest({"SdkAppId": APP, "TaskId": "t1", "Volume": 10})
    assert info.value.code == code and not info.value.retryable and info.value.request_id
    assert len(state.requests.all(UPDATE)) == 1


async def test_signature_expire_is_retried_once_with_a_fresh_timestamp(sim: tuple[str, Any]) -> None:
    url, state = sim
    task_id = await start_task(url)
    stale = iter([time.time() - 3600])
    async with make_client(url, clock=lambda: next(stale, time.time())) as client:
        await client.update_stream_ingest({"SdkAppId": APP, "TaskId": task_id, "Volume": 1})
    assert [r.code for r in state.requests.all(UPDATE)] == ["AuthFailure.SignatureExpire", None]


async def test_unknown_task_is_task_not_exist(sim: tuple[str, Any]) -> None:
    url, _ = sim
    async with make_client(url) as client:
        with pytest.raises(ProviderError) as info:
            await client.update_stream_ingest({"SdkAppId": APP, "TaskId": "no-such-task", "Volume": 10})
    assert info.value.code == "FailedOperation.TaskNotExist" and info.value.request_id


async def _burst(url: str, limit: float, rate: float, n: int) -> tuple[list[Any], list[dict[str, Any]]]:
    """`n` Updates at once through a client paced at `rate`, against the simulator's bucket at `limit`."""
    async with httpx.AsyncClient(base_url=url) as control:
        (await control.post("/_sandbox/reset")).raise_for_status()
        (await control.post("/_sandbox/qps", json={"enabled": True, "limits": {UPDATE: limit}})).raise_for_status()
        task_id = await start_task(url)
        async with make_client(url, rate=rate, retry=RetryPolicy(max_attempts=1), timeout=30) as client:
            body = {"SdkAppId": APP, "TaskId": task_id, "Volume": 50}
            results = await asyncio.gather(*(client.update_stream_ingest(body) for _ in range(n)), return_exceptions=True)
        records = (await control.get("/_sandbox/requests", params={"action": UPDATE})).json()
    return results, records


@pytest.mark.load
async def test_a_paced_burst_draws_no_rate_limit_error(tencent_child: str) -> None:
    """450 calls at once (three times what the simulator's full bucket holds), paced at its limit (raised from
    20/s to 150/s to keep this short)."""
    results, records = await _burst(tencent_child, 150.0, 150.0, 450)
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert len(records) == 450 and [r["code"] for r in records if r["code"]] == []


@pytest.mark.load
async def test_a_paced_burst_at_the_documented_20_per_second_draws_no_rate_limit_error(tencent_child: str) -> None:
    """The documented limit on both sides: the pacer at 20/s against the simulator's own 20/s bucket.
    80 calls are four times what the full bucket holds, so only the pacing keeps them all accepted."""
    assert DEFAULT_QPS[UPDATE] == 20.0
    results, records = await _burst(tencent_child, DEFAULT_QPS[UPDATE], DEFAULT_QPS[UPDATE], 80)
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert len(records) == 80 and [r["code"] for r in records if r["code"]] == []


@pytest.mark.load
async def test_an_unpaced_burst_at_20_per_second_does_draw_rate_limit_errors(tencent_child: str) -> None:
    """The control for the test above: the same 80 calls unpaced overflow the simulator's 20/s bucket."""
    results, records = await _burst(tencent_child, DEFAULT_QPS[UPDATE], 1e9, 80)
    refused = [r for r in results if isinstance(r, ProviderError)]
    assert refused and {r.code for r in refused} == {"RequestLimitExceeded"}
    assert all(r.retryable for r in refused)
    assert len(records) == 80 and len([r for r in records if r["code"] == "RequestLimitExceeded"]) == len(refused)


async def test_t2_the_china_client_checks_the_china_regions(tencent_china_sim: tuple[str, Any]) -> None:
    """China Update page (cloud.tencent.com/document/product/647/110076): ap-beijing, ap-chongqing, ap-guangzhou,
    ap-shanghai, ap-singapore. ap-beijing is sent and taken; ap-tokyo is refused before anything is sent."""
    url, state = tencent_china_sim
    state.reset()
    task_id = await start_task(url, "china")
    body = {"SdkAppId": APP, "TaskId": task_id, "Volume": 150}
    async with make_client(url, site="china") as client:
        reply = await client.update_stream_ingest(body, region="ap-beijing")
        assert reply.result.status == "InProgress"
        sent = len(state.requests.all())
        with pytest.raises(InvalidRequest) as info:
            await client.update_stream_ingest(body, region="ap-tokyo")
    assert info.value.problems == [
        "Region: region 'ap-tokyo' is not supported by UpdateStreamIngest on the china site; "
        "use one of ap-beijing, ap-chongqing, ap-guangzhou, ap-shanghai, ap-singapore"
    ]
    assert len(state.requests.all()) == sent
    assert [r.headers["x-tc-region"] for r in state.requests.all(UPDATE)] == ["ap-beijing"]
    state.reset()
