"""The Tencent models against each site's own request models, field by field.

tests/fixtures/tencent_trtc_intl_2019-07-22.json and tencent_trtc_china_2019-07-22.json transcribe the four ingest
actions' request members from tccli-intl-en's and tccli's api.json (the China members also in
tencentcloud-sdk-python-trtc's models.py), with the ranges their documents state and the regions each action's
API page lists. Every member is probed through the models with that site's validation context: its JSON type,
whether it is required, each documented bound, deprecated members refused by name; and every field the models know
is a member of the site, or is refused on it as the other site's.

Where rtcops deliberately differs from the bare description, DEVIATIONS says so and why.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from bot.providers.errors import validation_problems
from bot.providers.tencent_models import StartStreamIngest, TaskRef, UpdateStreamIngest, regions_for

FIXTURES = Path(__file__).parents[1] / "fixtures"
SITES = {
    site: json.loads((FIXTURES / f"tencent_trtc_{site}_2019-07-22.json").read_text(encoding="utf-8"))
    for site in ("intl", "china")
}
MODELS: dict[str, type[BaseModel]] = {
    "StartStreamIngest": StartStreamIngest,
    "UpdateStreamIngest": UpdateStreamIngest,
    "DescribeStreamIngest": TaskRef,
    "StopStreamIngest": TaskRef,
}
BASES: dict[str, dict[str, Any]] = {
    "StartStreamIngest": {"SdkAppId": 1400000000, "RoomId": "1234", "RoomIdType": 0, "UserId": "bot", "UserSig": "sig",
                          "StreamUrl": "https://media.example.com/a.mp4"},
    "UpdateStreamIngest": {"SdkAppId": 1400000000, "TaskId": "task-1"},
    "DescribeStreamIngest": {"SdkAppId": 1400000000, "TaskId": "task-1"},
    "StopStreamIngest": {"SdkAppId": 1400000000, "TaskId": "task-1"},
}  # fmt: skip
WRONG_TYPE = {"int": "1", "string": 7, "bool": "true", "float": "1.0", "object": "x", "list": "x"}
UINT64_MAX = 2**64 - 1
INT64_MAX = 2**63 - 1

# rtcops' own choices where the description allows more; each refusal says why.
DEVIATIONS = {
    ("SdkAppId", 0): "must be in [1, ",  # uint64 admits 0, but no TRTC application has SdkAppId 0
    ("SeekSecond", -1): "must be in [0, ",  # a position in seconds from the start; negative has no meaning documented
}


def cases() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (site, action, member)
        for site, data in SITES.items()
        for action, spec in data["actions"].items()
        for member in spec["members"]
    ]


CASES = cases()
IDS = [f"{site}-{action}-{member['name']}" for site, action, member in CASES]


def validate(site: str, action: str, body: dict[str, Any]) -> list[str]:
    try:
        MODELS[action].model_validate(body, context={"site": site})
    except ValidationError as exc:
        return validation_problems(exc)
    return []


def probe(site: str, action: str, name: str, value: Any) -> list[str]:
    body = {**BASES[action], name: value}
    if name == "MaxDuration":
        body["RepeatNum"] = -1  # MaxDuration applies only when RepeatNum is -1 (its document)
    return validate(site, action, body)


def accepted(member: dict[str, Any]) -> list[Any]:
    if "enum" in member:
        return list(member["enum"])
    if member["type"] == "int":
        top = UINT64_MAX if member["member"] == "uint64" else INT64_MAX
        return [member.get("min", 0 if member["name"] != "SdkAppId" else 1), member.get("max", top)]
    if member["type"] == "bool":
        return [True, False]
    if member["type"] == "string":
        return ["https://media.example.com/b.m3u8"] if member["name"] == "StreamUrl" else ["x-1"]
    return []


def refused(member: dict[str, Any]) -> list[tuple[Any, str]]:
    out: list[tuple[Any, str]] = []
    name = member["name"]
    if "enum" in member:
        out.append((max(member["enum"]) + 1, "one of"))
    elif member["type"] == "int":
        top = UINT64_MAX if member["member"] == "uint64" else INT64_MAX
        out.append((member.get("max", top) + 1, str(member.get("max", top))))
        if "min" in member:
            out.append((member["min"] - 1, str(member["min"])))
        elif (name, 0 if member["member"] == "uint64" else -1) in DEVIATIONS:
            value = 0 if member["member"] == "uint64" else -1
            out.append((value, DEVIATIONS[(name, value)]))
        else:
            out.append((-1, "must be in [0, "))
    out.extend((value, "invalid") for value in member.get("invalid", []))
    return out


@pytest.mark.parametrize(("site", "action", "member"), CASES, ids=IDS)
def test_every_member_is_known_with_its_type_and_required_flag(site: str, action: str, member: dict[str, Any]) -> None:
    name = member["name"]
    if member.get("disabled"):
        # both sites' api.json mark it disabled: refused by name, never dropped or sent
        found = probe(site, action, name, [] if member["type"] == "list" else {})
        assert any(p.startswith(f"{name} is deprecated") for p in found), found
        return
    wrong = probe(site, action, name, WRONG_TYPE[member["type"]])
    assert any(p.startswith(f"{name}:") for p in wrong), (name, wrong)
    assert not any("not a field this action accepts" in p for p in wrong), wrong
    if member["required"] or member.get("effectively_required"):
        body = {k: v for k, v in BASES[action].items() if k != name}
        assert f"{name}: is required" in validate(site, action, body)
    else:
        assert name not in BASES[action] and validate(site, action, BASES[action]) == []


@pytest.mark.parametrize(("site", "action", "member"), CASES, ids=IDS)
def test_every_documented_bound_is_accepted_and_the_next_value_refused(site: str, action: str, member: dict[str, Any]) -> None:
    if member.get("disabled"):
        return
    name = member["name"]
    for value in accepted(member):
        assert probe(site, action, name, value) == [], (site, name, value)
    for value, words in refused(member):
        found = probe(site, action, name, value)
        assert any(name in p and words in p for p in found), (site, name, value, words, found)


@pytest.mark.parametrize("site", list(SITES))
def test_every_model_field_is_a_member_of_the_site_or_refused_as_the_other_sites(site: str) -> None:
    for action, model in MODELS.items():
        members = {m["name"] for m in SITES[site]["actions"][action]["members"]}
        for info in model.model_fields.values():
            alias = info.alias
            assert alias is not None
            if alias in members:
                continue
            other = {m["name"] for m in SITES["china" if site == "intl" else "intl"]["actions"][action]["members"]}
            assert alias in other, f"{action}.{alias} is a member of neither site"
            sample = accepted(next(m for m in SITES["china"]["actions"][action]["members"] if m["name"] == alias))[0]
            found = probe(site, action, alias, sample)
            assert any(f"{alias}" in p and "only on the China site" in p for p in found), found


@pytest.mark.parametrize(("site", "action"), [(s, a) for s in SITES for a in MODELS])
def test_regions_are_each_pages_list(site: str, action: str) -> None:
    assert list(regions_for(action, site)) == SITES[site]["actions"][action]["regions"]
