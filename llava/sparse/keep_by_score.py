"""Keeping the top-k visual tokens by a score after scheduled layers: the machinery FastV, the
after-layer PyramidDrop variant, random and grid pruning share.

A `KeepSchedule` says after which layers (0-based) what fraction of the visual tokens present is
kept; `TopKRun` keeps the k best by the method's score, in their order, with their original RoPE
positions, recycling nothing.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

import torch

from llava.sparse.base import AttentionProbe, PruneRecord, PruningRun, TokenState
from llava.sparse.budget import kept_count, solve_keep_ratio
from llava.sparse.registry import (
    Flag,
    ModelShape,
    check_layers,
    finite_number,
    given_or_solved,
)

DEFAULT_KEEP_RATIO = 0.5  # random / grid pruning, as FastV's R = 50%

# score(layer_idx, state, probe, vis, labels, k) -> (Nv,) float32 scores of the visual tokens at
# sequence indices `vis` (labels: their patch indices); the k best are kept.
Scorer = Callable[[int, TokenState, AttentionProbe, torch.Tensor, list, int], torch.Tensor]


@dataclass(frozen=True)
class KeepSchedule:
    """After each of `layers` (0-based), keep `ratio` of the visual tokens present."""

    layers: tuple[int, ...]
    ratio: float

    def check(self, num_layers: int, layers_flag: str, ratio_flag: str) -> None:
        """Raise a ValueError naming the flag to change if the schedule cannot work."""
        check_layers(self.layers, num_layers, layers_flag)
        finite_number(self.ratio, f"{ratio_flag} (the fraction kept)", 0, 1, low_open=True)


def last_token_attention(
    state: TokenState, probe: AttentionProbe, vis: torch.Tensor
) -> torch.Tensor:
    """(Nv,) attention of the last prompt token to each visual token, mean over heads.

    The last token of a LLaVA prompt is the template's "ASSISTANT:" colon: FastV's "last token"
    and PDrop's "last instruction token" alike (text tokens always survive, so it stays the
    last token of the sequence)."""
    last = torch.tensor([state.num_tokens - 1])
    probs = probe.rows(last)[0, :, 0]  # (H, N)
    return probs.mean(dim=0)[vis.to(probs.device)].float()


def drop_visual(state: TokenState, vis: torch.Tensor, keep: torch.Tensor) -> TokenState:
    """`state` with only the visual tokens vis[keep] (keep: positions among the visual tokens)."""
    keep_seq = torch.ones(state.num_tokens, dtype=torch.bool)
    dropped = torch.ones(vis.shape[0], dtype=torch.bool)
    dropped[keep.cpu()] = False
    keep_seq[vis.cpu()[dropped]] = False
    return state.select(keep_seq.nonzero().squeeze(1))


class TopKRun(PruningRun):
    """One prefill: at each scheduled layer keep the top-k visual tokens by `score`, k from the
    schedule's ratio; order kept, original positions kept, nothing recycled."""

    def __init__(self, schedule: KeepSchedule, score: Scorer, num_visual: int) -> None:
        super().__init__()
        self.schedule = schedule
        self.score = score
        self._labels: list[int] = list(range(num_visual))  # patch index of each visual token

    def after_layer(self, layer_idx: int, state: TokenState, probe: AttentionProbe) -> TokenState:
        if layer_idx not in self.schedule.layers:
            return state
        vis = state.visual_index()
        num_visual = vis.shape[0]
        if num_visual == 0:  # a text-only prompt: nothing to decide
            return state
        k = kept_count(num_visual, self.schedule.ratio)
        if k >= num_visual:  # nothing to prune
            scores = torch.ones(num_visual)
            self.records.append(
                PruneRecord(
                    layer_idx, num_visual, None, num_visual, False, scores, list(self._labels)
                )
            )
            return state
        scores = self.score(layer_idx, state, probe, vis, self._labels, k).float().cpu()
        keep = scores.topk(k).indices.sort().values  # (k,) among the visual tokens, in order
        record = PruneRecord(layer_idx, num_visual, None, k, True, scores)
        record.kept = [self._labels[i] for i in keep.tolist()]
        self._labels = record.kept
        self.records.append(record)
        return drop_visual(state, vis, keep)


def keep_ratio(args: argparse.Namespace, shape: ModelShape, layers: tuple[int, ...]) -> float:
    """--keep-ratio, or solved from --retained-tokens at `layers` (random and grid pruning)."""
    KeepSchedule(layers, 1.0).check(shape.num_layers, "--pruning-layers", "--keep-ratio")
    return given_or_solved(
        args, "keep_ratio", "--keep-ratio", DEFAULT_KEEP_RATIO,
        lambda n: solve_keep_ratio(
            shape.tokens(n), layers, shape.num_layers, shape.visual_tokens
        ),
    )  # fmt: skip


KEEP_RATIO_FLAG = Flag(
    "--keep-ratio",
    float,
    f"random / grid: fraction of the visual tokens kept at each pruning layer "
    f"(default {DEFAULT_KEEP_RATIO})",
)
