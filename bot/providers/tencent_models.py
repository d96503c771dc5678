"""Tencent TRTC stream ingest (API 2019-07-22): request and response models.

The allowed Volume range and two fields depend on the site (international or China), so validation reads the
site from the pydantic validation context: ``Model.model_validate(data, context={"site": "china"})``. Without
a context the stricter international rules apply, so a forgotten context can only refuse, never let through.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ValidationInfo, model_validator

from bot.providers.fields import REQUEST_CONFIG, RESPONSE_CONFIG, NonBlank, in_range, one_of, url_with_scheme

API_VERSION = "2019-07-22"
SERVICE = "trtc"
Site = Literal["intl", "china"]
HOSTS: dict[str, str] = {"intl": "trtc.intl.tencentcloudapi.com", "china": "trtc.tencentcloudapi.com"}
VOLUME_MAX: dict[str, int] = {"intl": 100, "china": 200}
TEMPOS = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
START_UPDATE_REGIONS = ("ap-bangkok", "ap-guangzhou", "ap-jakarta", "ap-mumbai", "ap-singapore", "ap-tokyo")
DESCRIBE_STOP_REGIONS = ("ap-bangkok", "ap-jakarta", "ap-mumbai", "ap-singapore")

SdkAppId = Annotated[int, AfterValidator(in_range(1, 2**64 - 1))]
StreamUrl = Annotated[str, AfterValidator(url_with_scheme(("http", "https", "rtmp", "rtmps")))]


def site_of(info: ValidationInfo) -> Site:
    site = (info.context or {}).get("site", "intl")
    if site not in VOLUME_MAX:
        raise ValueError(f"unknown Tencent site {site!r}: use intl or china")
    return site  # type: ignore[no-any-return]


def check_region(region: str, action: str) -> str:
    """Refuse a region the action is not published for, which the service answers with UnsupportedRegion."""
    allowed = DESCRIBE_STOP_REGIONS if action in ("DescribeStreamIngest", "StopStreamIngest") else START_UPDATE_REGIONS
    if region not in allowed:
        raise ValueError(f"region {region!r} is not supported by {action}; use one of {', '.join(allowed)}")
    return region


class _VolumeRules(BaseModel):
    model_config = REQUEST_CONFIG
    volume: int | None = None

    @model_validator(mode="after")
    def _volume_for_site(self, info: ValidationInfo) -> _VolumeRules:
        site = site_of(info)
        if self.volume is not None and not 0 <= self.volume <= VOLUME_MAX[site]:
            raise ValueError(f"Volume must be in [0, {VOLUME_MAX[site]}] on the {site} site, got {self.volume}")
        return self


class UpdateStreamIngest(_VolumeRules):
    sdk_app_id: SdkAppId
    task_id: NonBlank
    stream_url: StreamUrl | None = None
    is_pause: bool | None = None
    enable_progress: bool | None = None
    tempo: float | None = None

    @model_validator(mode="after")
    def _site_fields(self, info: ValidationInfo) -> UpdateStreamIngest:
        site = site_of(info)
        if site == "intl":
            bad = [n for n, v in (("EnableProgress", self.enable_progress), ("Tempo", self.tempo)) if v is not None]
            if bad:
                raise ValueError(f"{' and '.join(bad)} exist only on the China site; the international site rejects them")
        if self.tempo is not None and self.tempo not in TEMPOS:
            raise ValueError(f"Tempo must be one of {', '.join(map(str, TEMPOS))}, got {self.tempo}")
        return self

    def body(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class StartStreamIngest(_VolumeRules):
    sdk_app_id: SdkAppId
    room_id: NonBlank
    room_id_type: Annotated[int, AfterValidator(one_of((0, 1), "0 string room id, 1 integer room id"))]
    user_id: NonBlank
    user_sig: NonBlank
    stream_url: StreamUrl
    private_map_key: str | None = None
    seek_second: Annotated[int, AfterValidator(in_range(0, 2**63 - 1))] | None = None
    auto_push: bool | None = None
    repeat_num: Annotated[int, AfterValidator(in_range(-1, 1000))] | None = None
    max_duration: Annotated[int, AfterValidator(in_range(1, 10080, unit="minutes"))] | None = None

    @model_validator(mode="after")
    def _repeat_rules(self) -> StartStreamIngest:
        if self.repeat_num == 0:
            raise ValueError("RepeatNum 0 is invalid: use -1 to loop or 1-1000 plays")
        if self.max_duration is not None and self.repeat_num != -1:
            raise ValueError("MaxDuration applies only with RepeatNum -1 (loop)")
        if self.room_id_type == 1 and not self.room_id.isdigit():
            raise ValueError("RoomId must be an integer when RoomIdType is 1")
        return self

    def body(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class TaskRef(BaseModel):
    """Body of DescribeStreamIngest and StopStreamIngest."""

    model_config = REQUEST_CONFIG
    sdk_app_id: SdkAppId
    task_id: NonBlank

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
