"""A Tencent TRTC stream-ingest simulator (intl or China site), written from providers.md §2 and the
field types in tccli's api.json.

Unlike Volcengine, Tencent is strict: unknown parameters are refused (UnknownParameter), wrong types are
refused, and errors come back with HTTP 200 inside `Response.Error`.

Documented choices where providers.md is silent:
- a missing Authorization or X-TC-* header: `MissingParameter`; a malformed Authorization:
  `AuthFailure.InvalidAuthorization`; a wrong or unexpected X-TC-Token: `AuthFailure.TokenFailure`;
- a wrong type: `InvalidParameter`; a value out of range: `InvalidParameterValue`;
- Start for a room and user that already have a running ingest: `FailedOperation.TaskExist`;
- Stop of an ended task: `FailedOperation.TaskFinished`; of an unknown one: `FailedOperation.TaskNotExist`.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.sandbox import sim_signing as sig
from bot.sandbox.sim_common import SimState, apply_faults, control_routes, json_response, new_request_id

Site = Literal["intl", "china"]
VERSION = "2019-07-22"
SERVICE = "trtc"
START = "StartStreamIngest"
UPDATE = "UpdateStreamIngest"
DESCRIBE = "DescribeStreamIngest"
STOP = "StopStreamIngest"
ACTIONS = (START, UPDATE, DESCRIBE, STOP)
DEFAULT_QPS = dict.fromkeys(ACTIONS, 20.0)

START_REGIONS = frozenset({"ap-bangkok", "ap-guangzhou", "ap-jakarta", "ap-mumbai", "ap-singapore", "ap-tokyo"})
QUERY_REGIONS = frozenset({"ap-bangkok", "ap-jakarta", "ap-mumbai", "ap-singapore"})
REGIONS = {START: START_REGIONS, UPDATE: START_REGIONS, DESCRIBE: QUERY_REGIONS, STOP: QUERY_REGIONS}

DEFAULT_SECRET_ID = "AKIDsandboxTencentTestId000000000000"
DEFAULT_SECRET_KEY = "sandboxTencentTestSecretKey000000"

TEMPOS = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
TASK_ID = re.compile(r"[A-Za-z0-9_\-+/=.]{1,256}")


@dataclass(frozen=True)
class TencentAccount:
    secret_id: str = DEFAULT_SECRET_ID
    secret_key: str = DEFAULT_SECRET_KEY
    token: str | None = None


@dataclass
class TencentSimConfig:
    accounts: tuple[TencentAccount, ...] = (TencentAccount(),)
    max_skew_seconds: float = 5 * 60
    qps_enabled: bool = True
    qps_limits: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_QPS))
    clock: Callable[[], float] = time.time


class ApiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- bodies: types as tccli's api.json declares them ---------------------------------------------------


def uint64(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**64


def int64(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63


def string(v: Any) -> bool:
    return isinstance(v, str)


def boolean(v: Any) -> bool:
    return isinstance(v, bool)


def number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def string_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def object_of(members: dict[str, Callable[[Any], bool]]) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, dict) and all(k in members and members[k](x) for k, x in v.items())


VIDEO_ENCODE = object_of({"Width": uint64, "Height": uint64, "Fps": uint64, "BitRate": uint64, "Gop": uint64})
AUDIO_ENCODE = object_of({"SampleRate": uint64, "Channel": uint64, "BitRate": uint64})

Field = tuple[Callable[[Any], bool], str, bool]  # check, type name for messages, required

SCHEMAS: dict[str, dict[str, Field]] = {
    START: {
        "SdkAppId": (uint64, "Integer", True),
        "RoomId": (string, "String", True),
        "RoomIdType": (uint64, "Integer", True),
        "UserId": (string, "String", True),
        "UserSig": (string, "String", True),
        "StreamUrl": (string, "String", False),
        "PrivateMapKey": (string, "String", False),
        "VideoEncodeParams": (VIDEO_ENCODE, "VideoEncodeParams", False),
        "AudioEncodeParams": (AUDIO_ENCODE, "AudioEncodeParams", False),
        "SourceUrl": (string_list, "Array of String", False),
        "SeekSecond": (int64, "Integer", False),
        "AutoPush": (boolean, "Boolean", False),
        "RepeatNum": (int64, "Integer", False),
        "MaxDuration": (int64, "Integer", False),
        "Volume": (uint64, "Integer", False),
    },
    UPDATE: {
        "SdkAppId": (uint64, "Integer", True),
        "TaskId": (string, "String", True),
        "StreamUrl": (string, "String", False),
        "Volume": (uint64, "Integer", False),
        "IsPause": (boolean, "Boolean", False),
    },
    DESCRIBE: {"SdkAppId": (uint64, "Integer", True), "TaskId": (string, "String", True)},
    STOP: {"SdkAppId": (uint64, "Integer", True), "TaskId": (string, "String", True)},
}
CHINA_UPDATE_EXTRA: dict[str, Field] = {"EnableProgress": (boolean, "Boolean", False), "Tempo": (number, "Float", False)}


def schema_for(action: str, site: Site) -> dict[str, Field]:
    if action == UPDATE and site == "china":
        return {**SCHEMAS[UPDATE], **CHINA_UPDATE_EXTRA}
    return SCHEMAS[action]


def check_types(body: dict[str, Any], schema: dict[str, Field]) -> None:
    for name in body:
        if name not in schema:
            raise ApiError("UnknownParameter", f"The parameter `{name}` is not recognized.")
    for name, (ok, type_name, required) in schema.items():
        if name not in body:
            if required:
                code = f"MissingParameter.{name}" if name in ("SdkAppId", "TaskId") else "MissingParameter"
                raise ApiError(code, f"The request is missing a required parameter `{name}`.")
            continue
        if not ok(body[name]):
            raise ApiError("InvalidParameter", f"The type of parameter `{name}` must be {type_name}.")


def valid_stream_url(v: str) -> bool:
    parts = urlsplit(v)
    return len(v) <= 1024 and parts.scheme in ("http", "https", "rtmp", "rtmps") and bool(parts.netloc)


def check_volume(body: dict[str, Any], site: Site) -> None:
    top = 200 if site == "china" else 100
    if "Volume" in body and not 0 <= body["Volume"] <= top:
        raise ApiError("InvalidParameterValue", f"Volume must be in [0, {top}] on the {site} site.")


def check_stream_url(body: dict[str, Any]) -> None:
    if "StreamUrl" in body and not valid_stream_url(body["StreamUrl"]):
        raise ApiError("InvalidParameter.StreamUrl", "Invalid StreamUrl format.")


def check_task_id(body: dict[str, Any]) -> str:
    task_id: str = body["TaskId"]
    if not TASK_ID.fullmatch(task_id):
        raise ApiError("InvalidParameter.TaskId", "TaskId parameter error.")
    return task_id


# --- tasks ----------------------------------------------------------------------------------------------


@dataclass
class TencentTask:
    sdk_app_id: int
    task_id: str
    room_id: str
    user_id: str
    stream_url: str
    volume: int = 100
    is_pause: bool = False
    enable_progress: bool | None = None
    tempo: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    running: bool = True
    started_at: float = 0.0
    ended_at: float | None = None
    updates: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "SdkAppId": self.sdk_app_id,
            "TaskId": self.task_id,
            "RoomId": self.room_id,
            "UserId": self.user_id,
            "StreamUrl": self.stream_url,
            "Volume": self.volume,
            "IsPause": self.is_pause,
            "EnableProgress": self.enable_progress,
            "Tempo": self.tempo,
            "Status": "InProgress" if self.running else "NotExist",
            "StartedAt": self.started_at,
            "EndedAt": self.ended_at,
            "Updates": self.updates,
            **self.extra,
        }


class TencentState(SimState):
    def __init__(self, config: TencentSimConfig, site: Site) -> None:
        super().__init__(config.qps_limits, config.qps_enabled)
        self.config = config
        self.site: Site = site
        self.tasks: dict[tuple[int, str], TencentTask] = {}

    def reset_tasks(self) -> None:
        with self.lock:
            self.tasks.clear()

    def task(self, sdk_app_id: int, task_id: str) -> TencentTask | None:
        with self.lock:
            return self.tasks.get((sdk_app_id, task_id))

    def tasks_json(self) -> list[dict[str, Any]]:
        with self.lock:
            return [t.to_json() for t in self.tasks.values()]

    def end_task(self, sdk_app_id: int, task_id: str) -> bool:
        """End an ingest as the service would on its own (the source ended, MaxDuration reached)."""
        with self.lock:
            task = self.tasks.get((sdk_app_id, task_id))
            if task is None or not task.running:
                return False
            task.running, task.ended_at = False, self.config.clock()
            return True

    def end_task_json(self, data: dict[str, Any]) -> bool:
        app, task_id = data.get("SdkAppId"), data.get("TaskId")
        if not isinstance(app, int) or not isinstance(task_id, str):
            return False
        return self.end_task(app, task_id)


# --- the actions ----------------------------------------------------------------------------------------


def do_start(state: TencentState, body: dict[str, Any]) -> dict[str, Any]:
    if "StreamUrl" not in body and not body.get("SourceUrl"):
        raise ApiError("MissingParameter", "The request is missing a required parameter `StreamUrl`.")
    check_stream_url(body)
    for url in body.get("SourceUrl", []):
        if not valid_stream_url(url):
            raise ApiError("InvalidParameter.StreamUrl", "Invalid SourceUrl format.")
    if body["RoomIdType"] not in (0, 1):
        raise ApiError("InvalidParameterValue", "RoomIdType must be 0 (string) or 1 (integer).")
    if body["RoomIdType"] == 1 and not re.fullmatch(r"[1-9][0-9]{0,9}", body["RoomId"]):
        raise ApiError("InvalidParameterValue", "RoomId must be an integer in [1, 4294967294] when RoomIdType is 1.")
    if not body["RoomId"] or not body["UserId"] or not body["UserSig"]:
        raise ApiError("InvalidParameterValue", "RoomId, UserId and UserSig must not be empty.")
    repeat = body.get("RepeatNum", 1)
    if not -1 <= repeat <= 1000:
        raise ApiError("InvalidParameterValue", "RepeatNum must be in [-1, 1000].")
    if "MaxDuration" in body and (repeat != -1 or not 1 <= body["MaxDuration"] <= 10080):
        raise ApiError("InvalidParameterValue", "MaxDuration must be in [1, 10080] and needs RepeatNum -1.")
    if body.get("SeekSecond", 0) < 0:
        raise ApiError("InvalidParameterValue", "SeekSecond must not be negative.")
    check_volume(body, state.site)
    with state.lock:
        for task in state.tasks.values():
            same = (task.sdk_app_id, task.room_id, task.user_id) == (body["SdkAppId"], body["RoomId"], body["UserId"])
            if same and task.running:
                raise ApiError("FailedOperation.TaskExist", "An ingest task for this room and UserId is running.")
        task_id = "-" + secrets.token_urlsafe(33)
        extra: dict[str, Any] = {k: body[k] for k in ("SeekSecond", "AutoPush", "RepeatNum", "MaxDuration") if k in body}
        state.tasks[(body["SdkAppId"], task_id)] = TencentTask(
            sdk_app_id=body["SdkAppId"],
            task_id=task_id,
            room_id=body["RoomId"],
            user_id=body["UserId"],
            stream_url=body.get("StreamUrl") or body["SourceUrl"][0],
            volume=body.get("Volume", 100),
            extra=extra,
            started_at=state.config.clock(),
        )
    return {"TaskId": task_id}


def do_update(state: TencentState, body: dict[str, Any]) -> dict[str, Any]:
    task_id = check_task_id(body)
    check_stream_url(body)
    check_volume(body, state.site)
    if "Tempo" in body and body["Tempo"] not in TEMPOS:
        raise ApiError("InvalidParameterValue", f"Tempo must be one of {', '.join(map(str, TEMPOS))}.")
    with state.lock:
        task = state.tasks.get((body["SdkAppId"], task_id))
        if task is None or not task.running:
            raise ApiError("FailedOperation.TaskNotExist", "The task does not exist.")
        task.stream_url = body.get("StreamUrl", task.stream_url)
        task.volume = body.get("Volume", task.volume)
        task.is_pause = body.get("IsPause", task.is_pause)
        task.enable_progress = body.get("EnableProgress", task.enable_progress)
        task.tempo = body.get("Tempo", task.tempo)
        task.updates += 1
    return {"Status": "InProgress"}


def do_describe(state: TencentState, body: dict[str, Any]) -> dict[str, Any]:
    task_id = check_task_id(body)
    task = state.task(body["SdkAppId"], task_id)
    return {"Status": "InProgress" if task is not None and task.running else "NotExist"}


def do_stop(state: TencentState, body: dict[str, Any]) -> dict[str, Any]:
    task_id = check_task_id(body)
    with state.lock:
        task = state.tasks.get((body["SdkAppId"], task_id))
        if task is None:
            raise ApiError("FailedOperation.TaskNotExist", "The task does not exist.")
        if not task.running:
            raise ApiError("FailedOperation.TaskFinished", "The task has already finished.")
        task.running, task.ended_at = False, state.config.clock()
    return {}


HANDLERS: dict[str, Callable[[TencentState, dict[str, Any]], dict[str, Any]]] = {
    START: do_start,
    UPDATE: do_update,
    DESCRIBE: do_describe,
    STOP: do_stop,
}


# --- HTTP -----------------------------------------------------------------------------------------------


def check_common_headers(headers: dict[str, str]) -> str:
    """X-TC-Action/Version/Region checks; returns the action."""
    action = headers.get("x-tc-action")
    if not action:
        raise ApiError("MissingParameter", "The request is missing a required parameter `Action`.")
    if action not in HANDLERS:
        raise ApiError("InvalidAction", f"The action `{action}` is not found.")
    version = headers.get("x-tc-version")
    if not version:
        raise ApiError("MissingParameter", "The request is missing a required parameter `Version`.")
    if version != VERSION:
        raise ApiError("NoSuchVersion", f"The version `{version}` is not valid for this action.")
    region = headers.get("x-tc-region")
    if not region:
        raise ApiError("MissingParameter", "The request is missing a required parameter `Region`.")
    if region not in REGIONS[action]:
        raise ApiError("UnsupportedRegion", f"{action} does not support the region `{region}`.")
    return action


def authenticate(state: TencentState, request: Request, headers: dict[str, str], body: bytes) -> TencentAccount:
    cfg = state.config
    stamp = headers.get("x-tc-timestamp")
    if not stamp:
        raise ApiError("MissingParameter", "The request is missing a required parameter `Timestamp`.")
    if not re.fullmatch(r"[0-9]{1,12}", stamp):
        raise ApiError("InvalidParameter", "X-TC-Timestamp must be Unix seconds.")
    timestamp = int(stamp)
    value = headers.get("authorization")
    if not value:
        raise ApiError("MissingParameter", "The request is missing a required parameter `Authorization`.")
    auth = sig.parse_authorization(value, sig.TC3_ALGORITHM, 3)
    if auth is None:
        raise ApiError("AuthFailure.InvalidAuthorization", "The Authorization header is invalid.")
    account = next((a for a in cfg.accounts if a.secret_id == auth.key_id), None)
    if account is None:
        raise ApiError("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
    if abs(cfg.clock() - timestamp) > cfg.max_skew_seconds:
        raise ApiError(
            "AuthFailure.SignatureExpire",
            f"The request timestamp {timestamp} is more than {cfg.max_skew_seconds:.0f}s from the server time.",
        )
    if headers.get("x-tc-token") != account.token:
        raise ApiError("AuthFailure.TokenFailure", "The X-TC-Token is missing, unexpected or invalid.")
    date, service, terminator = auth.scope
    if date != sig.tc3_date(timestamp) or service != SERVICE or terminator != "tc3_request":
        raise ApiError(
            "AuthFailure.SignatureFailure",
            f"The credential scope must be {sig.tc3_date(timestamp)}/{SERVICE}/tc3_request (UTC date of X-TC-Timestamp).",
        )
    if not {"content-type", "host"} <= set(auth.signed_headers):
        raise ApiError("AuthFailure.SignatureFailure", "SignedHeaders must include content-type and host.")
    if any(h not in headers for h in auth.signed_headers):
        raise ApiError("AuthFailure.SignatureFailure", "A signed header is not in the request.")
    expected = sig.tc3_signature(
        secret_key=account.secret_key,
        timestamp=timestamp,
        service=service,
        method=request.method,
        path=request.url.path,
        query=request.url.query,
        headers=headers,
        signed_headers=auth.signed_headers,
        body=body,
    )
    if not sig.same_signature(expected, auth.signature):
        raise ApiError("AuthFailure.SignatureFailure", "The provided credentials could not be validated.")
    return account


def create_tencent_sim(config: TencentSimConfig | None = None, site: Site = "intl") -> tuple[Starlette, TencentState]:
    """The ASGI app for one site (intl or China) and the state object tests inspect and drive."""
    if site not in ("intl", "china"):
        raise ValueError("site must be 'intl' or 'china'")
    state = TencentState(config or TencentSimConfig(), site)

    async def api(request: Request) -> Response:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        record = state.requests.start(request, body, headers.get("x-tc-action"))
        record.request_id = request_id = new_request_id()

        def error(code: str, message: str | None, status: int | None) -> Response:
            if not code:
                code = "InternalError" if status in (None, 500) else "ServiceUnavailable"
            record.status, record.code = status or 200, code
            payload = {"Error": {"Code": code, "Message": message or f"{code} (sandbox fault)"}, "RequestId": request_id}
            return json_response({"Response": payload}, status or 200)

        try:
            if request.method != "POST":
                raise ApiError("UnsupportedProtocol", "This sandbox takes POST with a JSON body only.")
            action = check_common_headers(headers)
            account = authenticate(state, request, headers, body)
            faulted = await apply_faults(state, action, record, error)
            if faulted is not None:
                return faulted
            if not state.limiter.allow(account.secret_id, action):
                raise ApiError("RequestLimitExceeded", f"{action} is over its limit of requests per second.")
            data = parse_body(body)
            check_types(data, schema_for(action, state.site))
            result = HANDLERS[action](state, data)
        except ApiError as exc:
            return error(exc.code, exc.message, None)
        record.status = 200
        return json_response({"Response": {**result, "RequestId": request_id}})

    routes = [*control_routes(state), Route("/", api, methods=["GET", "POST", "PUT", "DELETE"])]
    return Starlette(routes=routes), state


def parse_body(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError as exc:
        raise ApiError("InvalidParameter", f"The request body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError("InvalidParameter", "The request body must be a JSON object.")
    return data
