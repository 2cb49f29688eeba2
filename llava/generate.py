"""Generation: `prefill()` (where a pruning method acts) then `decode_one_token()` with the cache.

Pruning lives exactly at that boundary: prefill runs the decoder loop with the method, decode
steps attend to each layer's (possibly shortened) cache and never prune.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from llava.constants import IMAGE_TOKEN_INDEX
from llava.model.cache import KVCache
from llava.model.llama import LoopCounts
from llava.model.multimodal import MultimodalCausalLM
from llava.sparse.base import VISUAL, NoPruning, PerSampleRuns, PrefillStats, Pruner, TokenState


@dataclass(frozen=True)
class GenerationOptions:
    max_new_tokens: int = 128
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float | None = None
    top_k: int | None = None  # sampling: keep the k most likely tokens (before top_p)
    # transformers' RepetitionPenaltyLogitsProcessor: a token already in the sequence has its
    # logit divided by this (multiplied, if negative); greedy decoding included
    repetition_penalty: float = 1.0
    eos_token_ids: tuple[int, ...] | None = None  # None: the decoder's eos_token_id


def generation_options(
    do_sample: bool = False,
    temperature: float | None = None,
    top_p: float | None = None,
    num_beams: int = 1,
    max_new_tokens: int = 128,
    use_cache: bool = True,
    top_k: int | None = None,
    repetition_penalty: float | None = None,
    eos_token_id: int | list[int] | None = None,
    **ignored,
) -> GenerationOptions:
    """Translate LLaVA's `generate` keywords (and transformers' top_k, repetition_penalty and
    eos_token_id, one id or several); refuse the ones we do not implement."""
    unsupported = sorted(set(ignored) - {"pad_token_id", "attention_mask"})
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
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    penalty = 1.0 if repetition_penalty is None else repetition_penalty
    if not (math.isfinite(penalty) and penalty > 0):
        raise ValueError(f"repetition_penalty must be a finite number > 0, got {penalty}")
    eos = (eos_token_id,) if isinstance(eos_token_id, int) else eos_token_id
    return GenerationOptions(
        max_new_tokens, do_sample, temperature or 1.0, top_p, top_k, penalty,
        tuple(eos) if eos else None,
    )  # fmt: skip


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
    model: MultimodalCausalLM,
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
        newlines = 0 if state.layout is None else int(state.layout.separator.sum())
        references.append((int((state.roles == VISUAL).sum()), state.num_tokens, newlines))
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
            image_newline_tokens=newlines,
        )
        for row, (run, (image_tokens, prompt_tokens, newlines)) in enumerate(
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
    model: MultimodalCausalLM,
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
    model: MultimodalCausalLM, token: torch.Tensor, cache: KVCache
) -> torch.Tensor:
    """token (B,) -> next-token logits (B, vocab), appending to every layer's cache."""
    hidden = model.model.embed_tokens(token[:, None].to(model.device))
    return model.logits(model.model.decode_layers(hidden, cache)[:, -1])


def penalise_repeats(logits: torch.Tensor, seen: torch.Tensor, penalty: float) -> torch.Tensor:
    """transformers' repetition penalty: the logits (B, vocab) of the tokens `seen` (B, vocab)
    divided by `penalty` where positive, multiplied where negative."""
    logits = logits.float()
    penalised = torch.where(logits < 0, logits * penalty, logits / penalty)
    return torch.where(seen, penalised, logits)


def seen_in_prompts(model, input_ids, vocab: int) -> torch.Tensor:
    """(B, vocab) the tokens of each prompt, as transformers' input_ids hold them: the image's
    placeholder is the model's image token (llava-hf, Qwen-VL) where it has one; an original
    LLaVA checkpoint's generate passes the prompt as embeddings, so only new tokens count."""
    prompts = list(input_ids)
    seen = torch.zeros(len(prompts), vocab, dtype=torch.bool)
    image_token = getattr(model.config, "image_token_id", None)
    if image_token is None:
        return seen
    for row, ids in enumerate(prompts):
        ids = torch.where(ids == IMAGE_TOKEN_INDEX, image_token, ids).cpu()
        seen[row, ids[(ids >= 0) & (ids < vocab)]] = True
    return seen


def next_token(
    logits: torch.Tensor,
    options: GenerationOptions,
    generators: list[torch.Generator] | None = None,
) -> torch.Tensor:
    """Greedy, or sampled (with one generator per row when given, so that a row draws the same
    tokens whatever batch it is in)."""
    if not options.do_sample:
        return logits.argmax(dim=-1)
    logits = logits.float() / options.temperature
    if options.top_k is not None and options.top_k < logits.shape[-1]:
        kth = logits.topk(options.top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = logits.softmax(dim=-1)
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
    model: MultimodalCausalLM,
    input_ids: torch.Tensor | list[torch.Tensor],
    images,
    pruner: Pruner | None = None,
    options: GenerationOptions = GenerationOptions(),
    seeds: list[int] | None = None,
) -> GenerationOutput:
    """Prefill then token-by-token decoding until EOS or `max_new_tokens`; rows that finish
    leave the decode batch (their cache rows are dropped). `seeds`: one sampling seed per row."""
    device = model.device
    eos = torch.tensor(options.eos_token_ids or (model.config.text.eos_token_id,))
    start = time.perf_counter()
    logits, cache, stats, counts = _prefill(model, input_ids, images, pruner)
    _synchronize(device)
    prefill_seconds = time.perf_counter() - start
    kv_bytes = cache.nbytes()

    start = time.perf_counter()
    batch = logits.shape[0]
    tokens = torch.full((batch, options.max_new_tokens), int(eos[0]), dtype=torch.long)
    active = torch.arange(batch)  # batch rows still decoding, in cache order
    generators = None
    if seeds is not None and options.do_sample:
        generators = [torch.Generator(logits.device).manual_seed(seed) for seed in seeds]
    penalty = options.repetition_penalty
    seen = seen_in_prompts(model, input_ids, logits.shape[-1]) if penalty != 1.0 else None
    length = 0
    for step in range(options.max_new_tokens):
        if seen is not None:
            logits = penalise_repeats(logits, seen[active].to(logits.device), penalty)
        token = next_token(logits, options, generators)
        tokens[active, step] = token.cpu()
        if seen is not None:
            seen[active, token.cpu()] = True
        length = step + 1
        done = torch.isin(token.cpu(), eos)
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
