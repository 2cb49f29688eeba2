"""Accuracy vs. equivalent visual tokens: one panel per benchmark, one line per method (and per
scoring-layer variant: same colour, dashed).

Drawn with PIL (no plotting dependency). Used by the demo (`llava.experiments.demo`), and alone:
    python -m llava.experiments.budget_plot playground/results/demo/results.json out.png
Points of different methods at the same budget are drawn side by side (a few pixels apart) so
that none hides another; the x axis keeps the true token counts in its labels.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from llava.experiments.demo_report import Result, Row, rows_of

PANEL_W, PANEL_H, MARGIN = 380, 320, 52
PALETTE = [
    (200, 40, 40), (40, 90, 200), (40, 150, 70), (150, 60, 170), (230, 130, 20),
    (20, 160, 170), (170, 110, 30), (120, 120, 120), (220, 80, 160), (90, 90, 30),
]  # fmt: skip
DENSE_COLOUR = (0, 0, 0)


def split_label(label: str) -> tuple[str, str]:
    """ "fastv-64-k3" -> ("fastv", "k3"); "pdrop-after-192" -> ("pdrop-after", "");
    "dense" -> ("dense", "")."""
    parts = label.split("-")
    budget = next((i for i, part in enumerate(parts) if part.isdigit()), len(parts))
    return "-".join(parts[:budget]), "-".join(parts[budget + 1 :])


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About `count` round values spanning [lo, hi]."""
    span = max(hi - lo, 1e-9)
    raw = span / (count - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def _dashed(draw, points, colour) -> None:
    for (xa, ya), (xb, yb) in zip(points, points[1:], strict=False):
        length = max(math.hypot(xb - xa, yb - ya), 1)
        for start in range(0, int(length), 8):
            t0, t1 = start / length, min((start + 4) / length, 1)
            draw.line((xa + (xb - xa) * t0, ya + (yb - ya) * t0,
                       xa + (xb - xa) * t1, ya + (yb - ya) * t1), fill=colour, width=2)  # fmt: skip


def _panel(draw, left: int, rows: list[Row], metric: str, colours: dict, font) -> None:
    x0, y0 = left + MARGIN, MARGIN - 16
    x1, y1 = left + PANEL_W - 14, PANEL_H - MARGIN
    scored = [r for r in rows if r.mean(metric) is not None]
    draw.text((x0, 6), metric, fill=(0, 0, 0), font=font)
    draw.rectangle((x0, y0, x1, y1), outline=(0, 0, 0))
    if not scored:
        draw.text((x0 + 8, y0 + 8), "scored by a judge", fill=(0, 0, 0), font=font)
        return
    values = [r.mean(metric) for r in scored]
    ticks = nice_ticks(min(values), max(values))
    lo, hi = min(ticks[0], min(values)), max(ticks[-1], max(values))
    pad = (hi - lo) * 0.06 or 1.0
    lo, hi = lo - pad, hi + pad
    x_max = max(r.equivalent_tokens for r in scored) * 1.04
    families = sorted({split_label(r.label)[0] for r in scored})

    def at(row: Row) -> tuple[float, float]:
        offset = 3 * (families.index(split_label(row.label)[0]) - (len(families) - 1) / 2)
        x = x0 + (x1 - x0) * row.equivalent_tokens / x_max + offset
        return x, y1 - (y1 - y0) * (row.mean(metric) - lo) / (hi - lo)

    for tick in ticks:
        y = y1 - (y1 - y0) * (tick - lo) / (hi - lo)
        draw.line((x0, y, x1, y), fill=(225, 225, 225))
        draw.text((left + 4, y - 7), f"{tick:g}", fill=(0, 0, 0), font=font)
    for tick in (64, 128, 192, 576):
        if tick <= x_max:
            x = x0 + (x1 - x0) * tick / x_max
            draw.line((x, y1, x, y1 + 4), fill=(0, 0, 0))
            draw.text((x - 9, y1 + 6), str(tick), fill=(0, 0, 0), font=font)
    draw.text((x0, y1 + 24), "equivalent visual tokens", fill=(0, 0, 0), font=font)
    lines: dict[tuple[str, str], list[Row]] = {}
    for row in scored:
        lines.setdefault(split_label(row.label), []).append(row)
    for (name, variant), members in lines.items():
        if name == "dense":
            _, y = at(members[0])
            _dashed(draw, [(x0, y), (x1, y)], DENSE_COLOUR)
            continue
        points = sorted(at(row) for row in members)
        if len(points) > 1:
            if variant:
                _dashed(draw, points, colours[name])
            else:
                draw.line(points, fill=colours[name], width=2)
        for x, y in points:
            box = (x - 3, y - 3, x + 3, y + 3)
            if variant:
                draw.rectangle(box, outline=colours[name])
            else:
                draw.ellipse(box, fill=colours[name])


def plot(rows: list[Row], metrics: list[str], output: Path) -> Path:
    font = ImageFont.load_default(size=12)
    names = sorted({split_label(r.label)[0] for r in rows} - {"dense"})
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}
    per_line = max(1, (PANEL_W * len(metrics) - MARGIN) // 130)
    legend_h = 22 * (1 + (len(names) + 1) // per_line) + 22
    image = Image.new("RGB", (PANEL_W * len(metrics), PANEL_H + legend_h), "white")
    draw = ImageDraw.Draw(image)
    for i, metric in enumerate(metrics):
        _panel(draw, i * PANEL_W, rows, metric, colours, font)
    entries = [("dense (dashed)", DENSE_COLOUR)] * any(r.label == "dense" for r in rows)
    entries += [(name, colours[name]) for name in names]
    for i, (name, colour) in enumerate(entries):
        x = MARGIN + 130 * (i % per_line)
        y = PANEL_H + 6 + 22 * (i // per_line)
        draw.rectangle((x, y + 1, x + 12, y + 13), fill=colour)
        draw.text((x + 16, y), name, fill=(0, 0, 0), font=font)
    note_y = PANEL_H + 6 + 22 * ((len(entries) - 1) // per_line + 1)
    draw.text((MARGIN, note_y), "dots: published layers; squares and dashed lines: other "
              "scoring layers", fill=(0, 0, 0), font=font)  # fmt: skip
    output.parent.mkdir(parents=True, exist_ok=True)
    image.save(output)
    return output


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", type=Path, help="the demo's results.json")
    parser.add_argument("output", type=Path)
    args = parser.parse_args(argv)
    data = json.loads(args.results.read_text())
    results = [Result(**result) for result in data["results"]]
    labels = list(dict.fromkeys(result.label for result in results))
    print(plot(rows_of(results, labels, data["metrics"]), data["metrics"], args.output))


if __name__ == "__main__":
    main()
