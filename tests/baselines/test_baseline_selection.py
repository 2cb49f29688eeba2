"""Each baseline's selection on hand-built attention rows: `after_layer` driven directly with a
TokenState and a probe returning chosen rows; kept indices, order, positions and records."""

from __future__ import annotations

import pytest
import torch
from baseline_helpers import RowProbe, drive, hand_state, uniform_probe

from llava.sparse.base import VISUAL
from llava.sparse.fastv import FastV, FastVConfig
from llava.sparse.grid import GridConfig, GridPruning, grid_choice
from llava.sparse.pdrop import PDrop, PDropConfig
from llava.sparse.pdrop_after import PDropAfter, PDropAfterConfig
from llava.sparse.random import RandomConfig, RandomPruning

SYSTEM, VISUAL_TOKENS, TEXT = 2, 8, 3
N = SYSTEM + VISUAL_TOKENS + TEXT
# Attention of the last token to the 8 visual tokens, per head. The head mean ranks them
# 4 > 3 > 0 > 1 > 2 > 6 > 5 > 7; neither head alone gives that top four.
HEAD0 = [0.20, 0.00, 0.10, 0.00, 0.30, 0.05, 0.00, 0.05]
HEAD1 = [0.00, 0.16, 0.04, 0.28, 0.00, 0.05, 0.12, 0.03]
MEAN = [(a + b) / 2 for a, b in zip(HEAD0, HEAD1, strict=True)]


def rows(visual_per_head: list[list[float]], system: int = SYSTEM, text: int = TEXT):
    """(H, N) rows: large attention on the system tokens (the "sink"), the given values on the
    visual tokens, some on the text: only the visual columns may decide."""
    return torch.tensor([[0.9] * system + v + [0.4] * text for v in visual_per_head])


def test_fastv_keeps_the_top_half_by_head_mean_of_the_last_token():
    state = hand_state(SYSTEM, VISUAL_TOKENS, TEXT)
    run = FastV().start(state, 32)
    assert run.renumbers_positions is False
    probe = RowProbe(rows([HEAD0, HEAD1]))
    assert run.after_layer(0, state, probe) is state  # K = 2: nothing before layer 1
    pruned = run.after_layer(1, state, probe)
    assert probe.asked == [[N - 1]], "one query row: the last prompt token"
    kept_visual = [0, 1, 3, 4]  # top 4 of the head mean, in image order
    expected = [0, 1] + [SYSTEM + i for i in kept_visual] + [10, 11, 12]
    assert pruned.origin[0].tolist() == expected
    assert pruned.positions[0].tolist() == expected, "original RoPE positions kept"
    assert pruned.hidden[0, :, 0].tolist() == expected
    assert pruned.roles[0].tolist().count(VISUAL) == 4
    (record,) = run.records
    assert (record.layer, record.visual_in, record.k, record.pruned) == (1, 8, 4, True)
    assert record.rank is None and record.clusters == [] and record.visual_out == 4
    assert record.kept == kept_visual
    torch.testing.assert_close(record.scores, torch.tensor(MEAN))
    assert run.after_layer(2, pruned, RowProbe(torch.zeros(2, 9))) is pruned
    assert len(run.records) == 1


def test_fastv_k_and_ratio():
    state = hand_state(SYSTEM, VISUAL_TOKENS, TEXT)
    run = FastV(FastVConfig(k=4, ratio=0.25)).start(state, 32)
    probe = RowProbe(rows([HEAD0, HEAD1]))
    assert run.after_layer(1, state, probe) is state
    pruned = run.after_layer(3, state, probe)
    assert run.records[0].layer == 3 and run.records[0].kept == [3, 4]
    assert pruned.num_tokens == SYSTEM + 2 + TEXT


def test_published_pdrop_ranks_before_the_boundary_layer_and_renumbers():
    """Before layers 1 and 3: int(8 * 0.5) = 4, then int(8 * 0.25) = 2 kept, by the last token's
    attention with the boundary layer's own queries and keys; positions renumbered."""
    state = hand_state(SYSTEM, VISUAL_TOKENS, TEXT)
    run = PDrop(PDropConfig(layers=(1, 3), lam=0.5)).start(state, 32)
    assert run.renumbers_positions is True
    assert run.before_layer(0, state, RowProbe(rows([HEAD0, HEAD1]))) is state
    assert run.after_layer(1, state, RowProbe(rows([HEAD0, HEAD1]))) is state, "never after"
    probe = RowProbe(rows([HEAD0, HEAD1]))
    first = run.before_layer(1, state, probe)
    assert probe.asked == [[N - 1]] and run.records[0].before
    assert run.records[0].kept == [0, 1, 3, 4]
    probe = RowProbe(rows([[0.1, 0.5, 0.2, 0.2], [0.1, 0.3, 0.4, 0.2]]))
    second = run.before_layer(3, first, probe)
    record = run.records[1]
    assert (record.layer, record.visual_in, record.k, record.kept) == (3, 4, 2, [1, 3])
    assert second.origin[0].tolist() == [0, 1, SYSTEM + 1, SYSTEM + 3, 10, 11, 12]


def test_pdrop_after_drops_lambda_of_the_remaining_at_each_boundary():
    state = hand_state(SYSTEM, VISUAL_TOKENS, TEXT)
    run = PDropAfter(PDropAfterConfig(layers=(1, 3), lam=0.5)).start(state, 32)
    assert run.after_layer(0, state, RowProbe(rows([HEAD0, HEAD1]))) is state
    first = run.after_layer(1, state, RowProbe(rows([HEAD0, HEAD1])))
    assert run.records[0].kept == [0, 1, 3, 4]
    assert run.after_layer(2, first, uniform_probe(first)) is first
    # Stage 2: the sequence is [2 system][labels 0, 1, 3, 4][3 text]; rows sized to it.
    probe = RowProbe(rows([[0.1, 0.5, 0.2, 0.2], [0.1, 0.3, 0.4, 0.2]]))
    second = run.after_layer(3, first, probe)
    assert probe.asked == [[SYSTEM + 4 + TEXT - 1]], "the last instruction token of the stage"
    record = run.records[1]
    assert (record.layer, record.visual_in, record.k, record.kept) == (3, 4, 2, [1, 3])
    assert second.origin[0].tolist() == [0, 1, SYSTEM + 1, SYSTEM + 3, 10, 11, 12]
    assert second.positions[0].tolist() == second.origin[0].tolist()


def kept_by_random(seed: int, system: int = SYSTEM, ratio: float = 0.3) -> list[int]:
    state = hand_state(system, 100, TEXT)
    run = RandomPruning(RandomConfig(layers=(1,), ratio=ratio, seed=seed)).start(state, 32)
    probes = []

    def probe_for(s):
        probes.append(uniform_probe(s))
        return probes[-1]

    states = drive(run, state, 4, probe_for)
    assert all(p.asked == [] for p in probes), "random pruning reads no attention"
    assert states[-1].num_visual == 30 and run.records[0].k == 30
    return run.records[0].kept


def test_random_is_reproducible_per_sample_and_keeps_order():
    kept = kept_by_random(seed=0)
    assert kept == sorted(set(kept)) and len(kept) == 30
    assert kept_by_random(seed=0) == kept, "same seed, same prompt: same tokens"
    assert kept_by_random(seed=1) != kept
    assert kept_by_random(seed=0, system=3) != kept, "another prompt length draws again"


def test_grid_on_a_small_and_the_llava_grid():
    assert sorted(grid_choice(list(range(16)), 4, 4).tolist()) == [0, 2, 8, 10]
    every_second = [r * 24 + c for r in range(0, 24, 2) for c in range(0, 24, 2)]
    assert sorted(grid_choice(list(range(576)), 24, 144).tolist()) == every_second
    state = hand_state(SYSTEM, 576, TEXT)
    run = GridPruning(GridConfig(layers=(1, 3), ratio=0.25)).start(state, 32)
    states = drive(run, state, 5)
    assert run.records[0].kept == every_second
    # Second stage on the 12 x 12 subgrid: targets at 4i + 1.5 pick rows/columns 4i + 2.
    every_fourth = [r * 24 + c for r in range(2, 24, 4) for c in range(2, 24, 4)]
    assert run.records[1].kept == every_fourth and run.records[1].visual_in == 144
    assert states[-1].num_visual == 36
    visual = states[-1].roles[0] == VISUAL
    assert states[-1].origin[0, visual].tolist() == [SYSTEM + p for p in every_fourth]


@pytest.mark.parametrize(
    "method", [FastV(FastVConfig(ratio=1.0)), GridPruning(GridConfig(ratio=1.0))]
)
def test_ratio_one_leaves_the_sequence_unchanged(method):
    state = hand_state(SYSTEM, 16, TEXT)
    run = method.start(state, 32)
    assert run.after_layer(1, state, uniform_probe(state)) is state
    (record,) = run.records
    assert (record.pruned, record.k, record.visual_out) == (False, 16, 16)
    assert record.kept == list(range(16))


def test_methods_see_one_sample_at_a_time():
    """A batch reaches methods row by row (PerSampleRuns); a batched state is refused."""
    state = hand_state(SYSTEM, 16, TEXT)
    tensors = (state.hidden, state.positions, state.roles, state.origin)
    batch = type(state)(*(t.expand(2, *t.shape[1:]) for t in tensors))
    for method in (FastV(), PDrop(), RandomPruning(), GridPruning()):
        with pytest.raises(ValueError, match="one sample at a time"):
            method.start(batch, 32)


def test_grid_needs_a_square_patch_grid():
    with pytest.raises(ValueError, match="square patch grid"):
        GridPruning().start(hand_state(SYSTEM, 15, TEXT), 32)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (FastVConfig(k=0), r"--fastv-k 0.*1\.\.32"),
        (FastVConfig(k=33), r"--fastv-k 33"),
        (FastVConfig(ratio=0.0), r"--fastv-ratio .*in \(0, 1\]"),
        (FastVConfig(ratio=1.5), r"--fastv-ratio .*in \(0, 1\]"),
        (FastVConfig(ratio=float("nan")), r"--fastv-ratio .*finite"),
        (PDropConfig(layers=(8, 16, 32)), r"--pdrop-layers.*do not fit.*valid: 0\.\.31"),
        (PDropConfig(layers=(16, 8)), "distinct and increasing"),
        (PDropConfig(lam=-0.5), r"--pdrop-lambda must be a finite number in \(0, 1\]"),
        (RandomConfig(layers=(40,)), r"--pruning-layers.*32 layers"),
        (RandomConfig(seed=-1), "--random-seed"),
        (GridConfig(ratio=2.0), r"--keep-ratio .*in \(0, 1\]"),
    ],
)
def test_config_checks(config, message):
    with pytest.raises(ValueError, match=message):
        config.check(32)
    # The defaults fit LLaVA-1.5-7B and -13B.
    for depth in (32, 40):
        type(config)().check(depth)


def test_describe():
    assert FastV().describe() == {"method": "fastv", "k": 2, "layers": [1], "ratio": 0.5}
    assert PDrop().describe() == {"method": "pdrop", "layers": [8, 16, 24], "lambda": 0.5}
    assert RandomPruning(RandomConfig(retained_tokens=64)).describe() == {
        "method": "random",
        "layers": [1],
        "ratio": 0.5,
        "seed": 0,
        "retained_tokens_requested": 64,
    }
    assert GridPruning().describe() == {"method": "grid", "layers": [1], "ratio": 0.5}
