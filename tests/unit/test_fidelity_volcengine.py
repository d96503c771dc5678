"""The Volcengine models against the provider's own field list, field by field.

tests/fixtures/volcengine_rtc_2020-12-01.json transcribes the Go SDK's 2020-12-01 request structs
(volcengine/volc-sdk-golang, service/rtc/v20201201/model.go) and the Update rules of the API page. Every field
there is probed through the models: a value of the wrong type is refused, a required field cannot be left out,
each documented bound is accepted and the value just past it refused, and on Update a field that cannot change
is refused as such. The other direction holds too: the models know no field the fixture lacks.

Where rtcops deliberately differs from the bare description, the difference is listed in DEVIATIONS with its
reason, and the test checks that the refusal says so.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
from pydantic import BaseModel, ValidationError

from bot.providers.errors import validation_problems
from bot.providers.volcengine_models import StartPushMixedStreamToCDN, UpdatePushMixedStreamToCDN

FIXTURE = json.loads((Path(__file__).parents[1] / "fixtures" / "volcengine_rtc_2020-12-01.json").read_text(encoding="utf-8"))
OBJECTS: dict[str, list[dict[str, Any]]] = FIXTURE["objects"]
INT32_MAX = 2**31 - 1
MODELS: dict[str, type[BaseModel]] = {
    "StartPushMixedStreamToCDN": StartPushMixedStreamToCDN,
    "UpdatePushMixedStreamToCDN": UpdatePushMixedStreamToCDN,
}
STARTED_CANVAS = (1280, 720)

ORIENTATION = {"Forward": [1.0, 0.0, 0.0], "Right": [0.0, 1.0, 0.0], "Up": [0.0, 0.0, 1.0]}


def start_body() -> dict[str, Any]:
    """A Start body that sets at least one field of every object in the fixture, all valid."""
    return {
        "AppId": "app1",
        "RoomId": "room1",
        "TaskId": "task1",
        "PushURL": "rtmp://push.example.com/live/s1",
        "BusinessId": "biz",
        "TargetStreams": {"StreamList": [{"UserId": "u1", "Index": 0, "StreamType": 0}, {"UserId": "u2", "Index": 1}]},
        "ExcludeStreams": {"StreamList": [{"UserId": "u9", "Index": 9}]},
        "Layout": {
            "LayoutMode": 2,
            "MainVideoStream": {"UserId": "u1", "Index": 0},
            "CustomLayout": {
                "Canvas": {"Width": 1280, "Height": 720, "Background": "#112233"},
                "Regions": [
                    {"StreamIndex": 0, "WidthProportion": 0.5, "HeightProportion": 0.5, "SourceCrop": {"LocationX": 0}},
                    {"StreamIndex": 1, "LocationX": 0.5, "WidthProportion": 0.5, "HeightProportion": 1},
                ],
            },
        },
        "Encode": {"VideoFps": 30},
        "Control": {
            "MaxIdleTime": 300,
            "SpatialConfig": {"EnableSpatialRender": True, "AudienceSpatialOrientation": copy.deepcopy(ORIENTATION)},
        },
    }


def update_body() -> dict[str, Any]:
    body = start_body()
    for key in ("PushURL", "ExcludeStreams"):
        del body[key]
    del body["Layout"]["MainVideoStream"]
    body["Control"] = {"SpatialConfig": body["Control"]["SpatialConfig"]}
    body["SequenceNumber"] = 1
    return body


BASES = {"StartPushMixedStreamToCDN": start_body, "UpdatePushMixedStreamToCDN": update_body}


# --- walking the fixture -----------------------------------------------------------------------------------


Path_ = tuple[str | int, ...]


def walk(obj: str, prefix: Path_ = ()) -> Iterator[tuple[Path_, dict[str, Any]]]:
    for field in OBJECTS[obj]:
        path = (*prefix, field["name"])
        yield path, field
        if field["type"] == "object":
            yield from walk(field["object"], path)
        elif field["type"] == "array":
            yield from walk(field["object"], (*path, 0))


def dotted(path: Path_) -> str:
    """The path as the models' messages write it: Layout.CustomLayout.Regions[0].ZOrder."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + part
    return out


def generic(path: Path_) -> str:
    """The path as the fixture's update rules write it: no array positions."""
    return ".".join(p for p in path if isinstance(p, str))


TEMPLATES: dict[str, Any] = {
    "MainVideoStream": {"UserId": "u1"},
    "ExcludeStreams": {"StreamList": [{"UserId": "u9"}]},
    "SourceCrop": {},
    "SpatialConfig": {},
    "AudienceSpatialOrientation": ORIENTATION,
}


def put(body: dict[str, Any], path: Path_, value: Any) -> None:
    node: Any = body
    for key in path[:-1]:
        if isinstance(node, dict) and key not in node:
            node[key] = copy.deepcopy(TEMPLATES.get(str(key), {}))
        node = node[key]
    node[path[-1]] = value


def drop(body: dict[str, Any], path: Path_) -> None:
    node: Any = body
    for key in path[:-1]:
        node = node[key]
    if isinstance(node, dict):
        node.pop(path[-1], None)


def make_room(body: dict[str, Any], path: Path_, value: Any) -> None:
    """Adjust the neighbours a documented cross-field rule ties to this field, so that a value valid on its own
    is judged on its own: a region's corner against its size, a stream's Index against the region that shows it."""
    name = path[-1]
    if path[:4] == ("Layout", "CustomLayout", "Regions", 0) and len(path) == 5:
        region = body["Layout"]["CustomLayout"]["Regions"][0]
        if name == "LocationX" and isinstance(value, float | int):
            region["WidthProportion"] = max(1 - value, 0.001) if value < 1 else 0.001
        if name == "LocationY" and isinstance(value, float | int):
            region["HeightProportion"] = max(1 - value, 0.001) if value < 1 else 0.001
        if name == "StreamIndex" and isinstance(value, int):
            body.setdefault("TargetStreams", {"StreamList": []})["StreamList"][0]["Index"] = value
    if path[:3] == ("TargetStreams", "StreamList", 0) and name == "Index" and isinstance(value, int):
        body["Layout"]["CustomLayout"]["Regions"][0]["StreamIndex"] = value
    if path == ("Layout", "MainVideoStreamIndex"):
        body["Layout"].pop("MainVideoStream", None)  # both at once: only MainVideoStream counts (checked below)
    if path == ("Layout", "LayoutMode") and value != 2:
        body["Layout"].pop("CustomLayout", None)


def validate(action: str, body: dict[str, Any]) -> list[str]:
    """The problems the model finds ([] when it accepts), validated as the services do on Update."""
    context = {"canvas": STARTED_CANVAS} if action.startswith("Update") else None
    try:
        MODELS[action].model_validate(body, context=context)
    except ValidationError as exc:
        return validation_problems(exc)
    return []


def probe(action: str, path: Path_, value: Any) -> list[str]:
    body = BASES[action]()
    put(body, path, value)
    make_room(body, path, value)
    return validate(action, body)


# --- what the fixture says each field takes ----------------------------------------------------------------

WRONG_TYPE: dict[str, Any] = {
    "string": 7,
    "int32": "1",
    "float32": "0.5",
    "bool": "true",
    "object": "x",
    "array": "x",
    "int32[]": "x",
    "float32[]": "x",
}

# rtcops' own choices where the bare description allows more; each refusal must say why (README, provider facts).
DEVIATIONS = {
    "negative int32": "not documented",  # Index, StreamIndex, SequenceNumber, MainVideoStreamIndex (issue 11, V7)
}


def accepted_values(field: dict[str, Any]) -> list[Any]:
    t = field["type"]
    if "enum" in field:
        return list(field["enum"])
    if t == "int32":
        lo = field.get("min", 0)
        hi = field.get("max", INT32_MAX)
        return [lo, hi]
    if t == "float32":
        lo, hi = field["min"], field["max"]
        inside_lo = lo + 0.01 if field.get("min_exclusive") else lo
        inside_hi = hi - 0.01 if field.get("max_exclusive") else hi
        return [inside_lo, inside_hi]
    if t == "bool":
        return [True, False]
    if t == "int32[]":
        return [[field["item_min"], 0, field["item_max"]]] if "item_min" in field else [[0, 0, 0]]
    if "image_formats" in field:
        return [f"https://img.example.com/bg.{ext}" for ext in field["image_formats"]] + [
            "https://img.example.com/bg?id=7",  # no extension: the type is the service's to find out (issue 11, V5)
            "https://img.example.com/bg.PNG",
        ]
    if "schemes" in field:
        return ["rtmp://push.example.com/live/s2"]
    if field.get("format") == "#RRGGBB":
        return ["#000000", "#aBcDeF"]
    return []


def refused_values(field: dict[str, Any]) -> list[tuple[Any, str]]:
    """(value, words the refusal must contain)."""
    t = field["type"]
    out: list[tuple[Any, str]] = []
    if "enum" in field:
        out.append((max(field["enum"]) + 1, "one of"))
    elif t == "int32":
        lo, hi = field.get("min"), field.get("max", INT32_MAX)
        out.append((hi + 1, str(hi)))
        if lo is not None:
            out.append((lo - 1, str(lo)))
        else:
            out.append((-1, DEVIATIONS["negative int32"]))
        if field.get("even"):
            out.append((field["min"] + 1, "even"))
    elif t == "float32":
        lo, hi = field["min"], field["max"]
        out.append((lo if field.get("min_exclusive") else lo - 0.01, "1"))
        out.append((hi if field.get("max_exclusive") else hi + 0.01, "1"))
    elif t == "int32[]" and "item_min" in field:
        out.append(([0, field["item_max"] + 1, 0], str(field["item_max"])))
        out.append(([0, 0], "three"))
    elif t == "float32[]":
        out.append(([1.0, 0.0], "three"))
    if "image_formats" in field:
        out.append(("https://img.example.com/bg.gif", "JPG, JPEG or PNG"))
        out.append(("ftp://img.example.com/bg.png", "http"))
    if "max_bytes" in field:
        out.append(("https://a.b/" + "x" * (field["max_bytes"] - 15) + ".png", f"{field['max_bytes']} bytes"))
    if "max_chars" in field:
        out.append(("https://a.b/" + "x" * (field["max_chars"] - 15) + ".png", f"{field['max_chars']} characters"))
    if "schemes" in field:
        out.append(("https://push.example.com/live/s", "rtmp"))
    if "pattern" in field:
        out.append(("bad id!", "1-128 characters"))
    if field.get("format") == "#RRGGBB":
        out.append(("red", "#RRGGBB"))
    return out


def update_rule(path: Path_) -> str:
    name = generic(path)
    if name in FIXTURE["update"]["containers"]:
        return "changeable"  # sent to carry changeable fields; what it holds is judged field by field
    for rule in ("fixed", "same_as_start", "changeable"):
        if any(name == p or name.startswith(p + ".") for p in FIXTURE["update"][rule]):
            return rule
    raise AssertionError(f"the fixture's update rules do not cover {name}")


def cases(action: str) -> list[tuple[str, Path_, dict[str, Any]]]:
    root = "StartBody" if action.startswith("Start") else "UpdateBody"
    return [(action, path, field) for path, field in walk(root)]


START_CASES = cases("StartPushMixedStreamToCDN")
UPDATE_CASES = cases("UpdatePushMixedStreamToCDN")
CHANGEABLE = [c for c in UPDATE_CASES if update_rule(c[1]) == "changeable"]
NOT_CHANGEABLE = [c for c in UPDATE_CASES if update_rule(c[1]) != "changeable"]
TYPED = START_CASES + [c for c in UPDATE_CASES if update_rule(c[1]) != "fixed"]
BOUNDED = START_CASES + CHANGEABLE


def ids(all_cases: list[tuple[str, Path_, dict[str, Any]]]) -> list[str]:
    return [dotted(path) for _, path, _ in all_cases]


# --- the probes --------------------------------------------------------------------------------------------


def test_the_base_bodies_are_valid() -> None:
    assert validate("StartPushMixedStreamToCDN", start_body()) == []
    assert validate("UpdatePushMixedStreamToCDN", update_body()) == []


@pytest.mark.parametrize(("action", "path", "field"), TYPED, ids=ids(TYPED))
def test_every_field_is_known_with_its_type_and_required_flag(action: str, path: Path_, field: dict[str, Any]) -> None:
    """On Update, a field Update cannot change is refused whatever its type: test_update_refuses_…"""
    where = dotted(path)
    wrong = probe(action, path, WRONG_TYPE[field["type"]])
    assert any(p.startswith(where) for p in wrong), (where, wrong)
    assert not any("not a field this action accepts" in p for p in wrong), wrong
    if field.get("required"):
        body = BASES[action]()
        put(body, path, accepted_values(field)[0] if accepted_values(field) else "u1")
        drop(body, path)
        assert f"{where}: is required" in validate(action, body)


@pytest.mark.parametrize(("action", "path", "field"), BOUNDED, ids=ids(BOUNDED))
def test_every_documented_bound_is_accepted_and_the_next_value_refused(action: str, path: Path_, field: dict[str, Any]) -> None:
    where = dotted(path)
    for value in accepted_values(field):
        if generic(path) == "Layout.CustomLayout.Regions.CornerRadius" and value == 1:
            # a radius of the whole canvas width always exceeds half a region's side: the service would ignore
            # it (Go SDK, CornerRadius), so rtcops refuses it with that reason instead of sending it
            assert any("shorter side" in p for p in probe(action, path, value))
            continue
        assert probe(action, path, value) == [], (where, value)
    for value, words in refused_values(field):
        found = probe(action, path, value)
        assert any(p.startswith(where) and words in p for p in found), (where, value, words, found)


@pytest.mark.parametrize(("action", "path", "field"), NOT_CHANGEABLE, ids=ids(NOT_CHANGEABLE))
def test_update_refuses_what_it_cannot_change(action: str, path: Path_, field: dict[str, Any]) -> None:
    rule = update_rule(path)
    name = generic(path)
    if rule == "same_as_start":
        if name == "Layout.LayoutMode":
            assert probe(action, path, 2) == []
            assert any("must be 2 (custom)" in p for p in probe(action, path, 0))
        else:
            started = STARTED_CANVAS[0] if name.endswith("Width") else STARTED_CANVAS[1]
            assert probe(action, path, started) == []
            assert any(f"is fixed at {started}" in p for p in probe(action, path, started + 2))
        return
    fixed = next(p for p in FIXTURE["update"]["fixed"] if name == p or name.startswith(p + "."))
    value = copy.deepcopy(TEMPLATES.get(field["name"])) if field["type"] == "object" else (accepted_values(field) or ["u1"])[0]
    found = probe(action, path, value)
    assert any(p.startswith(fixed) and "cannot be changed by Update" in p for p in found), (name, found)
    assert not any(fixed + " " in p and "exist" in p for p in found)


# --- the other direction -----------------------------------------------------------------------------------


def model_paths(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    for name, info in model.model_fields.items():
        alias = info.alias or name
        path = f"{prefix}{alias}"
        yield path
        for arg in _flatten(info.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                yield from model_paths(arg, path + ".")


def _flatten(annotation: Any) -> Iterator[Any]:
    args = get_args(annotation)
    if not args:
        yield annotation
        return
    if get_origin(annotation) is not None and get_origin(annotation).__name__ == "Annotated":
        yield from _flatten(args[0])
        return
    for arg in args:
        yield from _flatten(arg)


@pytest.mark.parametrize("action", list(MODELS))
def test_the_models_know_no_field_the_provider_lacks(action: str) -> None:
    documented = {generic(path) for path, _ in walk("StartBody" if action.startswith("Start") else "UpdateBody")}
    ours = set(model_paths(MODELS[action]))
    assert ours - documented == set()
    assert documented - ours == set()


def test_main_video_stream_index_is_its_own_field() -> None:
    """Issue 11, V9: the refusal names the field that was sent, not its successor."""
    found = probe("UpdatePushMixedStreamToCDN", ("Layout", "MainVideoStreamIndex"), 0)
    assert found == [
        "Layout.MainVideoStreamIndex cannot be changed by Update (it is the deprecated form of Layout.MainVideoStream, "
        "fixed when the task starts)"
    ]
    # Go SDK, MainVideoStreamIndex: when both are set only MainVideoStream takes effect, so both is refused on Start
    body = start_body()
    body["Layout"]["MainVideoStreamIndex"] = 0
    assert any(
        "MainVideoStreamIndex is ignored when Layout.MainVideoStream is set" in p
        for p in validate("StartPushMixedStreamToCDN", body)
    )
