"""Median time to render a 17-region before/after preview pair, against the 50 ms budget and Pillow's floor.

The floor is Pillow's own Image.new + PNG save of a picture the same size: the part of the cost that
drawing regions and labels cannot go below. Run: .venv/bin/python bench/layout_preview.py [runs]
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from collections.abc import Callable

from PIL import Image

from bot.layouts.presets import StreamRef, build_preset
from bot.layouts.preview import preview_pair

BUDGET_MS = 50.0
CANVAS = (1920, 1080)


def _median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    streams = [StreamRef(f"participant{i:02d}") for i in range(16)] + [StreamRef("slides", 1)]
    before = build_preset("grid", CANVAS, streams, background="#303342").config_patch()
    after = build_preset("speaker", CANVAS, streams, strip="right", strip_size=0.2).config_patch()
    assert len(before["Layout"]["CustomLayout"]["Regions"]) == len(after["Layout"]["CustomLayout"]["Regions"]) == 17
    data = preview_pair(before, after)
    size = Image.open(io.BytesIO(data)).size

    def bare() -> bytes:
        out = io.BytesIO()
        Image.new("RGB", size, (0, 0, 0)).save(out, format="PNG", compress_level=1)
        return out.getvalue()

    pair_ms = _median_ms(lambda: preview_pair(before, after), runs)
    bare_ms = _median_ms(bare, runs)
    print(f"17-region preview pair, {CANVAS[0]}x{CANVAS[1]} canvas drawn at {size[0]}x{size[1]}, {runs} runs")
    print(f"  preview_pair median:            {pair_ms:7.2f} ms")
    print(f"  budget:                          {BUDGET_MS:7.2f} ms   ratio {pair_ms / BUDGET_MS:.2f} of budget")
    print(f"  Pillow Image.new+save same size: {bare_ms:7.2f} ms   ratio {pair_ms / bare_ms:.1f}x")


if __name__ == "__main__":
    main()
