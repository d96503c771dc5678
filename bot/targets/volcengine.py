"""Volcengine RTC mixed push to CDN (`UpdatePushMixedStreamToCDN`), as a target.

What sets it apart: Get reports the configuration in force (but only for tasks started in the last 72
hours), an Update without IsUpdatePartialParam is a full replace (so the whole configuration is always sent),
updates are ordered by a SequenceNumber, and the canvas size and audio profile are fixed at start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from bot.domain import BaselineSource, ChangeKind, Condition, Provider, Touch
from bot.providers.errors import InvalidRequest, ProviderError, validation_problems
from bot.providers.volcengine_models import (
    GetPushMixedStreamToCDNTask,
    PushMixedStreamToCDNTaskInfo,
    UpdatePushMixedStreamToCDN,
    update_body,
)
from bot.targets import layout_changes, layout_editor
from bot.targets.base import (
    Applied,
    ChangeSyntax,
    Config,
    Editor,
    Errors,
    Health,
    ProviderState,
    Registered,
    Registration,
    RegistrationError,
    Sent,
    TargetChange,
    TaskRef,
    Verb,
)
from bot.targets.config_json import canonical_json
from bot.targets.outcome import describe_error, from_error

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.providers.registry import ProviderRegistry

NOT_FOUND = "not found (Get sees tasks of the last 72 h)"
"""Get of a task it does not know: never started, a typo, or started more than 72 hours ago."""
GONE_CODES = frozenset({"InvalidParameter.ErrorActiveTaskNotFound"})
SEQUENCE_CODES = frozenset({"InvalidParameter.SequenceNumber"})
"""No source names the code for a SequenceNumber the service has seen; this is the sandbox's (README: the
sandbox's invented codes)."""
NOT_OBSERVABLE = Health(
    Condition.NOT_OBSERVABLE,
    "GetPushMixedStreamToCDNTask does not see it (it sees only tasks started in the last 72 hours)",
)
"""A task Get cannot find: started more than 72 hours ago, or never (registration warned about a typo). Not an
outage: nothing is known about it, and no server callbacks exist for push-to-CDN tasks to say more."""
_SECTIONS = {"TargetStreams": Touch.STREAMS, "Layout": Touch.LAYOUT, "Encode": Touch.ENCODE, "Control": Touch.SPATIAL}
_LAYOUT_TOUCHES = frozenset({Touch.LAYOUT, Touch.STREAMS})


def canvas_of(task: TaskRef) -> tuple[int, int] | None:
    value = task.facts.get("Canvas")
    if isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return (value[0], value[1])
    return None


def updatable(configuration: Mapping[str, Any] | None) -> Config:
    """The part of a configuration in force that Update may carry.

    Get also reports start-only fields (Encode.VideoCodec/AudioProfile, Control other than SpatialConfig,
    Layout.MainVideoStream); sending them back would be refused, and leaving them out resets nothing.
    """
    if not configuration:
        return {}
    out: Config = {}
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


def _unknown(error: str) -> Health:
    return Health(Condition.UNKNOWN, f"the provider could not be asked: {error}"[:300])


def health_of(info: PushMixedStreamToCDNTaskInfo) -> Health:
    """Get's Status, PushStreamState and StopReason in the watcher's words. Status 3 ended and 4 failed end the
    task (since EndTime). While it runs (2), PushStreamState 6 is a push that stopped; 1-3 (not pushing, first
    connect, reconnecting), like Status 1 (not started), are a task that should be pushing and is not, an
    incident only if it lasts (RTCOPS_WATCH_RECONNECTING_SECONDS). Status 0 says nothing."""
    reason = f", StopReason {info.stop_reason}" if info.stop_reason else ""
    ended_at = datetime.fromtimestamp(info.end_time / 1000, UTC) if info.end_time and info.end_time > 0 else None
    if info.status == 4:
        return Health(Condition.FAILED, f"push to CDN failed (Status 4{reason})"[:300], ended_at)
    if info.status == 3:
        return Health(Condition.ENDED, f"task ended (Status 3{reason})"[:300], ended_at)
    if info.status == 1:
        return Health(Condition.RECONNECTING, f"task not started (Status 1{reason})"[:300])
    if info.status != 2:
        return Health(Condition.UNKNOWN, f"task status unknown (Status {info.status})")
    if info.push_stream_state in (1, 2, 3):  # not pushing, first connect, reconnecting: fine if brief
        return Health(Condition.RECONNECTING, f"push to CDN {info.push_state_text} (PushStreamState {info.push_stream_state})")
    if info.push_stream_state == 6:
        return Health(Condition.FAILED, f"push to CDN stopped while the task runs (PushStreamState 6{reason})"[:300])
    return Health(Condition.OK, f"pushing to CDN (PushStreamState {info.push_stream_state or 0})")


def _started_canvas(configuration: Mapping[str, Any] | None) -> tuple[int, int] | None:
    canvas = ((configuration or {}).get("Layout") or {}).get("CustomLayout", {}).get("Canvas") or {}
    w, h = canvas.get("Width"), canvas.get("Height")
    return (w, h) if isinstance(w, int) and isinstance(h, int) else None


def _parse_canvas(text: str) -> tuple[int, int]:
    w, sep, h = text.lower().replace("×", "x").partition("x")
    if not sep or not w.isdigit() or not h.isdigit() or len(w) > 5 or len(h) > 5:
        raise RegistrationError(f"canvas must look like 1280x720, got {text!r}")
    return int(w), int(h)


class VolcengineTarget:
    name: str = Provider.VOLCENGINE.value
    title: str = "Volcengine RTC mixed push"
    uses_sequence_number: bool = True
    reads_configuration: bool = True
    registration_usage: str = "<AppId> <RoomId> <TaskId> [canvas=WxH] [business-id=<id>]"
    registration_options: frozenset[str] = frozenset({"canvas", "business-id", "sequence-start"})
    verbs: tuple[Verb, ...] = (
        Verb(
            layout_changes.VERB,
            ChangeKind.LAYOUT,
            (
                "/rtc layout <alias>                                     opens the layout editor",
                "/rtc layout <alias> <preset> <user>[,<user>…]           proposes a preset (side-by-side, pip, grid, speaker, …)",
            ),
        ),
    )

    # --- registration -------------------------------------------------------------------------------

    def parse_registration(self, ids: Sequence[str], options: Mapping[str, str], settings: Settings) -> Registration:
        if len(ids) != 3:
            raise RegistrationError("a Volcengine task needs its AppId, RoomId and TaskId")
        app_id, room_id, task_id = ids
        try:
            GetPushMixedStreamToCDNTask.model_validate({"AppId": app_id, "RoomId": room_id, "TaskId": task_id})
        except ValidationError as exc:
            raise RegistrationError("; ".join(validation_problems(exc))) from None
        found: dict[str, Any] = {"AppId": app_id, "RoomId": room_id, "TaskId": task_id}
        if options.get("business-id"):
            found["BusinessId"] = options["business-id"]
        facts: dict[str, Any] = {}
        if options.get("canvas"):
            facts["Canvas"] = list(_parse_canvas(options["canvas"]))
        start = options.get("sequence-start", "0")
        if not start.isdigit() or int(start) >= 2**31 - 1:
            raise RegistrationError("sequence-start must be in [0, 2147483646]")
        return Registration(ids=found, facts=facts, sequence_start=int(start))

    async def check_registration(self, providers: ProviderRegistry, alias: str, registration: Registration) -> Registered:
        """Get reads what is on air, which becomes version 1. A task Get does not find is registered with a
        warning, since Get cannot tell a typo from a task started more than 72 hours ago."""
        task = TaskRef(alias, self.name, registration.ids, registration.facts)
        state, raw = await self._get(providers, task)
        warnings: list[str] = []
        ids = registration.ids
        if state.state == NOT_FOUND:
            warnings.append(
                f"Get does not find TaskId {ids['TaskId']} in room {ids['RoomId']} of AppId {ids['AppId']}; it only sees "
                "tasks started in the last 72 hours, so an older task looks the same as a typo: check the ids. "
                "Without the configuration in force a change can only be proposed once one is known"
            )
        mode = ((raw or {}).get("Layout") or {}).get("LayoutMode")
        if isinstance(mode, int) and mode != 2:
            raise RegistrationError(
                f"{alias}: the task runs with Layout.LayoutMode {mode}; Update works only on tasks started "
                "with LayoutMode 2 (custom)"
            )
        facts = dict(registration.facts)
        if canvas := _started_canvas(raw):
            facts["Canvas"] = list(canvas)
        profile = ((raw or {}).get("Encode") or {}).get("AudioProfile")
        if isinstance(profile, int):
            facts["AudioProfile"] = profile
        if state.error:
            warnings.append(f"the provider could not be asked about the task: {state.error}")
        if state.in_force:
            return Registered(ids, facts, state, state.in_force, BaselineSource.PROVIDER, tuple(warnings))
        return Registered(ids, facts, state, None, BaselineSource.NONE, tuple(warnings))

    # --- reading ------------------------------------------------------------------------------------

    async def read(self, providers: ProviderRegistry, task: TaskRef) -> ProviderState:
        state, _ = await self._get(providers, task)
        return state

    async def _get(self, providers: ProviderRegistry, task: TaskRef) -> tuple[ProviderState, Config | None]:
        """(the state, the whole configuration Get reported, start-only fields included)."""
        query = {"AppId": task.ids.get("AppId"), "RoomId": task.ids.get("RoomId"), "TaskId": task.ids.get("TaskId")}
        try:
            reply = await providers.volcengine.get_push_mixed_stream_to_cdn_task(query)
        except ProviderError as exc:
            if exc.code in GONE_CODES:
                return ProviderState(NOT_FOUND, False, None, exc.request_id, gone=True, health=NOT_OBSERVABLE), None
            error = describe_error(exc)
            return ProviderState("unavailable", None, None, exc.request_id, error, health=_unknown(error)), None
        except InvalidRequest as exc:
            error = describe_error(exc)
            return ProviderState("unavailable", None, None, None, error, health=_unknown(error)), None
        info = reply.result.push_mixed_stream_to_cdn_task
        if info is None:
            return ProviderState(NOT_FOUND, False, None, reply.request_id, gone=True, health=NOT_OBSERVABLE), None
        text = info.status_text + (f" / {info.push_state_text}" if info.running else "")
        if info.stop_reason:
            text += f" ({info.stop_reason})"
        raw = info.configuration() or None
        return ProviderState(text, info.running, updatable(raw) or None, reply.request_id, health=health_of(info)), raw

    # --- changing -----------------------------------------------------------------------------------

    def parse_change(self, verb: str, args: Sequence[str]) -> TargetChange:
        return layout_changes.parse(args)

    def build(self, change: TargetChange, baseline: Config, task: TaskRef) -> tuple[Config, Config]:
        if not isinstance(change, layout_changes.LayoutPreset | layout_changes.RegionEdit | layout_changes.Background):
            raise ChangeSyntax(f"{type(change).__name__} is not a layout change")
        return layout_changes.build(change, baseline, canvas_of(task), task.alias)

    def body(self, task: TaskRef, desired: Config, sequence_number: int | None) -> UpdatePushMixedStreamToCDN:
        """The full-replace Update for `desired`, checked with what the task was started with."""
        profile = task.facts.get("AudioProfile")
        return update_body(
            str(task.ids.get("AppId", "")),
            str(task.ids.get("RoomId", "")),
            str(task.ids.get("TaskId", "")),
            desired,
            business_id=task.ids.get("BusinessId"),
            sequence_number=sequence_number,
            canvas=canvas_of(task),
            audio_profile=profile if isinstance(profile, int) else None,
        )

    def validate(self, task: TaskRef, desired: Config) -> list[str]:
        try:
            self.body(task, desired, None)
        except ValidationError as exc:
            return validation_problems(exc)
        except ValueError as exc:
            return [str(exc)]
        return []

    def touched(self, before: Config, after: Config) -> list[Touch]:
        found: list[Touch] = []
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                touch = _SECTIONS.get(key, Touch.LAYOUT)
                if touch not in found:
                    found.append(touch)
        return found

    def describe(self, before: Config | None, after: Config | None) -> list[str]:
        # imported here: bot.layouts.diff brings Pillow, which the admin CLI's task commands never need
        from bot.layouts.diff import diff

        return diff(before or {}, after or {}).lines

    def summarize(self, task: TaskRef, config: Config) -> list[str]:
        from bot.layouts.diff import summary

        return summary(config, canvas_of(task))

    def preview(self, task: TaskRef, before: Config, after: Config, touched: Sequence[Touch]) -> bytes | None:
        if not _LAYOUT_TOUCHES & set(touched):
            return None
        from bot.layouts.preview import preview_pair

        return preview_pair(before, after, canvas_of(task))

    def picture_key(self, task: TaskRef, after: Config, touched: Sequence[Touch]) -> str | None:
        """The picture shows the canvas, the regions and the streams in them: tasks that end with the same ones
        share a picture, whatever their encoders."""
        if not _LAYOUT_TOUCHES & set(touched):
            return None
        return canonical_json({"canvas": canvas_of(task), "streams": after.get("TargetStreams"), "layout": after.get("Layout")})

    async def send(
        self, providers: ProviderRegistry, task: TaskRef, desired: Config, baseline: Config, sequence_number: int | None
    ) -> Sent:
        """Always the whole configuration: an Update resets whatever it leaves out."""
        try:
            reply = await providers.volcengine.update_push_mixed_stream_to_cdn(self.body(task, desired, sequence_number))
        except (ProviderError, InvalidRequest) as exc:
            return from_error(exc, GONE_CODES, SEQUENCE_CODES)
        except (ValidationError, ValueError) as exc:
            return from_error(InvalidRequest([str(exc)]), GONE_CODES)
        return Applied(reply.request_id)

    # --- the editor ----------------------------------------------------------------------------------

    def editor(self, verb: str, task: TaskRef, state: ProviderState) -> Editor:
        canvas = canvas_of(task)
        if canvas is None:
            raise ChangeSyntax(f"{task.alias} has no known canvas size; an admin registers it again with canvas=WxH")
        return layout_editor.editor(task.alias, canvas, state.in_force or task.configuration or {})

    def read_editor(
        self, verb: str, values: Mapping[str, str], initial: Mapping[str, str], context: Mapping[str, str]
    ) -> tuple[TargetChange | None, Errors]:
        return layout_editor.read(values, initial, context)
