"""The accuracy-vs-tokens picture: a PNG with one panel per benchmark."""

from __future__ import annotations

from PIL import Image

from llava.experiments.budget_plot import PANEL_H, PANEL_W, family, plot


def test_plot_writes_one_panel_per_metric(tmp_path) -> None:
    rows = [{"method": "dense", "equivalent tokens": 576.0, "POPE F1": 90.0, "MME": 600.0}]
    rows += [
        {
            "method": f"{m}-{b}",
            "equivalent tokens": float(b),
            "POPE F1": base + b / 20,
            "MME": 500.0,
        }
        for m, base in (("sparsevlm", 85), ("random", 60))
        for b in (192, 128, 64)
    ]
    path = plot(rows, ["POPE F1", "MME"], tmp_path / "plot.png")
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width == 2 * PANEL_W and image.height > PANEL_H
        # SparseVLM's red line is drawn in the first panel
        assert (200, 40, 40) in {
            image.getpixel((x, y)) for x in range(PANEL_W) for y in range(PANEL_H)
        }


def test_family_of_a_label() -> None:
    assert [family(x) for x in ("sparsevlm-64", "pdrop-192", "dense")] == [
        "sparsevlm",
        "pdrop",
        "dense",
    ]
