"""FastV (Chen et al., "An Image is Worth 1/2 Tokens After Layer 2", ECCV 2024, arXiv 2403.06764).

After layer K-1 (K = 2: the second layer), every visual token is scored by the attention the last
prompt token pays it in that layer, averaged over heads; the top fraction is kept for all later
layers. Tokens keep their original RoPE positions; nothing is recycled.

Ratio convention: `ratio` is the fraction of visual tokens KEPT. FastV's paper states R as the
fraction *pruned* (R = 50% is the same either way); method.md's "192 needs R ~ 0.711" is a pruned
fraction (kept 0.289), counted in the input convention, see `llava.sparse.budget`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import torch

from llava.sparse.base import AttentionProbe, TokenState
from llava.sparse.budget import solve_keep_ratio
from llava.sparse.keep_by_score import KeepSchedule, TopKRun, last_token_attention
from llava.sparse.registry import Flag, Method, ModelShape, describe_request, given_or_solved

DEFAULT_K = 2  # FastV paper: prune after layer K - 1 = 1 (0-based)
DEFAULT_RATIO = 0.5  # FastV paper: R = 50%


@dataclass(frozen=True)
class FastVConfig:
    k: int = DEFAULT_K
    ratio: float = DEFAULT_RATIO  # fraction of the visual tokens kept
    retained_tokens: int | None = None  # the --retained-tokens request the ratio was solved for

    @property
    def schedule(self) -> KeepSchedule:
        return KeepSchedule((self.k - 1,), self.ratio)

    def check(self, num_layers: int) -> None:
        if not 1 <= self.k <= num_layers:
            raise ValueError(
                f"--fastv-k {self.k}: FastV prunes after layer K-1, so K must be in "
                f"1..{num_layers} for a model with {num_layers} layers"
            )
        self.schedule.check(num_layers, "--fastv-k", "--fastv-ratio")


def score_by_last_token(
    layer_idx: int, state: TokenState, probe: AttentionProbe, vis: torch.Tensor, labels, k: int
) -> torch.Tensor:
    """FastV's score: the last prompt token's attention in the layer that just ran."""
    return last_token_attention(state, probe, vis)


class FastV:
    name = "fastv"
    vision_request = None

    def __init__(self, config: FastVConfig = FastVConfig()) -> None:
        self.config = config

    def describe(self) -> dict:
        config = self.config
        settings = {"method": self.name, "k": config.k, "layers": [config.k - 1]}
        return describe_request({**settings, "ratio": config.ratio}, config.retained_tokens)

    def start(self, state: TokenState, num_layers: int) -> TopKRun:
        self.config.check(num_layers)
        return TopKRun(self.config.schedule, score_by_last_token, state.num_visual)


def _build(args: argparse.Namespace, shape: ModelShape) -> FastV:
    k = DEFAULT_K if args.fastv_k is None else args.fastv_k
    FastVConfig(k).check(shape.num_layers)  # the layer must exist before solving for it
    ratio = given_or_solved(
        args, "fastv_ratio", "--fastv-ratio", DEFAULT_RATIO,
        lambda n: solve_keep_ratio(
            shape.tokens(n), (k - 1,), shape.num_layers, shape.visual_tokens
        ),
    )  # fmt: skip
    config = FastVConfig(k, ratio, args.retained_tokens)
    config.check(shape.num_layers)
    return FastV(config)


METHOD = Method(
    name="fastv",
    summary="after layer K-1, keep the visual tokens the last prompt token attends to most",
    source="Chen et al., ECCV 2024, arXiv 2403.06764 (K = 2, R = 50%)",
    stage="after layers",
    build=_build,
    flags=(
        Flag("--fastv-k", int, f"prune after layer K-1 (default K={DEFAULT_K})"),
        Flag(
            "--fastv-ratio",
            float,
            f"fraction of the visual tokens KEPT (default {DEFAULT_RATIO}; the paper's R is the "
            "fraction pruned, 1 - this)",
        ),
    ),
    # The scoring layer moved one and two layers deeper (method.md §4 uses K = 2).
    variants={"default": (), "k3": ("--fastv-k", "3"), "k4": ("--fastv-k", "4")},
)
