"""Generation: `prefill()` (where a pruning method acts) then `decode_one_token()` with the cache.

Pruning lives exactly at that boundary: prefill runs the decoder loop with the method, decode
steps attend to each layer's (possibly shortened) cache and never prune.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from llava.model.cache import KVCache
from llava.model.llama import PrefillStats
from llava.model.llava import LlavaLlamaForCausalLM
from llava.sparse.base import Pruner, TokenState


@dataclass(frozen=True)
class GenerationOptions:
    max_new_tokens: int = 128
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float | None = None


def generation_options(
    do_sample: bool = False,
    temperature: float | None = None,
    top_p: float | None = None,
    num_beams: int = 1,
    max_new_tokens: int = 128,
    use_cache: bool = True,
    **ignored,
) -> GenerationOptions:
    """Translate LLaVA's `generate` keywords; refuse the ones we do not implement."""
    unsupported = sorted(set(ignored) - {"pad_token_id", "eos_token_id", "attention_mask"})
    if unsupported:
        raise ValueError(f"generate() does not support {unsupported}")
    if num_beams != 1:
        raise ValueError(f"num_beams={num_beams}: beam search is not implemented, use 1")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    # use_cache is accepted for LLaVA's callers; decoding always uses the per-layer cache.
    if do_sample and (temperature is None or temperature <= 0):
        raise ValueError("do_sample=True needs temperature > 0")
    return GenerationOptions(max_new_tokens, do_sample, temperature or 1.0, top_p)


@dataclass
class GenerationOutput:
    tokens: torch.Tensor  # (B, n_new) new tokens only, the EOS included if one was produced
    stats: PrefillStats
    prompt_tokens: int  # prefill sequence length (image rows included)
    prefill_seconds: float
    decode_seconds: float
    kv_cache_bytes: int  # after prefill


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.inference_mode()
def prefill(
    model: LlavaLlamaForCausalLM,
    input_ids: torch.Tensor,
    images: torch.Tensor | None,
    pruner: Pruner | None = None,
) -> tuple[torch.Tensor, KVCache, PrefillStats]:
    """Run the prompt through every layer once; returns the last token's logits (B, vocab)."""
    return prefill_state(model, model.prepare_state(input_ids, images), pruner)


@torch.inference_mode()
def prefill_state(
    model: LlavaLlamaForCausalLM, state: TokenState, pruner: Pruner | None = None
) -> tuple[torch.Tensor, KVCache, PrefillStats]:
    """`prefill` from a ready layer-0 state (embeddings with the image rows spliced in)."""
    cache = KVCache(len(model.model.layers))
    state, stats = model.model.run_layers(state, cache, pruner)
    return model.logits(state.hidden[:, -1]), cache, stats


@torch.inference_mode()
def decode_one_token(
    model: LlavaLlamaForCausalLM, token: torch.Tensor, cache: KVCache
) -> torch.Tensor:
    """token (B,) -> next-token logits (B, vocab), appending to every layer's cache."""
    hidden = model.model.embed_tokens(token[:, None].to(model.device))
    return model.logits(model.model.decode_layers(hidden, cache)[:, -1])


def next_token(logits: torch.Tensor, options: GenerationOptions) -> torch.Tensor:
    if not options.do_sample:
        return logits.argmax(dim=-1)
    probs = (logits.float() / options.temperature).softmax(dim=-1)
    if options.top_p is not None and options.top_p < 1.0:
        # Nucleus: keep the smallest set of most likely tokens whose mass reaches top_p.
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        outside = sorted_probs.cumsum(dim=-1) - sorted_probs >= options.top_p
        sorted_probs = sorted_probs.masked_fill(outside, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
    return torch.multinomial(probs, num_samples=1).squeeze(-1)


def generate(
    model: LlavaLlamaForCausalLM,
    input_ids: torch.Tensor,
    images: torch.Tensor | None,
    pruner: Pruner | None = None,
    options: GenerationOptions = GenerationOptions(),
) -> GenerationOutput:
    """Prefill then token-by-token decoding until EOS or `max_new_tokens`."""
    device = model.device
    eos = model.config.text.eos_token_id
    start = time.perf_counter()
    logits, cache, stats = prefill(model, input_ids, images, pruner)
    _synchronize(device)
    prefill_seconds = time.perf_counter() - start
    kv_bytes = cache.nbytes()

    start = time.perf_counter()
    tokens = []
    finished = torch.zeros(logits.shape[0], dtype=torch.bool, device=logits.device)
    for step in range(options.max_new_tokens):
        token = next_token(logits, options)
        token = token.masked_fill(finished, eos)  # rows already done keep emitting EOS
        tokens.append(token)
        finished |= token == eos
        if bool(finished.all()) or step == options.max_new_tokens - 1:
            break
        logits = decode_one_token(model, token, cache)
    _synchronize(device)
    return GenerationOutput(
        tokens=torch.stack(tokens, dim=1),
        stats=stats,
        prompt_tokens=stats.tokens_in[0],
        prefill_seconds=prefill_seconds,
        decode_seconds=time.perf_counter() - start,
        kv_cache_bytes=kv_bytes,
    )
