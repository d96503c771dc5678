"""Tencent TRTC stream ingest (API 2019-07-22): request and response models.

Two sites publish the API: international (trtc.intl.tencentcloudapi.com) and China (trtc.tencentcloudapi.com).
They differ in the Volume range, in three China-only fields and in the regions each action serves, so
validation reads the site from the pydantic validation context: ``Model.model_validate(data, context={"site":
"china"})``. Without a context the international rules apply.

The request models of both sites are transcribed, with their origin, in tests/fixtures/tencent_trtc_*.json (from
tccli-intl-en's and tccli's api.json and the China SDK's models.py); tests walk them field by field.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ValidationInfo, model_validator

from bot.providers.fields import (
    REQUEST_CONFIG,
    RESPONSE_CONFIG,
    PlainText,
    TextId,
    in_range,
    one_of,
    path_extension,
    url_character,
)

API_VERSION = "2019-07-22"
SERVICE = "trtc"
Site = Literal["intl", "china"]
HOSTS: dict[str, str] = {"intl": "trtc.intl.tencentcloudapi.com", "china": "trtc.tencentcloudapi.com"}
VOLUME_MAX: dict[str, int] = {"intl": 100, "china": 200}
"""China: the SDK and api.json say [0, 200] (the Update page says 100; the machine-readable description wins)."""
TEMPOS = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
IDLE_TIMEOUT_MAX = 600

_INTL_START_UPDATE = ("ap-bangkok", "ap-guangzhou", "ap-jakarta", "ap-mumbai", "ap-singapore", "ap-tokyo")
_INTL_DESCRIBE_STOP = ("ap-bangkok", "ap-jakarta", "ap-mumbai", "ap-singapore")
_CHINA_ALL = ("ap-beijing", "ap-chongqing", "ap-guangzhou", "ap-shanghai", "ap-singapore")
REGIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "intl": {
        "StartStreamIngest": _INTL_START_UPDATE,
        "UpdateStreamIngest": _INTL_START_UPDATE,
        "DescribeStreamIngest": _INTL_DESCRIBE_STOP,
        "StopStreamIngest": _INTL_DESCRIBE_STOP,
    },
    "china": dict.fromkeys(("StartStreamIngest", "UpdateStreamIngest", "DescribeStreamIngest", "StopStreamIngest"), _CHINA_ALL),
}
"""The regions each action's API page lists, per site (intl: document/api/647/57835, 63238, 57836, 57834;
China: document/api/647/101872, product/647/110076, api/647/101871). No China Describe page was found; its list is
assumed to be the other three's (README). Any other region is answered UnsupportedRegion."""
START_UPDATE_REGIONS = _INTL_START_UPDATE
"""The international list, kept for callers written before the China site had its own: use update_regions(site)."""
DESCRIBE_STOP_REGIONS = _INTL_DESCRIBE_STOP
"""The international list, kept likewise: use regions_for(action, site)."""

PAUSED_TASK_DESTROYED_AFTER_HOURS = 12
"""A task paused (IsPause) for more than this many hours is destroyed by the service. Source: the China SDK,
tencentcloud-sdk-python-trtc, UpdateStreamIngestRequest.IsPause ("暂停超过12小时会自动销毁任务"), also on the China
Update page (cloud.tencent.com/document/product/647/110076). The international pages do not say it; rtcops
assumes the same service behaves the same way there."""

CHINA_ONLY: dict[str, tuple[str, ...]] = {
    "StartStreamIngest": ("EnableProgress", "Tempo", "IdleTimeout"),
    "UpdateStreamIngest": ("EnableProgress", "Tempo"),
}
"""Fields only the China site's api.json has; the international site answers UnknownParameter."""
DEPRECATED: dict[str, tuple[str, ...]] = {"StartStreamIngest": ("VideoEncodeParams", "AudioEncodeParams", "SourceUrl")}
"""Members both sites' api.json mark disabled (deprecated; SourceUrl gave way to StreamUrl)."""

STREAM_SCHEMES = ("rtmp", "http", "https")
STREAM_FILE_TYPES = ("m3u8", "flv", "mp4")
STREAM_SOURCES = "the URL of an RTMP live stream (rtmp://) or of HLS (.m3u8), FLV (.flv) or MP4 (.mp4) over http(s)"
"""What the ingest pulls: the product pages (647/62716 intl, 647/102957 China) describe online live streams and
on-demand files; the kinds named are RTMP, HLS, FLV and MP4. A StreamUrl is a plain string in both SDKs."""
OTHER_MEDIA_TYPES = frozenset(
    {"avi", "mkv", "mov", "webm", "wmv", "mpd", "ts", "3gp", "rmvb", "rm", "f4v", "mp3", "aac", "m4a", "wav", "ogg", "flac"}
)
"""Extensions naming a format outside STREAM_SOURCES. Only these are refused: a URL that does not show its format
(a query string, `.php`) is taken, as the service reads the source itself (README, assumptions)."""


def regions_for(action: str, site: str = "intl") -> tuple[str, ...]:
    """The regions an action is published for on a site."""
    return REGIONS.get(site, REGIONS["intl"])[action]


def update_regions(site: str) -> tuple[str, ...]:
    """Where UpdateStreamIngest (and StartStreamIngest) can be called on this site; what task registration checks."""
    return regions_for("UpdateStreamIngest", site)


def site_of(info: ValidationInfo) -> Site:
    site = (info.context or {}).get("site", "intl")
    if site not in VOLUME_MAX:
        raise ValueError(f"unknown Tencent site {site!r}: use intl or china")
    return site  # type: ignore[no-any-return]


def check_region(region: str, action: str, site: str = "intl") -> str:
    """Refuse a region the action is not published for on this site, which the service answers with
    UnsupportedRegion; nothing is sent."""
    allowed = regions_for(action, site)
    if region not in allowed:
        raise ValueError(f"region {region!r} is not supported by {action} on the {site} site; use one of {', '.join(allowed)}")
    return region


def _stream_url(value: str) -> str:
    problem = url_character(value)
    if problem:
        raise ValueError(f"must be {STREAM_SOURCES}, without {problem}")
    scheme, sep, rest = value.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0]
    if not sep or scheme.lower() not in STREAM_SCHEMES or not host or any(c.isspace() for c in value):
        raise ValueError(f"must be {STREAM_SOURCES}, got {value!r}")
    ext = path_extension(value)
    if scheme.lower() != "rtmp" and ext in OTHER_MEDIA_TYPES:
        raise ValueError(f"must be {STREAM_SOURCES}; .{ext} is another format, got {value!r}")
    return value


SdkAppId = Annotated[int, AfterValidator(in_range(1, 2**64 - 1))]
StreamUrl = Annotated[str, AfterValidator(_stream_url)]


class _SiteRules(BaseModel):
    """Rules every ingest body shares: deprecated members, the China-only fields and the site's Volume range."""

    model_config = REQUEST_CONFIG
    action: ClassVar[str] = ""
    volume: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _not_deprecated(cls, data: Any) -> Any:
        gone = [name for name in DEPRECATED.get(cls.action, ()) if isinstance(data, dict) and name in data]
        if gone:
            raise ValueError(
                f"{' and '.join(gone)} {'is' if len(gone) == 1 else 'are'} deprecated (disabled in the API description); "
                "use StreamUrl for the source"
            )
        return data

    @model_validator(mode="after")
    def _for_site(self, info: ValidationInfo) -> _SiteRules:
        site = site_of(info)
        problems: list[str] = []
        if site == "intl":
            sent = {type(self).model_fields[name].alias for name in self.model_fields_set}
            china = [name for name in CHINA_ONLY.get(self.action, ()) if name in sent]
            if china:
                verb = "exists" if len(china) == 1 else "exist"
                problems.append(f"{' and '.join(china)} {verb} only on the China site; the international site rejects them")
        if self.volume is not None and not 0 <= self.volume <= VOLUME_MAX[site]:
            problems.append(f"Volume must be in [0, {VOLUME_MAX[site]}] on the {site} site, got {self.volume}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


Tempo = Annotated[float, AfterValidator(one_of(TEMPOS, "playback speed"))]


class UpdateStreamIngest(_SiteRules):
    """Body of UpdateStreamIngest. Every field but the ids is optional and a field left out is left as it is: an
    Update with only Volume changes only the volume (StreamUrl, when sent, points the ingest at a source)."""

    action: ClassVar[str] = "UpdateStreamIngest"
    sdk_app_id: SdkAppId
    task_id: TextId
    stream_url: StreamUrl | None = None
    is_pause: bool | None = None
    enable_progress: bool | None = None
    tempo: Tempo | None = None

    def body(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class StartStreamIngest(_SiteRules):
    action: ClassVar[str] = "StartStreamIngest"
    sdk_app_id: SdkAppId
    room_id: TextId
    room_id_type: Annotated[int, AfterValidator(one_of((0, 1), "0 string room id, 1 integer room id"))]
    user_id: TextId
    user_sig: TextId
    stream_url: StreamUrl
    private_map_key: PlainText | None = None
    seek_second: Annotated[int, AfterValidator(in_range(0, 2**63 - 1))] | None = None
    auto_push: bool | None = None
    repeat_num: Annotated[int, AfterValidator(in_range(-1, 1000))] | None = None
    max_duration: Annotated[int, AfterValidator(in_range(1, 10080, unit="minutes"))] | None = None
    enable_progress: bool | None = None
    tempo: Tempo | None = None
    idle_timeout: Annotated[int, AfterValidator(in_range(0, IDLE_TIMEOUT_MAX, unit="seconds"))] | None = None

    @model_validator(mode="after")
    def _repeat_rules(self) -> StartStreamIngest:
        if self.repeat_num == 0:
            raise ValueError("RepeatNum 0 is invalid: use -1 to loop or 1-1000 plays")
        if self.max_duration is not None and self.repeat_num != -1:
            raise ValueError("MaxDuration applies only with RepeatNum -1 (loop)")
        if self.room_id_type == 1 and not (self.room_id.isascii() and self.room_id.isdigit()):
            raise ValueError("RoomId must be an integer when RoomIdType is 1")
        return self

    def body(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class TaskRef(BaseModel):
    """Body of DescribeStreamIngest and StopStreamIngest."""

    model_config = REQUEST_CONFIG
    sdk_app_id: SdkAppId
    task_id: TextId

    def body(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


DescribeStreamIngest = TaskRef
StopStreamIngest = TaskRef


class IngestStatus(BaseModel):
    """Answer of Update and Describe: InProgress, or NotExist when the task is gone."""

    model_config = RESPONSE_CONFIG
    status: str | None = None
    request_id: str | None = None

    @property
    def exists(self) -> bool:
        return self.status != "NotExist"


class StartStreamIngestResult(BaseModel):
    model_config = RESPONSE_CONFIG
    task_id: str
    request_id: str | None = None


class StopStreamIngestResult(BaseModel):
    model_config = RESPONSE_CONFIG
    request_id: str | None = None
