"""The two provider calls the services make for a task: read what is in force, and send a configuration.

Kept apart from the rules so each rule reads as rules; nothing here touches the store.
"""

from __future__ import annotations

from typing import Any

from bot.providers.errors import InvalidRequest, ProviderError
from bot.providers.reply import ProviderReply
from bot.providers.tencent_models import UpdateStreamIngest
from bot.providers.volcengine_models import (
    PushMixedStreamToCDNTaskInfo,
    UpdatePushMixedStreamToCDN,
    update_body,
)
from bot.services.deps import Deps
from bot.services.results import ProviderState
from bot.store.models import Task

NOT_EXIST = "NotExist"
"""Tencent's status for a task that is gone (or never was); its error FailedOperation.TaskNotExist means the same."""
NOT_FOUND = "not found (Get sees tasks of the last 72 h)"
"""Volcengine Get of a task it does not know: never started, a typo, or started more than 72 hours ago."""
_NOT_FOUND_CODES = {"volcengine": "InvalidParameter.ErrorActiveTaskNotFound", "tencent": "FailedOperation.TaskNotExist"}


def canvas_of(task: Task) -> tuple[int, int] | None:
    if task.canvas_width and task.canvas_height:
        return (task.canvas_width, task.canvas_height)
    return None


def describe_error(exc: Exception) -> str:
    if isinstance(exc, ProviderError):
        return f"{exc.code}: {exc.message} (RequestId {exc.request_id or 'none'})"
    if isinstance(exc, InvalidRequest):
        return "; ".join(exc.problems)
    return f"{type(exc).__name__}: {exc}"


async def read_state(deps: Deps, task: Task) -> ProviderState:
    """Never raises for provider trouble: an unreachable provider is a state to show, not a crash."""
    try:
        if task.provider == "volcengine":
            reply = await _volcengine_get(deps, task)
            info = reply.result
            if info is None:
                return ProviderState(NOT_FOUND, False, None, reply.request_id)
            state = info.status_text + (f" / {info.push_state_text}" if info.running else "")
            if info.stop_reason:
                state += f" ({info.stop_reason})"
            return ProviderState(state, info.running, info.configuration() or None, reply.request_id)
        treply = await deps.providers.tencent(_site(task)).describe_stream_ingest(
            {"SdkAppId": int(task.sdk_app_id or 0), "TaskId": task.provider_task_id}, region=task.region
        )
        status = treply.result.status or "unknown"
        return ProviderState(status, treply.result.exists, None, treply.request_id)
    except ProviderError as exc:
        if exc.code == _NOT_FOUND_CODES[task.provider]:
            return ProviderState(NOT_EXIST if task.provider == "tencent" else NOT_FOUND, False, None, exc.request_id)
        return ProviderState("unavailable", None, None, exc.request_id, describe_error(exc))
    except InvalidRequest as exc:
        return ProviderState("unavailable", None, None, None, describe_error(exc))


async def _volcengine_get(deps: Deps, task: Task) -> ProviderReply[PushMixedStreamToCDNTaskInfo | None]:
    query = {"AppId": task.app_id, "RoomId": task.room_id, "TaskId": task.provider_task_id}
    reply = await deps.providers.volcengine.get_push_mixed_stream_to_cdn_task(query)
    return ProviderReply(reply.request_id, reply.result.push_mixed_stream_to_cdn_task, reply.action)


def volcengine_body(task: Task, configuration: dict[str, Any], sequence_number: int | None) -> UpdatePushMixedStreamToCDN:
    return update_body(
        task.app_id or "",
        task.room_id or "",
        task.provider_task_id,
        configuration,
        business_id=task.business_id,
        sequence_number=sequence_number,
        canvas=canvas_of(task),
        audio_profile=task.audio_profile,
    )


def tencent_body(task: Task, configuration: dict[str, Any]) -> UpdateStreamIngest:
    data = {"SdkAppId": int(task.sdk_app_id or 0), "TaskId": task.provider_task_id, **configuration}
    return UpdateStreamIngest.model_validate(data, context={"site": _site(task)})


async def send(deps: Deps, task: Task, configuration: dict[str, Any], sequence_number: int | None) -> ProviderReply[Any]:
    """Raises ProviderError (with the provider's code and RequestId) or InvalidRequest."""
    if task.provider == "volcengine":
        body = volcengine_body(task, configuration, sequence_number)
        return await deps.providers.volcengine.update_push_mixed_stream_to_cdn(body)
    tbody = tencent_body(task, configuration)
    return await deps.providers.tencent(_site(task)).update_stream_ingest(tbody, region=task.region)


def _site(task: Task) -> Any:
    return task.site or "intl"


def updatable(configuration: dict[str, Any] | None) -> dict[str, Any]:
    """The part of a Volcengine configuration in force that Update may carry.

    Get also reports start-only fields (Encode.VideoCodec/AudioProfile, Control other than SpatialConfig,
    Layout.MainVideoStream); sending them back would be refused, and leaving them out resets nothing.
    """
    if not configuration:
        return {}
    out: dict[str, Any] = {}
    if isinstance(configuration.get("TargetStreams"), dict):
        out["TargetStreams"] = configuration["TargetStreams"]
    layout = configuration.get("Layout")
    if isinstance(layout, dict):
        kept = {k: v for k, v in layout.items() if k == "CustomLayout" or (k == "LayoutMode" and v == 2)}
        if kept:
            out["Layout"] = kept
    encode = configuration.get("Encode")
    if isinstance(encode, dict):
        kept = {k: v for k, v in encode.items() if k not in ("AudioProfile", "VideoCodec")}
        if kept:
            out["Encode"] = kept
    control = configuration.get("Control")
    if isinstance(control, dict) and "SpatialConfig" in control:
        out["Control"] = {"SpatialConfig": control["SpatialConfig"]}
    return out


def started_canvas(configuration: dict[str, Any] | None) -> tuple[int, int] | None:
    canvas = ((configuration or {}).get("Layout") or {}).get("CustomLayout", {}).get("Canvas") or {}
    w, h = canvas.get("Width"), canvas.get("Height")
    return (w, h) if isinstance(w, int) and isinstance(h, int) else None


def started_audio_profile(configuration: dict[str, Any] | None) -> int | None:
    value = ((configuration or {}).get("Encode") or {}).get("AudioProfile")
    return value if isinstance(value, int) else None


def layout_mode(configuration: dict[str, Any] | None) -> int | None:
    value = ((configuration or {}).get("Layout") or {}).get("LayoutMode")
    return value if isinstance(value, int) else None
