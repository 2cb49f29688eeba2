"""SparseVLM's token budgets: the reference code's presets, and per-layer budgets solved for any
number of equivalent tokens (`--retained-tokens N`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from llava.sparse.budget import (
    LLAVA_LAYERS,
    LLAVA_VISUAL_TOKENS,
    check_reached,
    check_target,
    equivalent_tokens,
    solve_monotone,
    visual_counts,
)

# Presets, from the reference code (SparseVLM repository; method.md §1-2).
V1_LAYERS = (2, 6, 15, 19)  # commit b72c5d6
BUDGET_LAYERS = (2, 6, 15)  # branches v1.5 and v2.0
V15_BUDGETS = {192: (300, 200, 110), 128: (303, 110, 36), 64: (66, 30, 17)}  # v1.5 score.py
V2_BUDGETS = {192: (300, 200, 118), 128: (238, 108, 60), 96: (246, 54, 28), 64: (66, 34, 20)}
V2_HEAD_FRACTION = 0.5  # v2.0 averages the top 14 of 28 heads
DEFAULT_SCALE, DEFAULT_BIAS = 13.5, 0.0  # the seed's defaults when --scale/--bias are omitted
SEED_PRESETS = {  # the seed's eval scripts (LLaVA-1.5-7B): benchmark -> (scale, bias)
    "mme": (13.5, 0.0),  # 192 tokens
    "pope": (9.0, 6.0),  # 128 tokens
    "textvqa": (0.8, 0.0),  # 64 tokens
}
RECYCLE_FRACTION = 0.3  # the top int(0.3 * Np) + 1 pruned tokens are recycled ...
TOKENS_PER_CLUSTER = 10  # ... into int(n1 / 10) + 1 merged tokens

VERSIONS = ("v1", "v1.5", "v2")


def sparsevlm_counts(
    budgets: Sequence[int],
    layers: Sequence[int],
    num_layers: int,
    visual: int,
    recycle: bool = True,
) -> tuple[list[int], list[int]]:
    """SparseVLM v1.5 / v2: keep k = min(budget, Nv - 1) by score, plus (with recycling) the
    int(int(0.3 * Np) + 1) / 10) + 1 merged tokens of the Np pruned ones (method.md §1.5)."""

    def after(budget: int, n: int) -> int:
        if n == 0:
            return 0
        k = max(0, min(budget, n - 1))
        if not recycle:
            return k
        candidates = int(RECYCLE_FRACTION * (n - k)) + 1
        return k + candidates // TOKENS_PER_CLUSTER + 1

    prune = {layer: partial(after, budget) for layer, budget in zip(layers, budgets, strict=True)}
    return visual_counts(num_layers, visual, prune)


@dataclass(frozen=True)
class SparseVLMBudgets:
    budgets: tuple[int, ...]
    source: str  # the preset used, or the preset that was scaled (and by how much)


def solve_sparsevlm_budgets(
    target: int,
    version: str = "v1.5",
    layers: Sequence[int] = BUDGET_LAYERS,
    num_layers: int = LLAVA_LAYERS,
    visual: int = LLAVA_VISUAL_TOKENS,
    convention: str = "output",
) -> SparseVLMBudgets:
    """SparseVLM v1.5 / v2 per-layer budgets for `target` equivalent tokens.

    A preset of the reference (method.md §2) is used as is when `target` is one of its keys, the
    layers are the preset's and the image has LLaVA-1.5's 576 tokens; otherwise the per-layer
    schedule of the nearest preset (in ratio) is scaled by one factor, budgets rounded, until
    the equivalent count (recycled tokens included for v1.5) is within one token of `target`.
    """
    if version not in ("v1.5", "v2"):
        raise ValueError(f"budgets exist for SparseVLM v1.5 and v2, not {version!r}")
    table = V15_BUDGETS if version == "v1.5" else V2_BUDGETS
    if target in table and tuple(layers) == BUDGET_LAYERS and visual == LLAVA_VISUAL_TOKENS:
        return SparseVLMBudgets(table[target], f"{version} preset {target}")
    check_target(target, visual)
    if len(layers) != 3:
        raise ValueError(
            f"SparseVLM {version}'s budget schedules have 3 pruning layers, got {list(layers)}: "
            "pass three --pruning-layers (or a preset --retained-tokens)"
        )
    nearest = min(table, key=lambda preset: (abs(math.log(preset / target)), -preset))
    preset = table[nearest]
    recycle = version == "v1.5"

    def budgets(scale: float) -> tuple[int, ...]:
        return tuple(min(visual, int(scale * b + 0.5)) for b in preset)

    def equivalent(scale: float) -> float:
        counts = sparsevlm_counts(budgets(scale), layers, num_layers, visual, recycle)
        return equivalent_tokens(counts, convention)

    top = visual / min(preset) + 1  # every budget capped at V: nothing pruned
    scale = solve_monotone(equivalent, target, 0.0, top)
    what = f"SparseVLM {version} after layers {list(layers)}"
    check_reached(equivalent(scale), target, what, equivalent(0.0), equivalent(top))
    return SparseVLMBudgets(
        budgets(scale), f"{version} preset {nearest} {list(preset)} scaled by {scale:.4f}"
    )
