"""TRTC stream-ingest callbacks (event group 7) as rtcops receives them: the signature and the body.

Written from "Push Online Media Stream Webhooks" (trtc.io/document/62717, also
www.tencentcloud.com/document/product/647/62717; China site: cloud.tencent.com/document/product/647/102825) and
"Verify Signature Example" (trtc.io/document/54912):

- a POST with headers `SdkAppId` and `Sign` = base64(HMAC-SHA256(callback key, raw body));
- body `{"EventGroupId": 7, "EventType": 701 | 702, "CallbackMsTs": <ms of this sending>,
  "EventInfo": {"EventMsTs": <ms of the event>, "TaskId": "...", "Status": <n>}}`;
- 701 (ingest start): Status 0 succeeded, 1 failed, 2 starting again; 702 (ingest stop): Status 0;
- an answer other than HTTP 200 within 5 s is retried, at once and then every 10 s for a minute, each sending
  stamped with its own CallbackMsTs (so signed afresh): one event may arrive more than once, and events may
  arrive out of order (to be ordered by EventMsTs).

The pages' field table calls EventMsTs a String while their examples send a number: both are taken.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

EVENT_GROUP_STREAM_INGEST = 7
STREAM_INGEST_START = 701
STREAM_INGEST_STOP = 702
START_SUCCEEDED, START_FAILED, START_RETRYING = 0, 1, 2


def callback_sign(key: str, body: bytes) -> str:
    """The `Sign` header TRTC sends with `body`."""
    return base64.b64encode(hmac.new(key.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def signature_matches(key: str, body: bytes, sign: str) -> bool:
    """Compared in constant time, on the raw bytes as they arrived."""
    expected = callback_sign(key, body).encode("ascii")
    try:
        given = sign.encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected, given)


def _whole_number(value: Any) -> Any:
    """A millisecond stamp as a number or as a string of digits (the pages say both)."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 16:
        return int(value)
    return value


Millis = Annotated[int, BeforeValidator(_whole_number), Field(ge=0, lt=10**16, strict=True)]


class IngestEventInfo(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    event_ms_ts: Millis = Field(alias="EventMsTs")
    task_id: str = Field(alias="TaskId", min_length=1, max_length=256)
    status: int | None = Field(None, alias="Status", strict=True)


class IngestCallback(BaseModel):
    """One callback body. Only event group 7 is read; other groups are acknowledged and left alone."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    event_group_id: int = Field(alias="EventGroupId", strict=True)
    event_type: int = Field(alias="EventType", strict=True)
    callback_ms_ts: Millis = Field(alias="CallbackMsTs")
    event_info: dict[str, Any] = Field(alias="EventInfo")

    @property
    def stream_ingest(self) -> bool:
        return self.event_group_id == EVENT_GROUP_STREAM_INGEST and self.event_type in (STREAM_INGEST_START, STREAM_INGEST_STOP)
