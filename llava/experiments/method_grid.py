"""The methods the demo and the efficiency report compare: every registered method at the papers'
budgets (192 / 128 / 64 equivalent tokens), in each of its scoring-layer variants.

Labels read `<method>-<budget>` (the method's published layers) or `<method>-<budget>-<variant>`
(e.g. `fastv-64-k3`: FastV scoring one layer deeper). A budget a variant cannot reach on
LLaVA-1.5's shape (PyramidDrop's default stages keep every token for 8 of 32 layers, so at least
144) is left out of the grid rather than run with other settings.
"""

from __future__ import annotations

import argparse
from functools import cache

from llava.sparse.budget import LLAVA_LAYERS, LLAVA_VISUAL_TOKENS
from llava.sparse.registry import ModelShape, methods

BUDGETS = (192, 128, 64)
LLAVA_SHAPE = ModelShape(LLAVA_LAYERS, LLAVA_VISUAL_TOKENS)


def _reachable(flags: list[str]) -> bool:
    from llava.eval.pruning_args import add_pruning_args, pruner_from_args

    class Shape:  # what pruner_from_args reads of a model: its depth, no vision tower
        class model:  # noqa: N801 - mirrors LlavaLlamaForCausalLM.model
            layers = range(LLAVA_SHAPE.num_layers)

    parser = argparse.ArgumentParser()
    add_pruning_args(parser)
    try:
        pruner_from_args(parser.parse_args(flags), Shape)
    except ValueError:
        return False
    return True


@cache
def method_grid() -> dict[str, list[str]]:
    """label -> model_vqa_loader flags, dense first, then each method by budget and variant."""
    grid: dict[str, list[str]] = {"dense": []}
    for method in methods().values():
        if method.name == "dense":
            continue
        for budget in BUDGETS:
            for variant in method.variants:
                flags = method.flags_for(budget, variant)
                if _reachable(flags):
                    suffix = "" if variant == "default" else f"-{variant}"
                    grid[f"{method.name}-{budget}{suffix}"] = flags
    return grid


def method_groups() -> dict[str, list[str]]:
    """Names `--methods` accepts besides labels. "default": dense and every method at 64 tokens
    with its published layers (PyramidDrop, which cannot reach 64 with them, with its shallow
    stages); "budgets": every method at every budget, published layers; "all": every label."""
    grid = method_grid()
    names = [m for m in methods() if m != "dense"]
    at_64 = [f"{m}-64" if f"{m}-64" in grid else f"{m}-64-shallow" for m in names]
    budgets = [f"{m}-{b}" for m in names for b in BUDGETS if f"{m}-{b}" in grid]
    return {
        "default": ["dense", *at_64],
        "budgets": ["dense", *budgets],
        "all": list(grid),
    }


def expand_methods(text: str) -> list[str]:
    """Labels and group names (comma-separated) -> labels, in order, without repeats."""
    grid, groups = method_grid(), method_groups()
    labels: list[str] = []
    for name in filter(None, (part.strip() for part in text.split(","))):
        for label in groups.get(name, [name]):
            if label not in grid:
                raise ValueError(
                    f"unknown method {label!r}; labels look like fastv-64 or fastv-64-k3 "
                    f"(method-budget[-variant]); groups: {', '.join(groups)}"
                )
            if label not in labels:
                labels.append(label)
    return labels
