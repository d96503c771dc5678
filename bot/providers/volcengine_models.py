"""Volcengine RTC mixed-stream push to CDN (API 2020-12-01): request and response models.

The service silently replaces an out-of-range optional value with its default and resets every updatable
field an Update leaves out (providers.md §1.1). A live stream that quietly changes is the worst outcome,
so these models refuse, before anything is sent, every value the service would reject or reset.

Validation context of an Update (optional; the services layer and `rtcops provider volcengine update` pass it,
`PushMixedStreamToCDNTaskInfo.update_context()` builds it from what Get reports):
- ``canvas``: ``(width, height)`` the task was started with; an Update that names another size is refused
  because the service would ignore it.
- ``audio_profile``: the AudioProfile the task was started with, which caps AudioBitrate and, for HE-AAC v2,
  rules out mono.
- ``configuration``: the task's configuration in force (Get's TargetStreams and Layout, provider JSON). A
  partial body that sends streams without regions, or regions without streams, is checked against it.
- ``layout_mode``: the task's LayoutMode; Update works only on custom-layout (2) tasks.

The field list the models follow is transcribed, with its origin, in tests/fixtures/volcengine_rtc_2020-12-01.json
(from the Go SDK's service/rtc/v20201201/model.go); tests walk it field by field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ValidationInfo, model_validator

from bot.providers.fields import (
    INT32_MAX,
    REQUEST_CONFIG,
    RESPONSE_CONFIG,
    Color,
    EvenSize,
    ImageUrl,
    ImageUrl1024Chars,
    Int32,
    PlainText,
    Position,
    Share,
    Spatial3,
    VolcId,
    in_range,
    one_of,
    url_with_scheme,
)

API_VERSION = "2020-12-01"
SERVICE = "rtc"
DEFAULT_CANVAS = (640, 480)
UPDATABLE_SECTIONS = ("TargetStreams", "Layout", "Encode", "Control")
"""The top-level parts of an Update body that make up a task's configuration."""

_EPS = 1e-9

ZOrder = Annotated[int, AfterValidator(in_range(0, 100))]
RenderMode = Annotated[int, AfterValidator(one_of((0, 1, 2, 3), "0/3 stretch, 1 crop, 2 fit"))]
RegionMediaType = Annotated[int, AfterValidator(one_of((0, 1, 2), "0 audio+video, 1 audio, 2 video"))]
ZeroOne = Annotated[int, AfterValidator(one_of((0, 1)))]
StreamType = Annotated[int, AfterValidator(one_of((0, 1), "0 camera/mic, 1 screen"))]
LayoutMode = Annotated[int, AfterValidator(one_of((0, 1, 2, 3), "0 adaptive, 1 vertical, 2 custom, 3 side-by-side"))]
Index = Int32
"""Stream.Index and Region.StreamIndex: int32 in the API; negatives refused (fields._int32_not_negative)."""
RtmpUrl = Annotated[str, AfterValidator(url_with_scheme(("rtmp",)))]

AUDIO_BITRATE_CAP = {0: 192, 1: 128, 2: 64}
"""Above these the service encodes at the cap instead (Go SDK, Encode.AudioBitrate): LC 192, HE-AAC v1 128
stereo (64 mono), HE-AAC v2 64. A refusal here is kinder than a bitrate that quietly differs."""
PROFILE_NAMES = {0: "LC", 1: "HE-v1", 2: "HE-v2"}


class Stream(BaseModel):
    model_config = REQUEST_CONFIG
    user_id: VolcId
    index: Index | None = None
    stream_type: StreamType | None = None


class Streams(BaseModel):
    model_config = REQUEST_CONFIG
    stream_list: list[Stream] | None = None

    @model_validator(mode="after")
    def _unique_indexes(self) -> Streams:
        seen: set[int] = set()
        for pos, stream in enumerate(self.stream_list or []):
            if stream.index is None:
                continue
            if stream.index in seen:
                raise ValueError(f"StreamList[{pos}].Index {stream.index} is used by another stream; each Index must be unique")
            seen.add(stream.index)
        return self


class Canvas(BaseModel):
    model_config = REQUEST_CONFIG
    width: EvenSize | None = None
    height: EvenSize | None = None
    background: Color | None = None
    background_image: ImageUrl | None = None


class SourceCrop(BaseModel):
    model_config = REQUEST_CONFIG
    location_x: Position | None = None
    location_y: Position | None = None
    width_proportion: Share | None = None
    height_proportion: Share | None = None

    @model_validator(mode="after")
    def _fits(self) -> SourceCrop:
        _check_fit(self.location_x, self.width_proportion, self.location_y, self.height_proportion, "source frame")
        return self


class Region(BaseModel):
    model_config = REQUEST_CONFIG
    stream_index: Index
    width_proportion: Share
    height_proportion: Share
    location_x: Position | None = None
    location_y: Position | None = None
    z_order: ZOrder | None = None
    alpha: Share | None = None
    render_mode: RenderMode | None = None
    media_type: RegionMediaType | None = None
    alternate_image: ImageUrl1024Chars | None = None
    alternate_image_fill_mode: ZeroOne | None = None
    corner_radius: Share | None = None
    source_crop: SourceCrop | None = None
    spatial_position: Spatial3 | None = None
    apply_spatial_audio: bool | None = None

    @model_validator(mode="after")
    def _fits(self) -> Region:
        _check_fit(self.location_x, self.width_proportion, self.location_y, self.height_proportion, "canvas")
        return self


def _check_fit(x: float | None, w: float | None, y: float | None, h: float | None, what: str) -> None:
    if w is not None and (x or 0) + w > 1 + _EPS:
        raise ValueError(f"LocationX + WidthProportion must be at most 1 to fit on the {what}, got {(x or 0) + w:g}")
    if h is not None and (y or 0) + h > 1 + _EPS:
        raise ValueError(f"LocationY + HeightProportion must be at most 1 to fit on the {what}, got {(y or 0) + h:g}")


class CustomLayout(BaseModel):
    model_config = REQUEST_CONFIG
    canvas: Canvas | None = None
    regions: list[Region] | None = None


class Layout(BaseModel):
    model_config = REQUEST_CONFIG
    layout_mode: LayoutMode | None = None
    main_video_stream: Stream | None = None
    main_video_stream_index: Index | None = None
    custom_layout: CustomLayout | None = None


class Encode(BaseModel):
    model_config = REQUEST_CONFIG
    video_width: EvenSize | None = None
    video_height: EvenSize | None = None
    video_fps: Annotated[int, AfterValidator(in_range(1, 60))] | None = None
    video_bitrate: Annotated[int, AfterValidator(in_range(1, 10000, unit="Kbps (leave it out for adaptive)"))] | None = None
    """[1, 10000] in 2020-12-01 (Go SDK); 0 is outside it and would be reset to the default, adaptive: leaving the
    field out says the same thing without relying on a silent reset."""
    video_codec: Annotated[int, AfterValidator(one_of((0, 1), "0 H.264, 1 ByteVC1"))] | None = None
    video_gop: Annotated[int, AfterValidator(in_range(1, 5, unit="seconds"))] | None = None
    audio_codec: Annotated[int, AfterValidator(one_of((0,), "0 AAC"))] | None = None
    audio_profile: Annotated[int, AfterValidator(one_of((0, 1, 2), "0 LC, 1 HE-v1, 2 HE-v2"))] | None = None
    audio_bitrate: Annotated[int, AfterValidator(in_range(32, 192, unit="Kbps"))] | None = None
    audio_sample_rate: Annotated[int, AfterValidator(one_of((32000, 44100, 48000)))] | None = None
    audio_channels: Annotated[int, AfterValidator(one_of((1, 2)))] | None = None

    @model_validator(mode="after")
    def _audio_fits_profile(self, info: ValidationInfo) -> Encode:
        context = info.context or {}
        profile = self.audio_profile if self.audio_profile is not None else context.get("audio_profile", 0)
        if profile == 2 and self.audio_channels == 1:
            # Go SDK, Encode.AudioProfile: "取 2 时，只支持输出流音频声道数为双声道" (HE-AAC v2 is stereo only).
            raise ValueError("AudioChannels must be 2 with AudioProfile HE-v2 (HE-AAC v2 carries stereo only), got 1")
        if self.audio_bitrate is None or profile not in AUDIO_BITRATE_CAP:
            return self
        cap = AUDIO_BITRATE_CAP[profile]
        if profile == 1 and (self.audio_channels or 2) == 1:
            cap = 64
        if self.audio_bitrate > cap:
            raise ValueError(
                f"AudioBitrate must be at most {cap} Kbps with AudioProfile {PROFILE_NAMES[profile]} "
                f"(the service would encode at {cap}), got {self.audio_bitrate}"
            )
        return self


def _perpendicular(vectors: list[list[float]]) -> bool:
    for i in range(3):
        for j in range(i + 1, 3):
            a, b = vectors[i], vectors[j]
            norm = (sum(x * x for x in a) * sum(y * y for y in b)) ** 0.5
            if norm == 0 or abs(sum(x * y for x, y in zip(a, b, strict=True))) > 1e-6 * norm:
                return False
    return True


def _vector3(value: list[float]) -> list[float]:
    if len(value) != 3:
        raise ValueError(f"must be three numbers, got {len(value)}")
    return value


Vector3 = Annotated[list[float], AfterValidator(_vector3)]


class Orientation(BaseModel):
    model_config = REQUEST_CONFIG
    forward: Vector3
    right: Vector3
    up: Vector3

    @model_validator(mode="after")
    def _perpendicular(self) -> Orientation:
        if not _perpendicular([self.forward, self.right, self.up]):
            raise ValueError("Forward, Right and Up must be non-zero and mutually perpendicular")
        return self


class SpatialConfig(BaseModel):
    model_config = REQUEST_CONFIG
    enable_spatial_render: bool | None = None
    audience_spatial_position: Spatial3 | None = None
    audience_spatial_orientation: Orientation | None = None


class Control(BaseModel):
    model_config = REQUEST_CONFIG
    media_type: Annotated[int, AfterValidator(one_of((0, 1), "0 audio+video, 1 audio only"))] | None = None
    frame_interpolation_mode: ZeroOne | None = None
    max_idle_time: Annotated[int, AfterValidator(in_range(10, 86400, unit="seconds"))] | None = None
    max_record_time: Annotated[int, AfterValidator(in_range(0, INT32_MAX, unit="seconds (0 = no limit)"))] | None = None
    """Recording only; a push task ignores it (Go SDK: "（仅对录制有效）")."""
    push_stream_mode: ZeroOne | None = None
    spatial_config: SpatialConfig | None = None
    talk_volume: Annotated[int, AfterValidator(in_range(0, 255))] | None = None
    volume_indication_interval: Annotated[int, AfterValidator(in_range(1, INT32_MAX, unit="seconds"))] | None = None
    volume_indication_mode: bool | None = None


CONTROL_START_ONLY = (
    "media_type",
    "frame_interpolation_mode",
    "max_idle_time",
    "max_record_time",
    "push_stream_mode",
    "talk_volume",
    "volume_indication_interval",
    "volume_indication_mode",
)
"""Every Control field but SpatialConfig: set when the task starts, never by Update (API page, 接口行为)."""


def _check_corner_radii(layout: Layout | None, started: tuple[int, int] | None) -> None:
    """The service ignores a CornerRadius larger than half the region's shorter side: the operator would see
    square corners and never learn why. It needs the canvas size, from the body or the task's start."""
    custom = layout.custom_layout if layout else None
    if custom is None or not custom.regions:
        return
    canvas = custom.canvas
    width = canvas.width if canvas and canvas.width else (started[0] if started else None)
    height = canvas.height if canvas and canvas.height else (started[1] if started else None)
    if width is None or height is None:
        return
    for pos, region in enumerate(custom.regions):
        if region.corner_radius is None:
            continue
        short = min(region.width_proportion * width, region.height_proportion * height)
        limit = short / 2 / width
        if region.corner_radius > limit + _EPS:
            raise ValueError(
                f"Layout.CustomLayout.Regions[{pos}].CornerRadius {region.corner_radius:g} is more than half the region's "
                f"shorter side ({limit:.4g} of the canvas width here); the service would ignore it"
            )


StreamRef = tuple[str, int | None]
"""A stream as the pairing rule sees it: its UserId and its Index (None when it has none)."""


def _streams_of(streams: Streams | None) -> list[StreamRef]:
    return [(s.user_id, s.index) for s in (streams.stream_list or [])] if streams else []


def _regions_of(layout: Layout | None) -> list[int] | None:
    """The StreamIndex of each region the body sends; None when it sends no Regions array."""
    custom = layout.custom_layout if layout else None
    if custom is None or custom.regions is None:
        return None
    return [r.stream_index for r in custom.regions]


def _task_streams(configuration: Any) -> list[StreamRef] | None:
    """The streams in force from Get's JSON, read leniently: an odd value must not break the check."""
    items = ((configuration or {}).get("TargetStreams") or {}).get("StreamList") if isinstance(configuration, dict) else None
    if not isinstance(items, list):
        return None
    refs: list[StreamRef] = []
    for item in items:
        if isinstance(item, dict):
            index = item.get("Index")
            refs.append((str(item.get("UserId", "?")), index if isinstance(index, int) else None))
    return refs


def _task_regions(configuration: Any) -> list[int] | None:
    if not isinstance(configuration, dict):
        return None
    regions = ((configuration.get("Layout") or {}).get("CustomLayout") or {}).get("Regions")
    if not isinstance(regions, list):
        return None
    return [r["StreamIndex"] for r in regions if isinstance(r, dict) and isinstance(r.get("StreamIndex"), int)]


def pairing_problems(
    streams: Sequence[StreamRef], regions: Sequence[int], *, streams_note: str = "", regions_note: str = ""
) -> list[str]:
    """In a custom layout, streams and regions pair one to one (Go SDK, CustomLayout.Regions: Regions.StreamIndex
    "要与 TargetStreams.StreamList.Stream.Index 的值一一对应", else InvalidParameter): every region shows exactly
    one stream, and every stream has an Index and exactly one region. `*_note` says where a list came from
    when it is the task's rather than the body's."""
    problems: list[str] = []
    indexes = [index for _, index in streams if index is not None]
    if regions and not streams:
        return [
            f"Layout.CustomLayout.Regions{regions_note} need TargetStreams.StreamList{streams_note} with an Index "
            "for every StreamIndex"
        ]
    for pos, shown in enumerate(regions):
        if indexes.count(shown) != 1:
            problems.append(
                f"Layout.CustomLayout.Regions[{pos}]{regions_note}.StreamIndex {shown} matches no "
                f"TargetStreams.StreamList[].Index{streams_note} (indexes: {sorted(indexes)})"
            )
    for pos, (user, index) in enumerate(streams):
        label = f"TargetStreams.StreamList[{pos}]{streams_note} (UserId {user})"
        if index is None:
            problems.append(
                f"{label} has no Index, so no region can show it; in a custom layout every stream needs exactly one region"
            )
        elif (count := list(regions).count(index)) == 0:
            problems.append(
                f"{label} has no region: no Layout.CustomLayout.Regions{regions_note}[].StreamIndex is {index}; "
                "in a custom layout every stream needs exactly one region"
            )
        elif count > 1:
            problems.append(f"{label} is shown by {count} regions; in a custom layout every stream needs exactly one region")
    return problems


class UpdatePushMixedStreamToCDN(BaseModel):
    """Body of UpdatePushMixedStreamToCDN. Without IsUpdatePartialParam this is a full replace."""

    model_config = REQUEST_CONFIG
    app_id: VolcId
    room_id: VolcId
    task_id: VolcId
    business_id: PlainText | None = None
    target_streams: Streams | None = None
    layout: Layout | None = None
    encode: Encode | None = None
    control: Control | None = None
    is_update_partial_param: bool | None = None
    sequence_number: Int32 | None = None

    @model_validator(mode="after")
    def _only_updatable(self, info: ValidationInfo) -> UpdatePushMixedStreamToCDN:
        context = info.context or {}
        problems: list[str] = []
        mode = context.get("layout_mode")
        if mode is not None and mode != 2:
            problems.append(
                f"Update works only on tasks started with Layout.LayoutMode 2 (custom); this task runs LayoutMode {mode}"
            )
        if self.encode is not None:
            for name in ("audio_profile", "video_codec"):
                if getattr(self.encode, name) is not None:
                    problems.append(f"Encode.{_pascal(name)} cannot be changed by Update; it is fixed when the task starts")
        if self.control is not None:
            for name in CONTROL_START_ONLY:
                if getattr(self.control, name) is not None:
                    problems.append(f"Control.{_pascal(name)} cannot be changed by Update; only Control.SpatialConfig can")
        if self.layout is not None:
            if self.layout.layout_mode not in (None, 2):
                problems.append("Layout.LayoutMode must be 2 (custom): Update works only on custom-layout tasks")
            if self.layout.main_video_stream is not None:
                problems.append("Layout.MainVideoStream cannot be changed by Update; it is fixed when the task starts")
            if self.layout.main_video_stream_index is not None:
                problems.append(
                    "Layout.MainVideoStreamIndex cannot be changed by Update (it is the deprecated form of "
                    "Layout.MainVideoStream, fixed when the task starts)"
                )
            canvas = self.layout.custom_layout.canvas if self.layout.custom_layout else None
            started = context.get("canvas")
            if canvas is not None and started is not None:
                for name, value, fixed in (("Width", canvas.width, started[0]), ("Height", canvas.height, started[1])):
                    if value is not None and value != fixed:
                        problems.append(
                            f"Layout.CustomLayout.Canvas.{name} is fixed at {fixed} when the task starts; "
                            f"Update cannot change it to {value}"
                        )
        if problems:
            raise ValueError("; ".join(problems))
        _check_corner_radii(self.layout, context.get("canvas"))
        problems = self._pairing(context.get("configuration"))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _pairing(self, configuration: Any) -> list[str]:
        """Update works only on custom layouts, so streams and regions must pair one to one in the result.
        A full replace resets what it leaves out to an empty list; a partial one keeps the task's, which are
        known only from `configuration` (without it the check waits for the provider)."""
        streams: list[StreamRef] | None = _streams_of(self.target_streams) if self.target_streams else None
        regions = _regions_of(self.layout)
        if not self.is_update_partial_param:
            return pairing_problems(streams or [], regions or [])
        if streams is None and regions is None:
            return []
        streams_note = regions_note = ""
        if streams is None:
            streams, streams_note = _task_streams(configuration), " (in force)"
        if regions is None:
            regions, regions_note = _task_regions(configuration), " (in force)"
        if streams is None or regions is None:
            return []
        return pairing_problems(streams, regions, streams_note=streams_note, regions_note=regions_note)

    def body(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class StartPushMixedStreamToCDN(BaseModel):
    model_config = REQUEST_CONFIG
    app_id: VolcId
    room_id: VolcId
    task_id: VolcId
    push_url: RtmpUrl
    business_id: PlainText | None = None
    target_streams: Streams | None = None
    exclude_streams: Streams | None = None
    layout: Layout | None = None
    encode: Encode | None = None
    control: Control | None = None

    @model_validator(mode="after")
    def _consistent(self) -> StartPushMixedStreamToCDN:
        if self.layout is None:
            return self
        if self.layout.main_video_stream is not None and self.layout.main_video_stream_index is not None:
            # Go SDK, Layout.MainVideoStreamIndex: when both are set only MainVideoStream takes effect.
            raise ValueError(
                "Layout.MainVideoStreamIndex is ignored when Layout.MainVideoStream is set; send only MainVideoStream"
            )
        if self.layout.layout_mode == 2:
            problems = pairing_problems(_streams_of(self.target_streams), _regions_of(self.layout) or [])
            if problems:
                raise ValueError("; ".join(problems))
            _check_corner_radii(self.layout, DEFAULT_CANVAS)
        return self

    def body(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class StopPushStreamToCDN(BaseModel):
    model_config = REQUEST_CONFIG
    app_id: VolcId
    room_id: VolcId
    task_id: VolcId

    def body(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class GetPushMixedStreamToCDNTask(BaseModel):
    """Query of the GET action; it sees only tasks started in the last 72 hours."""

    model_config = REQUEST_CONFIG
    app_id: VolcId
    room_id: VolcId
    task_id: VolcId | None = None
    user_id: VolcId | None = None

    @model_validator(mode="after")
    def _task_or_user(self) -> GetPushMixedStreamToCDNTask:
        if self.task_id is None and self.user_id is None:
            raise ValueError("TaskId or UserId is required")
        return self

    def query(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.model_dump(by_alias=True, exclude_none=True).items()}


TASK_STATUS = {0: "unknown", 1: "not started", 2: "running", 3: "ended", 4: "failed"}
PUSH_STATE = {
    0: "unknown",
    1: "not pushing",
    2: "first connect",
    3: "reconnecting",
    4: "connected",
    5: "pushing",
    6: "stopped",
}


class PushMixedStreamToCDNTaskInfo(BaseModel):
    """What Get reports. The configuration parts stay in the provider's JSON so that they can be merged and
    then validated as an Update body; an odd value reported by the provider must not break the read."""

    model_config = RESPONSE_CONFIG
    start_time: int | None = None
    end_time: int | None = None
    push_url: str | None = None
    status: int | None = None
    push_stream_state: int | None = None
    stop_reason: str | None = None
    layout: dict[str, Any] | None = None
    encode: dict[str, Any] | None = None
    control: dict[str, Any] | None = None
    target_streams: dict[str, Any] | None = None

    @property
    def status_text(self) -> str:
        return TASK_STATUS.get(self.status or 0, f"status {self.status}")

    @property
    def push_state_text(self) -> str:
        return PUSH_STATE.get(self.push_stream_state or 0, f"state {self.push_stream_state}")

    @property
    def running(self) -> bool:
        return self.status == 2

    def configuration(self) -> dict[str, Any]:
        """The updatable sections in force, in provider JSON, as a task configuration."""
        parts = {"TargetStreams": self.target_streams, "Layout": self.layout, "Encode": self.encode, "Control": self.control}
        return {k: v for k, v in parts.items() if v is not None}

    def started_canvas(self) -> tuple[int, int] | None:
        """The canvas size the task runs with (fixed at start), when Get reports it."""
        canvas = ((self.layout or {}).get("CustomLayout") or {}).get("Canvas") or {}
        width, height = canvas.get("Width"), canvas.get("Height")
        return (width, height) if isinstance(width, int) and isinstance(height, int) else None

    def started_audio_profile(self) -> int | None:
        value = (self.encode or {}).get("AudioProfile")
        return value if isinstance(value, int) else None

    def layout_mode(self) -> int | None:
        value = (self.layout or {}).get("LayoutMode")
        return value if isinstance(value, int) else None

    def update_context(self) -> dict[str, Any]:
        """The validation context of an Update to this task (module docstring): what Get says the task
        started with, and its configuration in force for partial bodies."""
        context: dict[str, Any] = {"configuration": self.configuration()}
        for key, value in (
            ("canvas", self.started_canvas()),
            ("audio_profile", self.started_audio_profile()),
            ("layout_mode", self.layout_mode()),
        ):
            if value is not None:
                context[key] = value
        return context


class GetPushMixedStreamToCDNTaskResult(BaseModel):
    model_config = RESPONSE_CONFIG
    push_mixed_stream_to_cdn_task: PushMixedStreamToCDNTaskInfo | None = None


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def update_body(
    app_id: str,
    room_id: str,
    task_id: str,
    configuration: dict[str, Any],
    *,
    business_id: str | None = None,
    sequence_number: int | None = None,
    canvas: tuple[int, int] | None = None,
    audio_profile: int | None = None,
) -> UpdatePushMixedStreamToCDN:
    """A full-replace Update that carries a whole task configuration (TargetStreams, Layout, Encode, Control)."""
    unknown = set(configuration) - set(UPDATABLE_SECTIONS)
    if unknown:
        raise ValueError(f"not part of a task configuration: {', '.join(sorted(unknown))}")
    data: dict[str, Any] = {"AppId": app_id, "RoomId": room_id, "TaskId": task_id, **configuration}
    if business_id is not None:
        data["BusinessId"] = business_id
    if sequence_number is not None:
        data["SequenceNumber"] = sequence_number
    context: dict[str, Any] = {}
    if canvas is not None:
        context["canvas"] = canvas
    if audio_profile is not None:
        context["audio_profile"] = audio_profile
    return UpdatePushMixedStreamToCDN.model_validate(data, context=context)
