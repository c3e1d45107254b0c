"""The report's chart: a campaign's delivery funnel as a PNG, drawn with Pillow."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

WIDTH, ROW, TOP, LEFT, RIGHT = 720, 34, 56, 150, 90
COLORS = {"funnel": (46, 134, 222), "loss": (214, 69, 65), "skip": (150, 150, 150)}


def funnel_png(title: str, bars: list[tuple[str, int, str]]) -> bytes:
    """A horizontal bar per (label, count, kind), kind one of `COLORS`; bars scaled to the largest count."""
    height = TOP + ROW * len(bars) + 20
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image)
    font, bold = ImageFont.load_default(size=14), ImageFont.load_default(size=17)
    draw.text((16, 16), title, fill="black", font=bold)
    largest = max([count for _, count, _ in bars] + [1])
    span = WIDTH - LEFT - RIGHT
    for index, (label, count, kind) in enumerate(bars):
        y = TOP + index * ROW
        draw.text((16, y + 6), label, fill="black", font=font)
        length = round(span * count / largest)
        if length:
            draw.rectangle((LEFT, y + 4, LEFT + length, y + ROW - 6), fill=COLORS[kind])
        draw.text((LEFT + length + 8, y + 6), f"{count:,}", fill="black", font=font)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
