"""Uniform-grid visual-token pruning: keep a regular spatial subsample of the patch grid.

The other sanity floor next to random pruning, at the same schedule (default: after layer 1,
FastV's). To keep exactly k of the visual tokens present, k target points are laid out evenly on
the G x G patch grid (G = 24 for LLaVA-1.5): round(sqrt(k)) rows of targets, evenly spaced, each
row holding floor or ceil of k / rows targets, evenly spaced along it. Each target, in raster
order, takes the nearest token not yet taken (ties: the earliest in sequence order). On the full
24 x 24 grid, keeping 144 gives every second row and column (rows/columns 0, 2, ..., 22); on an
already subsampled grid (a later stage) the same rule picks an even subset of what is left.
Original positions kept, nothing recycled.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

import torch

from llava.sparse.base import AttentionProbe, TokenState
from llava.sparse.keep_by_score import (
    DEFAULT_KEEP_RATIO,
    KEEP_RATIO_FLAG,
    KeepSchedule,
    TopKRun,
    keep_ratio,
)
from llava.sparse.registry import Method, ModelShape, describe_request

DEFAULT_LAYERS = (1,)  # FastV's K = 2


@dataclass(frozen=True)
class GridConfig:
    layers: tuple[int, ...] = DEFAULT_LAYERS
    ratio: float = DEFAULT_KEEP_RATIO  # fraction of the present visual tokens kept at each layer
    retained_tokens: int | None = None  # the --retained-tokens request the ratio was solved for

    @property
    def schedule(self) -> KeepSchedule:
        return KeepSchedule(tuple(self.layers), self.ratio)

    def check(self, num_layers: int) -> None:
        self.schedule.check(num_layers, "--pruning-layers", "--keep-ratio")


def grid_targets(k: int, side: int) -> torch.Tensor:
    """(k, 2) evenly spread (row, column) points in patch coordinates of a side x side grid."""
    rows = max(1, round(math.sqrt(k)))
    points = []
    for i in range(rows):
        count = (i + 1) * k // rows - i * k // rows
        y = (i + 0.5) * side / rows - 0.5
        points += [(y, (j + 0.5) * side / count - 0.5) for j in range(count)]
    return torch.tensor(points, dtype=torch.float64).reshape(-1, 2)


def grid_choice(patches: list[int], side: int, k: int) -> torch.Tensor:
    """(k,) indices into `patches` (patch indices, row-major) closest to a regular k-point grid."""
    coords = torch.tensor([(p // side, p % side) for p in patches], dtype=torch.float64)
    distance = torch.cdist(grid_targets(k, side), coords.reshape(-1, 2))  # (k, Nv)
    taken = torch.zeros(len(patches), dtype=torch.bool)
    chosen = []
    for row in distance:
        index = int(row.masked_fill(taken, math.inf).argmin())  # first minimum on ties
        taken[index] = True
        chosen.append(index)
    return torch.tensor(chosen)


class GridPruning:
    name = "grid"
    vision_request = None

    def __init__(self, config: GridConfig = GridConfig()) -> None:
        self.config = config

    def describe(self) -> dict:
        config = self.config
        settings = {"method": self.name, "layers": list(config.layers), "ratio": config.ratio}
        return describe_request(settings, config.retained_tokens)

    def start(self, state: TokenState, num_layers: int) -> TopKRun:
        self.config.check(num_layers)
        side = math.isqrt(state.num_visual)
        if side * side != state.num_visual:
            raise ValueError(
                f"grid pruning needs a square patch grid, got {state.num_visual} visual tokens"
            )

        def score(
            layer_idx: int, s: TokenState, probe: AttentionProbe, vis: torch.Tensor, labels, k: int
        ) -> torch.Tensor:
            scores = torch.zeros(len(labels))  # 1 for the k grid tokens: their top k
            scores[grid_choice(labels, side, k)] = 1.0
            return scores

        return TopKRun(self.config.schedule, score, state.num_visual)


def _build(args: argparse.Namespace, shape: ModelShape) -> GridPruning:
    layers = tuple(args.pruning_layers or DEFAULT_LAYERS)
    config = GridConfig(layers, keep_ratio(args, shape, layers), args.retained_tokens)
    config.check(shape.num_layers)
    return GridPruning(config)


METHOD = Method(
    name="grid",
    summary="keep a regular spatial subsample of the patch grid: the other floor",
    source="sanity baseline at FastV's schedule (after layer 1)",
    stage="after layers",
    build=_build,
    flags=(KEEP_RATIO_FLAG,),
    uses_pruning_layers=True,
)
