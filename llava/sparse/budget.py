"""Token accounting: what "N tokens" means, in both conventions, and analytic prefill FLOPs.

The papers' "192 / 128 / 64 tokens" is an *equivalent* count: the mean over decoder layers of
the visual tokens present, a pruning layer counted with its tokens *after* pruning (merged
tokens included): `equivalent_tokens_output`. Counting the visual tokens *entering* each layer
is the more honest measure of work: `equivalent_tokens_input`. Both come from what the decoder
loop actually ran (`PrefillStats`), never from what a method intended.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from llava.model.config import LlamaConfig
from llava.model.llama import PrefillStats


def layer_flops(tokens: int, hidden: int, ffn: int) -> float:
    """Prefill FLOPs of one LLaMA layer over `tokens` tokens, multiply-adds counted once (as the
    SparseVLM reference logs them): projections 4nd^2, attention 2n^2d, SwiGLU MLP 3ndm."""
    n, d, m = tokens, hidden, ffn
    return 4 * n * d * d + 2 * n * n * d + 3 * n * d * m


def prefill_flops(tokens_per_layer: list[int], config: LlamaConfig) -> float:
    return float(
        sum(layer_flops(n, config.hidden_size, config.intermediate_size) for n in tokens_per_layer)
    )


@dataclass(frozen=True)
class TokenAccounting:
    visual_tokens: int  # visual tokens of the image (entering layer 0)
    equivalent_tokens_output: float  # papers' convention
    equivalent_tokens_input: float
    prompt_tokens: int
    prefill_flops: float
    dense_prefill_flops: float  # the same prompt without pruning

    def as_dict(self) -> dict:
        return asdict(self)


def account(stats: PrefillStats, config: LlamaConfig) -> TokenAccounting:
    layers = len(stats.visual_out)
    prompt = stats.tokens_in[0]
    return TokenAccounting(
        visual_tokens=stats.visual_in[0],
        equivalent_tokens_output=sum(stats.visual_out) / layers,
        equivalent_tokens_input=sum(stats.visual_in) / layers,
        prompt_tokens=prompt,
        prefill_flops=prefill_flops(stats.tokens_in, config),
        dense_prefill_flops=prefill_flops([prompt] * layers, config),
    )
