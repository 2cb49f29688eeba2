"""PyramidDrop (Xing et al., "PyramidDrop: Accelerating Your Large Vision-Language Models via
Pyramid Visual Redundancy Reduction", CVPR 2025, arXiv 2410.17247), as its code does it
(Cooperx521/PyramidDrop @ main, llava/model/modeling_llama_pdrop.py, `pdrop_rank_drop`).

The decoder is split into stages at `--pdrop-layers` (default 8, 16, 24, the reference's
`--layer_list '[8,16,24]'`). Before boundary layer l runs, its own input norm, query and key
projections and RoPE (at the current positions) give the attention of the last instruction token
(the prompt's last token) over the sequence, causal softmax, averaged over heads; the top
int(V * lambda^(s+1)) visual tokens are kept at the s-th boundary (V: the image's visual tokens;
lambda 0.5 gives 288 / 144 / 72 of 576, the reference's `--image_token_ratio_list
"[0.5,0.25,0.125]"`), in their order, and layer l runs on what is left. Positions are then
renumbered 0..n-1, as the reference rebuilds `position_ids` after each drop. Nothing is recycled.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from functools import partial

from llava.sparse.base import AttentionProbe, PruneRecord, PruningRun, TokenState
from llava.sparse.budget import (
    check_reached,
    check_target,
    equivalent_tokens,
    solve_monotone,
    visual_counts,
)
from llava.sparse.keep_by_score import drop_visual, last_token_attention
from llava.sparse.registry import (
    Flag,
    Method,
    ModelShape,
    check_layers,
    describe_request,
    finite_number,
    given_or_solved,
    layer_list,
)

DEFAULT_LAYERS = (8, 16, 24)  # reference: scripts/v1_5/pdrop_eval/*.sh, --layer_list '[8,16,24]'
DEFAULT_LAMBDA = 0.5  # reference: --image_token_ratio_list "[0.5,0.25,0.125]"
# The testbed's shallow stages: the first boundary at FastV's default layer (K = 2), the others
# spread evenly over the remaining 30 layers. PyramidDrop publishes no setting for budgets its
# default stages cannot reach (< 144 of 576 tokens on 32 layers).
SHALLOW_LAYERS = (2, 12, 22)


def stage_kept(visual: int, lam: float, stage: int) -> int:
    """Visual tokens kept at the `stage`-th boundary (0-based): int(V * lambda^(stage + 1))."""
    return int(visual * lam ** (stage + 1))


def pdrop_counts(
    lam: float, layers: tuple[int, ...], num_layers: int, visual: int
) -> tuple[list[int], list[int]]:
    """Visual tokens entering and leaving each layer (drops happen before the boundary layers)."""

    def kept(stage: int, n: int) -> int:
        return min(n, stage_kept(visual, lam, stage))

    prune = {layer: partial(kept, stage) for stage, layer in enumerate(layers)}
    return visual_counts(num_layers, visual, prune, before=True)


def solve_lambda(target: float, layers: tuple[int, ...], num_layers: int, visual: int) -> float:
    """The lambda in (0, 1] whose equivalent token count is closest to `target`."""
    check_target(target, visual)

    def equivalent(lam: float) -> float:
        return equivalent_tokens(pdrop_counts(lam, layers, num_layers, visual))

    lam = solve_monotone(equivalent, target, 0.0, 1.0)
    what = f"PyramidDrop with stage boundaries {list(layers)}"
    check_reached(equivalent(lam), target, what, equivalent(0.0), equivalent(1.0))
    return lam


@dataclass(frozen=True)
class PDropConfig:
    layers: tuple[int, ...] = DEFAULT_LAYERS  # stage boundaries: drop before these layers run
    lam: float = DEFAULT_LAMBDA
    retained_tokens: int | None = None  # the --retained-tokens request lambda was solved for

    def check(self, num_layers: int) -> None:
        check_layers(self.layers, num_layers, "--pdrop-layers")
        finite_number(self.lam, "--pdrop-lambda", 0, 1, low_open=True)


class PDropRun(PruningRun):
    renumbers_positions = True

    def __init__(self, config: PDropConfig, num_visual: int) -> None:
        super().__init__()
        self.config = config
        self.image_tokens = num_visual
        self._labels: list[int] = list(range(num_visual))

    def before_layer(self, layer_idx: int, state: TokenState, probe: AttentionProbe) -> TokenState:
        if layer_idx not in self.config.layers or not self.image_tokens:
            return state
        stage = self.config.layers.index(layer_idx)
        vis = state.visual_index()
        num_visual = vis.shape[0]
        k = min(num_visual, stage_kept(self.image_tokens, self.config.lam, stage))
        scores = last_token_attention(state, probe, vis).cpu()
        record = PruneRecord(layer_idx, num_visual, None, k, k < num_visual, scores, before=True)
        if k == num_visual:
            record.kept = list(self._labels)
            self.records.append(record)
            return state
        keep = scores.topk(k).indices.sort().values
        record.kept = [self._labels[i] for i in keep.tolist()]
        self._labels = record.kept
        self.records.append(record)
        return drop_visual(state, vis, keep)


class PDrop:
    name = "pdrop"
    vision_request = None

    def __init__(self, config: PDropConfig = PDropConfig()) -> None:
        self.config = config

    def describe(self) -> dict:
        config = self.config
        settings = {"method": self.name, "layers": list(config.layers), "lambda": config.lam}
        return describe_request(settings, config.retained_tokens)

    def start(self, state: TokenState, num_layers: int) -> PDropRun:
        self.config.check(num_layers)
        return PDropRun(self.config, state.num_visual)


def check_reachable(args: argparse.Namespace, layers: tuple[int, ...], shape: ModelShape) -> None:
    """A --retained-tokens below what the stages can reach gets advice, not a bare failure."""
    if args.retained_tokens is None:
        return
    target = shape.tokens(args.retained_tokens)
    lowest = layers[0] * shape.visual_tokens / shape.num_layers  # nothing kept after the first
    if target < lowest:
        raise ValueError(
            f"PyramidDrop's stages (boundaries {list(layers)}) keep all {shape.visual_tokens} "
            f"visual tokens for the first {layers[0]} layers: at least {lowest:.0f} equivalent "
            f"tokens. For {target:g}, end the first stage earlier, e.g. --pdrop-layers "
            f"{','.join(map(str, SHALLOW_LAYERS))}"
        )


def _build(args: argparse.Namespace, shape: ModelShape) -> PDrop:
    layers = tuple(args.pdrop_layers or DEFAULT_LAYERS)
    check_layers(layers, shape.num_layers, "--pdrop-layers")
    check_reachable(args, layers, shape)
    lam = given_or_solved(
        args, "pdrop_lambda", "--pdrop-lambda", DEFAULT_LAMBDA,
        lambda n: solve_lambda(
            shape.tokens(n), layers, shape.num_layers, shape.visual_tokens
        ),
    )  # fmt: skip
    config = PDropConfig(layers, lam, args.retained_tokens)
    config.check(shape.num_layers)
    return PDrop(config)


METHOD = Method(
    name="pdrop",
    summary="before each stage boundary, keep the visual tokens the last instruction token "
    "attends to most with that layer's own queries and keys; renumber positions",
    source="Xing et al., CVPR 2025, arXiv 2410.17247; Cooperx521/PyramidDrop (layers 8,16,24, "
    "lambda 0.5)",
    stage="before layers",
    build=_build,
    flags=(
        Flag("--pdrop-layers", layer_list, "PDrop: stage boundaries (default 8,16,24)"),
        Flag("--pdrop-lambda", float, f"PDrop: fraction kept per stage (default {DEFAULT_LAMBDA})"),
    ),
    variants={"default": (), "shallow": ("--pdrop-layers", ",".join(map(str, SHALLOW_LAYERS)))},
)
