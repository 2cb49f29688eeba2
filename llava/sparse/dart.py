"""DART (Wen et al., "Stop Looking for Important Tokens in Multimodal Language Models:
Duplication Matters More", arXiv 2502.11494), as its code does it for LLaVA-1.5
(ZichenWen1/DART, llava/model/language_model/modeling_llama_self.py, `get_retained_image_token`).

Once, before layer K runs (K = 2: after the second layer), from layer K-1's output:
- pivots: the `pivot_image` visual tokens and `pivot_text` text tokens (after the image) whose
  keys of layer K-1 (all heads concatenated, RoPE applied) have the largest L1 norm;
- each pivot in turn (the reference walks a Python set of their sequence indices, so its order is
  CPython's set order: reproduced by walking the same set) takes, among the visual tokens not yet
  taken (pivots excluded), the `per_pivot` least similar to itself by cosine similarity of the
  layer's output after the decoder's final norm; per_pivot = tokens // (pivot_image + pivot_text);
- kept: the image pivots and every token taken, in their order; the text pivots stay text.
Original positions are kept; nothing is recycled. Kept visual tokens: pivot_image +
(pivot_image + pivot_text) * per_pivot. Published settings for LLaVA-1.5 (the reference's
scripts, `bash scripts/v1_5/eval/<bench>.sh 0.778 128`): K = 2, 4 + 4 pivots and 192 / 128 / 64
tokens (its max_num_trunction) for its 192 / 128 / 64 settings.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from llava.sparse.base import AttentionProbe, PruneRecord, PruningRun, TokenState
from llava.sparse.budget import check_reached, check_target, equivalent_tokens, visual_counts
from llava.sparse.keep_by_score import drop_visual
from llava.sparse.registry import Flag, Method, ModelShape, describe_request

DEFAULT_K = 2  # reference: --pruned_layer 2
DEFAULT_PIVOTS = (4, 4)  # reference: --pivot_image_token 4 --pivot_text_token 4
DEFAULT_TOKENS = 128  # reference scripts' max_num_trunction for the 128-token setting


@dataclass(frozen=True)
class DARTConfig:
    k: int = DEFAULT_K
    tokens: int = DEFAULT_TOKENS  # the reference's max_num_trunction
    pivot_image: int = DEFAULT_PIVOTS[0]
    pivot_text: int = DEFAULT_PIVOTS[1]
    retained_tokens: int | None = None

    @property
    def per_pivot(self) -> int:
        return self.tokens // (self.pivot_image + self.pivot_text)

    def kept(self, visual: int) -> int:
        """Visual tokens kept out of `visual`."""
        return min(visual, self.pivot_image + (self.pivot_image + self.pivot_text) * self.per_pivot)

    def check(self, num_layers: int) -> None:
        if not 1 <= self.k < num_layers:
            raise ValueError(
                f"--dart-k {self.k}: DART prunes before layer K (after layer K-1), so K must be "
                f"in 1..{num_layers - 1} for a model with {num_layers} layers"
            )
        if self.pivot_image < 1 or self.pivot_text < 0 or self.tokens < 0:
            raise ValueError(
                f"DART needs >= 1 image pivot, >= 0 text pivots and --dart-tokens >= 0, got "
                f"{self.pivot_image}, {self.pivot_text}, {self.tokens}"
            )


def select_tokens(
    hidden: torch.Tensor,  # (N, D) layer K-1's output after the final norm
    keys: torch.Tensor,  # (N, H * hd) layer K-1's keys
    vis: torch.Tensor,  # (Nv,) sequence indices of the visual tokens
    text: torch.Tensor,  # (T,) sequence indices of the text tokens after the image
    config: DARTConfig,
) -> list[int]:
    """Sequence indices of the visual tokens DART keeps, ascending."""
    key_norm = keys.float().abs().sum(dim=-1)  # L1 norm per token
    image_pivots = vis[key_norm[vis].topk(min(config.pivot_image, len(vis))).indices].tolist()
    text_pivots = text[key_norm[text].topk(min(config.pivot_text, len(text))).indices].tolist()
    # Built as the reference builds its sets, so that they iterate in the same order.
    chosen = set(image_pivots + text_pivots)
    available = set(vis.tolist())
    available.difference_update(image_pivots)
    for pivot in set(chosen):  # the reference's iteration order: CPython's set order
        candidates = list(available)
        similarity = F.cosine_similarity(hidden[pivot][None], hidden[candidates], dim=-1)
        take = min(config.per_pivot, len(candidates))
        taken = [candidates[i] for i in (-similarity).topk(take).indices.tolist()]
        chosen.update(taken)
        available.difference_update(taken)
    return sorted(chosen - set(text_pivots))


class DARTRun(PruningRun):
    def __init__(self, config: DARTConfig, num_visual: int) -> None:
        super().__init__()
        self.config = config
        self._labels = list(range(num_visual))

    def after_layer(self, layer_idx: int, state: TokenState, probe: AttentionProbe) -> TokenState:
        if layer_idx != self.config.k - 1:
            return state
        vis = state.visual_index()
        if vis.shape[0] == 0:
            return state
        text = state.text_index()
        keys = probe.keys()[0]  # (H_kv, N, hd)
        keys = keys.transpose(0, 1).reshape(keys.shape[1], -1)  # heads concatenated per token
        hidden = probe.output_norm(state.hidden)[0].float()
        kept = select_tokens(hidden.cpu(), keys.cpu(), vis.cpu(), text.cpu(), self.config)
        position = {int(index): i for i, index in enumerate(vis.tolist())}
        keep = torch.tensor([position[index] for index in kept])
        scores = torch.zeros(vis.shape[0])
        scores[keep] = 1.0
        record = PruneRecord(layer_idx, vis.shape[0], None, len(kept), len(kept) < len(vis), scores)
        record.kept = [self._labels[i] for i in keep.tolist()]
        self._labels = record.kept
        self.records.append(record)
        return drop_visual(state, vis, keep)


class DART:
    name = "dart"
    vision_request = None

    def __init__(self, config: DARTConfig = DARTConfig()) -> None:
        self.config = config

    def describe(self) -> dict:
        config = self.config
        settings = {
            "method": self.name,
            "k": config.k,
            "layers": [config.k - 1],
            "tokens": config.tokens,
            "pivots": [config.pivot_image, config.pivot_text],
        }
        return describe_request(settings, config.retained_tokens)

    def start(self, state: TokenState, num_layers: int) -> DARTRun:
        self.config.check(num_layers)
        return DARTRun(self.config, state.num_visual)


def dart_counts(config: DARTConfig, num_layers: int, visual: int) -> tuple[list[int], list[int]]:
    return visual_counts(num_layers, visual, {config.k - 1: config.kept})


def solve_tokens(target: float, config: DARTConfig, shape: ModelShape) -> int:
    """The --dart-tokens giving the equivalent token count closest to `target`."""
    check_target(target, shape.visual_tokens)
    pivots = config.pivot_image + config.pivot_text

    def equivalent(tokens: int) -> float:
        trial = DARTConfig(config.k, tokens, config.pivot_image, config.pivot_text)
        return equivalent_tokens(dart_counts(trial, shape.num_layers, shape.visual_tokens))

    candidates = range(0, shape.visual_tokens + pivots, pivots)  # the reachable granularity
    best = min(candidates, key=lambda tokens: (abs(equivalent(tokens) - target), tokens))
    step = equivalent(pivots) - equivalent(0)  # one more token per pivot
    what = f"DART after layer {config.k - 1}"
    lowest, highest = equivalent(0), equivalent(candidates[-1])
    check_reached(equivalent(best), target, what, lowest, highest, within=step / 2 + 1e-9)
    return best


def _build(args: argparse.Namespace, shape: ModelShape) -> DART:
    k = DEFAULT_K if args.dart_k is None else args.dart_k
    base = DARTConfig(k=k)
    base.check(shape.num_layers)
    if args.retained_tokens is not None:
        if args.dart_tokens is not None:
            raise ValueError("give either --retained-tokens or --dart-tokens, not both")
        tokens = solve_tokens(shape.tokens(args.retained_tokens), base, shape)
    elif args.dart_tokens is None:  # the 128-token setting, as a fraction where counts vary
        tokens = round(shape.tokens(DEFAULT_TOKENS))
    else:
        tokens = args.dart_tokens
    config = DARTConfig(k, tokens, retained_tokens=args.retained_tokens)
    config.check(shape.num_layers)
    return DART(config)


METHOD = Method(
    name="dart",
    summary="after layer K-1, keep the visual tokens least similar to a few pivot tokens "
    "(largest key norms): duplication, not importance",
    source="Wen et al., arXiv 2502.11494; ZichenWen1/DART (K = 2, 4 + 4 pivots, 192/128/64)",
    stage="after layers",
    build=_build,
    flags=(
        Flag("--dart-k", int, f"DART: prune before layer K (default {DEFAULT_K})"),
        Flag(
            "--dart-tokens",
            int,
            "DART: tokens the pivots choose (the reference's max_num_trunction; default "
            f"{DEFAULT_TOKENS}); kept = 4 image pivots + that, down to a multiple of 8",
        ),
    ),
)
