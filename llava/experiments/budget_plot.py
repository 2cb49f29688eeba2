"""Accuracy vs. equivalent visual tokens: one panel per benchmark, one line per method.

Drawn with PIL (no plotting dependency). Used by the demo (`llava.experiments.demo`), and alone:
    python -m llava.experiments.budget_plot playground/results/demo/results.json out.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

PANEL_W, PANEL_H, MARGIN = 360, 300, 48
COLOURS = {
    "sparsevlm": (200, 40, 40),
    "fastv": (40, 90, 200),
    "pdrop": (40, 150, 70),
    "random": (120, 120, 120),
    "grid": (170, 110, 30),
}
DENSE_COLOUR = (0, 0, 0)


def family(label: str) -> str:
    """ "sparsevlm-64" -> "sparsevlm"; "dense" -> "dense"."""
    return label.rsplit("-", 1)[0] if label[-1].isdigit() else label


def _panel(draw: ImageDraw.ImageDraw, left: int, rows: list[dict], metric: str, font) -> None:
    x0, y0 = left + MARGIN, MARGIN
    x1, y1 = left + PANEL_W - 12, PANEL_H - MARGIN
    points = [(r["equivalent tokens"], r[metric]) for r in rows]
    x_max = max(x for x, _ in points) * 1.05
    lo, hi = min(y for _, y in points), max(y for _, y in points)
    pad = max(hi - lo, 1.0) * 0.1
    lo, hi = lo - pad, hi + pad

    def at(x: float, y: float) -> tuple[float, float]:
        return x0 + (x1 - x0) * x / x_max, y1 - (y1 - y0) * (y - lo) / (hi - lo)

    draw.rectangle((x0, y0, x1, y1), outline=(0, 0, 0))
    draw.text((x0, 8), metric, fill=(0, 0, 0), font=font)
    draw.text((x0, y1 + 24), "equivalent visual tokens", fill=(0, 0, 0), font=font)
    for tick in (64, 128, 192, 576):
        if tick <= x_max:
            x, _ = at(tick, lo)
            draw.line((x, y1, x, y1 + 4), fill=(0, 0, 0))
            draw.text((x - 8, y1 + 6), str(tick), fill=(0, 0, 0), font=font)
    for value in (lo + pad, hi - pad):
        _, y = at(0, value)
        draw.text((left + 4, y - 6), f"{value:.1f}", fill=(0, 0, 0), font=font)
    for row in rows:
        if family(row["method"]) == "dense":
            _, y = at(0, row[metric])
            for x in range(int(x0), int(x1), 8):  # dashed line: dense
                draw.line((x, y, x + 4, y), fill=DENSE_COLOUR)
    for name, colour in COLOURS.items():
        line = sorted(at(r["equivalent tokens"], r[metric])
                      for r in rows if family(r["method"]) == name)  # fmt: skip
        if len(line) > 1:
            draw.line(line, fill=colour, width=2)
        for x, y in line:
            draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=colour)


def plot(rows: list[dict], metrics: list[str], output: Path) -> Path:
    font = ImageFont.load_default(size=12)
    legend_h = 24
    image = Image.new("RGB", (PANEL_W * len(metrics), PANEL_H + legend_h), "white")
    draw = ImageDraw.Draw(image)
    for i, metric in enumerate(metrics):
        _panel(draw, i * PANEL_W, rows, metric, font)
    x = MARGIN
    present = {family(r["method"]) for r in rows}
    for name, colour in [("dense", DENSE_COLOUR), *COLOURS.items()]:
        if name in present:
            draw.rectangle((x, PANEL_H + 6, x + 12, PANEL_H + 18), fill=colour)
            draw.text((x + 16, PANEL_H + 5), name, fill=(0, 0, 0), font=font)
            x += 110
    output.parent.mkdir(parents=True, exist_ok=True)
    image.save(output)
    return output


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", type=Path, help="the demo's results.json")
    parser.add_argument("output", type=Path)
    args = parser.parse_args(argv)
    data = json.loads(args.results.read_text())
    print(plot(data["rows"], data["metrics"], args.output))


if __name__ == "__main__":
    main()
