"""Budgets where each image has its own visual token count (LLaVA-NeXT, Qwen-VL): token counts
are fractions of LLaVA-1.5's 576 of each image's tokens, solved per image; grid pruning on an
image's layout; VisionZip's LLaVA-NeXT ordering by hand and its refusal of Qwen-VL."""

from __future__ import annotations

import argparse

import pytest
import torch
from sparse_helpers import hand_state

from llava.eval.pruning_args import add_pruning_args
from llava.sparse.base import PruneRecord, VisionExtras
from llava.sparse.budget import equivalent_tokens, keep_ratio_counts
from llava.sparse.grid import grid_targets, layout_choice
from llava.sparse.registry import ModelShape, PerSampleBudgets, build_pruner, get_method
from llava.sparse.sparsevlm_budgets import sparsevlm_counts
from llava.sparse.visionzip import CropZip, VisionZipConfig
from llava.sparse.visionzip_anyres import anyres_origin, anyres_step


def parse(*flags: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_pruning_args(parser)
    return parser.parse_args(list(flags))


def per_image(method: str, *flags: str, family: str = "llava-next") -> PerSampleBudgets:
    pruner = build_pruner(get_method(method), parse("--pruning-method", method, *flags), 32, None,
                          family)  # fmt: skip
    assert isinstance(pruner, PerSampleBudgets)
    return pruner


def test_a_count_is_a_fraction_of_576_where_counts_vary() -> None:
    assert ModelShape(32, 576).tokens(64) == 64  # LLaVA-1.5: a count
    assert ModelShape(32, 16).tokens(8) == 8
    assert ModelShape(32, 2880, 576).tokens(64) == 320  # LLaVA-NeXT's 5 full crops: 320
    assert ModelShape(32, 1000, 576).tokens(144) == 250


@pytest.mark.parametrize("visual", [288, 1152, 2928])
def test_fastv_keeps_the_same_fraction_of_every_image(visual) -> None:
    pruner = per_image("fastv", "--retained-tokens", "64")
    built = pruner._build(visual)
    counts = keep_ratio_counts(built.config.ratio, (1,), 32, visual)
    assert abs(equivalent_tokens(counts) - 64 * visual / 576) <= 1


@pytest.mark.parametrize("visual", [300, 2000])
def test_sparsevlm_budgets_are_solved_per_image(visual) -> None:
    """v1.5's 64-token preset is for 576 tokens; other images get budgets solved for 64 / 576
    of their own tokens (recycled tokens counted)."""
    built = per_image("sparsevlm", "--sparse-version", "v1.5", "--retained-tokens", "64")._build(
        visual
    )
    budgets = built.config.budgets
    assert budgets != (66, 30, 17)
    counts = sparsevlm_counts(budgets, (2, 6, 15), 32, visual)
    assert abs(equivalent_tokens(counts) - 64 * visual / 576) <= 1
    assert per_image("sparsevlm", "--retained-tokens", "64")._build(576).config.budgets == (
        66, 30, 17,
    )  # fmt: skip


def test_dart_defaults_scale_and_its_own_flag_does_not() -> None:
    assert per_image("dart")._build(1152).config.tokens == 256
    assert per_image("dart", "--dart-tokens", "100")._build(1152).config.tokens == 100


def test_settings_are_checked_once_at_576_and_recorded_with_the_convention() -> None:
    with pytest.raises(ValueError, match=r"1\.\.576"):
        per_image("fastv", "--retained-tokens", "600")
    described = per_image("pdrop", "--retained-tokens", "192").describe()
    assert described["retained_tokens_requested"] == 192
    assert "fractions of 576" in described["budget"]


def test_one_build_per_visual_token_count() -> None:
    pruner = per_image("random", "--retained-tokens", "64")
    for count in (300, 300, 200):
        state = hand_state(torch.randn(2, 4), torch.randn(count, 4), torch.randn(3, 4))
        pruner.start(state, 32)
    assert sorted(pruner._built) == [200, 300, 576]


def test_visionzip_refuses_qwen_vl_by_name() -> None:
    with pytest.raises(ValueError, match="no CLS token"):
        per_image("visionzip", "--retained-tokens", "64", family="qwen-vl")
    assert per_image("fastv", family="qwen-vl").name == "fastv"


# --- grid pruning on layouts ---------------------------------------------------------------------


def test_grid_targets_on_a_rectangle_take_every_second_row_and_column() -> None:
    """A 4 x 8 grid, 8 targets: round(sqrt(8 * 4 / 8)) = 2 rows of 4, at rows 0.5 and 2.5 and
    columns 0.5, 2.5, 4.5, 6.5; ties go to the first token: rows 0, 2 and columns 0, 2, 4, 6."""
    cells = torch.stack(
        (torch.zeros(32, dtype=torch.long), torch.arange(32) // 8, torch.arange(32) % 8), dim=1
    )
    chosen = layout_choice(cells, ((4, 8),), 8)
    picked = sorted((int(cells[i, 1]), int(cells[i, 2])) for i in chosen)
    assert picked == [(r, c) for r in (0, 2) for c in (0, 2, 4, 6)]
    assert grid_targets(144, 24).shape == grid_targets(144, 24, 24).shape == (144, 2)


def test_grid_shares_k_between_grids_by_their_tokens() -> None:
    """9 tokens on a 3 x 3 grid and 8 on a 2 x 4: 6 kept -> quotas 3.18 and 2.82, floors 3 + 2,
    the remaining one to the larger remainder (the second grid): 3 + 3."""
    first = torch.stack((torch.zeros(9), torch.arange(9) // 3, torch.arange(9) % 3), dim=1)
    second = torch.stack((torch.ones(8), torch.arange(8) // 4, torch.arange(8) % 4), dim=1)
    cells = torch.cat((first, second)).long()
    chosen = layout_choice(cells, ((3, 3), (2, 4)), 6)
    assert sorted(int(cells[i, 0]) for i in chosen) == [0, 0, 0, 1, 1, 1]
    assert len(set(chosen.tolist())) == 6


# --- VisionZip on LLaVA-NeXT ---------------------------------------------------------------------


def test_visionzip_anyres_order_and_labels_by_hand() -> None:
    """Crops of 2 x 2 patches: the whole image, then 1 x 2 tiles (a 2 x 4 full grid), of which
    unpadding kept columns 1..3 (3 columns + the newline column: 4 per dense row, after the
    whole image's 4). Each crop keeps CLS + patches 1 and 2 and one contextual token."""
    config = VisionZipConfig(dominant=3, contextual=1)
    crops = []
    for c in range(3):
        rows = torch.full((4, 2), float(c))
        rows[:, 1] = torch.arange(4)  # row n of crop c: (c, n)
        crops.append(CropZip(torch.tensor([0, 2, 3]), rows, [[0, 3]], torch.rand(4)))
    vision = VisionExtras(torch.zeros(3, 5, 2), lambda x: x, tile_grid=(1, 2),
                          tile_window=(0, 2, 1, 4))  # fmt: skip
    features, labels, record = anyres_step(crops, vision, config, num_visual=4 + 2 * 4)
    # whole image: CLS, patches 1 and 2, contextual
    assert labels[:4] == ["cls", 1, 2, None]
    # tiles' patches on the full grid: t0p1 (0, 1) -> 1, t1p1 (0, 3) -> 3, t0p2 (1, 0) -> 4,
    # t1p2 (1, 2) -> 6; dense labels 4 + row * 4 + (column - 1), t0p2 in the padding
    assert labels[4:8] == [4, 6, "t0.2", 9]
    assert labels[8:] == ["cls0", "cls1", None, None]
    assert features[4:8].tolist() == [[1, 1], [2, 1], [1, 2], [2, 2]]  # (crop, row)
    assert features[8:10].tolist() == [[1, 0], [2, 0]]  # the tiles' CLS rows
    assert isinstance(record, PruneRecord) and record.visual_out == len(features) == 12
    assert record.clusters == [[0, 3], ["t0.0", 8], [5, 10]]  # tile members as dense labels
    origin = anyres_origin(labels, first=5, dtype=torch.long).tolist()
    assert origin == [-1, 6, 7, -1, 9, 11, -1, 14, -1, -1, -1, -1]
