"""What each target says about a change, and its editor's checks: pure, no store, keyed by the field
(block id) the mistake belongs to."""

from __future__ import annotations

from bot.targets.layout_changes import Background, LayoutPreset, RegionEdit
from bot.targets.layout_editor import KEEP_REGIONS, region_field
from bot.targets.registry import target_named
from bot.targets.tencent import IngestChange

VOLC = target_named("volcengine")
TENCENT = target_named("tencent")
CANVAS = {"canvas": "1280x720"}


def layout(values: dict[str, str], initial: dict[str, str] | None = None, context: dict[str, str] = CANVAS) -> tuple:
    return VOLC.read_editor("layout", values, initial or {}, context)


def ingest(values: dict[str, str], initial: dict[str, str] | None = None, site: str = "intl") -> tuple:
    return TENCENT.read_editor("ingest", values, initial or {}, {"site": site})


def test_ingest_changes_use_the_providers_defaults_for_fields_never_set() -> None:
    lines = TENCENT.describe({}, {"Volume": 40, "IsPause": True, "StreamUrl": "https://a.b/x.mp4"})
    assert lines == [
        "source set to https://a.b/x.mp4",
        "paused (Tencent destroys an ingest paused for more than 12 hours: resume it before then)",
        "volume 100 (default) → 40",
    ]


def test_ingest_changes_name_each_change_and_skip_what_stays() -> None:
    before = {"Volume": 40, "IsPause": True, "StreamUrl": "https://a.b/x.mp4"}
    after = {"Volume": 40, "IsPause": False, "StreamUrl": "https://a.b/y.mp4", "Tempo": 1.5}
    assert TENCENT.describe(before, after) == ["source https://a.b/x.mp4 → https://a.b/y.mp4", "resumed", "tempo 1.0× → 1.5×"]
    assert TENCENT.describe(before, before) == []
    assert TENCENT.describe({}, {"IsPause": False, "Volume": 100}) == []


def test_volcengine_changes_come_from_the_layout_diff() -> None:
    assert VOLC.describe({"Encode": {"VideoBitrate": 2000}}, {"Encode": {"VideoBitrate": 3000}}) == ["bitrate 2000 → 3000 Kbps"]


def test_the_layout_editor_offers_every_preset_with_its_options() -> None:
    from bot.targets.base import Field, TaskRef

    task = TaskRef("finals", "volcengine", {"AppId": "a", "RoomId": "r", "TaskId": "t"}, {"Canvas": [1280, 720]})
    config = {
        "TargetStreams": {"StreamList": [{"UserId": "alice", "Index": 0}, {"UserId": "bob", "Index": 1, "StreamType": 1}]},
        "Layout": {"CustomLayout": {"Canvas": {"Background": "#112233"}, "Regions": [
            {"StreamIndex": 0, "WidthProportion": 0.5, "HeightProportion": 1.0},
            {"StreamIndex": 1, "LocationX": 0.5, "WidthProportion": 0.5, "HeightProportion": 1.0, "ZOrder": 1},
        ]}},
    }  # fmt: skip
    from bot.targets.base import ProviderState

    editor = VOLC.editor("layout", task, ProviderState("running", True, config))
    fields = {i.id: i for i in editor.items if isinstance(i, Field)}
    preset = fields["preset"]
    assert {"pip", "grid", "side-by-side"} <= {c.value for c in preset.choices} and preset.initial == KEEP_REGIONS
    assert fields["streams"].initial == "alice\nbob:screen" and fields["background"].initial == "#112233"
    assert fields[region_field(1, 1)].initial == "0.5 0 0.5 1 1"
    assert editor.context == {"canvas": "1280x720"} and editor.problems == ()


def test_a_duplicate_stream_index_in_force_still_gives_an_editor_with_unique_fields_and_the_problem_said() -> None:
    from bot.targets.base import Field, ProviderState, TaskRef

    task = TaskRef("finals", "volcengine", {}, {"Canvas": [1280, 720]})
    region = {"StreamIndex": 0, "WidthProportion": 0.5, "HeightProportion": 1.0}
    config = {
        "TargetStreams": {"StreamList": [{"UserId": "a", "Index": 0}]},
        "Layout": {"CustomLayout": {"Regions": [region, region]}},
    }
    editor = VOLC.editor("layout", task, ProviderState("running", True, config))
    ids = [i.id for i in editor.items if isinstance(i, Field)]
    assert len(ids) == len(set(ids)) and region_field(0, 0) in ids and region_field(1, 0) in ids
    assert any("2 regions show StreamIndex 0" in p for p in editor.problems)


def test_a_valid_preset_form_becomes_a_preset_change() -> None:
    change, errors = layout({"preset": "pip", "streams": "alice\nbob:screen", "options": "", "background": "#303342"})
    assert errors == {}
    assert change == LayoutPreset("pip", ("alice", "bob:screen"), {"background": "#303342"})


def test_preset_form_mistakes_are_keyed_by_field() -> None:
    assert "#RRGGBB" in layout({"preset": "pip", "streams": "a,b", "background": "black"})[1]["background"]
    assert "2 to 4 streams" in layout({"preset": "pip", "streams": "a,b,c,d,e"})[1]["streams"]
    assert "name=value" in layout({"preset": "pip", "streams": "a,b", "options": "corner"})[1]["options"]
    assert "lost the canvas" in layout({"preset": "pip", "streams": "a,b"}, context={})[1]["preset"]
    # an unchanged background is not checked again (the provider reported it), only passed on
    change, errors = layout({"preset": "grid", "streams": "a,b", "background": "#000000"}, {"background": "#000000"})
    assert errors == {} and isinstance(change, LayoutPreset)


def test_region_edits_go_through_the_provider_model_one_at_a_time() -> None:
    shown = {region_field(0, 0): "0 0 0.5 1 0", region_field(1, 1): "0.5 0 0.5 1 1"}
    change, errors = layout({"preset": KEEP_REGIONS, **shown, region_field(1, 1): "0.7 0.7 0.25 0.25 2"}, shown)
    assert errors == {}
    fields = {"LocationX": 0.7, "LocationY": 0.7, "WidthProportion": 0.25, "HeightProportion": 0.25, "ZOrder": 2}
    assert change == RegionEdit(1, fields, 1)
    too_wide = layout({"preset": KEEP_REGIONS, **shown, region_field(1, 1): "0.9 0 0.5 1 1"}, shown)[1]
    assert "LocationX + WidthProportion must be at most 1" in too_wide[region_field(1, 1)]
    both = {region_field(0, 0): "0 0 0.4 1", region_field(1, 1): "0.5 0 0.4 1"}
    assert "one region per proposal" in layout({"preset": KEEP_REGIONS, **both}, shown)[1][region_field(1, 1)]
    assert (
        "x y width height" in layout({"preset": KEEP_REGIONS, **shown, region_field(0, 0): "left"}, shown)[1][region_field(0, 0)]
    )
    assert "nothing changed" in layout({"preset": KEEP_REGIONS, **shown}, shown)[1]["preset"]
    background, errors = layout({"preset": KEEP_REGIONS, "background": "#101010"}, {"background": "#000000"})
    assert errors == {} and background == Background("#101010")
    moved = {"preset": KEEP_REGIONS, region_field(0, 0): "0 0 0.5 1 3", "background": "#101010"}
    assert "on its own" in layout(moved, {**shown, "background": "#000000"})[1]["background"]


def test_ingest_form_uses_the_sites_volume_range() -> None:
    assert "[0, 100] on the intl site" in ingest({"volume": "150"})[1]["volume"]
    change, errors = ingest({"volume": "150"}, site="china")
    assert errors == {} and change == IngestChange(volume=150)
    assert "whole number" in ingest({"volume": "loud"})[1]["volume"]
    assert "URL" in ingest({"url": "ftp://x/y.mp4"})[1]["url"]
    assert "cannot be removed" in ingest({"url": ""}, {"url": "https://a.b/c.mp4"})[1]["url"]
    assert "nothing changed" in ingest({"url": "https://a.b/c.mp4"}, {"url": "https://a.b/c.mp4"})[1]["url"]
    paused, errors = ingest({"state": "paused"}, {"state": "running"})
    assert errors == {} and paused == IngestChange(pause=True)


def test_each_target_classifies_what_a_change_touches_from_the_configurations() -> None:
    assert [t.value for t in VOLC.touched({"Encode": {"VideoFps": 15}}, {"Encode": {"VideoFps": 30}})] == ["encode"]
    assert [t.value for t in TENCENT.touched({"Volume": 80}, {"Volume": 40, "IsPause": True})] == ["pause", "volume"]
    # an ingest whose pause state was never known: resuming it is a change to send, not "nothing"
    assert [t.value for t in TENCENT.touched({}, {"IsPause": False})] == ["pause"]
