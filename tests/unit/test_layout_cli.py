"""`rtcops layout preview` writes the PNG, and says what is wrong, with exit status 2, when it cannot."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from PIL import Image

from bot.cli import main
from bot.layouts.preview import preview_size


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["layout", "preview", *args])
    return result.exit_code, result.stdout, result.stderr


def test_preset_preview_writes_png(tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    code, stdout, _ = _run("--preset", "grid", "--streams", "alice,bob,carol,dave", "--canvas", "1280x720", "-o", str(out))
    assert code == 0 and f"wrote {out}" in stdout
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size == preview_size((1280, 720))


def test_pair_with_options_prints_the_diff(tmp_path: Path) -> None:
    out = tmp_path / "pair.png"
    code, stdout, _ = _run(
        "--before-preset", "side-by-side", "--preset", "pip", "--option", "corner=bl", "--background", "#303342",
        "--streams", "host,guest", "--canvas", "1280x720", "-o", str(out),
    )
    assert code == 0
    assert "guest moved from the right half to the bottom-left inset" in stdout
    with Image.open(out) as image:
        assert image.width > 2 * preview_size((1280, 720))[0]


def test_body_file_preview_and_show_config(tmp_path: Path) -> None:
    body = {
        "AppId": "app", "RoomId": "room", "TaskId": "task",
        "TargetStreams": {"StreamList": [{"UserId": "alice", "Index": 0}, {"UserId": "deck", "Index": 1, "StreamType": 1}]},
        "Layout": {"LayoutMode": 2, "CustomLayout": {"Canvas": {"Width": 720, "Height": 1280}, "Regions": [
            {"StreamIndex": 1, "WidthProportion": 1, "HeightProportion": 0.5},
            {"StreamIndex": 0, "LocationY": 0.5, "WidthProportion": 1, "HeightProportion": 0.5},
        ]}},
        "Encode": {"VideoBitrate": 3000},
    }
    source = tmp_path / "body.json"
    source.write_text(json.dumps(body))
    out = tmp_path / "body.png"
    code, stdout, _ = _run("--body-file", str(source), "--show-config", "-o", str(out))
    assert code == 0
    assert json.loads(stdout[: stdout.rindex("}") + 1]) == {k: body[k] for k in ("TargetStreams", "Layout", "Encode")}
    with Image.open(out) as image:
        assert image.size == preview_size((720, 1280))


def test_invalid_body_gives_field_paths_and_exit_2(tmp_path: Path) -> None:
    body = {
        "AppId": "app", "RoomId": "room", "TaskId": "task",
        "TargetStreams": {"StreamList": [{"UserId": "alice", "Index": 0}]},
        "Layout": {"LayoutMode": 2, "CustomLayout": {"Regions": [
            {"StreamIndex": 0, "WidthProportion": 1.5, "HeightProportion": 1, "Alfa": 1},
        ]}},
    }
    source = tmp_path / "bad.json"
    source.write_text(json.dumps(body))
    code, stdout, stderr = _run("--body-file", str(source), "-o", str(tmp_path / "x.png"))
    assert code == 2 and not (tmp_path / "x.png").exists()
    assert "Layout.CustomLayout.Regions[0].WidthProportion: must be in (0, 1], got 1.5" in stderr
    assert "Layout.CustomLayout.Regions[0].Alfa: is not a field this action accepts" in stderr
    assert "Traceback" not in stdout + stderr


def test_mistakes_exit_2_with_a_usable_message(tmp_path: Path) -> None:
    out = str(tmp_path / "x.png")
    bad_json = tmp_path / "broken.json"
    bad_json.write_text("{")
    cases = [
        (["--preset", "mosaic", "--streams", "a,b"], "unknown preset 'mosaic'; choose one of: side-by-side, pip"),
        (["--preset", "pip", "--streams", "a,b", "--option", "corner=middle"], "corner: must be one of tl, tr, bl, br"),
        (["--preset", "pip", "--streams", "a,b", "--option", "corner"], "--option must be NAME=VALUE"),
        (["--preset", "grid", "--streams", "a", "--canvas", "wide"], "--canvas must be WIDTHxHEIGHT"),
        (["--preset", "grid", "--streams", "a", "--canvas", "4000x720"], "even number in [2, 1920]"),
        (["--preset", "grid"], "needs --streams"),
        (["--preset", "grid", "--streams", "a:webcam"], "camera or screen"),
        (["--body-file", str(bad_json)], "is not JSON: line 1 column 2"),
        (["--body-file", str(tmp_path / "missing.json")], "cannot read"),
        ([], "give --preset NAME --streams LIST, or --body-file F.json"),
        (["--preset", "grid", "--streams", "a", "--body-file", str(bad_json)], "not both"),
    ]
    for args, words in cases:
        code, stdout, stderr = _run(*args, "-o", out)
        assert code == 2, args
        assert words in stderr, (args, stderr)
        assert "Traceback" not in stdout + stderr


def test_a_bare_layout_section_needs_no_task_ids(tmp_path: Path) -> None:
    """Issue 11: drawing needs no AppId, RoomId or TaskId, so the Layout and TargetStreams pasted from the API
    page draw as they are; they are still checked as a full-replace Update's configuration."""
    streams = {"StreamList": [{"UserId": "alice", "Index": 0}, {"UserId": "bob", "Index": 1}]}
    layout = {"LayoutMode": 2, "CustomLayout": {"Canvas": {"Width": 860, "Height": 340}, "Regions": [
        {"StreamIndex": 0, "WidthProportion": 0.5, "HeightProportion": 1},
        {"StreamIndex": 1, "LocationX": 0.5, "WidthProportion": 0.5, "HeightProportion": 1},
    ]}}  # fmt: skip
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({"Layout": layout, "TargetStreams": streams}))
    out = tmp_path / "bare.png"
    code, stdout, stderr = _run("--body-file", str(bare), "-o", str(out))
    assert (code, stderr) == (0, "") and f"wrote {out}" in stdout
    with Image.open(out) as image:
        assert image.size == preview_size((860, 340))

    streams["StreamList"].append({"UserId": "carol", "Index": 2})
    bare.write_text(json.dumps({"Layout": layout, "TargetStreams": streams}))
    code, _, stderr = _run("--body-file", str(bare), "-o", str(tmp_path / "no.png"))
    assert code == 2 and "TargetStreams.StreamList[2] (UserId carol) has no region" in stderr
    assert "AppId" not in stderr and not (tmp_path / "no.png").exists()

    named = tmp_path / "named.json"
    named.write_text(json.dumps({"AppId": "app", "Layout": layout, "TargetStreams": {"StreamList": streams["StreamList"][:2]}}))
    code, _, stderr = _run("--body-file", str(named), "-o", str(tmp_path / "named.png"))
    assert code == 2 and "RoomId: is required" in stderr, "a file that names a task is a whole body"
