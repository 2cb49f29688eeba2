"""The pruning contract, checked for every method on tiny random models.

8 layers with the pruning layers scaled down (v1: 1, 3, 5, 6; v1.5 / v2: 1, 3, 5) and 576
visual tokens, so that every budget preset applies. Each method's prefill + decode is run once
(module cache) and its trace checked against the contract:
- text (and system) tokens always survive, in order; kept visual tokens keep their order; merged
  tokens sit between the kept visual tokens and the text;
- per-layer counts in the stats and records equal what the layers actually ran (KV lengths);
- positions follow the method's policy, in prefill and in decode;
- cached decoding over the ragged cache equals a no-cache recomputation against the same pruned
  prompt;
- determinism, batch size > 1, and a 40-layer model with the default layers.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest
import torch
from sparse_helpers import PromptOnly, Spy, pixels, prompt_ids

from llava.eval.pruning_args import add_pruning_args, pruner_from_args
from llava.generate import GenerationOptions, decode_one_token, generate, prefill
from llava.model.cache import KVCache
from llava.sparse.base import MERGED, SYSTEM, TEXT, VISUAL, NoPruning
from llava.sparse.budget import account
from llava.sparse.sparsevlm import SparseVLM, sparsevlm_v1, sparsevlm_v2, sparsevlm_v15

V1_LAYERS_8 = (1, 3, 5, 6)
BUDGET_LAYERS_8 = (1, 3, 5)
STEPS = 3  # decoded tokens after the prefill token


def make_method(name: str, model):
    if name == "dense":
        return NoPruning()
    version, setting = name.split("-", 1)
    if version == "v1":
        scale, bias = (float(v) for v in setting.split("/"))
        return SparseVLM(sparsevlm_v1(scale, bias, layers=V1_LAYERS_8))
    if version == "v1.5":
        return SparseVLM(sparsevlm_v15(int(setting), layers=BUDGET_LAYERS_8))
    config = sparsevlm_v2(int(setting), layers=BUDGET_LAYERS_8)
    return SparseVLM(config, inv_freq=model.model.rotary.inv_freq)


METHODS = [
    "dense",
    "v1-13.5/0",
    "v1-9/6",
    "v1-0.8/0",
    "v1.5-192",
    "v1.5-128",
    "v1.5-64",
    "v2-192",
    "v2-128",
    "v2-96",
    "v2-64",
]


def renumbers(name: str) -> bool:
    return name.startswith("v1")  # v1 and v1.5; v2 and dense keep the original positions


def pruning_layers(name: str) -> tuple[int, ...]:
    if name == "dense":
        return ()
    return V1_LAYERS_8 if name.startswith("v1-") else BUDGET_LAYERS_8


@dataclass
class Trace:
    ids: torch.Tensor
    images: torch.Tensor
    views: list  # per layer: the state it ran with and what the method returned
    stats: object
    lengths: list[list[int]]  # KV lengths per layer: after prefill, after each decode step
    next_positions: list[list[int]]  # next RoPE position per layer, same moments
    tokens: list[int]  # greedy tokens: the prefill's, then one per decode step
    logits: list[torch.Tensor]  # (vocab,) logits giving each of those tokens


_TRACES: dict[str, Trace] = {}


def trace(name: str, model) -> Trace:
    if name not in _TRACES:
        ids, images = prompt_ids(), pixels(model)
        spy = Spy(make_method(name, model))
        logits, cache, stats = prefill(model, ids, images, spy)
        lengths, positions = [cache.lengths()], [cache.next_positions()[:, 0].tolist()]
        tokens, all_logits = [], []
        for step in range(STEPS + 1):
            all_logits.append(logits[0])
            tokens.append(int(logits[0].argmax()))
            if step == STEPS:
                break
            logits = decode_one_token(model, torch.tensor([tokens[-1]]), cache)
            lengths.append(cache.lengths())
            positions.append(cache.next_positions()[:, 0].tolist())
        _TRACES[name] = Trace(
            ids, images, spy.runs[0].views, stats, lengths, positions, tokens, all_logits
        )
    return _TRACES[name]


@pytest.fixture(params=METHODS)
def method(request):
    return request.param


def test_text_survives_and_visual_order_is_kept(method, contract_model):
    t = trace(method, contract_model)
    first = t.views[0].before
    roles0, origin0 = first.roles[0], first.origin[0]
    system = origin0[roles0 == SYSTEM].tolist()
    text = origin0[roles0 == TEXT].tolist()
    assert len(text) == t.ids.shape[1] - len(system) - 1 and first.num_visual == 576
    for view in t.views:
        state = view.after
        roles, origin = state.roles[0].tolist(), state.origin[0]
        # [system] [visual] [text], in that order, nothing else.
        expected_roles = [SYSTEM] * len(system) + [VISUAL] * state.num_visual + [TEXT] * len(text)
        assert roles == expected_roles
        assert origin[state.roles[0] == SYSTEM].tolist() == system
        assert origin[state.roles[0] == TEXT].tolist() == text
        visual = origin[state.roles[0] == VISUAL].tolist()
        kept = [o for o in visual if o != MERGED]
        assert kept == sorted(set(kept)), "kept visual tokens must stay distinct, in order"
        merged = [i for i, o in enumerate(visual) if o == MERGED]
        assert merged == list(range(len(kept), len(visual))), "merged tokens after the kept"
        if method.startswith("v2") or method == "dense":
            assert merged == []
    if method != "dense":
        assert t.views[-1].after.num_visual < 576


def same_tokens(a, b) -> bool:
    return torch.equal(a.origin, b.origin) and torch.equal(a.hidden, b.hidden)


def test_counts_equal_what_the_layers_ran(method, contract_model):
    t = trace(method, contract_model)
    stats, layers = t.stats, len(contract_model.model.layers)
    assert len(t.views) == len(stats.tokens_in) == len(stats.visual_in) == layers
    assert stats.tokens_in == t.lengths[0], "KV length of each layer = tokens that entered it"
    assert stats.tokens_in[0] == t.ids.shape[1] - 1 + 576
    for idx, view in enumerate(t.views):
        assert view.layer == idx
        assert stats.tokens_in[idx] == view.before.num_tokens
        assert stats.visual_in[idx] == view.before.num_visual
        assert stats.visual_out[idx] == view.after.num_visual
        if idx + 1 < layers:
            assert stats.tokens_in[idx + 1] == view.after.num_tokens
            assert stats.visual_in[idx + 1] == stats.visual_out[idx]
    assert [r.layer for r in stats.records] == list(pruning_layers(method))
    # The sequence changes exactly at the layers whose record says it pruned (k = Nv - 1
    # prunes one token and merges it back: same length, different tokens).
    changed = [i for i, v in enumerate(t.views) if not same_tokens(v.before, v.after)]
    assert changed == [r.layer for r in stats.records if r.pruned]
    for record in stats.records:
        assert record.visual_in == stats.visual_in[record.layer]
        assert record.visual_out == stats.visual_out[record.layer]
        assert record.scores.shape == (record.visual_in,)
        if record.pruned:
            assert len(record.kept) == record.k <= record.visual_in - 1
    accounting = account(stats, contract_model.config.text)
    assert accounting.equivalent_tokens_output == sum(stats.visual_out) / layers
    assert accounting.equivalent_tokens_input == sum(stats.visual_in) / layers
    # Each decode step adds exactly one entry to every layer's cache.
    for step, lengths in enumerate(t.lengths):
        assert lengths == [n + step for n in stats.tokens_in]


def test_budgets_are_met(method, contract_model):
    """v1.5 / v2: k = the budget at each pruning layer (visual tokens suffice here)."""
    if method.startswith(("v1.5", "v2")):
        config = make_method(method, contract_model).config
        records = trace(method, contract_model).stats.records
        assert [r.k for r in records] == list(config.budgets)
        for record in records:
            expected = record.k + (len(record.clusters) if config.recycle else 0)
            assert record.visual_out == expected
            assert bool(record.clusters) == config.recycle


def test_positions_follow_the_policy(method, contract_model):
    t = trace(method, contract_model)
    prompt_length = t.stats.tokens_in[0]
    for view in t.views:
        positions = view.before.positions[0].tolist()
        if renumbers(method):
            assert positions == list(range(view.before.num_tokens))
        else:
            assert positions == view.before.origin[0].tolist()
    for step, (lengths, nexts) in enumerate(zip(t.lengths, t.next_positions, strict=True)):
        if renumbers(method):
            assert nexts == lengths, "v1 / v1.5 decode position = the layer's cache length"
        else:
            assert nexts == [prompt_length + step] * len(lengths)


def test_cached_decoding_equals_recomputation(method, contract_model):
    """Append the decoded tokens to the prompt as text and run one no-cache pass in which the
    method acts on the prompt part only (its decisions are then those of the prefill, by
    causality); the continuation's logits must equal those of cached decoding."""
    model = contract_model
    t = trace(method, model)
    continuation = torch.tensor([t.tokens[:STEPS]])
    ids = torch.cat((t.ids, continuation), dim=1)
    wrapped = Spy(PromptOnly(make_method(method, model), tail=STEPS))
    logits, state, stats = model(ids, t.images, wrapped)
    for mine, theirs in zip(stats.records, t.stats.records, strict=True):
        assert (mine.layer, mine.kept, mine.clusters) == (
            theirs.layer,
            theirs.kept,
            theirs.clusters,
        )
    recomputed = logits[0, -(STEPS + 1) :]
    torch.testing.assert_close(recomputed, torch.stack(t.logits), atol=1e-4, rtol=0)
    # The recomputation ran the same prompt: its sequence = prefill's + the continuation.
    for view, prefill_view in zip(wrapped.runs[0].views, t.views, strict=True):
        assert view.before.num_tokens == prefill_view.before.num_tokens + STEPS


def test_deterministic(method, contract_model):
    model = contract_model
    t = trace(method, model)
    again = generate(
        model, t.ids, t.images, make_method(method, model), GenerationOptions(max_new_tokens=4)
    )
    assert again.tokens[0].tolist() == t.tokens
    assert again.stats.tokens_in == t.stats.tokens_in
    assert again.stats.visual_out == t.stats.visual_out
    for mine, theirs in zip(again.stats.records, t.stats.records, strict=True):
        assert (mine.layer, mine.rank, mine.k, mine.pruned) == (
            theirs.layer,
            theirs.rank,
            theirs.k,
            theirs.pruned,
        )
        assert (mine.kept, mine.clusters) == (theirs.kept, theirs.clusters)
        assert torch.equal(mine.scores, theirs.scores)


def test_batch_size_above_one(method, contract_model):
    model = contract_model
    t = trace(method, model)
    ids, images = t.ids.repeat(2, 1), t.images.repeat(2, 1, 1, 1)
    if method == "dense":
        logits, cache, _ = prefill(model, ids, images, make_method(method, model))
        torch.testing.assert_close(logits, t.logits[0].expand(2, -1), atol=1e-4, rtol=0)
        return
    with pytest.raises(ValueError, match=r"batch size 1 \(got 2\)"):
        prefill(model, ids, images, make_method(method, model))


def parse(argv):
    parser = argparse.ArgumentParser()
    add_pruning_args(parser)
    return parser.parse_args(argv)


@pytest.mark.parametrize(
    ("version", "layers"), [("v1", (2, 6, 15, 19)), ("v1.5", (2, 6, 15)), ("v2", (2, 6, 15))]
)
def test_forty_layers_with_the_default_layers(version, layers, deep_model):
    """LLaVA-1.5-13B's depth (the reference's v1.5 hard-codes 32 layers)."""
    model = deep_model
    pruner = pruner_from_args(parse(["--sparse", "--sparse-version", version]), model)
    assert pruner.config.layers == layers
    ids, images = prompt_ids(), pixels(model)
    out = generate(model, ids, images, pruner, GenerationOptions(max_new_tokens=3))
    stats = out.stats
    assert len(stats.tokens_in) == 40
    assert [r.layer for r in stats.records] == list(layers)
    drops = [i for i in range(39) if stats.tokens_in[i + 1] != stats.tokens_in[i]]
    assert drops[:2] == [2, 6] and set(drops) <= set(layers)
    assert [r.layer for r in stats.records if r.pruned] == list(layers)
    assert stats.visual_out[-1] < 576 and out.tokens.shape == (1, 3)
    # The ragged cache: each layer holds what it ran, and decodes from its own position.
    _, cache, _ = prefill(model, ids, images, pruner)
    assert cache.lengths() == stats.tokens_in
    assert isinstance(cache, KVCache)
    nexts = cache.next_positions()[:, 0].tolist()
    assert nexts == (stats.tokens_in if version != "v2" else [stats.tokens_in[0]] * 40)
