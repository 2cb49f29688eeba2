"""Text-guided maximal marginal relevance (this project's method): keep the visual tokens the
question's words attend to, but not ones that repeat what is already kept.

SparseVLM's observation is that the question should decide which visual tokens matter; DART's is
that keeping near-duplicates wastes the budget. This method asks for both, once, after layer K-1
(K = 2, where FastV and DART prune, so the three differ only in their criterion):
- relevance r_i: the mean attention SparseVLM's raters (the text tokens chosen from the layer-0
  embeddings, `llava.sparse.sparsevlm.select_raters`) pay visual token i in layer K-1, averaged
  over heads, divided by its maximum over the visual tokens (so r lies in [0, 1]);
- redundancy: the cosine similarity of the layer's outputs (after the decoder's final norm, as
  DART compares them) between a candidate and the tokens already kept;
- greedy selection (Carbonell & Goldstein, SIGIR 1998): repeatedly keep the token maximising
  lambda * r_i - (1 - lambda) * max_{j kept} cos(h_i, h_j), the first one by relevance alone.
Kept tokens stay in their order, with their original positions; nothing is recycled. Without
raters (a prompt with no text after the image) every token is equally relevant.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from llava.sparse.base import AttentionProbe, PruneRecord, PruningRun, TokenState
from llava.sparse.budget import kept_count, solve_keep_ratio
from llava.sparse.keep_by_score import KeepSchedule, drop_visual
from llava.sparse.registry import (
    Flag,
    Method,
    ModelShape,
    describe_request,
    finite_number,
    given_or_solved,
)
from llava.sparse.sparsevlm import select_raters

DEFAULT_K = 2  # as FastV and DART: after the second layer
DEFAULT_RATIO = 0.5
DEFAULT_LAMBDA = 0.5  # relevance and diversity weighed alike


@dataclass(frozen=True)
class MMRConfig:
    k: int = DEFAULT_K
    ratio: float = DEFAULT_RATIO  # fraction of the visual tokens kept
    lam: float = DEFAULT_LAMBDA  # weight of relevance against redundancy
    retained_tokens: int | None = None

    def check(self, num_layers: int) -> None:
        if not 1 <= self.k <= num_layers:
            raise ValueError(
                f"--mmr-k {self.k}: the method prunes after layer K-1, so K must be in "
                f"1..{num_layers} for a model with {num_layers} layers"
            )
        KeepSchedule((self.k - 1,), self.ratio).check(num_layers, "--mmr-k", "--mmr-ratio")
        finite_number(self.lam, "--mmr-lambda", 0, 1)


def select(relevance: torch.Tensor, hidden: torch.Tensor, count: int, lam: float) -> torch.Tensor:
    """Greedy MMR: (count,) indices into the candidates, in the order chosen.

    relevance (N,) in [0, 1]; hidden (N, D) the candidates' representations."""
    unit = F.normalize(hidden.float(), dim=-1)
    chosen = [int(relevance.argmax())]
    closest = unit @ unit[chosen[0]]  # (N,) similarity to the nearest kept token so far
    taken = torch.zeros(relevance.shape[0], dtype=torch.bool)
    taken[chosen[0]] = True
    for _ in range(count - 1):
        value = lam * relevance - (1 - lam) * closest
        best = int(value.masked_fill(taken, float("-inf")).argmax())
        chosen.append(best)
        taken[best] = True
        closest = torch.maximum(closest, unit @ unit[best])
    return torch.tensor(chosen)


class MMRRun(PruningRun):
    def __init__(self, config: MMRConfig, state: TokenState) -> None:
        super().__init__()
        self.config = config
        self.raters = select_raters(state) if state.num_visual else None
        self._labels = list(range(state.num_visual))

    def after_layer(self, layer_idx: int, state: TokenState, probe: AttentionProbe) -> TokenState:
        if layer_idx != self.config.k - 1 or self.raters is None:
            return state
        vis = state.visual_index()
        count = kept_count(vis.shape[0], self.config.ratio)
        if count >= vis.shape[0]:
            return state
        if len(self.raters):
            rows = state.text_index()[self.raters]
            attention = probe.rows(rows)[0].mean(dim=0)[:, vis.to(rows.device)].mean(dim=0)
            relevance = (attention / attention.max()).float().cpu()
        else:
            relevance = torch.ones(vis.shape[0])
        hidden = probe.output_norm(state.hidden)[0, vis.to(state.hidden.device)].cpu()
        keep = select(relevance, hidden, count, self.config.lam).sort().values
        record = PruneRecord(layer_idx, vis.shape[0], None, count, True, relevance)
        record.kept = [self._labels[i] for i in keep.tolist()]
        self._labels = record.kept
        self.records.append(record)
        return drop_visual(state, vis, keep)


class MMR:
    name = "mmr"
    vision_request = None

    def __init__(self, config: MMRConfig = MMRConfig()) -> None:
        self.config = config

    def describe(self) -> dict:
        config = self.config
        settings = {
            "method": self.name,
            "k": config.k,
            "layers": [config.k - 1],
            "ratio": config.ratio,
            "lambda": config.lam,
        }
        return describe_request(settings, config.retained_tokens)

    def start(self, state: TokenState, num_layers: int) -> MMRRun:
        self.config.check(num_layers)
        return MMRRun(self.config, state)


def _build(args: argparse.Namespace, shape: ModelShape) -> MMR:
    k = DEFAULT_K if args.mmr_k is None else args.mmr_k
    MMRConfig(k).check(shape.num_layers)
    ratio = given_or_solved(
        args, "mmr_ratio", "--mmr-ratio", DEFAULT_RATIO,
        lambda n: solve_keep_ratio(n, (k - 1,), shape.num_layers, shape.visual_tokens),
    )  # fmt: skip
    lam = DEFAULT_LAMBDA if args.mmr_lambda is None else args.mmr_lambda
    config = MMRConfig(k, ratio, lam, args.retained_tokens)
    config.check(shape.num_layers)
    return MMR(config)


METHOD = Method(
    name="mmr",
    summary="after layer K-1, keep visual tokens that SparseVLM's text raters attend to, each "
    "as unlike the ones already kept as possible (maximal marginal relevance)",
    source="this project: SparseVLM's raters (arXiv 2410.04417) x DART's duplication "
    "(arXiv 2502.11494), combined by MMR (Carbonell & Goldstein, SIGIR 1998)",
    stage="after layers",
    build=_build,
    flags=(
        Flag("--mmr-k", int, f"MMR: prune after layer K-1 (default K={DEFAULT_K})"),
        Flag("--mmr-ratio", float, f"MMR: fraction of the visual tokens kept ({DEFAULT_RATIO})"),
        Flag(
            "--mmr-lambda",
            float,
            f"MMR: weight of text relevance against redundancy, in [0, 1] ({DEFAULT_LAMBDA})",
        ),
    ),
    variants={"default": (), "k3": ("--mmr-k", "3")},
)
