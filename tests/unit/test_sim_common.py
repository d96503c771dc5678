"""The simulators' shared machinery: rate buckets, fault bookkeeping, fault descriptions, serving."""

from __future__ import annotations

import httpx
import pytest

from bot.sandbox import tencent_sim, volcengine_sim
from bot.sandbox.serve import BackgroundServer, bind, serve_in_loop
from bot.sandbox.sim_common import Fault, FaultBook, FaultError, TokenBucket, fault_from_json


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_of_limit_then_refills_at_limit_per_second() -> None:
    clock = FakeClock()
    bucket = TokenBucket(150, clock)
    assert all(bucket.try_take() for _ in range(150))
    assert not bucket.try_take()
    clock.now += 0.1
    assert sum(bucket.try_take() for _ in range(100)) == 15
    clock.now += 10
    assert sum(bucket.try_take() for _ in range(1000)) == 150


def test_a_caller_paced_exactly_at_the_limit_is_never_refused() -> None:
    clock = FakeClock()
    bucket = TokenBucket(60, clock)
    for _ in range(10_000):
        assert bucket.try_take()
        clock.now += 1 / 60


def test_fault_book_counts_down_and_stacks_latency() -> None:
    book = FaultBook()
    book.add(Fault("latency", seconds=0.1))
    book.add(Fault("latency", seconds=0.2, action="Get", times=1))
    first = book.add(Fault("error", code="InternalError", action="Get", times=2))
    book.add(Fault("status", status=503, times=1))
    plan = book.take("Get")
    assert plan.delay == pytest.approx(0.3) and plan.failure is first
    plan = book.take("Get")
    assert plan.delay == pytest.approx(0.1) and plan.failure is first
    plan = book.take("Get")
    assert plan.failure is not None and plan.failure.kind == "status"
    assert book.take("Get").failure is None
    assert [f.kind for f in book.list()] == ["latency"]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ([], "JSON object"),
        ({"kind": "explode"}, "kind must be"),
        ({"kind": "error"}, "needs a code"),
        ({"kind": "error", "code": "X", "times": 0}, "times"),
        ({"kind": "latency", "seconds": -1}, "seconds"),
        ({"kind": "status", "status": 429}, "5xx"),
        ({"kind": "error", "code": "X", "colour": "red"}, "unknown fault fields: colour"),
        ({"kind": "error", "code": 5}, "code must be a string"),
    ],
)
def test_bad_fault_descriptions_say_what_is_wrong(data: object, words: str) -> None:
    with pytest.raises(FaultError, match=words if words != "5xx" else "5xx"):
        fault_from_json(data)


def test_fault_defaults() -> None:
    assert fault_from_json({"kind": "status"}).status == 500
    assert fault_from_json({"kind": "timeout"}).seconds == 30.0
    assert fault_from_json({"kind": "lose"}).seconds == 30.0
    assert fault_from_json({"kind": "lose", "seconds": 2, "action": "Get"}).seconds == 2.0


def test_a_lost_answer_is_the_one_failure_of_its_call_and_latency_still_adds() -> None:
    """`lose` competes with status/timeout/error for a call (the first added wins); latency stacks on any."""
    book = FaultBook()
    lose = book.add(Fault("lose", seconds=1.0, times=1))
    book.add(Fault("error", code="InternalError", times=1))
    book.add(Fault("latency", seconds=0.1, times=2))
    plan = book.take("Start")
    assert plan.failure is lose and plan.delay == pytest.approx(0.1)
    plan = book.take("Start")
    assert plan.failure is not None and plan.failure.kind == "error" and plan.delay == pytest.approx(0.1)
    assert book.take("Start").failure is None and book.list() == []


async def test_serve_in_loop_gives_a_real_loopback_url() -> None:
    app, _ = volcengine_sim.create_volcengine_sim()
    async with serve_in_loop(app) as url, httpx.AsyncClient(base_url=url) as client:
        assert url.startswith("http://127.0.0.1:")
        response = await client.get("/", params={"Action": "Nope", "Version": volcengine_sim.VERSION})
        assert response.status_code == 404
        assert response.json()["ResponseMetadata"]["Error"]["Code"] == "InvalidActionOrVersion"


def test_background_server_reports_a_taken_port() -> None:
    app, _ = tencent_sim.create_tencent_sim()
    with BackgroundServer(app) as server:
        with pytest.raises(OSError):
            bind("127.0.0.1", server.port)
        assert httpx.get(f"{server.url}/_sandbox/tasks").json() == []


def test_control_endpoints_refuse_bad_input() -> None:
    app, _ = volcengine_sim.create_volcengine_sim()
    with BackgroundServer(app) as server, httpx.Client(base_url=server.url) as client:
        assert client.post("/_sandbox/faults", content=b"{not json").status_code == 400
        assert client.post("/_sandbox/qps", json={"limits": {"X": -1}}).status_code == 400
        assert client.post("/_sandbox/qps", json=[1]).status_code == 400
        assert client.post("/_sandbox/tasks/end", json={"AppId": "a"}).status_code == 404
