"""Fill colours for preview regions.

Seventeen regions must stay tellable apart at a glance, against a black or dark-blue canvas, and the same
person must keep one colour in the "now" and "proposed" halves of a pair so that the eye can follow them.
"""

from __future__ import annotations

RGB = tuple[int, int, int]

FILLS: tuple[RGB, ...] = (
    (230, 97, 79),
    (72, 160, 220),
    (242, 191, 64),
    (96, 186, 120),
    (170, 120, 214),
    (240, 140, 190),
    (64, 196, 190),
    (246, 146, 60),
    (150, 176, 70),
    (122, 138, 240),
    (206, 92, 140),
    (118, 210, 238),
    (196, 160, 110),
    (90, 140, 110),
    (236, 226, 120),
    (160, 110, 90),
    (180, 196, 214),
    (110, 90, 170),
    (250, 180, 150),
    (60, 120, 170),
)

BACKDROP: RGB = (244, 245, 247)
INK: RGB = (34, 38, 46)
EMPTY_CANVAS: RGB = (208, 211, 217)
CHECKER: tuple[RGB, RGB] = ((120, 124, 132), (160, 164, 172))


def fill(index: int) -> RGB:
    return FILLS[index % len(FILLS)]


def text_on(colour: RGB) -> RGB:
    """Black or white, whichever reads better on `colour` (relative luminance, sRGB weights)."""
    r, g, b = colour
    return (20, 20, 24) if 0.2126 * r + 0.7152 * g + 0.0722 * b > 140 else (255, 255, 255)


def darker(colour: RGB, factor: float = 0.6) -> RGB:
    r, g, b = colour
    return (int(r * factor), int(g * factor), int(b * factor))


def parse_hex(value: object, default: RGB = (0, 0, 0)) -> RGB:
    if isinstance(value, str) and len(value) == 7 and value.startswith("#"):
        try:
            return (int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16))
        except ValueError:
            return default
    return default
