"""SparseVLM (Zhang et al., arXiv 2410.04417): text-guided visual token sparsification.

Text "raters" chosen once from the layer-0 embeddings score the visual tokens with their attention
after chosen layers; the lowest-scored visual tokens are pruned and the best of the pruned are
recycled into a few merged tokens. Three named versions of the public reference code:

- `v1` (commit b72c5d6, the seed's `--sparse --scale S --bias B`): keep
  k = min(int(rank * scale + bias), Nv - 1) after layers 2, 6, 15, 19, where rank is that of the
  rater x visual attention block; recycle; renumber positions after each prune.
- `v1.5` (branch v1.5): fixed budgets after layers 2, 6, 15; recycle; renumber.
- `v2` (branch v2.0, mode "2_0", "SparseVLM+"): budgets after layers 2, 6, 15; attention divided
  by a RoPE-only distance term before scoring; only the top fraction of heads averaged; no
  recycling; original positions kept.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

import torch

from llava.sparse.base import TEXT, AttentionProbe, PruneRecord, PruningRun, TokenState
from llava.sparse.clustering import dpc_knn, merge_clusters
from llava.sparse.registry import Flag, Method, ModelShape, describe_request, finite_number
from llava.sparse.sparsevlm_budgets import (
    BUDGET_LAYERS,
    DEFAULT_BIAS,
    DEFAULT_SCALE,
    RECYCLE_FRACTION,
    TOKENS_PER_CLUSTER,
    V1_LAYERS,
    V2_BUDGETS,
    V2_HEAD_FRACTION,
    V15_BUDGETS,
    VERSIONS,
    solve_sparsevlm_budgets,
)

ROPE_WEIGHT_FLOOR = 1e-2  # v2: distance terms below this fraction of w(0) are clamped to it


@dataclass(frozen=True)
class SparseVLMConfig:
    version: str
    layers: tuple[int, ...]
    scale: float = DEFAULT_SCALE  # v1 only
    bias: float = DEFAULT_BIAS  # v1 only
    budgets: tuple[int, ...] | None = None  # v1.5 / v2: tokens kept at each pruning layer
    recycle: bool = True
    renumber_positions: bool = True
    rope_correction: bool = False
    head_fraction: float = 1.0

    def check(self, num_layers: int) -> None:
        """Raise a ValueError that says what to change if the settings cannot work."""
        if self.version not in VERSIONS:
            raise ValueError(f"unknown SparseVLM version {self.version!r}; use one of {VERSIONS}")
        if not self.layers or list(self.layers) != sorted(set(self.layers)):
            raise ValueError(
                f"pruning layers (--pruning-layers) must be distinct and increasing, got "
                f"{list(self.layers)}"
            )
        if self.layers[0] < 0 or self.layers[-1] >= num_layers:
            raise ValueError(
                f"pruning layers {list(self.layers)} do not fit a model with {num_layers} layers "
                f"(valid: 0..{num_layers - 1}); pass --pruning-layers"
            )
        if self.scale < 0:
            raise ValueError(f"--scale must be >= 0, got {self.scale}")
        if self.budgets is not None:
            if len(self.budgets) != len(self.layers):
                raise ValueError(
                    f"{len(self.budgets)} budgets for {len(self.layers)} pruning layers"
                )
            if min(self.budgets) < 0:
                raise ValueError(f"budgets must be >= 0, got {self.budgets}")
        if not 0 < self.head_fraction <= 1:
            raise ValueError(f"head fraction must be in (0, 1], got {self.head_fraction}")


def sparsevlm_v1(
    scale: float = DEFAULT_SCALE, bias: float = DEFAULT_BIAS, layers=V1_LAYERS
) -> SparseVLMConfig:
    return SparseVLMConfig("v1", tuple(layers), scale=scale, bias=bias)


def _preset(table: dict[int, tuple[int, ...]], retained: int, version: str) -> tuple[int, ...]:
    if retained not in table:
        raise ValueError(
            f"SparseVLM {version} has presets for {sorted(table)} retained tokens, not {retained}"
        )
    return table[retained]


def sparsevlm_v15(retained_tokens: int = 192, layers=BUDGET_LAYERS, budgets=None):
    budgets = budgets or _preset(V15_BUDGETS, retained_tokens, "v1.5")
    return SparseVLMConfig("v1.5", tuple(layers), budgets=tuple(budgets))


def sparsevlm_v2(
    retained_tokens: int = 192, layers=BUDGET_LAYERS, budgets=None, head_fraction=V2_HEAD_FRACTION
):
    budgets = budgets or _preset(V2_BUDGETS, retained_tokens, "v2")
    return SparseVLMConfig(
        "v2",
        tuple(layers),
        budgets=tuple(budgets),
        recycle=False,
        renumber_positions=False,
        rope_correction=True,
        head_fraction=head_fraction,
    )


def select_raters(state: TokenState) -> torch.Tensor:
    """The text tokens that rate the visual tokens, as indices among the text tokens (text
    tokens all survive pruning, in order, so these stay valid while the sequence shrinks).

    From the layer-0 embeddings: M = softmax over text of E_vis @ E_text^T (no scaling);
    s = mean of M over visual rows; raters are the text tokens with s above its mean (1/T).
    """
    vis, text = state.visual_index(), state.text_index()
    hidden = state.hidden[0].float()
    relevance = (hidden[vis] @ hidden[text].T).softmax(dim=-1).mean(dim=0)  # (T,)
    return (relevance > relevance.mean()).nonzero().squeeze(1)


def rope_distance_weight(
    query_pos: torch.Tensor,
    key_pos: torch.Tensor,
    inv_freq: torch.Tensor,
    rope_axes: torch.Tensor | None = None,
) -> torch.Tensor:
    """w(i, j) = (2 / sqrt(head_dim)) * sum_k cos((i - j) theta_k): the attention score of
    all-ones queries and keys at positions i and j, i.e. what RoPE alone contributes.
    Clamped below at ROPE_WEIGHT_FLOOR * w(0) so that dividing by it stays finite.

    Positions (R,) and (N,); with multimodal RoPE (3, R) and (3, N), frequency k rotating by the
    distance on axis rope_axes[k] (the same rule on Qwen-VL's time, height and width axes)."""
    head_dim = 2 * inv_freq.shape[0]
    if rope_axes is None:
        distance = (query_pos[:, None] - key_pos[None, :]).float()[..., None]  # (R, N, 1)
    else:
        by_axis = (query_pos[:, :, None] - key_pos[:, None, :]).float()  # (3, R, N)
        distance = by_axis[rope_axes.to(by_axis.device)].permute(1, 2, 0)  # (R, N, hd / 2)
    weight = 2 * torch.cos(distance * inv_freq).sum(-1) / head_dim**0.5
    return weight.clamp_min(ROPE_WEIGHT_FLOOR * head_dim**0.5)


class SparseVLM:
    """The Pruner; one `SparseVLMRun` per prefill."""

    vision_request = None

    def __init__(
        self, config: SparseVLMConfig, retained_tokens: int | None = None, source: str | None = None
    ) -> None:
        self.config = config
        self.name = f"sparsevlm-{config.version}"
        self.retained_tokens = retained_tokens  # the --retained-tokens request, if any
        self.source = source  # where the budgets came from, if solved

    def describe(self) -> dict:
        config = self.config
        settings = {"method": "sparsevlm", "version": config.version, "layers": list(config.layers)}
        if config.budgets is None:
            return {**settings, "scale": config.scale, "bias": config.bias}
        settings["budgets"] = list(config.budgets)
        if self.source is not None:
            settings["budget_source"] = self.source
        return describe_request(settings, self.retained_tokens)

    def start(self, state: TokenState, num_layers: int) -> SparseVLMRun:
        self.config.check(num_layers)
        budgets = self.config.budgets or ()
        if budgets and state.num_visual and max(budgets) > state.num_visual:
            raise ValueError(
                f"budgets {budgets} exceed the {state.num_visual} visual tokens of the image"
            )
        return SparseVLMRun(self.config, state)


class SparseVLMRun(PruningRun):
    def __init__(self, config: SparseVLMConfig, state: TokenState) -> None:
        super().__init__()
        self.config = config
        self.renumbers_positions = config.renumber_positions
        self.raters = select_raters(state) if state.num_visual else None
        self._labels: list = list(range(state.num_visual))  # of the current visual tokens

    def after_layer(self, layer_idx: int, state: TokenState, probe: AttentionProbe) -> TokenState:
        config = self.config
        if layer_idx not in config.layers or self.raters is None or len(self.raters) == 0:
            return state
        vis = state.visual_index()
        num_visual = vis.shape[0]
        if num_visual == 0:  # an earlier layer kept none (budget 0, no recycling)
            return state
        scores, relation = self._score(state, probe, vis)
        rank = None
        if config.budgets is None:
            rank = int(torch.linalg.matrix_rank(relation))
            if num_visual == rank:  # nothing to prune: the reference keeps all, no recycling
                self.records.append(
                    PruneRecord(
                        layer_idx, num_visual, rank, num_visual, False, scores, list(self._labels)
                    )
                )
                return state
            k = int(rank * config.scale + config.bias)
        else:
            k = config.budgets[config.layers.index(layer_idx)]
        k = max(0, min(k, num_visual - 1))
        keep = scores.topk(k).indices.sort().values
        dropped = torch.ones(num_visual, dtype=torch.bool, device=scores.device)
        dropped[keep] = False
        record = PruneRecord(layer_idx, num_visual, rank, k, True, scores)
        record.kept = [self._labels[i] for i in keep.tolist()]

        keep_seq = torch.ones(state.num_tokens, dtype=torch.bool, device=vis.device)
        keep_seq[vis[dropped.to(vis.device)]] = False
        new_state = state.select(keep_seq.nonzero().squeeze(1))
        if config.recycle:
            merged, clusters = self._recycle(state, vis, scores, dropped, layer_idx)
            record.clusters = clusters
            at = int((new_state.roles[0] != TEXT).sum())  # right after the kept visual tokens
            new_state = new_state.insert(at, merged[None])
        self._labels = record.kept + [f"m{layer_idx}.{c}" for c in range(len(record.clusters))]
        self.records.append(record)
        return new_state

    def _score(
        self, state: TokenState, probe: AttentionProbe, vis: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean rater attention per visual token (Nv,), and the rater x visual block (R, Nv)."""
        raters = state.text_index()[self.raters]
        probs = probe.rows(raters)[0]  # (H, R, N)
        if self.config.rope_correction:
            positions = state.positions[0].to(probs.device)
            probs = probs / rope_distance_weight(
                positions[..., raters.to(probs.device)],
                positions,
                probe.inv_freq.to(probs.device),
                probe.rope_axes,
            )
        block = probs[:, :, vis.to(probs.device)]  # (H, R, Nv)
        if self.config.head_fraction < 1:
            num_heads = max(1, round(self.config.head_fraction * block.shape[0]))
            block = block[block.sum(dim=(1, 2)).topk(num_heads).indices]
        relation = block.mean(dim=0)  # (R, Nv)
        return relation.mean(dim=0), relation

    def _recycle(
        self,
        state: TokenState,
        vis: torch.Tensor,
        scores: torch.Tensor,
        dropped: torch.Tensor,
        layer_idx: int,
    ) -> tuple[torch.Tensor, list[list]]:
        """Merge the best-scored pruned tokens: (K, D) merged hidden states and their members."""
        dropped_idx = dropped.nonzero().squeeze(1)  # positions within the visual tokens
        num_candidates = int(RECYCLE_FRACTION * dropped_idx.shape[0]) + 1
        best = scores[dropped_idx].topk(num_candidates).indices  # descending score
        candidates = dropped_idx[best]
        hidden = state.hidden[0, vis[candidates.to(vis.device)].to(state.hidden.device)]
        clusters = dpc_knn(hidden, num_candidates // TOKENS_PER_CLUSTER + 1)
        members = [[] for _ in range(clusters.centers.shape[0])]
        for candidate, cluster in zip(
            candidates.tolist(), clusters.assignment.tolist(), strict=True
        ):
            members[cluster].append(self._labels[candidate])
        return merge_clusters(hidden, clusters), members


# ---------------------------------------------------------------- the command line and budgets


def _version(args: argparse.Namespace) -> str:
    """--sparse-version, or v1.5 when a token budget is asked (v1 is set by --scale/--bias)."""
    if args.sparse_version is not None:
        return args.sparse_version
    return "v1" if args.retained_tokens is None else "v1.5"


def _build(args: argparse.Namespace, shape: ModelShape) -> SparseVLM:
    version = _version(args)
    layers = {"layers": tuple(args.pruning_layers)} if args.pruning_layers else {}
    if version == "v1":
        if args.retained_tokens is not None:
            raise ValueError(
                "--retained-tokens selects a v1.5 / v2 budget; v1 is set by --scale and --bias "
                "(or pass --sparse-version v1.5)"
            )
        scale = DEFAULT_SCALE if args.scale is None else args.scale
        bias = DEFAULT_BIAS if args.bias is None else args.bias
        finite_number(scale, "--scale", 0, math.inf)
        finite_number(bias, "--bias", -math.inf, math.inf)
        config = sparsevlm_v1(scale, bias, **layers)
        config.check(shape.num_layers)
        return SparseVLM(config)
    if args.scale is not None or args.bias is not None:
        raise ValueError(f"--scale/--bias set v1's k; {version} uses --retained-tokens")
    retained = 192 if args.retained_tokens is None else args.retained_tokens
    make = sparsevlm_v15 if version == "v1.5" else sparsevlm_v2
    make(**layers).check(shape.num_layers)  # the layers must fit before budgets are solved
    target = shape.tokens(retained)  # the same fraction of this image where counts vary
    solved = solve_sparsevlm_budgets(
        target, version, layers.get("layers", BUDGET_LAYERS), shape.num_layers,
        shape.visual_tokens,
    )  # fmt: skip
    config = make(retained, budgets=solved.budgets, **layers)
    config.check(shape.num_layers)
    requested = args.retained_tokens
    preset = solved.source == f"{version} preset {target}"
    return SparseVLM(config, requested, None if preset else solved.source)


METHOD = Method(
    name="sparsevlm",
    summary="text raters chosen from the layer-0 embeddings score the visual tokens with their "
    "attention at layers 2, 6, 15 (v1: also 19); the best pruned ones are recycled (v1, v1.5)",
    source="Zhang et al., arXiv 2410.04417; reference code b72c5d6 (v1), branches v1.5 and v2.0",
    stage="after layers",
    build=_build,
    flags=(
        Flag(
            "--sparse-version",
            str,
            "SparseVLM: v1 (the seed's rank-based k from --scale/--bias; default without "
            "--retained-tokens), v1.5 (fixed budgets; default with it), v2 (SparseVLM+)",
            choices=VERSIONS,
        ),
        Flag("--scale", float, f"SparseVLM v1: k = rank*scale+bias (default {DEFAULT_SCALE})"),
        Flag("--bias", float, f"SparseVLM v1: k = rank*scale+bias (default {DEFAULT_BIAS})"),
    ),
    uses_pruning_layers=True,
    # The scoring layers one deeper; budgets solved for the same equivalent tokens.
    variants={"default": (), "shifted": ("--pruning-layers", "3,7,16")},
)
