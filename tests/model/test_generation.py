"""Generation: cached decoding equals full recomputation, stopping rules, LLaVA's `generate`
call, sampling, and the per-layer KV cache (layers of different lengths)."""

from __future__ import annotations

import copy

import pytest
import torch
from model_helpers import OTHER_QUESTION, DropVisual, prompt_ids

from llava.generate import (
    GenerationOptions,
    decode_one_token,
    generate,
    generation_options,
    penalise_repeats,
    prefill,
)
from llava.model.cache import KVCache, LayerCache
from llava.sparse.base import TokenState

TOL = 1e-4
EOS = 2


def full_next_logits(model, ids, pixels, generated: list[int], pruner=None) -> torch.Tensor:
    """Next-token logits (vocab,) from a full forward over prompt + generated tokens."""
    full = torch.cat((ids, torch.tensor([generated], dtype=ids.dtype)), dim=1)
    with torch.no_grad():
        return model(full, pixels, pruner)[0][0, -1]


def cached_steps(model, ids, pixels, steps: int, pruner=None):
    """Greedy decoding through prefill / decode_one_token: tokens, logits per step, cache."""
    logits, cache, _ = prefill(model, ids, pixels, pruner)
    tokens, all_logits = [], []
    for _ in range(steps):
        all_logits.append(logits[0])
        tokens.append(int(logits[0].argmax()))
        logits = decode_one_token(model, torch.tensor([tokens[-1]]), cache)
    return tokens, all_logits, cache


def test_cached_decoding_equals_full_recomputation(tiny_model, tiny_tokenizer, pixels) -> None:
    ids = prompt_ids(tiny_tokenizer)
    out = generate(tiny_model, ids, pixels, None, GenerationOptions(max_new_tokens=10))
    generated = out.tokens[0].tolist()
    assert len(generated) == 10 and EOS not in generated  # the test covers 10 decode steps
    assert len(set(generated)) > 1
    tokens, step_logits, cache = cached_steps(tiny_model, ids, pixels, 10)
    assert tokens == generated
    for step in range(10):
        reference = full_next_logits(tiny_model, ids, pixels, generated[:step])
        assert (step_logits[step] - reference).abs().max().item() <= TOL, step
    # GQA: the cache holds 2 KV heads (the model has 4 query heads)
    prompt_len = ids.shape[1] - 1 + 16
    assert cache[0].keys.shape == (1, 2, prompt_len + 10, 16)  # 10 decoded tokens appended
    assert out.prompt_tokens == [prompt_len]
    assert out.kv_cache_bytes == 4 * 2 * prompt_len * 2 * 16 * 4  # layers, k+v, n, heads, hd, fp32


@pytest.mark.parametrize("renumber", [True, False], ids=["renumber", "keep-positions"])
def test_cached_decoding_after_pruning(tiny_model, tiny_tokenizer, pixels, renumber) -> None:
    """A method that shortens the sequence after layer 1: layers 0-1 cache the whole prompt,
    layers 2-3 a shorter one; decoding still equals a full recomputation with the method."""
    pruner = DropVisual(layer=1, keep_every=3, renumber=renumber)
    ids = prompt_ids(tiny_tokenizer)
    prompt_len = ids.shape[1] - 1 + 16
    kept = prompt_len - 16 + 6  # visual tokens 0, 3, ..., 15 kept
    tokens, step_logits, cache = cached_steps(tiny_model, ids, pixels, 6, pruner)
    assert cache.lengths() == [prompt_len + 6] * 2 + [kept + 6] * 2
    next_positions = cache.next_positions()[:, 0].tolist()
    if renumber:  # each layer continues from its own length
        assert next_positions == [prompt_len + 6] * 2 + [kept + 6] * 2
    else:  # positions kept: every layer continues from the prompt's length
        assert next_positions == [prompt_len + 6] * 4
    for step in range(6):
        reference = full_next_logits(tiny_model, ids, pixels, tokens[:step], pruner)
        assert (step_logits[step] - reference).abs().max().item() <= TOL, step
    # ... and the pruning changed the answer's logits (the test is not vacuous)
    dense = cached_steps(tiny_model, ids, pixels, 1)[1][0]
    assert (dense - step_logits[0]).abs().max().item() > 100 * TOL


def test_max_new_tokens_respected(tiny_model, tiny_tokenizer, pixels) -> None:
    ids = prompt_ids(tiny_tokenizer)
    long = generate(tiny_model, ids, pixels, None, GenerationOptions(max_new_tokens=7)).tokens
    for n in (1, 3, 7):
        out = generate(tiny_model, ids, pixels, None, GenerationOptions(max_new_tokens=n)).tokens
        assert out.shape == (1, n)
        assert torch.equal(out, long[:, :n])


def _eos_after(model, ids, pixels, k: int, avoid: tuple[int, ...] = ()):
    """A copy of `model` whose greedy answer is the original's first k (or more) tokens, then
    EOS: the lm_head rows of EOS and of the first new token from step k on (not in `avoid`)
    are swapped."""
    tokens = generate(model, ids, pixels, None, GenerationOptions(max_new_tokens=12)).tokens[0]
    tokens = tokens.tolist()
    step = next(
        i for i in range(k, len(tokens)) if tokens[i] not in tokens[:i] and tokens[i] not in avoid
    )
    target = tokens[step]
    swapped = copy.deepcopy(model)
    with torch.no_grad():
        weight = swapped.lm_head.weight
        weight[[EOS, target]] = weight[[target, EOS]]
    return swapped, tokens[:step] + [EOS]


def test_stops_at_eos_and_returns_it(tiny_model, tiny_tokenizer, pixels) -> None:
    ids = prompt_ids(tiny_tokenizer)
    model, expected = _eos_after(tiny_model, ids, pixels, 3)
    assert len(expected) >= 4 and expected.count(EOS) == 1
    out = generate(model, ids, pixels, None, GenerationOptions(max_new_tokens=20))
    assert out.tokens[0].tolist() == expected  # new tokens only, the EOS included


def test_batch_rows_stop_independently(tiny_model, tiny_tokenizer, pixels) -> None:
    """A finished row keeps emitting EOS while the other goes on; each row equals its own run."""
    ids_a = prompt_ids(tiny_tokenizer)
    ids_b = prompt_ids(tiny_tokenizer, OTHER_QUESTION)
    options = GenerationOptions(max_new_tokens=12)
    tokens_b = generate(tiny_model, ids_b, pixels, None, options).tokens[0].tolist()
    model, _ = _eos_after(tiny_model, ids_a, pixels, 2, avoid=tuple(tokens_b))
    rows = [generate(model, i, pixels, None, options).tokens[0].tolist() for i in (ids_a, ids_b)]
    batch = generate(model, torch.cat((ids_a, ids_b)), pixels.repeat(2, 1, 1, 1), None, options)
    width = max(len(r) for r in rows)
    assert batch.tokens.shape == (2, width)
    assert rows[1] == tokens_b and width == 12  # row b is unaffected by the swap
    assert rows[0][-1] == EOS and len(rows[0]) < width  # row a stops first
    for row, single in zip(batch.tokens.tolist(), rows, strict=True):
        assert row == single + [EOS] * (width - len(single))


def test_llava_style_generate_call(tiny_model, tiny_tokenizer, pixels) -> None:
    ids = prompt_ids(tiny_tokenizer)
    out = tiny_model.generate(
        ids,
        images=pixels,
        image_sizes=[(70, 42)],
        do_sample=False,
        temperature=0,
        top_p=None,
        num_beams=1,
        max_new_tokens=8,
        use_cache=True,
    )
    expected = generate(tiny_model, ids, pixels, None, GenerationOptions(max_new_tokens=8))
    assert torch.equal(out, expected.tokens)


def test_generate_refusals(tiny_model, tiny_tokenizer, pixels) -> None:
    ids = prompt_ids(tiny_tokenizer)
    with pytest.raises(ValueError, match="num_beams=2: beam search is not implemented"):
        tiny_model.generate(ids, images=pixels, num_beams=2, max_new_tokens=4)
    with pytest.raises(ValueError, match="no_repeat_ngram_size"):
        tiny_model.generate(ids, images=pixels, no_repeat_ngram_size=3)
    with pytest.raises(ValueError, match="repetition_penalty must be a finite number > 0"):
        generation_options(repetition_penalty=0.0)
    with pytest.raises(ValueError, match="top_k must be >= 1"):
        generation_options(top_k=0)
    with pytest.raises(ValueError, match="temperature > 0"):
        generation_options(do_sample=True, temperature=0)
    with pytest.raises(ValueError, match="max_new_tokens must be >= 1"):
        generation_options(max_new_tokens=0)
    with pytest.raises(ValueError, match="no image was given"):
        tiny_model.generate(ids, images=None)


def test_repetition_penalty_by_hand() -> None:
    """transformers' rule: a seen token's logit is divided by the penalty if positive,
    multiplied if negative; unseen tokens are untouched."""
    logits = torch.tensor([[2.0, -2.0, 1.0, -1.0]])
    seen = torch.tensor([[True, True, False, False]])
    assert penalise_repeats(logits, seen, 2.0).tolist() == [[1.0, -4.0, 1.0, -1.0]]


def test_sampling_is_seeded(tiny_model, tiny_tokenizer, pixels) -> None:
    ids = prompt_ids(tiny_tokenizer)

    def sample(seed: int, **kwargs) -> list[int]:
        torch.manual_seed(seed)
        options = generation_options(do_sample=True, max_new_tokens=10, **kwargs)
        return generate(tiny_model, ids, pixels, None, options).tokens[0].tolist()

    greedy = generate(tiny_model, ids, pixels, None, GenerationOptions(max_new_tokens=10))
    first = sample(0, temperature=1.5, top_p=0.9)
    assert sample(0, temperature=1.5, top_p=0.9) == first
    assert first != greedy.tokens[0].tolist()  # it did sample
    assert sample(1, temperature=1.5, top_p=0.9) != first
    # a nucleus this small holds only the most likely token: greedy, whatever the seed
    for seed in (0, 1):
        assert sample(seed, temperature=1.0, top_p=1e-6) == greedy.tokens[0].tolist()


def test_layer_cache_append_and_grow() -> None:
    gen = torch.Generator().manual_seed(0)
    cache = LayerCache()
    assert cache.length == 0 and cache.nbytes() == 0
    parts = [torch.randn(2, 3, n, 4, generator=gen) for n in (5, 1, 300, 1)]  # 306 > 256: grows
    for i, part in enumerate(parts):
        keys, values = cache.append(part, -part)
        expected = torch.cat(parts[: i + 1], dim=2)
        assert torch.equal(keys, expected) and torch.equal(values, -expected)
    assert cache.length == 307
    assert cache.nbytes() == 2 * 2 * 3 * 307 * 4 * 4


def test_kv_cache_ragged_layers() -> None:
    cache = KVCache(3)
    for layer, n in enumerate((10, 6, 2)):
        cache[layer].append(torch.zeros(1, 2, n, 4), torch.zeros(1, 2, n, 4))
        cache[layer].next_position = torch.tensor([n + 100 * layer])
    assert len(cache) == 3
    assert cache.lengths() == [10, 6, 2]
    assert cache.next_positions().tolist() == [[10], [106], [202]]
    cache.advance()
    assert cache.next_positions().tolist() == [[11], [107], [203]]
    assert cache.lengths() == [10, 6, 2]  # advance moves positions, not contents


def test_prefill_in_two_parts_equals_one(tiny_model) -> None:
    """Several new tokens after a cached prefix use a causal mask with an offset."""
    ids = torch.randint(3, 100, (1, 40), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        full = tiny_model(ids)[0]

        def run(part: torch.Tensor, start: int, cache: KVCache) -> torch.Tensor:
            state = tiny_model.prepare_state(part)
            positions = state.positions + start
            state = TokenState(state.hidden, positions, state.roles, positions)
            return tiny_model.logits(tiny_model.model.run_layers(state, cache)[0].hidden)

        cache = KVCache(4)
        first, second = run(ids[:, :25], 0, cache), run(ids[:, 25:], 25, cache)
    assert cache.lengths() == [40] * 4
    assert (torch.cat((first, second), dim=1) - full).abs().max().item() <= TOL
