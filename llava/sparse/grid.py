"""Uniform-grid visual-token pruning: keep a regular spatial subsample of the patch grid.

The other sanity floor next to random pruning, at the same schedule (default: after layer 1,
FastV's). To keep exactly k of the visual tokens present, k target points are laid out evenly on
the G x G patch grid (G = 24 for LLaVA-1.5): round(sqrt(k)) rows of targets, evenly spaced, each
row holding floor or ceil of k / rows targets, evenly spaced along it. Each target, in raster
order, takes the nearest token not yet taken (ties: the earliest in sequence order). On the full
24 x 24 grid, keeping 144 gives every second row and column (rows/columns 0, 2, ..., 22); on an
already subsampled grid (a later stage) the same rule picks an even subset of what is left.
Original positions kept, nothing recycled.

Other grids (the image's `ImageLayout`): a R x C grid gets round(sqrt(k R / C)) rows of targets
spread over its R rows and C columns (Qwen-VL's merged grid is rarely square). An image with
several grids (LLaVA-NeXT: the whole image's 24 x 24 and the tiles' unpadded grid, whose last
column is the image-newline rows) shares k between them in proportion to the tokens each still
has (largest remainders first), then picks within each as above.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

import torch

from llava.sparse.base import AttentionProbe, ImageLayout, TokenState
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


def grid_targets(k: int, rows: int, columns: int | None = None) -> torch.Tensor:
    """(k, 2) evenly spread (row, column) points in patch coordinates of a rows x columns grid
    (square if `columns` is None)."""
    columns = rows if columns is None else columns
    if k == 0:
        return torch.zeros(0, 2, dtype=torch.float64)
    target_rows = min(k, max(1, round(math.sqrt(k * rows / columns))))
    points = []
    for i in range(target_rows):
        count = (i + 1) * k // target_rows - i * k // target_rows
        y = (i + 0.5) * rows / target_rows - 0.5
        points += [(y, (j + 0.5) * columns / count - 0.5) for j in range(count)]
    return torch.tensor(points, dtype=torch.float64).reshape(-1, 2)


def nearest_free(targets: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Each target in turn takes the nearest coordinate not yet taken (ties: the first):
    (len(targets),) indices into `coords` (N, 2)."""
    distance = torch.cdist(targets, coords.to(torch.float64).reshape(-1, 2))
    taken = torch.zeros(coords.shape[0], dtype=torch.bool)
    chosen = []
    for row in distance:
        index = int(row.masked_fill(taken, math.inf).argmin())
        taken[index] = True
        chosen.append(index)
    return torch.tensor(chosen, dtype=torch.long)


def grid_choice(patches: list[int], side: int, k: int) -> torch.Tensor:
    """(k,) indices into `patches` (patch indices, row-major) closest to a regular k-point grid."""
    coords = torch.tensor([(p // side, p % side) for p in patches], dtype=torch.float64)
    return nearest_free(grid_targets(k, side), coords)


def layout_choice(cells: torch.Tensor, grids: tuple[tuple[int, int], ...], k: int) -> torch.Tensor:
    """(k,) indices into `cells` ((N, 3): grid, row, column of each token present), k shared
    between the grids in proportion to their tokens (largest remainders first, then the first
    grid), each grid's share spread over it (`grid_targets`)."""
    present = torch.bincount(cells[:, 0], minlength=len(grids)).tolist()
    quotas = [k * n / cells.shape[0] for n in present]
    shares = [int(q) for q in quotas]
    by_remainder = sorted(range(len(grids)), key=lambda g: (-(quotas[g] - shares[g]), g))
    for g in by_remainder[: k - sum(shares)]:
        shares[g] += 1
    chosen = []
    for g, (rows, columns) in enumerate(grids):
        members = (cells[:, 0] == g).nonzero().squeeze(1)
        picked = nearest_free(grid_targets(shares[g], rows, columns), cells[members, 1:])
        chosen.append(members[picked])
    return torch.cat(chosen)


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
        layout = state.layout
        if layout is None:  # a bare state: its visual tokens as one square grid
            side = math.isqrt(state.num_visual)
            if side * side != state.num_visual:
                raise ValueError(
                    f"grid pruning needs a square patch grid or the image's layout, got "
                    f"{state.num_visual} visual tokens without one"
                )
            layout = ImageLayout.raster(side, side)

        def score(
            layer_idx: int, s: TokenState, probe: AttentionProbe, vis: torch.Tensor, labels, k: int
        ) -> torch.Tensor:
            scores = torch.zeros(len(labels))  # 1 for the k grid tokens: their top k
            scores[layout_choice(layout.cells[labels], layout.grids, k)] = 1.0
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
