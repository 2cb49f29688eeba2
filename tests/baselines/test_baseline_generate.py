"""Every method end to end through `prefill` / `generate` on a tiny 32-layer LLaVA with 576
visual tokens, built from the command-line flags: the text survives, per-layer counts equal the
KV-cache lengths, positions are the original ones, and the budget is hit within one token."""

from __future__ import annotations

import pytest
import torch
from baseline_helpers import parse, pixels, prompt_ids
from pruning_helpers import Spy

from llava.eval.pruning_args import pruner_from_args
from llava.generate import GenerationOptions, decode_one_token, generate, prefill
from llava.sparse.base import SYSTEM, TEXT
from llava.sparse.budget import account

CASES = {
    "fastv-64": (["--pruning-method", "fastv", "--retained-tokens", "64"], 64),
    "fastv-default": (["--pruning-method", "fastv"], 297),
    "pdrop-192": (["--pruning-method", "pdrop", "--retained-tokens", "192"], 192),
    "pdrop-default": (["--pruning-method", "pdrop"], 270),
    "pdrop-64": (
        ["--pruning-method", "pdrop", "--retained-tokens", "64", "--pdrop-layers", "2,6,15"],
        64,
    ),
    "random-128": (["--pruning-method", "random", "--retained-tokens", "128"], 128),
    "grid-128": (["--pruning-method", "grid", "--retained-tokens", "128"], 128),
    "grid-two-stages": (
        ["--pruning-method", "grid", "--pruning-layers", "1,9", "--retained-tokens", "100"],
        100,
    ),
    "sparsevlm-100": (["--sparse", "--sparse-version", "v1.5", "--retained-tokens", "100"], 100),
    "sparsevlm-v2-150": (
        ["--pruning-method", "sparsevlm", "--sparse-version", "v2", "--retained-tokens", "150"],
        150,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_prefill_and_decode(case, llava32):
    flags, target = CASES[case]
    model = llava32
    ids, images = prompt_ids(), pixels(model)
    spy = Spy(pruner_from_args(parse(flags), model))
    _, cache, (stats,) = prefill(model, ids, images, spy)
    run = spy.runs[0]
    ran = [view.before for view in run.after_views()]  # what each layer ran on
    left = [view.after for view in run.after_views()]  # what the method left after it
    first = ran[0]
    assert first.num_visual == 576
    system = first.origin[0, first.roles[0] == SYSTEM].tolist()
    text = first.origin[0, first.roles[0] == TEXT].tolist()
    keeps_positions = not run.renumbers_positions
    for state in left:
        roles, origin = state.roles[0], state.origin[0]
        assert origin[roles == SYSTEM].tolist() == system, "system tokens survive, in order"
        assert origin[roles == TEXT].tolist() == text, "text tokens survive, in order"
        assert roles.tolist() == sorted(roles.tolist()), "[system][visual][text]"
        if keeps_positions:
            assert torch.equal(state.positions, state.origin), "original RoPE positions kept"
    # The loop's per-layer counts are what each layer ran and cached.
    assert stats.tokens_in == cache.lengths() == [s.num_tokens for s in ran]
    assert stats.visual_in == [s.num_visual for s in ran]
    assert stats.visual_out == [s.num_visual for s in left]
    for record in stats.records:
        if record.before:  # dropped before the layer ran: what it ran on
            assert record.visual_out == stats.visual_in[record.layer]
        else:
            assert record.visual_in == stats.visual_in[record.layer]
            assert record.visual_out == stats.visual_out[record.layer]
    accounting = account(stats, model.config.text)
    assert abs(accounting.equivalent_tokens_output - target) <= 1
    # Decoding appends one entry per layer to the ragged cache, at each layer's next position.
    if keeps_positions:
        assert cache.next_positions()[:, 0].tolist() == [stats.tokens_in[0]] * 32
    lengths = cache.lengths()
    logits = decode_one_token(model, torch.tensor([5]), cache)
    assert cache.lengths() == [n + 1 for n in lengths] and torch.isfinite(logits).all()


@pytest.mark.parametrize("case", ["fastv-64", "pdrop-64", "random-128", "grid-128"])
def test_generate(case, llava32):
    flags, target = CASES[case]
    pruner = pruner_from_args(parse(flags), llava32)
    options = GenerationOptions(max_new_tokens=3)
    out = generate(llava32, prompt_ids(), pixels(llava32), pruner, options)
    again = generate(llava32, prompt_ids(), pixels(llava32), pruner, options)
    assert torch.equal(out.tokens, again.tokens), "deterministic, random pruning included"
    assert out.stats[0].visual_out == again.stats[0].visual_out
    assert 1 <= out.tokens.shape[1] <= 3
    dense = generate(llava32, prompt_ids(), pixels(llava32), None, options)
    assert out.kv_cache_bytes < dense.kv_cache_bytes
    equivalent = account(out.stats[0], llava32.config.text).equivalent_tokens_output
    assert abs(equivalent - target) <= 1
    assert out.stats[0].visual_in[0] == 576
