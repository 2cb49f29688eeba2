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

from dataclasses import dataclass

import numpy as np
import torch

from llava.sparse.base import AttentionProbe, TokenState
from llava.sparse.fastv import KeepSchedule, TopKRun, check_batch

DEFAULT_LAYERS = (1,)  # FastV's K = 2
DEFAULT_RATIO = 0.5
DEFAULT_SEED = 0


@dataclass(frozen=True)
class RandomConfig:
    layers: tuple[int, ...] = DEFAULT_LAYERS
    ratio: float = DEFAULT_RATIO  # fraction of the present visual tokens kept at each layer
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
        if config.retained_tokens is not None:
            settings["retained_tokens_requested"] = config.retained_tokens
        return settings

    def start(self, state: TokenState, num_layers: int) -> TopKRun:
        self.config.check(num_layers)
        check_batch(state, "random pruning")
        seed, prompt_tokens = self.config.seed, state.num_tokens

        def score(
            layer_idx: int, s: TokenState, probe: AttentionProbe, vis: torch.Tensor, labels, k: int
        ) -> torch.Tensor:
            # Uniform scores: their top k is a uniformly random k-subset.
            return torch.rand(
                vis.shape[0], generator=sample_generator(seed, prompt_tokens, layer_idx)
            )

        return TopKRun(self.config.schedule, score, state.num_visual)
