"""The pruning contract, checked for every registered method on a tiny random model.

32 layers and 576 visual tokens, so every method runs with its published layers and the papers'
budgets (each method at 128 equivalent tokens, or 192 where its stages cannot reach 128, in
each of its scoring-layer variants; SparseVLM also as the seed's v1 and as v2). For each, one
prefill + decode is traced (module cache) and checked:
- text (and system) tokens always survive, in order; kept visual tokens keep their order; merged
  tokens sit between the kept visual tokens and the text;
- per-layer counts in the stats and records equal what the layers actually ran (KV lengths), and
  token accounting counts the image's tokens before any pruning as the dense reference;
- `--retained-tokens N` realises N within the method's granularity;
- positions follow the method's policy, in prefill and in decode;
- cached decoding over the ragged cache equals a no-cache recomputation of the same pruned prompt;
- determinism; a text-only prompt is a no-op; settings that do not fit the model are refused;
- a batch of mixed prompts gives each sample exactly what it gets alone.
A test fails if a registered method is missing from the run.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest
import torch
from pruning_helpers import Spy
from sparse_helpers import QUESTION_IDS, SYSTEM_IDS, PromptOnly, pixels, prompt_ids

from llava.eval.pruning_args import add_pruning_args, pruner_from_args
from llava.experiments.method_grid import method_grid
from llava.generate import GenerationOptions, decode_one_token, generate, prefill
from llava.sparse.base import MERGED, SYSTEM, TEXT, VISUAL
from llava.sparse.budget import account
from llava.sparse.registry import methods

STEPS = 3  # decoded tokens after the prefill token
EXTRA_CASES = {
    "sparsevlm-v1": ["--sparse"],  # the seed's rank-based k, layers 2, 6, 15, 19
    "sparsevlm-v2-64": ["--sparse", "--sparse-version", "v2", "--retained-tokens", "64"],
}


def contract_cases() -> dict[str, list[str]]:
    """label -> flags: dense, every registered method in every variant, and EXTRA_CASES."""
    grid = method_grid()
    cases: dict[str, list[str]] = {"dense": []}
    for method in methods().values():
        for variant in method.variants if method.name != "dense" else ():
            suffix = "" if variant == "default" else f"-{variant}"
            label = next(
                f"{method.name}-{budget}{suffix}"
                for budget in (128, 192)
                if f"{method.name}-{budget}{suffix}" in grid
            )
            cases[label] = grid[label]
    return {**cases, **EXTRA_CASES}


CASES = contract_cases()


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_pruning_args(parser)
    return parser.parse_args(argv)


def make_method(label: str, model):
    return pruner_from_args(parse(CASES[label]), model)


def stage(label: str, model) -> str:
    return methods()[make_method(label, model).describe()["method"]].stage


def test_every_registered_method_is_in_the_contract_run(contract_model) -> None:
    covered = {make_method(label, contract_model).describe()["method"] for label in CASES}
    assert covered == set(methods())


@dataclass
class Trace:
    ids: torch.Tensor
    images: torch.Tensor
    run: object  # the Spy's run: every hook's view
    stats: object
    lengths: list[list[int]]  # KV lengths per layer: after prefill, after each decode step
    next_positions: list[list[int]]  # next RoPE position per layer, same moments
    tokens: list[int]  # greedy tokens: the prefill's, then one per decode step
    logits: list[torch.Tensor]  # (vocab,) logits giving each of those tokens

    @property
    def views(self) -> list:
        return self.run.after_views()


_TRACES: dict[str, Trace] = {}


def trace(label: str, model) -> Trace:
    if label not in _TRACES:
        ids, images = prompt_ids(), pixels(model)
        spy = Spy(make_method(label, model))
        logits, cache, (stats,) = prefill(model, ids, images, spy)
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
        _TRACES[label] = Trace(
            ids, images, spy.runs[0], stats, lengths, positions, tokens, all_logits
        )
    return _TRACES[label]


@pytest.fixture(params=list(CASES))
def label(request):
    return request.param


def test_text_survives_and_visual_order_is_kept(label, contract_model):
    t = trace(label, contract_model)
    pre_llm = stage(label, contract_model) == "pre-LLM"
    first = t.run.views[0].before
    roles0, origin0 = first.roles[0], first.origin[0]
    system = origin0[roles0 == SYSTEM].tolist()
    text = origin0[roles0 == TEXT].tolist()
    assert len(text) == t.ids.shape[1] - len(system) - 1 and first.num_visual == 576
    for view in t.run.views:
        state = view.after
        roles, origin = state.roles[0].tolist(), state.origin[0]
        # [system] [visual] [text], in that order, nothing else.
        expected_roles = [SYSTEM] * len(system) + [VISUAL] * state.num_visual + [TEXT] * len(text)
        assert roles == expected_roles
        assert origin[state.roles[0] == SYSTEM].tolist() == system
        assert origin[state.roles[0] == TEXT].tolist() == text
        visual = origin[state.roles[0] == VISUAL].tolist()
        if pre_llm and visual[:1] == [MERGED]:
            visual = visual[1:]  # VisionZip's CLS leads its image tokens
        kept = [o for o in visual if o != MERGED]
        assert kept == sorted(set(kept)), "kept visual tokens must stay distinct, in order"
        merged = [i for i, o in enumerate(visual) if o == MERGED]
        assert merged == list(range(len(kept), len(visual))), "merged tokens after the kept"
    if label != "dense":
        assert t.run.views[-1].after.num_visual < 576


def same_tokens(a, b) -> bool:
    return torch.equal(a.origin, b.origin) and torch.equal(a.hidden, b.hidden)


def test_counts_equal_what_the_layers_ran(label, contract_model):
    t = trace(label, contract_model)
    stats, layers = t.stats, len(contract_model.model.layers)
    assert len(t.views) == len(stats.tokens_in) == len(stats.visual_in) == layers
    assert stats.tokens_in == t.lengths[0], "KV length of each layer = tokens that entered it"
    assert stats.image_tokens == 576, "the dense reference: the image before any pruning"
    assert stats.dense_prompt_tokens == t.ids.shape[1] - 1 + 576
    for idx, view in enumerate(t.views):
        assert view.layer == idx
        assert stats.tokens_in[idx] == view.before.num_tokens
        assert stats.visual_in[idx] == view.before.num_visual
        assert stats.visual_out[idx] == view.after.num_visual
    changed = {v.layer for v in t.views if not same_tokens(v.before, v.after)}
    before_changes = {v.layer for v in t.run.views if v.hook == "before"}
    assert changed | before_changes == {r.layer for r in stats.records if r.pruned and r.layer >= 0}
    for record in stats.records:
        if record.layer < 0:  # pre-LLM: the image's tokens, then what layer 0 received
            assert (record.visual_in, record.visual_out) == (576, stats.visual_in[0])
            continue
        counted = stats.visual_in if record.before else stats.visual_out
        assert record.visual_out == counted[record.layer]
        assert record.scores.shape == (record.visual_in,)
    accounting = account(stats, contract_model.config.text)
    assert accounting.visual_tokens == 576
    assert accounting.equivalent_tokens_output == sum(stats.visual_out) / layers
    assert accounting.equivalent_tokens_input == sum(stats.visual_in) / layers
    # Each decode step adds exactly one entry to every layer's cache.
    for step, lengths in enumerate(t.lengths):
        assert lengths == [n + step for n in stats.tokens_in]


def test_retained_tokens_are_realised(label, contract_model):
    flags = CASES[label]
    if "--retained-tokens" not in flags:
        pytest.skip("no token budget asked")
    target = int(flags[flags.index("--retained-tokens") + 1])
    pruner = make_method(label, contract_model)
    realised = account(trace(label, contract_model).stats, contract_model.config.text)
    within = 1.0
    if pruner.name == "dart":  # one more token per pivot: 8 tokens over 31 of 32 layers
        within = 8 * 31 / 32 / 2
    assert abs(realised.equivalent_tokens_output - target) <= within


def test_positions_follow_the_policy(label, contract_model):
    t = trace(label, contract_model)
    renumbers = t.run.inner.renumbers_positions
    layer0 = t.views[0].before
    position_of = dict(zip(layer0.origin[0].tolist(), layer0.positions[0].tolist(), strict=True))
    for view in t.views:
        positions = view.before.positions[0].tolist()
        if renumbers:
            assert positions == list(range(view.before.num_tokens))
        else:
            for origin, position in zip(view.before.origin[0].tolist(), positions, strict=True):
                if origin != MERGED:
                    assert position == position_of[origin]
    for step, (lengths, nexts) in enumerate(zip(t.lengths, t.next_positions, strict=True)):
        if renumbers:
            assert nexts == lengths, "decode position = the layer's cache length"
        else:
            assert nexts == [layer0.num_tokens + step] * len(lengths)


def test_cached_decoding_equals_recomputation(label, contract_model):
    """Append the decoded tokens to the prompt as text and run one no-cache pass in which the
    method acts on the prompt part only (its decisions are then those of the prefill, by
    causality); the continuation's logits must equal those of cached decoding."""
    model = contract_model
    t = trace(label, model)
    continuation = torch.tensor([t.tokens[:STEPS]])
    ids = torch.cat((t.ids, continuation), dim=1)
    wrapped = Spy(PromptOnly(make_method(label, model), tail=STEPS))
    logits, state, (stats,) = model(ids, t.images, wrapped)
    for mine, theirs in zip(stats.records, t.stats.records, strict=True):
        assert (mine.layer, mine.kept, mine.clusters) == (
            theirs.layer,
            theirs.kept,
            theirs.clusters,
        )
    recomputed = logits[0, -(STEPS + 1) :]
    torch.testing.assert_close(recomputed, torch.stack(t.logits), atol=1e-4, rtol=0)
    for view, prefill_view in zip(wrapped.runs[0].after_views(), t.views, strict=True):
        assert view.before.num_tokens == prefill_view.before.num_tokens + STEPS


def test_deterministic(label, contract_model):
    model = contract_model
    t = trace(label, model)
    again = generate(model, t.ids, t.images, make_method(label, model), GenerationOptions(4))
    (stats,) = again.stats
    assert again.tokens[0].tolist() == t.tokens
    assert stats.tokens_in == t.stats.tokens_in and stats.visual_out == t.stats.visual_out
    for mine, theirs in zip(stats.records, t.stats.records, strict=True):
        assert (mine.layer, mine.rank, mine.k, mine.pruned, mine.kept, mine.clusters) == (
            theirs.layer, theirs.rank, theirs.k, theirs.pruned, theirs.kept, theirs.clusters,
        )  # fmt: skip
        assert torch.equal(mine.scores, theirs.scores)


def test_a_text_only_prompt_is_a_no_op(label, contract_model):
    """No image: nothing to prune; the answer is the dense one and nothing is recorded pruned."""
    ids = torch.tensor([SYSTEM_IDS + QUESTION_IDS])
    options = GenerationOptions(max_new_tokens=4)
    pruned = generate(contract_model, ids, None, make_method(label, contract_model), options)
    dense = generate(contract_model, ids, None, None, options)
    (stats,) = pruned.stats
    assert torch.equal(pruned.tokens, dense.tokens)
    assert stats.image_tokens == 0 and set(stats.visual_out) == {0}
    assert not any(record.pruned for record in stats.records)


# Settings each method cannot run with on the 4-layer, 16-visual-token model (a new method must
# add its own line: the test below checks every registered method is here).
UNFITTING = {
    "dense": None,
    "sparsevlm": ["--sparse"],  # layers 2, 6, 15, 19
    "fastv": ["--pruning-method", "fastv", "--fastv-k", "5"],
    "pdrop": ["--pruning-method", "pdrop"],  # stages 8, 16, 24
    "pdrop-after": ["--pruning-method", "pdrop-after"],
    "visionzip": ["--pruning-method", "visionzip"],  # 53 dominant patches of 16
    "dart": ["--pruning-method", "dart", "--dart-k", "4"],
    "mmr": ["--pruning-method", "mmr", "--mmr-k", "5"],
    "random": ["--pruning-method", "random", "--pruning-layers", "4"],
    "grid": ["--pruning-method", "grid", "--pruning-layers", "1,9"],
}


def test_settings_that_do_not_fit_the_model_are_refused(small_gqa_model):
    assert set(UNFITTING) == set(methods()), "every registered method needs an unfitting case"
    for flags in UNFITTING.values():
        if flags is None:
            continue
        with pytest.raises(ValueError, match=r"4 layers|16 .*(patches|visual)|exceed"):
            pruner = pruner_from_args(parse(flags), small_gqa_model)
            prefill(small_gqa_model, prompt_ids(), pixels(small_gqa_model), pruner)


def test_a_batch_gives_each_sample_what_it_gets_alone(label, contract_model):
    """Three samples of different lengths (one text-only, one with a longer question, the image
    at another index) in one batch: per sample, the same greedy tokens and decisions."""
    model = contract_model
    prompts = [
        prompt_ids()[0],
        torch.tensor(SYSTEM_IDS + QUESTION_IDS),
        torch.tensor(SYSTEM_IDS[:5] + [prompt_ids()[0, len(SYSTEM_IDS)].item()] + QUESTION_IDS * 2),
    ]
    images = [pixels(model, seed=0)[0], None, pixels(model, seed=1)[0]]
    options = GenerationOptions(max_new_tokens=5)
    batch = generate(model, prompts, images, make_method(label, model), options)
    for row, (ids, image) in enumerate(zip(prompts, images, strict=True)):
        one = generate(model, [ids], [image], make_method(label, model), options)
        length = one.tokens.shape[1]
        assert batch.tokens[row, :length].tolist() == one.tokens[0].tolist()
        mine, alone = batch.stats[row], one.stats[0]
        assert (mine.tokens_in, mine.visual_out) == (alone.tokens_in, alone.visual_out)
        for a, b in zip(mine.records, alone.records, strict=True):
            assert (a.layer, a.k, a.kept, a.clusters) == (b.layer, b.k, b.kept, b.clusters)
