"""Random visual-token pruning: the sanity floor at a given schedule.

After each scheduled layer (default: after layer 1, FastV's schedule, so "random" and "fastv" at
one budget differ only in which tokens are kept) a uniformly random `ratio` of the visual tokens
present is kept, in their order; original positions kept, nothing recycled.

Reproducible per sample: the draw at layer l comes from a generator seeded with
(seed, prompt length in tokens, l), so the same question on the same image keeps the same tokens
on every run and device, and different prompt lengths draw differently.
(Importing this module as `llava.sparse.random` does not shadow the standard library: imports are
absolute.)
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np
import torch

from llava.sparse.base import AttentionProbe, TokenState
from llava.sparse.keep_by_score import (
    DEFAULT_KEEP_RATIO,
    KEEP_RATIO_FLAG,
    KeepSchedule,
    TopKRun,
    keep_ratio,
)
from llava.sparse.registry import (
    Flag,
    Method,
    ModelShape,
    describe_request,
)

DEFAULT_LAYERS = (1,)  # FastV's K = 2
DEFAULT_SEED = 0


@dataclass(frozen=True)
class RandomConfig:
    layers: tuple[int, ...] = DEFAULT_LAYERS
    ratio: float = DEFAULT_KEEP_RATIO  # fraction of the present visual tokens kept at each layer
    seed: int = DEFAULT_SEED
    retained_tokens: int | None = None  # the --retained-tokens request the ratio was solved for

    @property
    def schedule(self) -> KeepSchedule:
        return KeepSchedule(tuple(self.layers), self.ratio)

    def check(self, num_layers: int) -> None:
        self.schedule.check(num_layers, "--pruning-layers", "--keep-ratio")
        if self.seed < 0:
            raise ValueError(f"--random-seed must be >= 0, got {self.seed}")


def sample_generator(seed: int, prompt_tokens: int, layer_idx: int) -> torch.Generator:
    """A CPU generator determined by (seed, prompt length, layer) alone."""
    state = np.random.SeedSequence([seed, prompt_tokens, layer_idx]).generate_state(1)[0]
    return torch.Generator().manual_seed(int(state))


class RandomPruning:
    name = "random"
    vision_request = None

    def __init__(self, config: RandomConfig = RandomConfig()) -> None:
        self.config = config

    def describe(self) -> dict:
        config = self.config
        settings = {
            "method": self.name,
            "layers": list(config.layers),
            "ratio": config.ratio,
            "seed": config.seed,
        }
        return describe_request(settings, config.retained_tokens)

    def start(self, state: TokenState, num_layers: int) -> TopKRun:
        self.config.check(num_layers)
        seed, prompt_tokens = self.config.seed, state.num_tokens

        def score(
            layer_idx: int, s: TokenState, probe: AttentionProbe, vis: torch.Tensor, labels, k: int
        ) -> torch.Tensor:
            # Uniform scores: their top k is a uniformly random k-subset.
            return torch.rand(
                vis.shape[0], generator=sample_generator(seed, prompt_tokens, layer_idx)
            )

        return TopKRun(self.config.schedule, score, state.num_visual)


def _build(args: argparse.Namespace, shape: ModelShape) -> RandomPruning:
    layers = tuple(args.pruning_layers or DEFAULT_LAYERS)
    ratio = keep_ratio(args, shape, layers)
    seed = DEFAULT_SEED if args.random_seed is None else args.random_seed
    config = RandomConfig(layers, ratio, seed, args.retained_tokens)
    config.check(shape.num_layers)
    return RandomPruning(config)


METHOD = Method(
    name="random",
    summary="keep a uniformly random fraction of the visual tokens (seeded per sample): the floor",
    source="sanity baseline at FastV's schedule (after layer 1)",
    stage="after layers",
    build=_build,
    flags=(
        KEEP_RATIO_FLAG,
        Flag(
            "--random-seed",
            int,
            "random: seed; each sample draws from (seed, its prompt length, the layer) "
            f"(default {DEFAULT_SEED})",
        ),
    ),
    uses_pruning_layers=True,
)
