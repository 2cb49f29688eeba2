"""PyramidDrop ranked after the boundary layer: a variant of `llava.sparse.pdrop`.

PyramidDrop (Xing et al., CVPR 2025, arXiv 2410.17247) ranks the visual tokens at each stage
boundary l with layer l's own query (of the last instruction token) and keys, then drops before
layer l runs. This variant ranks with the attention layer l actually computed, after it ran, and
drops from layer l + 1: the same scores (layer l's normalised input, projections and RoPE), one
layer later. It keeps lambda of the visual tokens present at each boundary (rounded half up) and
their original positions. It is what this project ran as "pdrop" before the published rule was
available through the seam; kept to show what the one-layer shift changes.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from llava.sparse.base import TokenState
from llava.sparse.budget import solve_keep_ratio
from llava.sparse.fastv import score_by_last_token
from llava.sparse.keep_by_score import KeepSchedule, TopKRun
from llava.sparse.pdrop import DEFAULT_LAMBDA, DEFAULT_LAYERS, SHALLOW_LAYERS, check_reachable
from llava.sparse.registry import (
    Flag,
    Method,
    ModelShape,
    describe_request,
    given_or_solved,
    layer_list,
)


@dataclass(frozen=True)
class PDropAfterConfig:
    layers: tuple[int, ...] = DEFAULT_LAYERS  # stage boundaries: drop after these layers
    lam: float = DEFAULT_LAMBDA  # fraction of the present visual tokens kept at each boundary
    retained_tokens: int | None = None  # the --retained-tokens request lambda was solved for

    @property
    def schedule(self) -> KeepSchedule:
        return KeepSchedule(tuple(self.layers), self.lam)

    def check(self, num_layers: int) -> None:
        self.schedule.check(num_layers, "--pdrop-layers", "--pdrop-lambda")


class PDropAfter:
    name = "pdrop-after"
    vision_request = None

    def __init__(self, config: PDropAfterConfig = PDropAfterConfig()) -> None:
        self.config = config

    def describe(self) -> dict:
        config = self.config
        settings = {"method": self.name, "layers": list(config.layers), "lambda": config.lam}
        return describe_request(settings, config.retained_tokens)

    def start(self, state: TokenState, num_layers: int) -> TopKRun:
        self.config.check(num_layers)
        return TopKRun(self.config.schedule, score_by_last_token, state.num_visual)


def _build(args: argparse.Namespace, shape: ModelShape) -> PDropAfter:
    layers = tuple(args.pdrop_layers or DEFAULT_LAYERS)
    PDropAfterConfig(layers).check(shape.num_layers)
    check_reachable(args, layers, shape)
    lam = given_or_solved(
        args, "pdrop_lambda", "--pdrop-lambda", DEFAULT_LAMBDA,
        lambda n: solve_keep_ratio(
            shape.tokens(n), layers, shape.num_layers, shape.visual_tokens
        ),
    )  # fmt: skip
    config = PDropAfterConfig(layers, lam, args.retained_tokens)
    config.check(shape.num_layers)
    return PDropAfter(config)


METHOD = Method(
    name="pdrop-after",
    summary="PyramidDrop's stages, ranked with the attention the boundary layer computed and "
    "dropped from the next layer",
    source="variant of Xing et al., CVPR 2025, arXiv 2410.17247 (see llava/sparse/pdrop.py)",
    stage="after layers",
    build=_build,
    flags=(
        Flag("--pdrop-layers", layer_list, "PDrop: stage boundaries (default 8,16,24)"),
        Flag("--pdrop-lambda", float, f"PDrop: fraction kept per stage (default {DEFAULT_LAMBDA})"),
    ),
    variants={"default": (), "shallow": ("--pdrop-layers", ",".join(map(str, SHALLOW_LAYERS)))},
)
