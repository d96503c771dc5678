"""A Tencent TRTC stream-ingest simulator (intl or China site), written from providers.md §2, the request
members of each site's api.json (tccli-intl-en, tccli) and the API and product pages, never from rtcops' client.

Unlike Volcengine, Tencent is strict: unknown parameters are refused (UnknownParameter), wrong types are
refused, and errors come back with HTTP 200 inside `Response.Error`.

What the documentation says and the simulator does:
- each site serves each action in its own regions (intl Start/Update: ap-bangkok, ap-guangzhou, ap-jakarta,
  ap-mumbai, ap-singapore, ap-tokyo; intl Describe/Stop: ap-bangkok, ap-jakarta, ap-mumbai, ap-singapore; China
  Start/Update/Stop: ap-beijing, ap-chongqing, ap-guangzhou, ap-shanghai, ap-singapore); others: UnsupportedRegion;
- the China site's Start also takes EnableProgress, Tempo and IdleTimeout [0, 600], its Update EnableProgress
  and Tempo; Volume is [0, 100] on intl and [0, 200] on China;
- the ingest pulls RTMP live streams and HLS, FLV or MP4 over http(s); other sources: InvalidParameter.StreamUrl;
- an Update changes only what it carries: a StreamUrl left out keeps the source playing;
- a task paused for more than 12 hours (China SDK, UpdateStreamIngestRequest.IsPause) is destroyed: Describe
  answers NotExist, Update FailedOperation.TaskNotExist, Stop FailedOperation.TaskFinished.

Assumptions where the documentation is silent (the README's sandbox section lists them too):
- a missing Authorization or X-TC-* header: `MissingParameter`; a malformed Authorization:
  `AuthFailure.InvalidAuthorization`; a wrong or unexpected X-TC-Token: `AuthFailure.TokenFailure`;
- a wrong type: `InvalidParameter`; a value out of range: `InvalidParameterValue`;
- Start for a room and user that already have a running ingest: `FailedOperation.TaskExist`;
- Stop of an ended task: `FailedOperation.TaskFinished`; of an unknown one: `FailedOperation.TaskNotExist`;
- the China site's Describe serves the same regions as its Start, Update and Stop;
- a StreamUrl whose name says another media format (.mkv, .mp3, .mpd, ...) is refused; one that does not show
  its format (a query string) is taken;
- every Update that carries a StreamUrl, even the one already playing, restarts the source (counted in
  SourceSwitches), so a client should send StreamUrl only to change it;
- the 12-hour pause limit holds on the international site too, and counts from the Update that paused the task
  (a repeated IsPause true does not restart it);
- the paused-task limit and every other time use the simulator's clock (TencentSimConfig.clock);
- Update's documented output is Status InProgress or NotExist: an ingest whose source ended (on command,
  `ended`) answers Update with Status NotExist in a successful answer, changing nothing; one that is unknown,
  stopped or destroyed answers FailedOperation.TaskNotExist (both mean the task is gone).

Stream-ingest event callbacks, as "Push Online Media Stream Webhooks" describes them (trtc.io/document/62717,
also www.tencentcloud.com/document/product/647/62717; China site: cloud.tencent.com/document/product/647/102825)
with the signature of "Verify Signature Example" (trtc.io/document/54912):
- a POST to the URL registered for the SdkAppId (TencentState.set_callback, /_sandbox/callbacks), headers
  `Content-Type: application/json`, `SdkAppId` and `Sign` = base64(HMAC-SHA256(key, raw body));
- body `{"EventGroupId": 7, "EventType": 701 | 702, "CallbackMsTs": <ms of this sending>,
  "EventInfo": {"EventMsTs": <ms of the event>, "TaskId": "...", "Status": <n>}}`; 701 (ingest start) Status
  0 succeeded, 1 failed, 2 starting again (retrying); 702 (ingest stop) Status 0 stopped;
- an answer other than HTTP 200 within 5 s fails; the first failure is retried at once, later ones every 10 s,
  until a minute has passed: a receiver may get one event more than once, each time with a new CallbackMsTs
  (so a new Sign), and events may arrive out of order (the page says to order them by EventMsTs);
- sent when an ingest starts (Start: 701/0), stops (Stop, the 12-hour pause limit, or on command: 702/0), or on
  command fails (701/1), retries (701/2) or recovers (701/0) (TencentState.set_ingest_state,
  /_sandbox/tasks/health and …/recover); any event, duplicated or signed with another key, on command
  (TencentState.send_callback, /_sandbox/callbacks/send).
Callback assumptions: EventMsTs is sent as a number, as in the pages' examples (their field table says
String); the body is compact JSON (the signature example's spacing); without a key no Sign header is sent;
what Describe answers after a failed start is not documented: by default the failed ingest is gone (NotExist),
and `gone=False` keeps it InProgress, as when the service retries; no 702 follows a failure.
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
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.sandbox import sim_signing as sig
from bot.sandbox.sim_callbacks import CallbackSender, RetryPolicy
from bot.sandbox.sim_common import (
    CONTROL_PREFIX,
    ControlError,
    FaultOutcome,
    SimState,
    apply_faults,
    control_routes,
    json_response,
    new_request_id,
)

Site = Literal["intl", "china"]
VERSION = "2019-07-22"
SERVICE = "trtc"
START = "StartStreamIngest"
UPDATE = "UpdateStreamIngest"
DESCRIBE = "DescribeStreamIngest"
SOURCE_ENDED = "the source ended"
"""End reason of an ingest whose source finished: Update then answers Status NotExist (see the docstring)."""
STOP = "StopStreamIngest"
ACTIONS = (START, UPDATE, DESCRIBE, STOP)
DEFAULT_QPS = dict.fromkeys(ACTIONS, 20.0)

START_REGIONS = frozenset({"ap-bangkok", "ap-guangzhou", "ap-jakarta", "ap-mumbai", "ap-singapore", "ap-tokyo"})
QUERY_REGIONS = frozenset({"ap-bangkok", "ap-jakarta", "ap-mumbai", "ap-singapore"})
CHINA_REGIONS = frozenset({"ap-beijing", "ap-chongqing", "ap-guangzhou", "ap-shanghai", "ap-singapore"})
SITE_REGIONS: dict[str, dict[str, frozenset[str]]] = {
    "intl": {START: START_REGIONS, UPDATE: START_REGIONS, DESCRIBE: QUERY_REGIONS, STOP: QUERY_REGIONS},
    "china": dict.fromkeys(ACTIONS, CHINA_REGIONS),
}
REGIONS = SITE_REGIONS["intl"]
PAUSE_LIMIT_SECONDS = 12 * 3600

DEFAULT_SECRET_ID = "AKIDsandboxTencentTestId000000000000"
DEFAULT_SECRET_KEY = "sandboxTencentTestSecretKey000000"

TEMPOS = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
TASK_ID = re.compile(r"[A-Za-z0-9_\-+/=.]{1,256}")

# Stream-ingest callbacks (module docstring): the event group, its two event types and their Status values.
EVENT_GROUP_STREAM_INGEST = 7
EVENT_STREAM_INGEST_START = 701
EVENT_STREAM_INGEST_STOP = 702
START_SUCCESS, START_FAILURE, START_AGAIN = 0, 1, 2
STOP_SUCCESS = 0

IngestState = Literal["running", "retrying", "failed", "stopped", "ended"]
INGEST_STATES: tuple[IngestState, ...] = ("running", "retrying", "failed", "stopped", "ended")


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
CHINA_START_EXTRA: dict[str, Field] = {**CHINA_UPDATE_EXTRA, "IdleTimeout": (int64, "Integer", False)}


def schema_for(action: str, site: Site) -> dict[str, Field]:
    if site == "china" and action == UPDATE:
        return {**SCHEMAS[UPDATE], **CHINA_UPDATE_EXTRA}
    if site == "china" and action == START:
        return {**SCHEMAS[START], **CHINA_START_EXTRA}
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


SOURCE_SCHEMES = ("rtmp", "http", "https")
NAMED_ELSEWHERE = ("avi", "mkv", "mov", "webm", "wmv", "mpd", "ts", "3gp", "rmvb", "rm", "f4v", "mp3", "aac", "m4a",
                   "wav", "ogg", "flac")  # fmt: skip


def valid_stream_url(v: str) -> bool:
    """RTMP, or HLS/FLV/MP4 over http(s); a name that says another media format is refused (an assumption)."""
    parts = urlsplit(v)
    if parts.scheme.lower() not in SOURCE_SCHEMES or not parts.netloc or any(c.isspace() for c in v):
        return False
    last = parts.path.rsplit("/", 1)[-1]
    ext = last.rsplit(".", 1)[1].lower() if "." in last.strip(".") else ""
    return parts.scheme.lower() == "rtmp" or ext not in NAMED_ELSEWHERE


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
    end_reason: str = ""
    paused_since: float | None = None
    source_switches: int = 0
    updates: int = 0
    health: str = "running"  # running, retrying or failed: the last 701 Status the service reported

    def expire(self, now: float) -> bool:
        """Destroy the task if it has been paused for longer than the service keeps a paused task; True if
        this call destroyed it."""
        if self.running and self.paused_since is not None and now - self.paused_since > PAUSE_LIMIT_SECONDS:
            self.running, self.ended_at = False, self.paused_since + PAUSE_LIMIT_SECONDS
            self.end_reason = "paused for more than 12 hours"
            return True
        return False

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
            "Health": self.health,
            "StartedAt": self.started_at,
            "EndedAt": self.ended_at,
            "EndReason": self.end_reason,
            "PausedSince": self.paused_since,
            "SourceSwitches": self.source_switches,
            "Updates": self.updates,
            **self.extra,
        }


@dataclass(frozen=True)
class CallbackRegistration:
    """Where the service posts an application's callbacks, and the key it signs them with (None: unsigned)."""

    url: str
    key: str | None
    policy: RetryPolicy = field(default_factory=RetryPolicy)


class TencentState(SimState):
    def __init__(self, config: TencentSimConfig, site: Site) -> None:
        super().__init__(config.qps_limits, config.qps_enabled)
        self.config = config
        self.site: Site = site
        self.tasks: dict[tuple[int, str], TencentTask] = {}
        self.callback_registrations: dict[int | None, CallbackRegistration] = {}
        self.callbacks = CallbackSender()

    def reset(self) -> None:
        """Also forget callback registrations, queued callbacks and their delivery log."""
        super().reset()
        self.clear_callbacks()

    def reset_tasks(self) -> None:
        with self.lock:
            self.tasks.clear()

    def expire(self, task: TencentTask, now: float) -> None:
        """Apply the 12-hour pause limit; a task it destroys sends its stop callback, dated when it ended."""
        if task.expire(now) and task.ended_at is not None:
            self.emit(task, EVENT_STREAM_INGEST_STOP, STOP_SUCCESS, task.ended_at)

    def task(self, sdk_app_id: int, task_id: str) -> TencentTask | None:
        with self.lock:
            task = self.tasks.get((sdk_app_id, task_id))
            if task is not None:
                self.expire(task, self.config.clock())
            return task

    def tasks_json(self) -> list[dict[str, Any]]:
        with self.lock:
            now = self.config.clock()
            for task in self.tasks.values():
                self.expire(task, now)
            return [t.to_json() for t in self.tasks.values()]

    def end_task(self, sdk_app_id: int, task_id: str) -> bool:
        """End an ingest as the service would on its own (the source ended, MaxDuration reached)."""
        return self.set_ingest_state(sdk_app_id, task_id, "ended")

    def end_task_json(self, data: dict[str, Any]) -> bool:
        app, task_id = data.get("SdkAppId"), data.get("TaskId")
        if not isinstance(app, int) or not isinstance(task_id, str):
            return False
        return self.end_task(app, task_id)

    # Task health on command: what the service does to an ingest on its own, and the callback it sends.

    def set_ingest_state(self, sdk_app_id: int, task_id: str, state: IngestState, gone: bool = True) -> bool:
        """Make an ingest `running` (recover: InProgress again, even after it ended; 701 Status 0), `retrying`
        (701 Status 2), `failed` (701 Status 1; `gone`: the service gives up and Describe answers NotExist),
        `stopped` (as if another caller stopped it) or `ended` (the source ended) (both: NotExist, 702 Status
        0). False if no such task, or it has ended and `state` is not `running`."""
        if state not in INGEST_STATES:
            raise ValueError(f"state must be one of {', '.join(INGEST_STATES)}")
        with self.lock:
            task = self.tasks.get((sdk_app_id, task_id))
            if task is None:
                return False
            now = self.config.clock()
            self.expire(task, now)
            if state == "running":
                if not task.running:
                    task.running, task.ended_at, task.end_reason = True, None, ""
                    task.paused_since = now if task.is_pause else None
                task.health = "running"
                self.emit(task, EVENT_STREAM_INGEST_START, START_SUCCESS, now)
                return True
            if not task.running:
                return False
            if state == "retrying":
                task.health = "retrying"
                self.emit(task, EVENT_STREAM_INGEST_START, START_AGAIN, now)
            elif state == "failed":
                task.health = "failed"
                if gone:
                    task.running, task.ended_at, task.end_reason = False, now, "start failed"
                self.emit(task, EVENT_STREAM_INGEST_START, START_FAILURE, now)
            else:
                task.running, task.ended_at = False, now
                task.end_reason = "stopped by another caller" if state == "stopped" else SOURCE_ENDED
                self.emit(task, EVENT_STREAM_INGEST_STOP, STOP_SUCCESS, now)
            return True

    def _task_ids(self, data: dict[str, Any], allowed: set[str]) -> tuple[int, str]:
        app, task_id = data.get("SdkAppId"), data.get("TaskId")
        if not isinstance(app, int) or not uint64(app) or not isinstance(task_id, str) or not task_id:
            raise ControlError("SdkAppId (integer) and TaskId (string) name the task")
        unknown = set(data) - allowed - {"SdkAppId", "TaskId"}
        if unknown:
            raise ControlError(f"unknown fields: {', '.join(sorted(unknown))}")
        return app, task_id

    def _ingest_json(self, app: int, task_id: str, state: IngestState, gone: bool) -> dict[str, Any]:
        with self.lock:
            if (app, task_id) not in self.tasks:
                raise ControlError(f"no ingest {task_id} in SdkAppId {app}", 404)
            if not self.set_ingest_state(app, task_id, state, gone):
                raise ControlError(f"ingest {task_id} has ended; only State running brings it back", 409)
            return self.tasks[(app, task_id)].to_json()

    def health_json(self, data: dict[str, Any]) -> dict[str, Any]:
        app, task_id = self._task_ids(data, {"State", "Gone"})
        state, gone = data.get("State"), data.get("Gone", True)
        if state not in INGEST_STATES:
            raise ControlError(f"State must be one of {', '.join(INGEST_STATES)}")
        if not isinstance(gone, bool):
            raise ControlError("Gone must be true or false")
        return self._ingest_json(app, task_id, state, gone)

    def recover_json(self, data: dict[str, Any]) -> dict[str, Any]:
        app, task_id = self._task_ids(data, set())
        return self._ingest_json(app, task_id, "running", True)

    # Callbacks.

    def set_callback(
        self,
        url: str,
        key: str | None = None,
        sdk_app_id: int | None = None,
        policy: RetryPolicy | None = None,
    ) -> CallbackRegistration:
        """Post `sdk_app_id`'s stream-ingest callbacks (every application's, when None and no registration of
        its own) to `url`, signed with `key` (None: unsigned), retried as `policy` says (TRTC's by default)."""
        if not url.startswith(("http://", "https://")):
            raise ValueError("a callback URL is http:// or https://")
        registration = CallbackRegistration(url, key, policy or RetryPolicy())
        with self.lock:
            self.callback_registrations[sdk_app_id] = registration
        return registration

    def clear_callbacks(self) -> None:
        """Forget every registration, drop queued callbacks and the delivery log."""
        with self.lock:
            self.callback_registrations.clear()
        self.callbacks.clear()

    def callback_for(self, sdk_app_id: int) -> CallbackRegistration | None:
        with self.lock:
            return self.callback_registrations.get(sdk_app_id, self.callback_registrations.get(None))

    def emit(self, task: TencentTask, event_type: int, status: int, when: float) -> int | None:
        """Queue the callback the service sends for this task's event; None if its app has no callback URL."""
        registration = self.callback_for(task.sdk_app_id)
        if registration is None:
            return None
        info = {"EventMsTs": int(when * 1000), "TaskId": task.task_id, "Status": status}
        return self._post(registration, task.sdk_app_id, event_type, info, None, registration.key)

    def send_callback(
        self,
        sdk_app_id: int,
        event_type: int = EVENT_STREAM_INGEST_START,
        task_id: str = "",
        status: int = START_SUCCESS,
        *,
        event_ms: int | None = None,
        extra: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        sign_with: str | None = None,
        copies: int = 1,
        url: str | None = None,
    ) -> list[int]:
        """Send an event on command, whether or not anything happened: `copies` separate deliveries of one
        event (a duplicate, as a retry would make it), `extra` fields in its EventInfo, or a whole `body` sent
        as it is; signed with `sign_with` instead of the registered key (a forgery), to `url` instead of the
        registered one. Returns the event ids of the delivery log."""
        if copies < 1:
            raise ValueError("copies must be at least 1")
        registration = self.callback_for(sdk_app_id)
        if url is not None:
            target = CallbackRegistration(url, None, registration.policy if registration is not None else RetryPolicy())
        elif registration is not None:
            target = registration
        else:
            raise ValueError(f"no callback URL is registered for SdkAppId {sdk_app_id}; register one or give url")
        key = sign_with if sign_with is not None else (registration.key if registration is not None else None)
        when = event_ms if event_ms is not None else int(self.config.clock() * 1000)
        info = {"EventMsTs": when, "TaskId": task_id, "Status": status, **(extra or {})}
        return [self._post(target, sdk_app_id, event_type, info, body, key) for _ in range(copies)]

    def _post(
        self,
        registration: CallbackRegistration,
        sdk_app_id: int,
        event_type: int,
        info: dict[str, Any],
        body: dict[str, Any] | None,
        key: str | None,
    ) -> int:
        clock = self.config.clock

        def render() -> bytes:
            payload = body
            if payload is None:
                payload = {
                    "EventGroupId": EVENT_GROUP_STREAM_INGEST,
                    "EventType": event_type,
                    "CallbackMsTs": int(clock() * 1000),  # the time of this sending: new for every retry
                    "EventInfo": info,
                }
            return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

        def sign(raw: bytes) -> dict[str, str]:
            headers = {"SdkAppId": str(sdk_app_id)}
            if key is not None:
                headers["Sign"] = sig.trtc_callback_sign(key, raw)
            return headers

        label = {"SdkAppId": sdk_app_id, "EventType": event_type, **{k: info.get(k) for k in ("TaskId", "Status", "EventMsTs")}}
        return self.callbacks.send(registration.url, render, sign, registration.policy, label)

    def callbacks_json(self) -> dict[str, Any]:
        with self.lock:
            registrations = [
                {
                    "SdkAppId": app,
                    "Url": r.url,
                    "Signed": r.key is not None,
                    "Timeout": r.policy.timeout,
                    "RetryEvery": r.policy.retry_every,
                    "GiveUpAfter": r.policy.give_up_after,
                }
                for app, r in self.callback_registrations.items()
            ]
        return {"registrations": registrations, "attempts": self.callbacks.attempts_json()}


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
    check_china_extras(body)
    with state.lock:
        now = state.config.clock()
        for task in state.tasks.values():
            state.expire(task, now)
            same = (task.sdk_app_id, task.room_id, task.user_id) == (body["SdkAppId"], body["RoomId"], body["UserId"])
            if same and task.running:
                raise ApiError("FailedOperation.TaskExist", "An ingest task for this room and UserId is running.")
        task_id = "-" + secrets.token_urlsafe(33)
        kept = ("SeekSecond", "AutoPush", "RepeatNum", "MaxDuration", "IdleTimeout")
        extra: dict[str, Any] = {k: body[k] for k in kept if k in body}
        state.tasks[(body["SdkAppId"], task_id)] = TencentTask(
            sdk_app_id=body["SdkAppId"],
            task_id=task_id,
            room_id=body["RoomId"],
            user_id=body["UserId"],
            stream_url=body.get("StreamUrl") or body["SourceUrl"][0],
            volume=body.get("Volume", 100),
            enable_progress=body.get("EnableProgress"),
            tempo=body.get("Tempo"),
            extra=extra,
            started_at=now,
        )
        state.emit(state.tasks[(body["SdkAppId"], task_id)], EVENT_STREAM_INGEST_START, START_SUCCESS, now)
    return {"TaskId": task_id}


def check_china_extras(body: dict[str, Any]) -> None:
    if "Tempo" in body and body["Tempo"] not in TEMPOS:
        raise ApiError("InvalidParameterValue", f"Tempo must be one of {', '.join(map(str, TEMPOS))}.")
    if "IdleTimeout" in body and not 0 <= body["IdleTimeout"] <= 600:
        raise ApiError("InvalidParameterValue", "IdleTimeout must be in [0, 600].")


def do_update(state: TencentState, body: dict[str, Any]) -> dict[str, Any]:
    task_id = check_task_id(body)
    check_stream_url(body)
    check_volume(body, state.site)
    check_china_extras(body)
    with state.lock:
        now = state.config.clock()
        task = state.tasks.get((body["SdkAppId"], task_id))
        if task is not None:
            state.expire(task, now)
        if task is not None and not task.running and task.end_reason == SOURCE_ENDED:
            return {"Status": "NotExist"}
        if task is None or not task.running:
            raise ApiError("FailedOperation.TaskNotExist", "The task does not exist.")
        if "StreamUrl" in body:
            task.stream_url = body["StreamUrl"]
            task.source_switches += 1
        task.volume = body.get("Volume", task.volume)
        if "IsPause" in body:
            if body["IsPause"] and not task.is_pause:
                task.paused_since = now
            elif not body["IsPause"]:
                task.paused_since = None
            task.is_pause = body["IsPause"]
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
        now = state.config.clock()
        if task is not None:
            state.expire(task, now)
        if task is None:
            raise ApiError("FailedOperation.TaskNotExist", "The task does not exist.")
        if not task.running:
            raise ApiError("FailedOperation.TaskFinished", "The task has already finished.")
        task.running, task.ended_at, task.end_reason = False, now, "StopStreamIngest"
        state.emit(task, EVENT_STREAM_INGEST_STOP, STOP_SUCCESS, now)
    return {}


HANDLERS: dict[str, Callable[[TencentState, dict[str, Any]], dict[str, Any]]] = {
    START: do_start,
    UPDATE: do_update,
    DESCRIBE: do_describe,
    STOP: do_stop,
}


# --- HTTP -----------------------------------------------------------------------------------------------


def check_common_headers(headers: dict[str, str], site: Site) -> str:
    """X-TC-Action/Version/Region checks against the site's regions; returns the action."""
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
    if region not in SITE_REGIONS[site][action]:
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

        outcome = FaultOutcome()
        try:
            if request.method != "POST":
                raise ApiError("UnsupportedProtocol", "This sandbox takes POST with a JSON body only.")
            action = check_common_headers(headers, state.site)
            account = authenticate(state, request, headers, body)
            outcome = await apply_faults(state, action, record, error)
            if outcome.answer is not None:
                return outcome.answer
            if not state.limiter.allow(account.secret_id, action):
                raise ApiError("RequestLimitExceeded", f"{action} is over its limit of requests per second.")
            data = parse_body(body)
            check_types(data, schema_for(action, state.site))
            result = HANDLERS[action](state, data)
            record.status = 200
            response = json_response({"Response": {**result, "RequestId": request_id}})
        except ApiError as exc:
            response = error(exc.code, exc.message, None)
        return await outcome.deliver(response)

    routes = [*control_routes(state), *callback_routes(state), Route("/", api, methods=["GET", "POST", "PUT", "DELETE"])]
    return Starlette(routes=routes), state


def callback_routes(state: TencentState) -> list[Route]:
    """/_sandbox/callbacks: register (POST), list registrations and the delivery log (GET), forget (DELETE);
    /_sandbox/callbacks/send: send an event on command (module docstring)."""

    async def callbacks(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(state.callbacks_json())
        if request.method == "DELETE":
            state.clear_callbacks()
            return JSONResponse({"cleared": True})
        try:
            data = await control_body(request)
            known = {"Url", "Key", "SdkAppId", "Timeout", "RetryEvery", "GiveUpAfter"}
            if set(data) - known:
                raise ControlError(f"unknown fields: {', '.join(sorted(set(data) - known))}")
            url, key, app = data.get("Url"), data.get("Key"), data.get("SdkAppId")
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise ControlError("Url must be an http:// or https:// URL")
            if key is not None and (not isinstance(key, str) or not key):
                raise ControlError("Key must be a non-empty string, or absent for unsigned callbacks")
            if app is not None and not (isinstance(app, int) and uint64(app)):
                raise ControlError("SdkAppId must be an integer, or absent for every application")
            default = RetryPolicy()
            timing = {
                name: data.get(field, getattr(default, name))
                for name, field in (("timeout", "Timeout"), ("retry_every", "RetryEvery"), ("give_up_after", "GiveUpAfter"))
            }
            if not all(number(v) and 0 < v <= 3600 for v in timing.values()):
                raise ControlError("Timeout, RetryEvery and GiveUpAfter are seconds in (0, 3600]")
            state.set_callback(url, key, app, RetryPolicy(**timing))
        except ControlError as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        return JSONResponse(state.callbacks_json()["registrations"])

    async def send(request: Request) -> Response:
        try:
            data = await control_body(request)
            known = {"SdkAppId", "EventType", "TaskId", "Status", "EventMsTs", "EventInfo", "Body", "SignWith", "Copies", "Url"}
            if set(data) - known:
                raise ControlError(f"unknown fields: {', '.join(sorted(set(data) - known))}")
            app = data.get("SdkAppId")
            if not (isinstance(app, int) and uint64(app)):
                raise ControlError("SdkAppId (integer) picks the registration and the SdkAppId header")
            checks: list[tuple[str, Callable[[Any], bool], str]] = [
                ("EventType", int64, "an integer"),
                ("TaskId", string, "a string"),
                ("Status", int64, "an integer"),
                ("EventMsTs", int64, "an integer"),
                ("EventInfo", lambda v: isinstance(v, dict), "an object (extra EventInfo fields)"),
                ("Body", lambda v: isinstance(v, dict), "an object (sent as it is)"),
                ("SignWith", lambda v: isinstance(v, str) and v != "", "a non-empty string"),
                ("Copies", lambda v: int64(v) and 1 <= v <= 100, "an integer in [1, 100]"),
                ("Url", lambda v: isinstance(v, str) and v.startswith(("http://", "https://")), "an http(s) URL"),
            ]
            for name, ok, what in checks:
                if name in data and not ok(data[name]):
                    raise ControlError(f"{name} must be {what}")
            events = state.send_callback(
                app,
                data.get("EventType", EVENT_STREAM_INGEST_START),
                data.get("TaskId", ""),
                data.get("Status", START_SUCCESS),
                event_ms=data.get("EventMsTs"),
                extra=data.get("EventInfo"),
                body=data.get("Body"),
                sign_with=data.get("SignWith"),
                copies=data.get("Copies", 1),
                url=data.get("Url"),
            )
        except ControlError as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        return JSONResponse({"events": events})

    p = CONTROL_PREFIX
    return [
        Route(f"{p}/callbacks", callbacks, methods=["GET", "POST", "DELETE"]),
        Route(f"{p}/callbacks/send", send, methods=["POST"]),
    ]


async def control_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = json.loads(raw or b"{}")
    except ValueError as exc:
        raise ControlError(f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ControlError("body must be a JSON object")
    return data


def parse_body(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError as exc:
        raise ApiError("InvalidParameter", f"The request body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError("InvalidParameter", "The request body must be a JSON object.")
    return data
