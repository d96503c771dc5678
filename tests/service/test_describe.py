"""Change descriptions read as an operator would say them, for both providers."""

from __future__ import annotations

from bot.services.describe import describe_changes


def test_ingest_changes_use_the_providers_defaults_for_fields_never_set() -> None:
    lines = describe_changes("tencent", {}, {"Volume": 40, "IsPause": True, "StreamUrl": "https://a.b/x.mp4"})
    assert lines == ["source set to https://a.b/x.mp4", "paused", "volume 100 (default) → 40"]


def test_ingest_changes_name_each_change_and_skip_what_stays() -> None:
    before = {"Volume": 40, "IsPause": True, "StreamUrl": "https://a.b/x.mp4"}
    after = {"Volume": 40, "IsPause": False, "StreamUrl": "https://a.b/y.mp4", "Tempo": 1.5}
    assert describe_changes("tencent", before, after) == [
        "source https://a.b/x.mp4 → https://a.b/y.mp4",
        "resumed",
        "tempo 1.0× → 1.5×",
    ]
    assert describe_changes("tencent", before, before) == []
    assert describe_changes("tencent", {}, {"IsPause": False, "Volume": 100}) == []


def test_volcengine_changes_come_from_the_layout_diff() -> None:
    before = {"Encode": {"VideoBitrate": 2000}}
    after = {"Encode": {"VideoBitrate": 3000}}
    assert describe_changes("volcengine", before, after) == ["bitrate 2000 → 3000 Kbps"]
