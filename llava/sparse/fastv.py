"""FastV (Chen et al., "An Image is Worth 1/2 Tokens After Layer 2", ECCV 2024, arXiv 2403.06764).

After layer K-1 (K = 2: the second layer), every visual token is scored by the attention the last
prompt token pays it in that layer, averaged over heads; the top fraction is kept for all later
layers. Tokens keep their original RoPE positions; nothing is recycled.

This file also holds what FastV shares with PDrop, random and grid pruning: a `KeepSchedule`
(after these layers, keep this fraction of the visual tokens present) and `TopKRun`, which keeps
the top-k visual tokens by a method's score at each scheduled layer.

Ratio convention: `ratio` is the fraction of visual tokens KEPT. FastV's paper states R as the
fraction *pruned* (R = 50% is the same either way); method.md's "192 needs R ~ 0.711" is a pruned
fraction (kept 0.289), counted in the input convention, see `llava.sparse.budget`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from llava.sparse.base import AttentionProbe, PruneRecord, TokenState
from llava.sparse.budget import kept_count

DEFAULT_K = 2  # FastV paper: prune after layer K - 1 = 1 (0-based)
DEFAULT_RATIO = 0.5  # FastV paper: R = 50%

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
        if not self.layers or list(self.layers) != sorted(set(self.layers)):
            raise ValueError(
                f"{layers_flag}: layers must be distinct and increasing, got {self.layers}"
            )
        if self.layers[0] < 0 or self.layers[-1] >= num_layers:
            raise ValueError(
                f"{layers_flag}: pruning layers {list(self.layers)} do not fit a model with "
                f"{num_layers} layers (valid: 0..{num_layers - 1})"
            )
        if not 0 < self.ratio <= 1:
            raise ValueError(
                f"{ratio_flag} must be in (0, 1] (the fraction kept), got {self.ratio}"
            )


def check_batch(state: TokenState, method: str) -> None:
    if state.hidden.shape[0] != 1:
        raise ValueError(
            f"{method} runs at batch size 1 (got {state.hidden.shape[0]}): the visual tokens "
            "kept differ per sample; ask one question at a time"
        )


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


class TopKRun:
    """One prefill: at each scheduled layer keep the top-k visual tokens by `score`, k from the
    schedule's ratio; order kept, original positions kept, nothing recycled."""

    renumbers_positions = False

    def __init__(self, schedule: KeepSchedule, score: Scorer, num_visual: int) -> None:
        self.schedule = schedule
        self.score = score
        self.records: list[PruneRecord] = []
        self._labels: list[int] = list(range(num_visual))  # patch index of each visual token

    def after_layer(self, layer_idx: int, state: TokenState, probe: AttentionProbe) -> TokenState:
        if layer_idx not in self.schedule.layers:
            return state
        vis = state.visual_index()
        num_visual = vis.shape[0]
        k = kept_count(num_visual, self.schedule.ratio)
        if k >= num_visual:  # nothing to prune (or no image)
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
        dropped = torch.ones(num_visual, dtype=torch.bool)
        dropped[keep] = False
        keep_seq = torch.ones(state.num_tokens, dtype=torch.bool)
        keep_seq[vis.cpu()[dropped]] = False
        return state.select(keep_seq.nonzero().squeeze(1))


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


class FastV:
    name = "fastv"

    def __init__(self, config: FastVConfig = FastVConfig()) -> None:
        self.config = config

    def describe(self) -> dict:
        config = self.config
        settings = {
            "method": self.name,
            "k": config.k,
            "layers": [config.k - 1],
            "ratio": config.ratio,
        }
        if config.retained_tokens is not None:
            settings["retained_tokens_requested"] = config.retained_tokens
        return settings

    def start(self, state: TokenState, num_layers: int) -> TopKRun:
        self.config.check(num_layers)
        check_batch(state, "FastV")
        return TopKRun(self.config.schedule, score_by_last_token, state.num_visual)


def score_by_last_token(
    layer_idx: int, state: TokenState, probe: AttentionProbe, vis: torch.Tensor, labels, k: int
) -> torch.Tensor:
    """FastV's and PDrop's `Scorer`."""
    return last_token_attention(state, probe, vis)
