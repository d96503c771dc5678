"""Volcengine RTC mixed-stream push to CDN (API 2020-12-01): request and response models.

The service silently replaces an out-of-range optional value with its default and resets every updatable
field an Update leaves out (providers.md §1.1). A live stream that quietly changes is the worst outcome,
so these models refuse, before anything is sent, every value the service would reject or reset.

Validation context (optional, passed by the services layer):
- ``canvas``: ``(width, height)`` the task was started with; an Update that names another size is refused
  because the service would ignore it.
- ``audio_profile``: the AudioProfile the task was started with, which caps AudioBitrate.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ValidationInfo, model_validator

from bot.providers.fields import (
    REQUEST_CONFIG,
    RESPONSE_CONFIG,
    Color,
    EvenSize,
    ImageUrl,
    Int32,
    Position,
    Share,
    Spatial3,
    Url1024,
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
Index = Annotated[int, AfterValidator(in_range(0, 2**31 - 1))]
RtmpUrl = Annotated[str, AfterValidator(url_with_scheme(("rtmp",)))]

AUDIO_BITRATE_CAP = {0: 192, 1: 128, 2: 64}
"""HE-v1 allows 64 Kbps mono and 128 stereo; HE-v2 allows 64 (providers.md §1.2)."""


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
    alternate_image: Url1024 | None = None
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
    video_bitrate: Annotated[int, AfterValidator(in_range(0, 10000, unit="Kbps (0 = adaptive)"))] | None = None
    video_codec: Annotated[int, AfterValidator(one_of((0, 1), "0 H.264, 1 ByteVC1"))] | None = None
    video_gop: Annotated[int, AfterValidator(in_range(1, 5, unit="seconds"))] | None = None
    audio_codec: Annotated[int, AfterValidator(one_of((0,), "0 AAC"))] | None = None
    audio_profile: Annotated[int, AfterValidator(one_of((0, 1, 2), "0 LC, 1 HE-v1, 2 HE-v2"))] | None = None
    audio_bitrate: Annotated[int, AfterValidator(in_range(32, 192, unit="Kbps"))] | None = None
    audio_sample_rate: Annotated[int, AfterValidator(one_of((32000, 44100, 48000)))] | None = None
    audio_channels: Annotated[int, AfterValidator(one_of((1, 2)))] | None = None

    @model_validator(mode="after")
    def _bitrate_fits_profile(self, info: ValidationInfo) -> Encode:
        context = info.context or {}
        profile = self.audio_profile if self.audio_profile is not None else context.get("audio_profile", 0)
        if self.audio_bitrate is None or profile not in AUDIO_BITRATE_CAP:
            return self
        cap = AUDIO_BITRATE_CAP[profile]
        if profile == 1 and (self.audio_channels or 2) == 1:
            cap = 64
        if self.audio_bitrate > cap:
            names = {0: "LC", 1: "HE-v1", 2: "HE-v2"}
            raise ValueError(
                f"AudioBitrate must be at most {cap} Kbps with AudioProfile {names[profile]}, got {self.audio_bitrate}"
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
    push_stream_mode: ZeroOne | None = None
    spatial_config: SpatialConfig | None = None


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


def _check_regions_match_streams(streams: Streams | None, layout: Layout | None, *, stream_list_required: bool) -> None:
    regions = layout.custom_layout.regions if layout and layout.custom_layout else None
    if not regions:
        return
    stream_list = streams.stream_list if streams else None
    if not stream_list:
        if stream_list_required:
            raise ValueError(
                "Layout.CustomLayout.Regions need TargetStreams.StreamList with an Index for every StreamIndex"
            )
        return
    indexes = [s.index for s in stream_list if s.index is not None]
    for pos, region in enumerate(regions):
        if indexes.count(region.stream_index) != 1:
            raise ValueError(
                f"Layout.CustomLayout.Regions[{pos}].StreamIndex {region.stream_index} matches no "
                f"TargetStreams.StreamList[].Index (indexes: {sorted(indexes)})"
            )


class UpdatePushMixedStreamToCDN(BaseModel):
    """Body of UpdatePushMixedStreamToCDN. Without IsUpdatePartialParam this is a full replace."""

    model_config = REQUEST_CONFIG
    app_id: VolcId
    room_id: VolcId
    task_id: VolcId
    business_id: str | None = None
    target_streams: Streams | None = None
    layout: Layout | None = None
    encode: Encode | None = None
    control: Control | None = None
    is_update_partial_param: bool | None = None
    sequence_number: Int32 | None = None

    @model_validator(mode="after")
    def _only_updatable(self, info: ValidationInfo) -> UpdatePushMixedStreamToCDN:
        problems: list[str] = []
        if self.encode is not None:
            for name in ("audio_profile", "video_codec"):
                if getattr(self.encode, name) is not None:
                    problems.append(f"Encode.{_pascal(name)} cannot be changed by Update; it is fixed when the task starts")
        if self.control is not None:
            for name in ("media_type", "frame_interpolation_mode", "max_idle_time", "push_stream_mode"):
                if getattr(self.control, name) is not None:
                    problems.append(f"Control.{_pascal(name)} cannot be changed by Update; only Control.SpatialConfig can")
        if self.layout is not None:
            if self.layout.layout_mode not in (None, 2):
                problems.append("Layout.LayoutMode must be 2 (custom): Update works only on custom-layout tasks")
            if self.layout.main_video_stream is not None or self.layout.main_video_stream_index is not None:
                problems.append("Layout.MainVideoStream cannot be changed by Update")
            canvas = self.layout.custom_layout.canvas if self.layout.custom_layout else None
            started = (info.context or {}).get("canvas")
            if canvas is not None and started is not None:
                for name, value, fixed in (("Width", canvas.width, started[0]), ("Height", canvas.height, started[1])):
                    if value is not None and value != fixed:
                        problems.append(
                            f"Layout.CustomLayout.Canvas.{name} is fixed at {fixed} when the task starts; "
                            f"Update cannot change it to {value}"
                        )
        if problems:
            raise ValueError("; ".join(problems))
        _check_corner_radii(self.layout, (info.context or {}).get("canvas"))
        # A partial body without TargetStreams points its Regions at the task's streams, known only to the provider.
        _check_regions_match_streams(
            self.target_streams,
            self.layout,
            stream_list_required=not self.is_update_partial_param or self.target_streams is not None,
        )
        return self

    def body(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class StartPushMixedStreamToCDN(BaseModel):
    model_config = REQUEST_CONFIG
    app_id: VolcId
    room_id: VolcId
    task_id: VolcId
    push_url: RtmpUrl
    business_id: str | None = None
    target_streams: Streams | None = None
    exclude_streams: Streams | None = None
    layout: Layout | None = None
    encode: Encode | None = None
    control: Control | None = None

    @model_validator(mode="after")
    def _consistent(self) -> StartPushMixedStreamToCDN:
        if self.layout is not None and self.layout.layout_mode == 2:
            _check_regions_match_streams(self.target_streams, self.layout, stream_list_required=True)
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

