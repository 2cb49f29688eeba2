"""Generation: `prefill()` (where a pruning method acts) then `decode_one_token()` with the cache.

Pruning lives exactly at that boundary: prefill runs the decoder loop with the method, decode
steps attend to each layer's (possibly shortened) cache and never prune.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from llava.model.cache import KVCache
from llava.model.llama import LoopCounts
from llava.model.llava import LlavaLlamaForCausalLM
from llava.sparse.base import VISUAL, NoPruning, PerSampleRuns, PrefillStats, Pruner, TokenState


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
    if temperature is not None and not (math.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature}")
    if do_sample and (temperature is None or temperature <= 0):
        raise ValueError("do_sample=True needs temperature > 0")
    if top_p is not None and not (math.isfinite(top_p) and 0 < top_p <= 1):
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    return GenerationOptions(max_new_tokens, do_sample, temperature or 1.0, top_p)


@dataclass
class GenerationOutput:
    tokens: torch.Tensor  # (B, n_new) new tokens only, EOS included if produced, EOS-padded
    stats: list[PrefillStats]  # per sample
    prefill_seconds: float
    decode_seconds: float
    kv_cache_bytes: int  # after prefill
    useful_tokens: int  # prefill: real tokens summed over layers and rows
    padded_tokens: int  # prefill: padding the layers ran on besides (0 at batch size 1)

    @property
    def prompt_tokens(self) -> list[int]:
        """Prefill sequence length of each sample (image rows included)."""
        return [s.tokens_in[0] for s in self.stats]


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_prefill(
    model: LlavaLlamaForCausalLM,
    input_ids: torch.Tensor | list[torch.Tensor],
    images,
    pruner: Pruner | None,
    cache: KVCache | None,
) -> tuple[TokenState, list[PrefillStats], LoopCounts]:
    """Every sample's layer-0 state, its method's run (`start`, then `before_llm`), then the
    decoder loop over the right-padded batch; per-sample stats count the image's tokens before
    any pruning as the dense reference; also the loop's counts (padding included)."""
    pruner = pruner or NoPruning()
    depth = len(model.model.layers)
    states, runs, references = [], [], []
    for state, vision in model.prepare_samples(input_ids, images, pruner.vision_request):
        run = pruner.start(state, depth)
        references.append((int((state.roles == VISUAL).sum()), state.num_tokens))
        pruned = run.before_llm(state, vision)
        states.append(pruned)
        runs.append(run)
    state, counts = model.model.run_layers(TokenState.stack(states), cache, PerSampleRuns(runs))
    stats = [
        PrefillStats(
            tokens_in=[layer[row] for layer in counts.tokens_in],
            visual_in=[layer[row] for layer in counts.visual_in],
            visual_out=[layer[row] for layer in counts.visual_out],
            records=run.records,
            image_tokens=image_tokens,
            dense_prompt_tokens=prompt_tokens,
        )
        for row, (run, (image_tokens, prompt_tokens)) in enumerate(
            zip(runs, references, strict=True)
        )
    ]
    return state, stats, counts


def last_hidden(state: TokenState) -> torch.Tensor:
    """(B, D) each row's last real token (rows are right-padded)."""
    last = torch.tensor(state.lengths(), device=state.hidden.device) - 1
    return state.hidden[torch.arange(state.hidden.shape[0], device=last.device), last]


@torch.inference_mode()
def prefill(
    model: LlavaLlamaForCausalLM,
    input_ids: torch.Tensor | list[torch.Tensor],
    images,
    pruner: Pruner | None = None,
) -> tuple[torch.Tensor, KVCache, list[PrefillStats]]:
    """Run the prompts through every layer once; returns each row's next-token logits (B, vocab),
    the cache and per-sample stats."""
    logits, cache, stats, _ = _prefill(model, input_ids, images, pruner)
    return logits, cache, stats


@torch.inference_mode()
def _prefill(model, input_ids, images, pruner):
    cache = KVCache(len(model.model.layers))
    state, stats, counts = run_prefill(model, input_ids, images, pruner, cache)
    return model.logits(last_hidden(state)), cache, stats, counts


@torch.inference_mode()
def decode_one_token(
    model: LlavaLlamaForCausalLM, token: torch.Tensor, cache: KVCache
) -> torch.Tensor:
    """token (B,) -> next-token logits (B, vocab), appending to every layer's cache."""
    hidden = model.model.embed_tokens(token[:, None].to(model.device))
    return model.logits(model.model.decode_layers(hidden, cache)[:, -1])


def next_token(
    logits: torch.Tensor,
    options: GenerationOptions,
    generators: list[torch.Generator] | None = None,
) -> torch.Tensor:
    """Greedy, or sampled (with one generator per row when given, so that a row draws the same
    tokens whatever batch it is in)."""
    if not options.do_sample:
        return logits.argmax(dim=-1)
    probs = (logits.float() / options.temperature).softmax(dim=-1)
    if options.top_p is not None and options.top_p < 1.0:
        # Nucleus: keep the smallest set of most likely tokens whose mass reaches top_p.
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        outside = sorted_probs.cumsum(dim=-1) - sorted_probs >= options.top_p
        sorted_probs = sorted_probs.masked_fill(outside, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
    if generators is None:
        return torch.multinomial(probs, num_samples=1).squeeze(-1)
    return torch.cat(
        [
            torch.multinomial(row[None], 1, generator=g)[:, 0]
            for row, g in zip(probs, generators, strict=True)
        ]
    )


def generate(
    model: LlavaLlamaForCausalLM,
    input_ids: torch.Tensor | list[torch.Tensor],
    images,
    pruner: Pruner | None = None,
    options: GenerationOptions = GenerationOptions(),
    seeds: list[int] | None = None,
) -> GenerationOutput:
    """Prefill then token-by-token decoding until EOS or `max_new_tokens`; rows that finish
    leave the decode batch (their cache rows are dropped). `seeds`: one sampling seed per row."""
    device = model.device
    eos = model.config.text.eos_token_id
    start = time.perf_counter()
    logits, cache, stats, counts = _prefill(model, input_ids, images, pruner)
    _synchronize(device)
    prefill_seconds = time.perf_counter() - start
    kv_bytes = cache.nbytes()

    start = time.perf_counter()
    batch = logits.shape[0]
    tokens = torch.full((batch, options.max_new_tokens), eos, dtype=torch.long)
    active = torch.arange(batch)  # batch rows still decoding, in cache order
    generators = None
    if seeds is not None and options.do_sample:
        generators = [torch.Generator(logits.device).manual_seed(seed) for seed in seeds]
    length = 0
    for step in range(options.max_new_tokens):
        token = next_token(logits, options, generators)
        tokens[active, step] = token.cpu()
        length = step + 1
        done = (token == eos).cpu()
        if bool(done.all()) or step == options.max_new_tokens - 1:
            break
        if bool(done.any()):
            keep = (~done).nonzero().squeeze(1)
            active, token = active[keep], token[keep.to(token.device)]
            cache.keep_rows(keep.to(device))
            if generators is not None:
                generators = [generators[i] for i in keep.tolist()]
        logits = decode_one_token(model, token, cache)
    _synchronize(device)
    return GenerationOutput(
        tokens=tokens[:, :length],
        stats=stats,
        prefill_seconds=prefill_seconds,
        decode_seconds=time.perf_counter() - start,
        kv_cache_bytes=kv_bytes,
        useful_tokens=counts.useful_tokens(),
        padded_tokens=counts.padded_tokens(),
    )
