"""The editors' form checks: pure, no store, and keyed by the field (block id) the mistake belongs to."""

from __future__ import annotations

from bot.services import forms

CANVAS = (1280, 720)


def test_preset_catalogue_lists_every_preset_with_its_options() -> None:
    catalogue = {p.name: p for p in forms.preset_catalogue()}
    assert {"pip", "grid", "side-by-side"} <= set(catalogue)
    assert all(p.summary for p in catalogue.values())
    assert "background" in catalogue["pip"].options


def test_a_valid_preset_form_becomes_a_proposal() -> None:
    form, errors = forms.validate_layout_form("pip", "alice\nbob:screen", "", "#303342", CANVAS)
    assert errors == {}
    assert form.preset == "pip" and form.streams == ["alice", "bob:screen"] and form.options == {"background": "#303342"}


def test_preset_form_mistakes_are_keyed_by_field() -> None:
    assert "#RRGGBB" in forms.validate_layout_form("pip", "a,b", "", "black", CANVAS)[1]["background"]
    assert "2 to 4 streams" in forms.validate_layout_form("pip", "a,b,c,d,e", "", None, CANVAS)[1]["streams"]
    assert "name=value" in forms.validate_layout_form("pip", "a,b", "corner", None, CANVAS)[1]["options"]
    assert "lost the canvas" in forms.validate_layout_form("pip", "a,b", "", None, None)[1]["preset"]
    # an unchanged background is not checked again (the provider reported it), only passed on
    _, errors = forms.validate_layout_form("grid", "a,b", "", "#000000", CANVAS, background_changed=False)
    assert errors == {}


def test_region_edits_go_through_the_provider_model_one_at_a_time() -> None:
    form, errors = forms.validate_region_edit([(1, "0.7 0.7 0.25 0.25 2")], None)
    assert errors == {} and form.region == (1, {"LocationX": 0.7, "LocationY": 0.7, "WidthProportion": 0.25,
                                                "HeightProportion": 0.25, "ZOrder": 2})  # fmt: skip
    too_wide = forms.validate_region_edit([(1, "0.9 0 0.5 1 1")], None)[1]
    assert "LocationX + WidthProportion must be at most 1" in too_wide["region_1"]
    two = forms.validate_region_edit([(0, "0 0 0.5 1"), (1, "0.5 0 0.5 1")], None)[1]
    assert "one region per proposal" in two["region_1"]
    assert "x y width height" in forms.validate_region_edit([(0, "left")], None)[1]["region_0"]
    assert "nothing changed" in forms.validate_region_edit([], None)[1]["preset"]
    background_only, errors = forms.validate_region_edit([], "#101010")
    assert errors == {} and background_only.background == "#101010"
    assert "on its own" in forms.validate_region_edit([(0, "0 0 0.5 1")], "#101010")[1]["background"]


def test_ingest_form_uses_the_sites_volume_range() -> None:
    assert "[0, 100] on the intl site" in forms.validate_ingest_form(None, "150", None, "intl")[1]["volume"]
    form, errors = forms.validate_ingest_form(None, "150", None, "china")
    assert errors == {} and form.volume == 150
    assert "whole number" in forms.validate_ingest_form(None, "loud", None, "intl")[1]["volume"]
    assert "URL" in forms.validate_ingest_form("ftp://x/y.mp4", None, None, "intl")[1]["url"]
    assert "cannot be removed" in forms.validate_ingest_form("", None, None, "intl")[1]["url"]
    assert "nothing changed" in forms.validate_ingest_form(None, None, None, "intl")[1]["url"]
    paused, errors = forms.validate_ingest_form(None, None, True, "intl")
    assert errors == {} and paused.pause is True
