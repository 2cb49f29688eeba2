"""The accuracy-vs-tokens picture: a PNG with one panel per benchmark and a legend."""

from __future__ import annotations

from PIL import Image

from llava.experiments.budget_plot import PANEL_H, PANEL_W, nice_ticks, plot, split_label
from llava.experiments.demo_report import Row


def row(label: str, tokens: float, pope: float, mme: float | None) -> Row:
    result = Row(label, {"POPE F1": [pope], "MME": [mme]})
    result.equivalent_tokens = tokens
    return result


def test_plot_writes_one_panel_per_metric(tmp_path) -> None:
    rows = [row("dense", 576.0, 90.0, 600.0)]
    rows += [
        row(f"{m}-{b}{v}", float(b), base + b / 20, 500.0)
        for m, base in (("sparsevlm", 85), ("random", 60))
        for b in (192, 128, 64)
        for v in ("", "-shifted")
    ]
    path = plot(rows, ["POPE F1", "MME"], tmp_path / "plot.png")
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width == 2 * PANEL_W and image.height > PANEL_H
        colours = {image.getpixel((x, y)) for x in range(PANEL_W) for y in range(PANEL_H)}
        assert (40, 90, 200) in colours and (200, 40, 40) in colours  # two methods' lines


def test_a_judged_benchmark_gets_a_note_not_a_crash(tmp_path) -> None:
    rows = [row("dense", 576.0, 90.0, None), row("fastv-64", 64.0, 80.0, None)]
    with Image.open(plot(rows, ["POPE F1", "MME"], tmp_path / "plot.png")) as image:
        assert image.width == 2 * PANEL_W


def test_labels_and_ticks() -> None:
    assert split_label("fastv-64-k3") == ("fastv", "k3")
    assert split_label("pdrop-after-192") == ("pdrop-after", "")
    assert split_label("dense") == ("dense", "")
    assert nice_ticks(61.3, 92.8) == [70, 80, 90]
    assert nice_ticks(0, 100) == [0, 25, 50, 75, 100]
