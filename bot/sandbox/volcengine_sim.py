"""A Volcengine RTC simulator for the four mixed-push actions, written from providers.md §1 and the field list
of the Go SDK's 2020-12-01 model (service/rtc/v20201201/model.go), never from rtcops' client code.

It behaves like the real service where that hurts: an invalid optional value is silently replaced by its
default, and an Update without IsUpdatePartialParam resets every updatable field it leaves out. Both are
recorded (RecordedRequest.resets / .ignored) so tests can show that only the client's validation stands
between an operator's typo and a changed live stream.

What the documentation says and the simulator does:
- in a custom layout (LayoutMode 2) streams and regions pair one to one: a region whose StreamIndex matches no
  stream, and a stream without an Index or without exactly one region, is `InvalidParameter`;
- above the profile's cap an AudioBitrate is encoded at the cap (HE-AAC v1: 64 mono, 128 stereo; HE-AAC v2: 64);
- HE-AAC v2 is stereo only: AudioChannels 1 with AudioProfile 2 is replaced by the default, 2;
- Control's MaxRecordTime, TalkVolume, VolumeIndicationInterval and VolumeIndicationMode are start-only;
- with both MainVideoStream and MainVideoStreamIndex, only MainVideoStream counts.

Assumptions where the documentation is silent (the README's sandbox section lists them too):
- a SequenceNumber not greater than the last applied one: `InvalidParameter.SequenceNumber` (400);
- a negative Index or SequenceNumber (int32 in the API, meaning undocumented): `InvalidParameter` (400);
- a BackgroundImage or AlternateImage whose name says another image format (.gif, .webp, ...) is an invalid
  optional value and is dropped silently; a URL that does not show its format is taken;
- Update of a task started without LayoutMode 2: `InvalidParameter` (400);
- Get of a task that was never started, or was started more than 72 hours ago (the service keeps Get's
  window that long): `InvalidParameter.ErrorActiveTaskNotFound` (400), the same answer for both;
- a malformed Authorization header is `InvalidAuthorization` (400) and a wrong or missing STS token when the account
  has one (or a token the account does not have) `InvalidSecretToken` (401), as Volcengine's common error codes
  name them (e.g. https://www.volcengine.com/docs/6408/78947); which of its several token errors applies is ours;
- a missing X-Date or X-Content-Sha256 header: `MissingRequestInfo` (400);
- the default AudienceSpatialOrientation: Forward [1,0,0], Right [0,1,0], Up [0,0,1].

Task health and drift on command (/_sandbox/tasks/health, …/recover, …/drift; VolcengineState.set_task_health,
recover_task, drift_task), for tests of a client that watches its tasks:
- Get reports the Status, PushStreamState and StopReason that were set (providers.md §1.2: Status 0 unknown,
  1 not started, 2 running, 3 ended, 4 failed; PushStreamState 0 unknown … 3 reconnecting, 4 connected,
  5 pushing, 6 stopped). Ending a task (Status 3 or 4) stamps EndTime and sets PushStreamState 6; bringing
  it back (0-2) clears EndTime and sets PushStreamState 5 for Status 2, else 1; a PushStreamState given in the
  same command wins. Recovering sets Status 2, PushStreamState 5, an empty StopReason and EndTime 0;
- only Status 3 and 4 end a task: Update and Stop answer `InvalidParameter.ErrorActiveTaskNotFound` for it, a
  new Start with its ids is taken; a task set to Status 0 or 1 still takes Update and Stop (an assumption);
- drift is an Update another tool makes: the same normalisation, updatable fields, full or partial replace
  and custom-layout rule, but no SequenceNumber check and no change to the last applied SequenceNumber.

No server-side callbacks are simulated. Volcengine documents a message notification service with its envelope
and signature (www.volcengine.com/docs/6348/69820; BytePlus: docs.byteplus.com/byteplus-rtc/docs/75124), and the
BytePlus event list names TranscodeStarted/Stopped/Updated/StateChanged (docs.byteplus.com/byteplus-rtc/docs/75125),
but the sources found give neither those events' fields nor whether tasks started through this API send them.
"""

from __future__ import annotations

import copy
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.sandbox import sim_signing as sig
from bot.sandbox.sim_common import (
    ControlError,
    FaultOutcome,
    SimState,
    apply_faults,
    control_routes,
    json_response,
    new_request_id,
)

VERSION = "2020-12-01"
SERVICE = "rtc"
START = "StartPushMixedStreamToCDN"
UPDATE = "UpdatePushMixedStreamToCDN"
STOP = "StopPushStreamToCDN"
GET = "GetPushMixedStreamToCDNTask"
METHODS = {START: "POST", UPDATE: "POST", STOP: "POST", GET: "GET"}
DEFAULT_QPS = {START: 150.0, UPDATE: 150.0, STOP: 150.0, GET: 60.0}
GET_WINDOW_MS = 72 * 3600 * 1000

DEFAULT_ACCESS_KEY = "AKLTsandboxVolcengineTestKey00000000"
DEFAULT_SECRET_KEY = "c2FuZGJveC12b2xjZW5naW5lLXNlY3JldA=="

ID_PATTERN = re.compile(r"[a-zA-Z0-9_@\-.]{1,128}")
COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")
EPSILON = 1e-9

STATUS_BY_CODE = {
    "FlowLimitExceeded": 429,
    "AccountFlowLimitExceeded": 429,
    "MissingAuthenticationToken": 401,
    "MissingSignature": 401,
    "InvalidAccessKey": 401,
    "SignatureDoesNotMatch": 401,
    "InvalidAuthorization": 400,
    "InvalidSecretToken": 401,
    "InvalidActionOrVersion": 404,
    "ServiceNotFound": 404,
    "AccessDenied": 403,
    "LackPolicy": 403,
    "InternalError": 500,
    "ServiceUnavailableTemp": 503,
    "InternalServiceTimeout": 504,
}
TRANSIENT_BY_STATUS = {503: "ServiceUnavailableTemp", 504: "InternalServiceTimeout"}


def http_status_for(code: str) -> int:
    if code in STATUS_BY_CODE:
        return STATUS_BY_CODE[code]
    if code.startswith("FlowLimitExceeded"):
        return 429
    if code.startswith("AccessDenied"):
        return 403
    return 400


@dataclass(frozen=True)
class VolcengineAccount:
    access_key: str = DEFAULT_ACCESS_KEY
    secret_key: str = DEFAULT_SECRET_KEY
    session_token: str | None = None
    app_ids: frozenset[str] | None = None  # None: every AppId belongs to this account


@dataclass
class VolcengineSimConfig:
    accounts: tuple[VolcengineAccount, ...] = (VolcengineAccount(),)
    region: str = "cn-north-1"
    max_skew_seconds: float = 15 * 60
    qps_enabled: bool = True
    qps_limits: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_QPS))
    clock: Callable[[], float] = time.time


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status if status is not None else http_status_for(code)


# --- values --------------------------------------------------------------------------------------------


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def int_in(lo: int, hi: int) -> Callable[[Any], bool]:
    return lambda v: is_int(v) and lo <= v <= hi


def one_of(*allowed: int) -> Callable[[Any], bool]:
    return lambda v: is_int(v) and v in allowed


def even_in(lo: int, hi: int) -> Callable[[Any], bool]:
    return lambda v: is_int(v) and lo <= v <= hi and v % 2 == 0


def share_open(v: Any) -> bool:
    """(0, 1]"""
    return is_num(v) and 0 < v <= 1


def share_from_zero(v: Any) -> bool:
    """[0, 1)"""
    return is_num(v) and 0 <= v < 1


def is_bool(v: Any) -> bool:
    return isinstance(v, bool)


IMAGE_TYPES_REFUSED = ("gif", "webp", "bmp", "svg", "tif", "tiff", "heic", "heif", "avif", "ico")


def is_image_url(limit_bytes: int | None = None, limit_chars: int | None = None) -> Callable[[Any], bool]:
    """An http(s) URL to a JPG/JPEG/PNG image within the field's length limit. The name is judged only when it
    names another image format (an assumption, module docstring)."""

    def ok(v: Any) -> bool:
        if not isinstance(v, str) or not v.startswith(("http://", "https://")) or not v:
            return False
        if limit_bytes is not None and len(v.encode()) > limit_bytes:
            return False
        if limit_chars is not None and len(v) > limit_chars:
            return False
        name = v.split("?", 1)[0].split("#", 1)[0].rsplit("/", 1)[-1]
        return not (("." in name.strip(".")) and name.rsplit(".", 1)[1].lower() in IMAGE_TYPES_REFUSED)

    return ok


def is_vec3_int(v: Any) -> bool:
    return isinstance(v, list) and len(v) == 3 and all(is_int(x) and -100 <= x <= 100 for x in v)


def is_vec3(v: Any) -> bool:
    return isinstance(v, list) and len(v) == 3 and all(is_num(x) for x in v) and any(x != 0 for x in v)


def perpendicular(a: list[float], b: list[float]) -> bool:
    return abs(sum(x * y for x, y in zip(a, b, strict=True))) < 1e-6


DEFAULT_ORIENTATION = {"Forward": [1, 0, 0], "Right": [0, 1, 0], "Up": [0, 0, 1]}


def default_config() -> dict[str, Any]:
    """A task's settings when nothing is sent; Get reports these for every field left at its default."""
    return {
        "TargetStreams": {"StreamList": []},
        "Layout": {
            "LayoutMode": 0,
            "CustomLayout": {"Canvas": {"Width": 640, "Height": 480, "Background": "#000000"}, "Regions": []},
        },
        "Encode": {
            "VideoWidth": 640,
            "VideoHeight": 480,
            "VideoFps": 15,
            "VideoCodec": 0,
            "VideoGop": 4,
            "AudioCodec": 0,
            "AudioProfile": 0,
            "AudioBitrate": 64,
            "AudioSampleRate": 48000,
            "AudioChannels": 2,
        },
        "Control": {
            "MediaType": 0,
            "FrameInterpolationMode": 0,
            "MaxIdleTime": 180,
            "MaxRecordTime": 0,
            "PushStreamMode": 0,
            "TalkVolume": 0,
            "VolumeIndicationInterval": 2,
            "VolumeIndicationMode": False,
        },
    }


ENCODE_UPDATABLE = (
    "VideoWidth", "VideoHeight", "VideoFps", "VideoBitrate", "VideoGop",
    "AudioCodec", "AudioBitrate", "AudioSampleRate", "AudioChannels",
)  # fmt: skip
UPDATABLE_PATHS: tuple[tuple[str, ...], ...] = (
    ("TargetStreams",),
    ("Layout", "CustomLayout", "Canvas", "Background"),
    ("Layout", "CustomLayout", "Canvas", "BackgroundImage"),
    ("Layout", "CustomLayout", "Regions"),
    *(("Encode", name) for name in ENCODE_UPDATABLE),
    ("Control", "SpatialConfig"),
)
UPDATABLE_PREFIXES = tuple(".".join(path) for path in UPDATABLE_PATHS)


# --- body normalisation ---------------------------------------------------------------------------------

_MISSING = object()


class Normaliser:
    """Walks a request body the way the service does: required problems raise, optional ones are
    replaced by their default (or dropped when the field has none) and written down in `resets`."""

    def __init__(self) -> None:
        self.resets: list[dict[str, Any]] = []
        self.ignored: list[str] = []

    def optional(self, obj: dict[str, Any], key: str, path: str, ok: Callable[[Any], bool], default: Any) -> Any:
        if key not in obj:
            return _MISSING
        value = obj[key]
        if ok(value):
            return value
        self.resets.append({"path": f"{path}{key}", "sent": value, "applied": default})
        return _MISSING if default is None else copy.deepcopy(default)

    def object(self, obj: dict[str, Any], key: str, path: str) -> dict[str, Any] | None:
        """An optional nested object; a non-object is treated as not sent, like any invalid optional."""
        if key not in obj:
            return None
        value = obj[key]
        if isinstance(value, dict):
            return value
        self.resets.append({"path": f"{path}{key}", "sent": value, "applied": None})
        return None

    def unknown(self, obj: dict[str, Any], known: set[str], path: str) -> None:
        self.ignored.extend(f"{path}{k} (unknown field)" for k in obj if k not in known)

    # The objects, each returning only what was sent (array elements are whole, so they get defaults).

    def stream(self, raw: Any, path: str) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise ApiError("InvalidParameter", f"{path} must be an object with a UserId")
        if "UserId" not in raw:
            raise ApiError("MissingParameter", f"{path}.UserId is required")
        user = raw["UserId"]
        if not isinstance(user, str) or not ID_PATTERN.fullmatch(user):
            raise ApiError("InvalidParameter", f"{path}.UserId must match [a-zA-Z0-9_@-.]{{1,128}}")
        self.unknown(raw, {"UserId", "Index", "StreamType"}, f"{path}.")
        out: dict[str, Any] = {"UserId": user}
        if is_int(raw.get("Index")) and -(2**31) <= raw["Index"] < 0:
            raise ApiError("InvalidParameter", f"{path}.Index {raw['Index']} is negative (sandbox assumption: refused)")
        index = self.optional(raw, "Index", f"{path}.", int_in(0, 2**31 - 1), None)
        if index is not _MISSING:
            out["Index"] = index
        out["StreamType"] = 0
        stream_type = self.optional(raw, "StreamType", f"{path}.", one_of(0, 1), 0)
        if stream_type is not _MISSING:
            out["StreamType"] = stream_type
        return out

    def streams(self, obj: dict[str, Any], key: str, path: str) -> dict[str, Any] | None:
        raw = self.object(obj, key, path)
        if raw is None:
            return None
        self.unknown(raw, {"StreamList"}, f"{path}{key}.")
        items = raw.get("StreamList", [])
        if not isinstance(items, list):
            self.resets.append({"path": f"{path}{key}.StreamList", "sent": items, "applied": []})
            items = []
        streams = [self.stream(item, f"{path}{key}.StreamList[{i}]") for i, item in enumerate(items)]
        indexes = [s["Index"] for s in streams if "Index" in s]
        if len(indexes) != len(set(indexes)):
            raise ApiError("InvalidParameter", f"{path}{key}.StreamList: every Index must be unique")
        return {"StreamList": streams}

    def region(self, raw: Any, path: str) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise ApiError("InvalidParameter", f"{path} must be an object")
        for key in ("StreamIndex", "WidthProportion", "HeightProportion"):
            if key not in raw:
                raise ApiError("MissingParameter", f"{path}.{key} is required")
        if not is_int(raw["StreamIndex"]):
            raise ApiError("InvalidParameter", f"{path}.StreamIndex must be an integer")
        for key in ("WidthProportion", "HeightProportion"):
            if not share_open(raw[key]):
                raise ApiError("InvalidParameter", f"{path}.{key} must be in (0, 1]")
        for key in ("LocationX", "LocationY"):
            if key in raw and not share_from_zero(raw[key]):
                raise ApiError("InvalidParameter", f"{path}.{key} must be in [0, 1)")
        out: dict[str, Any] = {k: raw[k] for k in ("StreamIndex", "WidthProportion", "HeightProportion")}
        out["LocationX"] = raw.get("LocationX", 0)
        out["LocationY"] = raw.get("LocationY", 0)
        if out["LocationX"] + out["WidthProportion"] > 1 + EPSILON:
            raise ApiError("InvalidParameter", f"{path}: LocationX + WidthProportion must not exceed 1")
        if out["LocationY"] + out["HeightProportion"] > 1 + EPSILON:
            raise ApiError("InvalidParameter", f"{path}: LocationY + HeightProportion must not exceed 1")
        p = f"{path}."
        rules: list[tuple[str, Callable[[Any], bool], Any]] = [
            ("ZOrder", int_in(0, 100), 0),
            ("Alpha", share_open, 1.0),
            ("RenderMode", one_of(0, 1, 2, 3), 0),
            ("MediaType", one_of(0, 1, 2), 0),
            ("AlternateImage", is_image_url(limit_chars=1024), None),
            ("AlternateImageFillMode", one_of(0, 1), 0),
            ("CornerRadius", share_open, None),
            ("SpatialPosition", is_vec3_int, [0, 0, 0]),
            ("ApplySpatialAudio", is_bool, True),
        ]
        for key, ok, default in rules:
            value = self.optional(raw, key, p, ok, default)
            if value is not _MISSING:
                out[key] = value
            elif default is not None:
                out[key] = copy.deepcopy(default)
        crop = self.object(raw, "SourceCrop", p)
        if crop is not None:
            out["SourceCrop"] = self.source_crop(crop, f"{p}SourceCrop.")
        known = {"StreamIndex", "WidthProportion", "HeightProportion", "LocationX", "LocationY", "SourceCrop"}
        self.unknown(raw, known | {r[0] for r in rules}, p)
        return out

    def source_crop(self, raw: dict[str, Any], p: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, ok, default in (
            ("LocationX", share_from_zero, 0),
            ("LocationY", share_from_zero, 0),
            ("WidthProportion", share_open, 1),
            ("HeightProportion", share_open, 1),
        ):
            value = self.optional(raw, key, p, ok, default)
            out[key] = default if value is _MISSING else value
        self.unknown(raw, set(out), p)
        return out

    def layout(self, body: dict[str, Any]) -> dict[str, Any] | None:
        raw = self.object(body, "Layout", "")
        if raw is None:
            return None
        out: dict[str, Any] = {}
        mode = self.optional(raw, "LayoutMode", "Layout.", one_of(0, 1, 2, 3), 0)
        if mode is not _MISSING:
            out["LayoutMode"] = mode
        main = self.object(raw, "MainVideoStream", "Layout.")
        if main is not None:
            out["MainVideoStream"] = self.stream(main, "Layout.MainVideoStream")
        index = self.optional(raw, "MainVideoStreamIndex", "Layout.", int_in(0, 2**31 - 1), None)
        if index is not _MISSING and main is not None:
            self.ignored.append("Layout.MainVideoStreamIndex (MainVideoStream is set)")
        elif index is not _MISSING:
            out["MainVideoStreamIndex"] = index
        custom = self.object(raw, "CustomLayout", "Layout.")
        if custom is not None:
            out["CustomLayout"] = self.custom_layout(custom)
        self.unknown(raw, {"LayoutMode", "MainVideoStream", "MainVideoStreamIndex", "CustomLayout"}, "Layout.")
        return out

    def custom_layout(self, raw: dict[str, Any]) -> dict[str, Any]:
        p = "Layout.CustomLayout."
        out: dict[str, Any] = {}
        canvas = self.object(raw, "Canvas", p)
        if canvas is not None:
            c: dict[str, Any] = {}
            for key, ok, default in (
                ("Width", even_in(2, 1920), 640),
                ("Height", even_in(2, 1920), 480),
                ("Background", lambda v: isinstance(v, str) and COLOUR.fullmatch(v) is not None, "#000000"),
                ("BackgroundImage", is_image_url(limit_bytes=1024), None),
            ):
                value = self.optional(canvas, key, f"{p}Canvas.", ok, default)
                if value is not _MISSING:
                    c[key] = value
            self.unknown(canvas, {"Width", "Height", "Background", "BackgroundImage"}, f"{p}Canvas.")
            out["Canvas"] = c
        if "Regions" in raw:
            regions = raw["Regions"]
            if isinstance(regions, list):
                out["Regions"] = [self.region(r, f"{p}Regions[{i}]") for i, r in enumerate(regions)]
            else:
                self.resets.append({"path": f"{p}Regions", "sent": regions, "applied": []})
                out["Regions"] = []
        self.unknown(raw, {"Canvas", "Regions"}, p)
        return out

    def encode(self, body: dict[str, Any]) -> dict[str, Any] | None:
        raw = self.object(body, "Encode", "")
        if raw is None:
            return None
        defaults = default_config()["Encode"]
        rules: list[tuple[str, Callable[[Any], bool]]] = [
            ("VideoWidth", even_in(2, 1920)),
            ("VideoHeight", even_in(2, 1920)),
            ("VideoFps", int_in(1, 60)),
            ("VideoBitrate", int_in(1, 10000)),
            ("VideoCodec", one_of(0, 1)),
            ("VideoGop", int_in(1, 5)),
            ("AudioCodec", one_of(0)),
            ("AudioProfile", one_of(0, 1, 2)),
            ("AudioBitrate", int_in(32, 192)),
            ("AudioSampleRate", one_of(32000, 44100, 48000)),
            ("AudioChannels", one_of(1, 2)),
        ]
        out: dict[str, Any] = {}
        for key, ok in rules:
            value = self.optional(raw, key, "Encode.", ok, defaults.get(key))
            if value is not _MISSING:
                out[key] = value
        self.unknown(raw, {r[0] for r in rules}, "Encode.")
        return out

    def control(self, body: dict[str, Any]) -> dict[str, Any] | None:
        raw = self.object(body, "Control", "")
        if raw is None:
            return None
        defaults = default_config()["Control"]
        rules: list[tuple[str, Callable[[Any], bool]]] = [
            ("MediaType", one_of(0, 1)),
            ("FrameInterpolationMode", one_of(0, 1)),
            ("MaxIdleTime", int_in(10, 86400)),
            ("MaxRecordTime", int_in(0, 2**31 - 1)),
            ("PushStreamMode", one_of(0, 1)),
            ("TalkVolume", int_in(0, 255)),
            ("VolumeIndicationInterval", int_in(1, 2**31 - 1)),
            ("VolumeIndicationMode", is_bool),
        ]
        out: dict[str, Any] = {}
        for key, ok in rules:
            value = self.optional(raw, key, "Control.", ok, defaults[key])
            if value is not _MISSING:
                out[key] = value
        spatial = self.object(raw, "SpatialConfig", "Control.")
        if spatial is not None:
            out["SpatialConfig"] = self.spatial(spatial)
        self.unknown(raw, {r[0] for r in rules} | {"SpatialConfig"}, "Control.")
        return out

    def spatial(self, raw: dict[str, Any]) -> dict[str, Any]:
        p = "Control.SpatialConfig."
        out: dict[str, Any] = {}
        for key, ok, default in (
            ("EnableSpatialRender", is_bool, False),
            ("AudienceSpatialPosition", is_vec3_int, [0, 0, 0]),
        ):
            value = self.optional(raw, key, p, ok, default)
            if value is not _MISSING:
                out[key] = value
        orientation = self.optional(raw, "AudienceSpatialOrientation", p, valid_orientation, DEFAULT_ORIENTATION)
        if orientation is not _MISSING:
            out["AudienceSpatialOrientation"] = orientation
        self.unknown(raw, {"EnableSpatialRender", "AudienceSpatialPosition", "AudienceSpatialOrientation"}, p)
        return out

    def settings(self, body: dict[str, Any]) -> dict[str, Any]:
        """The Layout/Encode/Control/TargetStreams part of a Start or Update body, as sent."""
        out: dict[str, Any] = {}
        streams = self.streams(body, "TargetStreams", "")
        if streams is not None:
            out["TargetStreams"] = streams
        for key, part in (("Layout", self.layout(body)), ("Encode", self.encode(body)), ("Control", self.control(body))):
            if part is not None:
                out[key] = part
        return out


def valid_orientation(v: Any) -> bool:
    if not isinstance(v, dict) or set(v) != {"Forward", "Right", "Up"}:
        return False
    f, r, u = v["Forward"], v["Right"], v["Up"]
    if not (is_vec3(f) and is_vec3(r) and is_vec3(u)):
        return False
    return perpendicular(f, r) and perpendicular(f, u) and perpendicular(r, u)


def require_id(body: dict[str, Any], key: str) -> str:
    if key not in body or body[key] in ("", None):
        raise ApiError("MissingParameter", f"{key} is required")
    value = body[key]
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise ApiError("InvalidParameter", f"{key} must be a string matching [a-zA-Z0-9_@-.]{{1,128}}")
    return value


# --- settings trees -------------------------------------------------------------------------------------


def deep_merge(base: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
    """Objects merge key by key; anything else, arrays included, replaces what was there whole."""
    for key, value in sent.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def get_path(tree: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = tree
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return _MISSING
        node = node[key]
    return node


def set_path(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = tree
    for key in path[:-1]:
        node = node.setdefault(key, {})
    if value is _MISSING:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = copy.deepcopy(value)


def only_updatable(sent: dict[str, Any], ignored: list[str]) -> dict[str, Any]:
    """Keep the updatable parts of an Update body; every other sent leaf is listed as ignored."""
    out: dict[str, Any] = {}
    for path in UPDATABLE_PATHS:
        value = get_path(sent, path)
        if value is not _MISSING:
            set_path(out, path, value)

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if path in UPDATABLE_PATHS:
            return
        if isinstance(node, dict) and node:
            for key, child in node.items():
                walk(child, (*path, key))
        elif path:
            ignored.append(f"{'.'.join(path)} (not updatable)")

    walk(sent, ())
    return out


AUDIO_BITRATE_CAP = {(1, 1): 64, (1, 2): 128, (2, 1): 64, (2, 2): 64}
"""(AudioProfile, AudioChannels) -> the bitrate the service encodes at when asked for more (Go SDK, AudioBitrate)."""


def enforce_cross_rules(config: dict[str, Any], norm: Normaliser) -> None:
    """Rules that need the merged settings: HE-AAC v2's stereo, the profile's bitrate cap and a corner radius
    above half the region's shorter side (all silent), and streams paired with regions (loud)."""
    encode = config["Encode"]
    if encode.get("AudioProfile", 0) == 2 and encode.get("AudioChannels", 2) == 1:
        norm.resets.append({"path": "Encode.AudioChannels", "sent": 1, "applied": 2})
        encode["AudioChannels"] = 2
    cap = AUDIO_BITRATE_CAP.get((encode.get("AudioProfile", 0), encode.get("AudioChannels", 2)), 192)
    if encode.get("AudioBitrate", 64) > cap:
        norm.resets.append({"path": "Encode.AudioBitrate", "sent": encode["AudioBitrate"], "applied": cap})
        encode["AudioBitrate"] = cap
    canvas = config["Layout"]["CustomLayout"]["Canvas"]
    width, height = canvas.get("Width", 640), canvas.get("Height", 480)
    for i, region in enumerate(config["Layout"]["CustomLayout"]["Regions"]):
        radius = region.get("CornerRadius")
        short = min(region["WidthProportion"] * width, region["HeightProportion"] * height)
        if radius is not None and radius * width > short / 2 + EPSILON:
            path = f"Layout.CustomLayout.Regions[{i}].CornerRadius"
            norm.resets.append({"path": path, "sent": radius, "applied": None})
            del region["CornerRadius"]
    streams = config["TargetStreams"]["StreamList"]
    regions = config["Layout"]["CustomLayout"]["Regions"]
    indexes = [s.get("Index") for s in streams]
    for i, region in enumerate(regions):
        if indexes.count(region["StreamIndex"]) != 1:
            raise ApiError(
                "InvalidParameter",
                f"Layout.CustomLayout.Regions[{i}].StreamIndex {region['StreamIndex']} matches no "
                "TargetStreams.StreamList[].Index",
            )
    if config["Layout"].get("LayoutMode") != 2:
        return
    shown = [r["StreamIndex"] for r in regions]
    for i, stream in enumerate(streams):
        if "Index" not in stream or shown.count(stream["Index"]) != 1:
            raise ApiError(
                "InvalidParameter",
                f"TargetStreams.StreamList[{i}] (UserId {stream['UserId']}) needs exactly one region in a custom layout",
            )


# --- tasks ----------------------------------------------------------------------------------------------


@dataclass
class VolcengineTask:
    account: str
    app_id: str
    room_id: str
    task_id: str
    push_url: str
    config: dict[str, Any]
    business_id: str | None = None
    exclude_streams: dict[str, Any] | None = None
    status: int = 2  # running
    push_stream_state: int = 5  # pushing
    start_time_ms: int = 0
    end_time_ms: int = 0
    stop_reason: str = ""
    last_sequence: int | None = None
    updates: int = 0
    external_updates: int = 0  # drift: Updates made by another tool, behind the client's back

    @property
    def running(self) -> bool:
        """Not ended (3) or failed (4): the task still takes Update and Stop, whatever it is pushing."""
        return self.status not in ENDED_STATUSES

    def get_result(self) -> dict[str, Any]:
        return {
            "StartTime": self.start_time_ms,
            "EndTime": self.end_time_ms,
            "PushURL": self.push_url,
            "Status": self.status,
            "PushStreamState": self.push_stream_state,
            "StopReason": self.stop_reason,
            **copy.deepcopy(self.config),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "AppId": self.app_id,
            "RoomId": self.room_id,
            "TaskId": self.task_id,
            "BusinessId": self.business_id,
            "LastSequenceNumber": self.last_sequence,
            "Updates": self.updates,
            "ExternalUpdates": self.external_updates,
            **self.get_result(),
        }


TaskKey = tuple[str, str, str]
TASK_STATUSES = range(5)  # 0 unknown, 1 not started, 2 running, 3 ended, 4 failed
PUSH_STREAM_STATES = range(7)  # 0 unknown, 1 not pushing, 2 first connect, 3 reconnecting, 4 connected, 5 pushing, 6 stopped
ENDED_STATUSES = (3, 4)


class VolcengineState(SimState):
    def __init__(self, config: VolcengineSimConfig) -> None:
        super().__init__(config.qps_limits, config.qps_enabled)
        self.config = config
        self.tasks: dict[TaskKey, VolcengineTask] = {}

    def reset_tasks(self) -> None:
        with self.lock:
            self.tasks.clear()

    def task(self, app_id: str, room_id: str, task_id: str) -> VolcengineTask | None:
        with self.lock:
            return self.tasks.get((app_id, room_id, task_id))

    def tasks_json(self) -> list[dict[str, Any]]:
        with self.lock:
            return [t.to_json() for t in self.tasks.values()]

    def end_task(self, app_id: str, room_id: str, task_id: str, reason: str = "IdleTimeOut", status: int = 3) -> bool:
        """End a running task as the service would on its own (idle timeout, push failure)."""
        with self.lock:
            task = self.tasks.get((app_id, room_id, task_id))
            if task is None or not task.running:
                return False
            task.status, task.push_stream_state, task.stop_reason = status, 6, reason
            task.end_time_ms = int(self.config.clock() * 1000)
            return True

    def end_task_json(self, data: dict[str, Any]) -> bool:
        keys = [data.get("AppId"), data.get("RoomId"), data.get("TaskId")]
        if not all(isinstance(k, str) for k in keys):
            return False
        reason, status = data.get("StopReason", "IdleTimeOut"), data.get("Status", 3)
        if not isinstance(reason, str) or status not in ENDED_STATUSES:
            return False
        return self.end_task(str(keys[0]), str(keys[1]), str(keys[2]), reason, status)

    def set_task_health(
        self,
        app_id: str,
        room_id: str,
        task_id: str,
        *,
        status: int | None = None,
        push_stream_state: int | None = None,
        stop_reason: str | None = None,
    ) -> bool:
        """Set what Get reports about a task's health, as the service would see it change (a CDN that drops
        the push: PushStreamState 3; a task that fails: Status 4). What is not given stays, except that
        ending a task (Status 3 or 4) also stamps EndTime and sets PushStreamState 6, and bringing it back
        (Status 0-2) clears EndTime and sets PushStreamState 5 (pushing) for Status 2, else 1 (not pushing);
        a PushStreamState given with the Status wins. False when no task has these ids (ended ones count)."""
        if status is not None and status not in TASK_STATUSES:
            raise ValueError(f"Status must be one of 0-4, not {status!r}")
        if push_stream_state is not None and push_stream_state not in PUSH_STREAM_STATES:
            raise ValueError(f"PushStreamState must be one of 0-6, not {push_stream_state!r}")
        with self.lock:
            task = self.tasks.get((app_id, room_id, task_id))
            if task is None:
                return False
            if status is not None and status != task.status:
                was_running = task.running
                task.status = status
                if was_running and not task.running:
                    task.end_time_ms = int(self.config.clock() * 1000)
                    task.push_stream_state = 6
                elif task.running and not was_running:
                    task.end_time_ms = 0
                    task.push_stream_state = 5 if status == 2 else 1
            if push_stream_state is not None:
                task.push_stream_state = push_stream_state
            if stop_reason is not None:
                task.stop_reason = stop_reason
            return True

    def recover_task(self, app_id: str, room_id: str, task_id: str) -> bool:
        """Bring a task back to health: running and pushing, no StopReason, no EndTime."""
        return self.set_task_health(app_id, room_id, task_id, status=2, push_stream_state=5, stop_reason="")

    def drift_task(
        self, app_id: str, room_id: str, task_id: str, changes: dict[str, Any], partial: bool = True
    ) -> dict[str, Any]:
        """Change a running task's configuration as another tool's Update would (`changes` holds the body's
        TargetStreams/Layout/Encode/Control), so Get shows a configuration the client did not make. The
        service's rules hold (normalisation, what Update may change, the custom-layout rule); SequenceNumber
        does not take part. Returns the task's Get result and what the service ignored or replaced;
        ApiError if the service would refuse such an Update."""
        unknown = set(changes) - {"TargetStreams", "Layout", "Encode", "Control"}
        if unknown:
            raise ApiError("InvalidParameter", f"a drift changes TargetStreams, Layout, Encode or Control, not {sorted(unknown)}")
        norm = Normaliser()
        sent = norm.settings(changes)
        with self.lock:
            task = self.tasks.get((app_id, room_id, task_id))
            if task is None or not task.running:
                raise ApiError("InvalidParameter.ErrorActiveTaskNotFound", f"no running task {task_id} in room {room_id}")
            require_custom_layout(task)
            apply_update(task, sent, partial, norm)
            task.external_updates += 1
            return {"PushMixedStreamToCDNTask": task.get_result(), "ignored": norm.ignored, "resets": norm.resets}

    # The /_sandbox bodies name a task by AppId, RoomId and TaskId.

    def _task_keys(self, data: dict[str, Any]) -> tuple[str, str, str]:
        keys = [data.get("AppId"), data.get("RoomId"), data.get("TaskId")]
        if not all(isinstance(k, str) and k for k in keys):
            raise ControlError("AppId, RoomId and TaskId (strings) name the task")
        return str(keys[0]), str(keys[1]), str(keys[2])

    def _task_json(self, keys: tuple[str, str, str]) -> dict[str, Any]:
        with self.lock:
            task = self.tasks.get(keys)
            if task is None:
                raise ControlError(f"no task {keys[2]} in room {keys[1]} of app {keys[0]}", 404)
            return task.to_json()

    def health_json(self, data: dict[str, Any]) -> dict[str, Any]:
        keys = self._task_keys(data)
        fields = {"Status", "PushStreamState", "StopReason"}
        unknown = set(data) - fields - {"AppId", "RoomId", "TaskId"}
        if unknown:
            raise ControlError(f"unknown fields: {', '.join(sorted(unknown))}")
        if not fields & set(data):
            raise ControlError("give Status, PushStreamState and/or StopReason")
        status, state, reason = data.get("Status"), data.get("PushStreamState"), data.get("StopReason")
        if status is not None and not (is_int(status) and status in TASK_STATUSES):
            raise ControlError("Status must be 0 unknown, 1 not started, 2 running, 3 ended or 4 failed")
        if state is not None and not (is_int(state) and state in PUSH_STREAM_STATES):
            raise ControlError("PushStreamState must be an integer in [0, 6]")
        if reason is not None and not isinstance(reason, str):
            raise ControlError("StopReason must be a string")
        if not self.set_task_health(*keys, status=status, push_stream_state=state, stop_reason=reason):
            raise ControlError(f"no task {keys[2]} in room {keys[1]} of app {keys[0]}", 404)
        return self._task_json(keys)

    def recover_json(self, data: dict[str, Any]) -> dict[str, Any]:
        keys = self._task_keys(data)
        if not self.recover_task(*keys):
            raise ControlError(f"no task {keys[2]} in room {keys[1]} of app {keys[0]}", 404)
        return self._task_json(keys)

    def drift_json(self, data: dict[str, Any]) -> dict[str, Any]:
        keys = self._task_keys(data)
        changes = {k: v for k, v in data.items() if k not in ("AppId", "RoomId", "TaskId", "IsUpdatePartialParam")}
        unknown = set(changes) - {"TargetStreams", "Layout", "Encode", "Control"}
        if unknown:
            raise ControlError(f"a drift changes TargetStreams, Layout, Encode or Control, not {', '.join(sorted(unknown))}")
        partial = data.get("IsUpdatePartialParam", True)
        if not isinstance(partial, bool):
            raise ControlError("IsUpdatePartialParam must be true or false")
        try:
            result = self.drift_task(*keys, changes, partial)
        except ApiError as exc:
            raise ControlError(f"{exc.code}: {exc.message}", 404 if exc.code.endswith("TaskNotFound") else 409) from None
        return {**self._task_json(keys), "Ignored": result["ignored"], "Resets": result["resets"]}

    def silent_resets(self) -> list[dict[str, Any]]:
        """Every optional value any call had silently replaced, with the call's action."""
        return [{"action": r.action, **reset} for r in self.requests.all() for reset in r.resets]


# --- the actions ----------------------------------------------------------------------------------------


@dataclass
class Call:
    account: VolcengineAccount
    body: dict[str, Any]
    norm: Normaliser = field(default_factory=Normaliser)


def check_app(call: Call, app_id: str) -> None:
    if call.account.app_ids is not None and app_id not in call.account.app_ids:
        raise ApiError("InvalidParameter.NotExistAppId", f"AppId {app_id} does not exist in this account")


def do_start(state: VolcengineState, call: Call) -> Any:
    body = call.body
    app, room, task_id = (require_id(body, k) for k in ("AppId", "RoomId", "TaskId"))
    check_app(call, app)
    if "PushURL" not in body or body["PushURL"] in ("", None):
        raise ApiError("MissingParameter", "PushURL is required")
    push_url = body["PushURL"]
    if not isinstance(push_url, str) or not re.fullmatch(r"rtmp://[^/\s]+/\S*", push_url):
        raise ApiError("InvalidParameter.InvalidRtmpAddress", "PushURL must be an rtmp:// address")
    norm = call.norm
    config = deep_merge(default_config(), norm.settings(body))
    enforce_cross_rules(config, norm)
    exclude = norm.streams(body, "ExcludeStreams", "")
    business = norm.optional(body, "BusinessId", "", lambda v: isinstance(v, str), None)
    known = {"AppId", "RoomId", "TaskId", "PushURL", "BusinessId", "TargetStreams", "Layout", "Encode",
             "Control", "ExcludeStreams"}  # fmt: skip
    norm.unknown(body, known, "")
    with state.lock:
        existing = state.tasks.get((app, room, task_id))
        if existing is not None and existing.running:
            raise ApiError("InvalidParameter.TaskAlreadyExists", f"task {task_id} is already running in room {room}")
        state.tasks[(app, room, task_id)] = VolcengineTask(
            account=call.account.access_key,
            app_id=app,
            room_id=room,
            task_id=task_id,
            push_url=push_url,
            config=config,
            business_id=None if business is _MISSING else business,
            exclude_streams=exclude,
            start_time_ms=int(state.config.clock() * 1000),
        )
    return "ok"


def running_task(state: VolcengineState, call: Call) -> VolcengineTask:
    app, room, task_id = (require_id(call.body, k) for k in ("AppId", "RoomId", "TaskId"))
    check_app(call, app)
    task = state.tasks.get((app, room, task_id))
    if task is None or not task.running:
        raise ApiError("InvalidParameter.ErrorActiveTaskNotFound", f"no running task {task_id} in room {room}")
    return task


def do_update(state: VolcengineState, call: Call) -> Any:
    body, norm = call.body, call.norm
    partial = norm.optional(body, "IsUpdatePartialParam", "", is_bool, False)
    if is_int(body.get("SequenceNumber")) and -(2**31) <= body["SequenceNumber"] < 0:
        raise ApiError("InvalidParameter", "SequenceNumber is negative (sandbox assumption: refused)")
    sequence = norm.optional(body, "SequenceNumber", "", int_in(0, 2**31 - 1), None)
    sent = norm.settings(body)
    known = {"AppId", "RoomId", "TaskId", "BusinessId", "TargetStreams", "Layout", "Encode", "Control",
             "IsUpdatePartialParam", "SequenceNumber"}  # fmt: skip
    norm.unknown(body, known, "")
    if "BusinessId" in body:
        norm.ignored.append("BusinessId (not updatable)")
    with state.lock:
        task = running_task(state, call)
        require_custom_layout(task)
        if sequence is not _MISSING and task.last_sequence is not None and sequence <= task.last_sequence:
            raise ApiError(
                "InvalidParameter.SequenceNumber",
                f"SequenceNumber {sequence} is not greater than the last applied {task.last_sequence}",
            )
        apply_update(task, sent, partial is True, norm)
        task.updates += 1
        if sequence is not _MISSING:
            task.last_sequence = sequence
    return "ok"


def require_custom_layout(task: VolcengineTask) -> None:
    if task.config["Layout"]["LayoutMode"] != 2:
        raise ApiError("InvalidParameter", "Update needs a task started with Layout.LayoutMode 2 (custom)")


def apply_update(task: VolcengineTask, sent: dict[str, Any], partial: bool, norm: Normaliser) -> None:
    """What any Update does to a running task's settings, the client's or another tool's: keep the updatable
    parts, reset the omitted ones unless partial, enforce the cross rules, then replace the task's config.
    The caller has checked that the task runs in a custom layout."""
    changes = only_updatable(sent, norm.ignored)
    norm.resets = [r for r in norm.resets if r["path"].startswith(UPDATABLE_PREFIXES)]
    new = copy.deepcopy(task.config)
    if not partial:
        fresh = default_config()
        for path in UPDATABLE_PATHS:
            set_path(new, path, get_path(fresh, path))
    deep_merge(new, changes)
    enforce_cross_rules(new, norm)
    task.config = new


def do_stop(state: VolcengineState, call: Call) -> Any:
    with state.lock:
        task = running_task(state, call)
        task.status, task.push_stream_state, task.stop_reason = 3, 6, "StopByAPI"
        task.end_time_ms = int(state.config.clock() * 1000)
    return "ok"


def do_get(state: VolcengineState, call: Call) -> Any:
    query = call.body
    app, room = require_id(query, "AppId"), require_id(query, "RoomId")
    check_app(call, app)
    task_id, user_id = query.get("TaskId"), query.get("UserId")
    if not task_id and not user_id:
        raise ApiError("MissingParameter", "TaskId or UserId is required")
    oldest = int(state.config.clock() * 1000) - GET_WINDOW_MS
    with state.lock:
        if task_id:
            task = state.tasks.get((app, room, require_id(query, "TaskId")))
        else:
            found = [
                t
                for t in state.tasks.values()
                if (t.app_id, t.room_id) == (app, room)
                and t.start_time_ms >= oldest
                and any(s["UserId"] == user_id for s in t.config["TargetStreams"]["StreamList"])
            ]
            task = max(found, key=lambda t: t.start_time_ms) if found else None
        if task is None or task.start_time_ms < oldest:
            raise ApiError("InvalidParameter.ErrorActiveTaskNotFound", "no such task in the last 72 hours")
        return {"PushMixedStreamToCDNTask": task.get_result()}


HANDLERS: dict[str, Callable[[VolcengineState, Call], Any]] = {
    START: do_start,
    UPDATE: do_update,
    STOP: do_stop,
    GET: do_get,
}


# --- HTTP -----------------------------------------------------------------------------------------------


def authenticate(state: VolcengineState, request: Request, query: list[tuple[str, str]], body: bytes) -> VolcengineAccount:
    cfg = state.config
    headers = {k.lower(): v for k, v in request.headers.items()}
    value = headers.get("authorization")
    if not value:
        raise ApiError("MissingAuthenticationToken", "the request has no Authorization header")
    auth = sig.parse_authorization(value, sig.VOLC_ALGORITHM, 4)
    if auth is None:
        raise ApiError(
            "InvalidAuthorization",
            "Authorization must be 'HMAC-SHA256 Credential=AK/date/region/service/request, SignedHeaders=…, Signature=<hex>'",
        )
    account = next((a for a in cfg.accounts if a.access_key == auth.key_id), None)
    if account is None:
        raise ApiError("InvalidAccessKey", "the access key does not exist")
    x_date = headers.get("x-date")
    if not x_date:
        raise ApiError("MissingRequestInfo", "the X-Date header is required")
    when = sig.parse_x_date(x_date)
    if when is None:
        raise ApiError("InvalidTimestamp", "X-Date must look like 20240102T030405Z")
    if abs(cfg.clock() - when.timestamp()) > cfg.max_skew_seconds:
        raise ApiError("InvalidTimestamp", f"X-Date {x_date} is more than {cfg.max_skew_seconds:.0f}s from now")
    date, region, service, terminator = auth.scope
    if date != x_date[:8] or service != SERVICE or terminator != "request":
        raise ApiError("SignatureDoesNotMatch", f"credential scope must be {x_date[:8]}/<region>/{SERVICE}/request")
    if region != cfg.region:
        raise ApiError("SignatureDoesNotMatch", f"credential scope region {region} is not this endpoint's {cfg.region}")
    token = headers.get("x-security-token")
    if token != account.session_token:
        raise ApiError("InvalidSecretToken", "X-Security-Token is missing, unexpected or wrong")
    content_hash = headers.get("x-content-sha256")
    if not content_hash:
        raise ApiError("MissingRequestInfo", "the X-Content-Sha256 header is required")
    body_hash = sig.sha256_hex(body)
    if content_hash != body_hash:
        raise ApiError("SignatureDoesNotMatch", "X-Content-Sha256 is not the SHA-256 of the body")
    must_sign = {"host", "x-date", "x-content-sha256"} | ({"x-security-token"} if token else set())
    missing = sorted(must_sign - set(auth.signed_headers))
    if missing:
        raise ApiError("SignatureDoesNotMatch", f"SignedHeaders must include {';'.join(missing)}")
    absent = [h for h in auth.signed_headers if h not in headers]
    if absent:
        raise ApiError("SignatureDoesNotMatch", f"signed headers not in the request: {';'.join(absent)}")
    headers["host"] = sig.volc_host(headers["host"])
    expected = sig.volc_signature(
        secret_key=account.secret_key,
        x_date=x_date,
        region=region,
        service=service,
        method=request.method,
        path=request.url.path,
        query=query,
        headers=headers,
        signed_headers=auth.signed_headers,
        body_hash=body_hash,
    )
    if not sig.same_signature(expected, auth.signature):
        raise ApiError("SignatureDoesNotMatch", "the request signature does not match")
    return account


def create_volcengine_sim(config: VolcengineSimConfig | None = None) -> tuple[Starlette, VolcengineState]:
    """The ASGI app and the state object that tests inspect and drive (faults, tasks, requests)."""
    state = VolcengineState(config or VolcengineSimConfig())

    def envelope(request_id: str, action: str | None, version: str | None) -> dict[str, Any]:
        return {
            "RequestId": request_id,
            "Action": action or "",
            "Version": version or "",
            "Service": SERVICE,
            "Region": state.config.region,
        }

    async def api(request: Request) -> Response:
        body = await request.body()
        query = parse_qsl(request.url.query, keep_blank_values=True)
        params = dict(query)
        action, version = params.get("Action"), params.get("Version")
        record = state.requests.start(request, body, action)
        record.request_id = request_id = new_request_id()

        def error(code: str, message: str | None, status: int | None) -> Response:
            if not code:
                code = TRANSIENT_BY_STATUS.get(status or 500, "InternalError")
            meta = envelope(request_id, action, version)
            meta["Error"] = {"Code": code, "Message": message or f"{code} (sandbox fault)"}
            http = status if status is not None else http_status_for(code)
            record.status, record.code = http, code
            return json_response({"ResponseMetadata": meta}, http)

        outcome = FaultOutcome()
        try:
            if action not in HANDLERS or version != VERSION:
                raise ApiError("InvalidActionOrVersion", f"unknown Action {action!r} or Version {version!r}")
            if request.method != METHODS[action]:
                raise ApiError("InvalidActionOrVersion", f"{action} is called with {METHODS[action]}")
            account = authenticate(state, request, query, body)
            outcome = await apply_faults(state, action, record, error)
            if outcome.answer is not None:
                return outcome.answer
            if not state.limiter.allow(account.access_key, action):
                raise ApiError("FlowLimitExceeded.QPSOverLimit", f"{action} is over its QPS limit for this account")
            call = Call(account, parse_body(body) if request.method == "POST" else params)
            try:
                result = HANDLERS[action](state, call)
            finally:
                record.resets, record.ignored = call.norm.resets, call.norm.ignored
            record.status = 200
            response = json_response({"ResponseMetadata": envelope(request_id, action, version), "Result": result})
        except ApiError as exc:
            response = error(exc.code, exc.message, exc.status)
        return await outcome.deliver(response)

    routes = [*control_routes(state), Route("/", api, methods=["GET", "POST"])]
    return Starlette(routes=routes), state


def parse_body(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError as exc:
        raise ApiError("InvalidParameter", f"the body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError("InvalidParameter", "the body must be a JSON object")
    return data
