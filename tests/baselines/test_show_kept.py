"""Kept-token pictures: patch statuses from PruneRecords (merged labels resolved recursively),
and the command writing a PNG of the documented size."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from llava.experiments.show_kept import (
    CAPTION,
    LEGEND,
    LEGEND_ENTRY,
    PANEL,
    main,
    patch_statuses,
)
from llava.sparse.base import PruneRecord

K, R, D = "kept", "recycled", "dropped"


def record(layer, visual_in, kept, clusters=()) -> PruneRecord:
    return PruneRecord(layer, visual_in, None, len(kept), True, torch.zeros(visual_in),
                       list(kept), [list(c) for c in clusters])  # fmt: skip


def test_statuses_resolve_merged_labels_recursively():
    # 9 patches (3 x 3). Layer 2: keep 0, 1, 2, 3; merge 4 + 5 into m2.0; drop 6, 7, 8.
    # Layer 6: keep 0 and m2.0; merge 1 + 3 into m6.0; drop 2.
    # Layer 9: keep nothing by score; merge m2.0 + m6.0 into m9.0 (nested twice); drop 0.
    records = [
        record(2, 9, [0, 1, 2, 3], [[4, 5]]),
        record(6, 5, [0, "m2.0"], [[1, 3]]),
        record(9, 3, [], [["m2.0", "m6.0"]]),
    ]
    first, second, third = patch_statuses(records, 9)
    assert first == [K, K, K, K, R, R, D, D, D]
    assert second == [K, R, D, R, R, R, D, D, D]
    assert third == [D, R, D, R, R, R, D, D, D]


@pytest.fixture(scope="module")
def picture_inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("picture")
    image = folder / "photo.png"
    Image.new("RGB", (300, 200), (20, 120, 200)).save(image)  # not square: padded like LLaVA
    return image, folder


@pytest.mark.parametrize(
    ("flags", "panels"),
    [
        (["--sparse", "--sparse-version", "v1.5", "--retained-tokens", "64"], 3),  # 2, 6, 15
        (["--pruning-method", "fastv", "--retained-tokens", "128"], 1),
        (["--pruning-method", "grid", "--pruning-layers", "1,4", "--keep-ratio", "0.25"], 2),
        ([], 1),  # dense: one panel, everything kept
    ],
)
def test_picture_command_writes_a_png(flags, panels, llava32_folder, picture_inputs, capsys):
    image, folder = picture_inputs
    out = folder / f"kept-{len(flags)}-{panels}.png"
    main([
        "--model-path", str(llava32_folder), "--image", str(image), "--question",
        "is there a dog in the image ?", "--device", "cpu", "--dtype", "float32",
        "--output", str(out), *flags,
    ])  # fmt: skip
    with Image.open(out) as png:
        assert png.format == "PNG"
        width = max(PANEL * panels, 3 * LEGEND_ENTRY)
        assert png.size == (width, PANEL + CAPTION + LEGEND) == (width, 406)
        png.load()
        # The dropped patches are dark: the figure is darker than the image wherever pruned.
        if flags:
            assert png.convert("L").getextrema()[0] < 40
    assert f"({width} x 406)" in capsys.readouterr().out


def test_picture_command_errors(llava32_folder, tmp_path):
    with pytest.raises(SystemExit, match="not found"):
        main(["--model-path", str(llava32_folder), "--image", str(tmp_path / "missing.png"),
              "--question", "what ?", "--output", str(tmp_path / "x.png")])  # fmt: skip
