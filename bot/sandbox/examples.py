"""The example Volcengine mixed push: two people side by side on a 1280x720 canvas, in the custom layout
mode (LayoutMode 2) that Update requires. `rtcops demo` starts it in the simulator, and the tests start it
or derive their bodies from it, so there is one definition of what a running task looks like.
"""

from __future__ import annotations

import copy
from typing import Any

APP_ID, ROOM_ID, TASK_ID = "app-finals", "room-finals", "mix-finals"
PUSH_URL = "rtmp://cdn.example.com/live/finals"
USERS = ("host", "guest")
BACKGROUND = "#000000"

SIDE_BY_SIDE_START: dict[str, Any] = {
    "AppId": APP_ID,
    "RoomId": ROOM_ID,
    "TaskId": TASK_ID,
    "PushURL": PUSH_URL,
    "TargetStreams": {"StreamList": [{"UserId": USERS[0], "Index": 0}, {"UserId": USERS[1], "Index": 1}]},
    "Layout": {
        "LayoutMode": 2,
        "CustomLayout": {
            "Canvas": {"Width": 1280, "Height": 720, "Background": BACKGROUND},
            "Regions": [
                {"StreamIndex": 0, "LocationX": 0.0, "LocationY": 0.0, "WidthProportion": 0.5, "HeightProportion": 1.0},
                {"StreamIndex": 1, "LocationX": 0.5, "LocationY": 0.0, "WidthProportion": 0.5, "HeightProportion": 1.0},
            ],
        },
    },
    "Encode": {"VideoWidth": 1280, "VideoHeight": 720, "VideoBitrate": 2500, "VideoFps": 25},
}
"""The StartPushMixedStreamToCDN body. Do not change it in place: take a copy with `side_by_side_start`."""

TASK_CONFIG_KEYS = ("TargetStreams", "Layout", "Encode")
"""The sections of the example that are the task's configuration (what Update may change), without its ids."""


def side_by_side_start(
    *, users: tuple[str, str] = USERS, background: str = BACKGROUND, **fields: Any
) -> dict[str, Any]:
    """A fresh copy of the example Start body, with other people in the two streams, another canvas
    background, or other top-level fields (AppId, TaskId, PushURL, Encode, …) replaced whole."""
    body = copy.deepcopy(SIDE_BY_SIDE_START)
    for stream, user in zip(body["TargetStreams"]["StreamList"], users, strict=True):
        stream["UserId"] = user
    body["Layout"]["CustomLayout"]["Canvas"]["Background"] = background
    body.update(copy.deepcopy(fields))
    return body


def task_config(body: dict[str, Any]) -> dict[str, Any]:
    """The configuration sections of a Start body (TargetStreams, Layout, Encode), copied."""
    return {key: copy.deepcopy(body[key]) for key in TASK_CONFIG_KEYS if key in body}
