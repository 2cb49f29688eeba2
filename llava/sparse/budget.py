"""Token accounting: what "N tokens" means, in both conventions, and analytic prefill FLOPs.

The papers' "192 / 128 / 64 tokens" is an *equivalent* count: the mean over decoder layers of
the visual tokens present, a pruning layer counted with its tokens *after* pruning (merged
tokens included): `equivalent_tokens_output`. Counting the visual tokens *entering* each layer
is the more honest measure of work: `equivalent_tokens_input`. Both come from what the decoder
loop actually ran (`PrefillStats`), never from what a method intended.

Budget solving (the second half) goes the other way: which method parameter (FastV's kept
fraction, PDrop's lambda, SparseVLM's per-layer budgets ...) gives N equivalent tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from typing import Protocol

from llava.sparse.base import PrefillStats


class DecoderShape(Protocol):
    hidden_size: int
    intermediate_size: int


def layer_flops(tokens: int, hidden: int, ffn: int) -> float:
    """Prefill FLOPs of one LLaMA layer over `tokens` tokens, multiply-adds counted once (as the
    SparseVLM reference logs them): projections 4nd^2, attention 2n^2d, SwiGLU MLP 3ndm."""
    n, d, m = tokens, hidden, ffn
    return 4 * n * d * d + 2 * n * n * d + 3 * n * d * m


def prefill_flops(tokens_per_layer: list[int], config: DecoderShape) -> float:
    return float(
        sum(layer_flops(n, config.hidden_size, config.intermediate_size) for n in tokens_per_layer)
    )


@dataclass(frozen=True)
class TokenAccounting:
    visual_tokens: int  # visual tokens of the image, before any pruning (pre-LLM included)
    equivalent_tokens_output: float  # papers' convention
    equivalent_tokens_input: float
    prompt_tokens: int  # the prompt's length before any pruning
    prefill_flops: float
    dense_prefill_flops: float  # the same prompt without pruning
    # The equivalent tokens as fractions of this sample's own visual tokens (None without an
    # image): what compares across images of LLaVA-NeXT and Qwen-VL, whose counts differ.
    equivalent_ratio_output: float | None = None
    equivalent_ratio_input: float | None = None
    image_newline_tokens: int = 0  # LLaVA-NeXT: the image-newline rows among visual_tokens

    def as_dict(self) -> dict:
        return asdict(self)


def account(stats: PrefillStats, config: DecoderShape) -> TokenAccounting:
    """Both conventions count what the layers ran; the dense reference is the prompt before any
    pruning, so a method that prunes before layer 0 reports its reduction too. Every count is
    the sample's own: an image of LLaVA-NeXT or Qwen-VL has as many visual tokens as its size
    gives (LLaVA-NeXT's image-newline rows included, and reported apart)."""
    layers = len(stats.visual_out)
    prompt = stats.dense_prompt_tokens
    output, entering = sum(stats.visual_out) / layers, sum(stats.visual_in) / layers
    visual = stats.image_tokens
    return TokenAccounting(
        visual_tokens=visual,
        equivalent_tokens_output=output,
        equivalent_tokens_input=entering,
        prompt_tokens=prompt,
        prefill_flops=prefill_flops(stats.tokens_in, config),
        dense_prefill_flops=prefill_flops([prompt] * layers, config),
        equivalent_ratio_output=output / visual if visual else None,
        equivalent_ratio_input=entering / visual if visual else None,
        image_newline_tokens=stats.image_newline_tokens,
    )


# --------------------------------------------------------------------------- budget solving
#
# "N tokens" for a method = the method parameter whose per-layer visual counts give N equivalent
# tokens. Everything below is a pure function of the depth, the pruning layers and the visual
# token count V: the methods compute their kept counts with the same functions, so what the
# solver predicts is what the decoder loop then runs (tests check both).

LLAVA_LAYERS = 32  # LLaVA-1.5-7B (Vicuna-7B)
LLAVA_VISUAL_TOKENS = 576  # CLIP ViT-L/14-336: 24 x 24 patches
CONVENTIONS = ("output", "input")


def kept_count(visual: int, ratio: float) -> int:
    """Visual tokens a keep-ratio method keeps out of `visual` (rounded half up)."""
    return min(visual, int(visual * ratio + 0.5))


def visual_counts(
    num_layers: int, visual: int, prune: dict[int, Callable[[int], int]], before: bool = False
) -> tuple[list[int], list[int]]:
    """Visual tokens entering and leaving each layer when layer l maps n -> prune[l](n): after
    layer l ran, or (`before`) before it runs."""
    entering, leaving, n = [], [], visual
    for layer in range(num_layers):
        if before and layer in prune:
            n = prune[layer](n)
        entering.append(n)
        if not before and layer in prune:
            n = prune[layer](n)
        leaving.append(n)
    return entering, leaving


def equivalent_tokens(counts: tuple[list[int], list[int]], convention: str = "output") -> float:
    """Mean over layers of the visual tokens leaving ("output", the papers') or entering
    ("input") each layer, from `visual_counts`."""
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    entering, leaving = counts
    per_layer = leaving if convention == "output" else entering
    return sum(per_layer) / len(per_layer)


def keep_ratio_counts(
    ratio: float, layers: Sequence[int], num_layers: int, visual: int
) -> tuple[list[int], list[int]]:
    """FastV / PDrop / random / grid: after each of `layers`, keep `ratio` of what is there."""
    return visual_counts(
        num_layers, visual, {layer: partial(kept_count, ratio=ratio) for layer in layers}
    )


def _boundary(predicate: Callable[[float], bool], lo: float, hi: float) -> tuple[float, float]:
    """For a predicate false at lo and true at hi, switching once: (last false, first true),
    to float precision."""
    for _ in range(200):
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        if predicate(mid):
            hi = mid
        else:
            lo = mid
    return lo, hi


def solve_monotone(
    equivalent: Callable[[float], float], target: float, lo: float, hi: float
) -> float:
    """The parameter x in [lo, hi] whose equivalent(x) (non-decreasing, piecewise constant) is
    closest to `target`: the middle of that constant piece, so that the parameter survives
    printing with a few digits and parsing back."""
    if equivalent(hi) < target:
        candidates = [equivalent(hi)]
    elif equivalent(lo) >= target:
        candidates = [equivalent(lo)]
    else:
        below, above = _boundary(lambda x: equivalent(x) >= target, lo, hi)
        candidates = [equivalent(above), equivalent(below)]
    best = min(candidates, key=lambda value: abs(value - target))  # a tie goes to the larger
    start = lo if equivalent(lo) >= best else _boundary(lambda x: equivalent(x) >= best, lo, hi)[1]
    end = hi if equivalent(hi) <= best else _boundary(lambda x: equivalent(x) > best, lo, hi)[0]
    return (start + end) / 2


def check_target(target: float, visual: int) -> None:
    if not 0 < target <= visual:
        raise ValueError(
            f"--retained-tokens must be in 1..{visual} (the image's visual tokens), got {target}"
        )


def check_reached(
    realised: float, target: float, what: str, lowest: float, highest: float, within: float = 1
) -> None:
    """Refuse a solution further than `within` equivalent tokens from the target (the method's
    granularity: one token for most methods)."""
    if abs(realised - target) > within:
        raise ValueError(
            f"{what} cannot reach {target} equivalent tokens (reachable: {lowest:.1f} to "
            f"{highest:.1f}; closest {realised:.1f}); prune earlier or choose another budget"
        )


def solve_keep_ratio(
    target: float,
    layers: Sequence[int],
    num_layers: int = LLAVA_LAYERS,
    visual: int = LLAVA_VISUAL_TOKENS,
    convention: str = "output",
) -> float:
    """The keep ratio in (0, 1] of FastV (one layer), PDrop's lambda (its stage boundaries) or
    random / grid pruning (their layers) giving `target` equivalent tokens within one token."""
    check_target(target, visual)

    def equivalent(ratio: float) -> float:
        counts = keep_ratio_counts(ratio, layers, num_layers, visual)
        return equivalent_tokens(counts, convention)

    ratio = solve_monotone(equivalent, target, 0.0, 1.0)
    what = f"keeping a fraction of the visual tokens after layers {list(layers)}"
    check_reached(equivalent(ratio), target, what, equivalent(0.0), equivalent(1.0))
    return ratio
