"""What both simulators share and the providers do not define: faults, rate buckets, the request log,
and the /_sandbox control endpoints through which a separately served simulator is driven by tests.

Kept apart from the provider modules so each of those reads as a description of one provider's API.

Two faults stand for the two halves of a dropped connection, because a client must treat them alike and a
simulator must let a test tell them apart: `timeout` holds the request before the provider acts (the call
may still happen after the client gave up), `lose` lets the provider act and then withholds the answer
(the call has happened; only the client does not know). Task health (`/_sandbox/tasks/health`, `…/recover`)
and configuration drift (`…/drift`) are what the provider or another tool does behind the client's back;
each simulator says what they mean for its tasks.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CONTROL_PREFIX = "/_sandbox"

FaultKind = Literal["latency", "status", "timeout", "lose", "error"]
FAULT_KINDS: tuple[FaultKind, ...] = ("latency", "status", "timeout", "lose", "error")
HOLDING_KINDS: tuple[FaultKind, ...] = ("timeout", "lose")  # without seconds they hold for 30 s


def new_request_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Fault:
    """One injected misbehaviour.

    kind: `latency` delays the answer by `seconds`; `status` answers with HTTP `status` (5xx) and the
    provider's transient error; `timeout` holds the request for `seconds` (longer than the client waits)
    and then processes it normally, as a real backend would, so a Start may have happened after all;
    `lose` processes the request at once and then withholds the answer for `seconds` before sending it,
    as when the connection drops after the provider acted: the task state has changed before the client
    could know; `error` answers with error `code`. `times` limits how many matching calls it hits (None: all).
    At most one of status, timeout, lose and error applies to a call (the first that matches).
    """

    kind: FaultKind
    action: str | None = None
    times: int | None = None
    seconds: float = 0.0
    status: int | None = None
    code: str | None = None
    message: str | None = None
    id: int = 0

    def matches(self, action: str) -> bool:
        return self.action is None or self.action == action


class FaultError(ValueError):
    """A fault description that cannot be applied; the message says which field is wrong."""


def fault_from_json(data: Any) -> Fault:
    if not isinstance(data, dict):
        raise FaultError("a fault is a JSON object")
    unknown = set(data) - {"kind", "action", "times", "seconds", "status", "code", "message"}
    if unknown:
        raise FaultError(f"unknown fault fields: {', '.join(sorted(unknown))}")
    kind = data.get("kind")
    if kind not in FAULT_KINDS:
        raise FaultError(f"kind must be one of {', '.join(FAULT_KINDS)}")
    fault = Fault(kind=kind)
    for name, types in (("action", str), ("code", str), ("message", str)):
        value = data.get(name)
        if value is not None and not isinstance(value, types):
            raise FaultError(f"{name} must be a string")
        setattr(fault, name, value)
    times, status, seconds = data.get("times"), data.get("status"), data.get("seconds", 0.0)
    if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
        raise FaultError("times must be an integer >= 1, or absent for every call")
    if status is not None and (not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599):
        raise FaultError("status must be an HTTP status code")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not 0 <= seconds <= 3600:
        raise FaultError("seconds must be a number in [0, 3600]")
    fault.times, fault.status, fault.seconds = times, status, float(seconds)
    if kind == "error" and not fault.code:
        raise FaultError("an error fault needs a code")
    if kind == "status" and fault.status is None:
        fault.status = 500
    if kind == "status" and fault.status is not None and fault.status < 500:
        raise FaultError("a status fault answers 5xx; use kind=error for other codes")
    if kind in HOLDING_KINDS and fault.seconds == 0:
        fault.seconds = 30.0
    return fault


@dataclass
class FaultPlan:
    """The faults that apply to one call: total delay, and at most one failure."""

    delay: float = 0.0
    failure: Fault | None = None
    applied: list[int] = field(default_factory=list)


class FaultBook:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._next_id = 1
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            fault.id = self._next_id
            self._next_id += 1
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, action: str) -> FaultPlan:
        """Consume the faults this call meets: every latency adds up, the first failing one applies."""
        plan = FaultPlan()
        with self._lock:
            for fault in list(self._faults):
                if not fault.matches(action):
                    continue
                if fault.kind == "latency":
                    plan.delay += fault.seconds
                elif plan.failure is None:
                    plan.failure = fault
                else:
                    continue
                plan.applied.append(fault.id)
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
        return plan


class TokenBucket:
    """Capacity = limit, refilled at limit per second: a steady caller at the limit is never refused."""

    def __init__(self, limit: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._tokens = limit
        self._clock = clock
        self._last = clock()

    def try_take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.limit, self._tokens + (now - self._last) * self.limit)
        self._last = now
        if self._tokens >= 1 - 1e-9:  # float drift must not refuse a call that is exactly on time
            self._tokens -= 1
            return True
        return False


class RateLimiter:
    """Token buckets per (account, action); `enabled=False` lets benchmarks measure the client alone."""

    def __init__(self, limits: Mapping[str, float], enabled: bool = True) -> None:
        self.limits = dict(limits)
        self.enabled = enabled
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()

    def allow(self, account: str, action: str) -> bool:
        limit = self.limits.get(action)
        if not self.enabled or limit is None:
            return True
        with self._lock:
            bucket = self._buckets.get((account, action))
            if bucket is None or bucket.limit != limit:
                bucket = self._buckets[(account, action)] = TokenBucket(limit)
            return bucket.try_take()

    def configure(self, enabled: bool | None = None, limits: Mapping[str, float] | None = None) -> None:
        with self._lock:
            if enabled is not None:
                self.enabled = enabled
            if limits is not None:
                self.limits.update(limits)
            self._buckets.clear()

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()


@dataclass
class RecordedRequest:
    """One call as the simulator saw it and what it answered; `resets` lists silently replaced values."""

    seq: int
    time: float
    method: str
    path: str
    query: str
    action: str | None
    headers: dict[str, str]
    body: str
    status: int = 0
    code: str | None = None
    request_id: str = ""
    faults: list[int] = field(default_factory=list)
    held_seconds: float = 0.0  # a `lose` fault: the answer above was processed, then withheld this long
    resets: list[dict[str, Any]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


class RequestLog:
    def __init__(self, maxlen: int = 10_000) -> None:
        self._items: deque[RecordedRequest] = deque(maxlen=maxlen)
        self._seq = 0
        self._lock = threading.Lock()

    def start(self, request: Request, body: bytes, action: str | None) -> RecordedRequest:
        with self._lock:
            self._seq += 1
            record = RecordedRequest(
                seq=self._seq,
                time=time.time(),
                method=request.method,
                path=request.url.path,
                query=request.url.query,
                action=action,
                headers=dict(request.headers.items()),
                body=body.decode("utf-8", errors="replace"),
            )
            self._items.append(record)
        return record

    def all(self, action: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self._items if action is None or r.action == action]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class SimState:
    """What the two simulators have in common; the provider subclasses add their tasks.

    Every method is safe to call from a test thread while the app serves requests in another.
    """

    def __init__(self, qps_limits: Mapping[str, float], qps_enabled: bool) -> None:
        self.faults = FaultBook()
        self.requests = RequestLog()
        self.limiter = RateLimiter(qps_limits, qps_enabled)
        self.lock = threading.RLock()

    # Fault helpers: thin names for the common cases.
    def add_fault(self, fault: Fault) -> Fault:
        return self.faults.add(fault)

    def add_latency(self, seconds: float, action: str | None = None, times: int | None = None) -> Fault:
        return self.add_fault(Fault("latency", action=action, times=times, seconds=seconds))

    def fail_with_status(self, status: int = 500, action: str | None = None, times: int | None = 1) -> Fault:
        return self.add_fault(Fault("status", action=action, times=times, status=status))

    def add_timeout(self, seconds: float = 30.0, action: str | None = None, times: int | None = 1) -> Fault:
        return self.add_fault(Fault("timeout", action=action, times=times, seconds=seconds))

    def lose_answer(self, action: str | None = None, seconds: float = 30.0, times: int | None = 1) -> Fault:
        """Carry the call out, then withhold its answer for `seconds` (a client with a shorter timeout never
        sees it): the counterpart of add_timeout, which holds the call before carrying it out."""
        return self.add_fault(Fault("lose", action=action, times=times, seconds=seconds))

    def fail_with_code(
        self,
        code: str,
        action: str | None = None,
        times: int | None = None,
        message: str | None = None,
        status: int | None = None,
    ) -> Fault:
        return self.add_fault(Fault("error", action=action, times=times, code=code, message=message, status=status))

    def fail_first(self, n: int, code: str, action: str | None = None) -> Fault:
        return self.fail_with_code(code, action=action, times=n)

    def clear_faults(self) -> None:
        self.faults.clear()

    def set_qps(self, enabled: bool | None = None, limits: Mapping[str, float] | None = None) -> None:
        self.limiter.configure(enabled, limits)

    def reset(self) -> None:
        """Forget tasks, faults, recorded requests and bucket levels; accounts and limits stay."""
        self.faults.clear()
        self.requests.clear()
        self.limiter.reset()
        self.reset_tasks()

    def reset_tasks(self) -> None:
        raise NotImplementedError

    def tasks_json(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def end_task_json(self, data: dict[str, Any]) -> bool:
        """End a task as if the provider had (idle timeout, failure); the body names the task."""
        raise NotImplementedError

    # Task health and drift through /_sandbox/tasks/…: each body names a task the simulator's way; the
    # answer is the task as /_sandbox/tasks shows it. A simulator without the notion answers 404.
    def health_json(self, data: dict[str, Any]) -> dict[str, Any]:
        raise ControlError("this simulator has no task health to set", 404)

    def recover_json(self, data: dict[str, Any]) -> dict[str, Any]:
        raise ControlError("this simulator has no task health to recover", 404)

    def drift_json(self, data: dict[str, Any]) -> dict[str, Any]:
        raise ControlError("this simulator has no configuration to drift", 404)


class ControlError(Exception):
    """A /_sandbox request that cannot be carried out; `status` is the HTTP answer (400, 404, 409)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


async def apply_delay(plan: FaultPlan) -> None:
    if plan.delay > 0:
        await asyncio.sleep(plan.delay)


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
        status_code=status,
        media_type="application/json",
    )


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise FaultError(f"body is not JSON: {exc}") from exc


def control_routes(state: SimState) -> list[Route]:
    """The reserved /_sandbox endpoints; real providers have no such paths, so nothing can clash."""

    async def faults(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse([asdict(f) for f in state.faults.list()])
        if request.method == "DELETE":
            state.clear_faults()
            return JSONResponse({"cleared": True})
        try:
            data = await _json_body(request)
            items = data if isinstance(data, list) else [data]
            added = [state.add_fault(fault_from_json(item)) for item in items]
        except FaultError as exc:
            return _error(str(exc))
        return JSONResponse([asdict(f) for f in added])

    async def requests(request: Request) -> Response:
        action = request.query_params.get("action")
        return JSONResponse([asdict(r) for r in state.requests.all(action)])

    async def tasks(request: Request) -> Response:
        return JSONResponse(state.tasks_json())

    async def end_task(request: Request) -> Response:
        try:
            data = await _json_body(request)
        except FaultError as exc:
            return _error(str(exc))
        if not isinstance(data, dict):
            return _error("body must be a JSON object naming the task")
        if not state.end_task_json(data):
            return _error("no running task matches", status=404)
        return JSONResponse({"ended": True})

    def task_control(apply: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            try:
                data = await _json_body(request)
                if not isinstance(data, dict):
                    raise ControlError("body must be a JSON object naming the task")
                return JSONResponse(apply(data))
            except FaultError as exc:
                return _error(str(exc))
            except ControlError as exc:
                return _error(exc.message, exc.status)

        return endpoint

    async def qps(request: Request) -> Response:
        if request.method == "POST":
            try:
                data = await _json_body(request)
            except FaultError as exc:
                return _error(str(exc))
            if not isinstance(data, dict):
                return _error("body must be a JSON object with enabled and/or limits")
            enabled, limits = data.get("enabled"), data.get("limits")
            if enabled is not None and not isinstance(enabled, bool):
                return _error("enabled must be true or false")
            if limits is not None and not (
                isinstance(limits, dict)
                and all(isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in limits.values())
            ):
                return _error("limits must map action names to positive numbers")
            state.set_qps(enabled, limits)
        return JSONResponse({"enabled": state.limiter.enabled, "limits": state.limiter.limits})

    async def reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"reset": True})

    p = CONTROL_PREFIX
    return [
        Route(f"{p}/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route(f"{p}/requests", requests, methods=["GET"]),
        Route(f"{p}/tasks", tasks, methods=["GET"]),
        Route(f"{p}/tasks/end", end_task, methods=["POST"]),
        Route(f"{p}/tasks/health", task_control(state.health_json), methods=["POST"]),
        Route(f"{p}/tasks/recover", task_control(state.recover_json), methods=["POST"]),
        Route(f"{p}/tasks/drift", task_control(state.drift_json), methods=["POST"]),
        Route(f"{p}/qps", qps, methods=["GET", "POST"]),
        Route(f"{p}/reset", reset, methods=["POST"]),
    ]


ErrorRenderer = Callable[[str, str | None, int | None], Response]


@dataclass
class FaultOutcome:
    """What the faults decided for one call: an `answer` given instead of processing it, or (None) process
    it normally and then hold the answer for `hold_after` seconds before sending it."""

    answer: Response | None = None
    hold_after: float = 0.0

    async def deliver(self, response: Response) -> Response:
        """The call has been carried out; a `lose` fault keeps its answer back before it goes out."""
        if self.hold_after > 0:
            await asyncio.sleep(self.hold_after)
        return response


async def apply_faults(state: SimState, action: str, record: RecordedRequest, render_error: ErrorRenderer) -> FaultOutcome:
    """Delay and/or fail this call as the faults say; an outcome without an answer means: process it."""
    plan = state.faults.take(action)
    record.faults = plan.applied
    await apply_delay(plan)
    fault = plan.failure
    if fault is None:
        return FaultOutcome()
    if fault.kind == "timeout":
        await asyncio.sleep(fault.seconds)
        return FaultOutcome()
    if fault.kind == "lose":
        record.held_seconds = fault.seconds
        return FaultOutcome(hold_after=fault.seconds)
    if fault.kind == "status":
        return FaultOutcome(render_error(fault.code or "", fault.message, fault.status))
    return FaultOutcome(render_error(fault.code or "InternalError", fault.message, fault.status))
