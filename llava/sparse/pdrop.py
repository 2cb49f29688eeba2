"""PyramidDrop (Xing et al., "PyramidDrop: Accelerating Your Large Vision-Language Models via
Pyramid Visual Redundancy Reduction", CVPR 2025, arXiv 2410.17247).

The decoder is split into stages; at the end of each stage (after layers 8, 16 and 24 of the
32-layer LLaVA-1.5 by default, as the reference's `--layer_list '[8,16,24]'`) the visual tokens
are ranked by the attention the last instruction token pays them, averaged over heads, and
lambda of those present are kept (lambda = 0.5: 50%, 25%, 12.5% of 576 after layers 8, 16, 24,
as the reference's `--image_token_ratio_list`). Original positions kept, nothing recycled.

How our probe relates to PDrop's description: PDrop computes, at the boundary, the query of the
last instruction token and the keys of all tokens from the normalised input of the boundary
layer, i.e. from that layer's own q/k projections and RoPE. `AttentionProbe` after layer l
returns exactly those rows for layer l (its normalised input, its cached keys, softmax with the
causal mask). So the scores are PDrop's; what differs is where the drop takes effect: PDrop drops
before the boundary layer runs, the seam only lets a method act after a layer has run, so here
layer l itself still runs on the undropped sequence and the drop applies from layer l + 1.
Counted in the papers' output convention (a pruning layer with its count after pruning) this is
the same accounting as PDrop's stages: lambda 0.5 gives 270 equivalent tokens on 32 layers; in
the input convention it costs one more layer per stage at the larger count.
"""

from __future__ import annotations

from dataclasses import dataclass

from llava.sparse.base import TokenState
from llava.sparse.fastv import KeepSchedule, TopKRun, check_batch, score_by_last_token

DEFAULT_LAYERS = (8, 16, 24)  # reference: scripts/v1_5/pdrop_eval, --layer_list '[8,16,24]'
DEFAULT_LAMBDA = 0.5  # reference: --image_token_ratio_list "[1.0,0.5,0.25,0.125]"


@dataclass(frozen=True)
class PDropConfig:
    layers: tuple[int, ...] = DEFAULT_LAYERS  # stage boundaries: drop after these layers
    lam: float = DEFAULT_LAMBDA  # fraction of the present visual tokens kept at each boundary
    retained_tokens: int | None = None  # the --retained-tokens request lambda was solved for

    @property
    def schedule(self) -> KeepSchedule:
        return KeepSchedule(tuple(self.layers), self.lam)

    def check(self, num_layers: int) -> None:
        self.schedule.check(num_layers, "--pdrop-layers", "--pdrop-lambda")


class PDrop:
    name = "pdrop"

    def __init__(self, config: PDropConfig = PDropConfig()) -> None:
        self.config = config

    def describe(self) -> dict:
        config = self.config
        settings = {"method": self.name, "layers": list(config.layers), "lambda": config.lam}
        if config.retained_tokens is not None:
            settings["retained_tokens_requested"] = config.retained_tokens
        return settings

    def start(self, state: TokenState, num_layers: int) -> TopKRun:
        self.config.check(num_layers)
        check_batch(state, "PDrop")
        return TopKRun(self.config.schedule, score_by_last_token, state.num_visual)
