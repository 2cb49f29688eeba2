"""SparseVLM's pieces on hand-built inputs whose expected results can be derived by hand.

A `SparseVLMRun` is driven directly: its raters come from designed layer-0 embeddings, and the
"layer" is a TokenState plus a probe answering designed attention rows (sparse_helpers).
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from sparse_helpers import MatrixProbe, hand_state, new_run

from llava.model.llama import Rotary, apply_rope
from llava.sparse.base import MERGED, SYSTEM, TEXT, VISUAL
from llava.sparse.sparsevlm import (
    ROPE_WEIGHT_FLOOR,
    SparseVLM,
    rope_distance_weight,
    select_raters,
    sparsevlm_v1,
    sparsevlm_v2,
    sparsevlm_v15,
)

DIM = 8
NUM_SYSTEM = 2


# Near-zero RoPE frequencies: v2's distance term is ~sqrt(head_dim) for every pair.
NEAR_ZERO_FREQ = torch.full((DIM // 2,), 1e-9)


def basis(i: int, dim: int = DIM) -> torch.Tensor:
    return torch.eye(dim)[i]


# --------------------------------------------------------------------------- raters


def test_select_raters_picks_the_text_tokens_aligned_with_the_image():
    """Visual rows 10*e0 and 10*e1; text rows e0, e2, e1, e3, -e0. Each visual row puts ~all of
    its softmax mass on the aligned text token, so s ~ (1/2, 0, 1/2, 0, 0) and mean(s) = 1/5:
    raters are text tokens 0 and 2. The system token aligned with the image is no text."""
    system = torch.stack([10 * basis(0), basis(1)])
    visual = torch.stack([10 * basis(0), 10 * basis(1)])
    text = torch.stack([basis(0), basis(2), basis(1), basis(3), -basis(0)])
    raters = select_raters(hand_state(system, visual, text))
    assert raters.tolist() == [0, 2]


def test_select_raters_threshold_is_the_mean_relevance():
    """One visual row ln5 * e0 against text rows e0, (ln2 / ln5) e0, 0, 0: logits ln5, ln2, 0, 0,
    softmax (5, 2, 1, 1) / 9 = (.556, .222, .111, .111), mean .25: only text token 0 rates.
    (Dividing the logits by sqrt(8), which the method does not do, would make token 1 rate
    too: (.350, .253, .198, .198).)"""
    ln5, ln2 = torch.log(torch.tensor(5.0)), torch.log(torch.tensor(2.0))
    visual = (ln5 * basis(0))[None]
    text = torch.stack([basis(0), (ln2 / ln5) * basis(0), 0 * basis(0), 0 * basis(1)])
    assert select_raters(hand_state(torch.zeros(1, DIM), visual, text)).tolist() == [0]
    # Two rows aligned as strongly: both above the mean 1/4.
    text = torch.stack([basis(0), basis(0), 0 * basis(0), 0 * basis(1)])
    assert select_raters(hand_state(torch.zeros(1, DIM), visual, text)).tolist() == [0, 1]


def test_one_text_token_gives_no_raters_and_no_pruning():
    """With one text token its relevance equals the mean (1 = 1): no rater, nothing pruned,
    no record (the reference's "nopruning" diagnostic: raters [] and pruning [])."""
    visual = torch.randn(6, DIM, generator=torch.Generator().manual_seed(0))
    state = hand_state(torch.zeros(NUM_SYSTEM, DIM), visual, basis(0)[None])
    assert select_raters(state).numel() == 0
    run = new_run(SparseVLM(sparsevlm_v1(layers=(0,))), state)
    probe = MatrixProbe(torch.full((state.num_tokens,) * 2, 0.1))
    assert run.after_layer(0, state, probe) is state
    assert run.records == [] and probe.asked == []


# --------------------------------------------------------------------------- a hand-made layer


def rater_state(num_visual: int, num_text: int, raters: list[int]):
    """Layer-0 embeddings that make exactly `raters` (indices among the text tokens) rate:
    visual rows 10*e0, rater text rows e0 (dot 10), the other text rows e1 (dot 0)."""
    system = torch.stack([10 * basis(0), basis(2)])  # aligned system token: must not rate
    visual = 10 * basis(0).expand(num_visual, DIM)
    text = torch.stack([basis(0) if j in raters else basis(1) for j in range(num_text)])
    state = hand_state(system, visual, text)
    assert select_raters(state).tolist() == sorted(raters)
    return state


def designed_scores(num_visual: int, seed: int) -> torch.Tensor:
    """Distinct scores (1..Nv)/Nv in a random order."""
    order = torch.randperm(num_visual, generator=torch.Generator().manual_seed(seed))
    return (order + 1).float() / num_visual


def rater_rows(scores: torch.Tensor, num_raters: int, identical: bool, seed: int) -> torch.Tensor:
    """(R, Nv) rows whose mean is `scores`; of rank R (random zero-mean perturbations) or, with
    `identical`, rank 1."""
    if identical:
        return scores.expand(num_raters, -1).clone()
    generator = torch.Generator().manual_seed(seed)
    noise = torch.rand(num_raters, scores.shape[0], generator=generator) - 0.5
    return scores + (0.1 / scores.shape[0]) * (noise - noise.mean(dim=0))


def layer_probe(state, rater_seq: torch.Tensor, rows: torch.Tensor) -> MatrixProbe:
    """Two heads, 1.5x and 0.5x the designed rows (their mean is the design) in the rater x
    visual block, noise elsewhere that the method must ignore."""
    n = state.num_tokens
    matrix = torch.rand(n, n, generator=torch.Generator().manual_seed(7)) * 0.01
    block = torch.zeros(n, n)
    block[rater_seq[:, None], state.visual_index()[None, :]] = rows
    matrix[rater_seq[:, None], state.visual_index()[None, :]] = 0
    return MatrixProbe(torch.stack([matrix + 1.5 * block, matrix + 0.5 * block]), NEAR_ZERO_FREQ)


def layer_hidden(state, seed: int = 3):
    generator = torch.Generator().manual_seed(seed)
    return state.with_hidden(torch.randn(state.hidden.shape, generator=generator))


def expected_recycling(scores: torch.Tensor, k: int) -> tuple[list[int], list[int], int]:
    """Hand rule: keep the top k (in order); among the Np others recycle the top int(0.3Np)+1
    into int(n1/10)+1 clusters. Returns kept, candidates (descending score), clusters."""
    order = scores.argsort(descending=True).tolist()
    kept = sorted(order[:k])
    pruned = order[k:]
    n1 = (3 * len(pruned)) // 10 + 1
    return kept, pruned[:n1], n1 // 10 + 1


CASES = {
    # name: (Nv, raters, scale, bias, identical rows, rank, k, pruned, clusters)
    "k=int(rank*scale+bias)": (40, [1, 4], 3.0, 1.0, False, 2, 7, True, 2),
    "rank-deficient block": (10, [0, 2, 5], 2.0, 0.0, True, 1, 2, True, 1),
    "four raters": (30, [0, 1, 3, 5], 1.5, 0.5, False, 4, 6, True, 1),
    "k capped at Nv-1": (20, [1, 4], 13.5, 0.0, False, 2, 19, True, 1),
    "k=0 (scale 0.8, one rater)": (20, [3], 0.8, 0.0, False, 1, 0, True, 1),
    "Nv == rank: skip": (2, [1, 4], 13.5, 0.0, False, 2, 2, False, 0),
}


@pytest.mark.parametrize("case", list(CASES))
def test_v1_rank_based_k_and_recycling(case):
    num_visual, raters, scale, bias, identical, rank, k, pruned, num_clusters = CASES[case]
    num_text = 6
    start = rater_state(num_visual, num_text, raters)
    run = new_run(SparseVLM(sparsevlm_v1(scale, bias, layers=(3,))), start)
    state = layer_hidden(start)
    rater_seq = state.text_index()[torch.tensor(raters)]
    scores = designed_scores(num_visual, seed=num_visual)
    probe = layer_probe(state, rater_seq, rater_rows(scores, len(raters), identical, seed=1))

    assert run.after_layer(2, state, probe) is state, "not a pruning layer"
    assert probe.asked == []
    out = run.after_layer(3, state, probe)
    assert probe.asked == [rater_seq.tolist()]  # only the raters' rows are computed
    (record,) = run.records
    assert (record.layer, record.visual_in, record.rank) == (3, num_visual, rank)
    assert (record.k, record.pruned) == (k, pruned)
    torch.testing.assert_close(record.scores, scores, atol=1e-6, rtol=0)
    if not pruned:
        assert out is state
        assert record.kept == list(range(num_visual)) and record.clusters == []
        return

    kept, candidates, clusters = expected_recycling(scores, k)
    assert clusters == num_clusters
    assert record.kept == kept
    assert len(record.clusters) == num_clusters
    assert sorted(sum(record.clusters, [])) == sorted(candidates)
    for members in record.clusters:  # members listed in descending score, as the reference
        assert members == [c for c in candidates if c in members]
    assert record.visual_out == k + num_clusters == out.num_visual

    # [system] [kept, original order] [merged] [text], every prompt token's data moved along.
    roles = [SYSTEM] * NUM_SYSTEM + [VISUAL] * (k + num_clusters) + [TEXT] * num_text
    assert out.roles[0].tolist() == roles
    visual_origin = [NUM_SYSTEM + i for i in kept] + [MERGED] * num_clusters
    text_origin = list(range(NUM_SYSTEM + num_visual, state.num_tokens))
    assert out.origin[0].tolist() == [0, 1] + visual_origin + text_origin
    keep_rows = list(range(NUM_SYSTEM)) + [NUM_SYSTEM + i for i in kept] + text_origin
    visual_at = NUM_SYSTEM + k
    torch.testing.assert_close(
        out.hidden[0, : NUM_SYSTEM + k], state.hidden[0, keep_rows[: NUM_SYSTEM + k]]
    )
    torch.testing.assert_close(
        out.hidden[0, visual_at + num_clusters :], state.hidden[0, text_origin]
    )
    for c, members in enumerate(record.clusters):  # merged = sum / (count + 1e-6)
        rows = state.hidden[0, [NUM_SYSTEM + m for m in members]]
        expected = rows.sum(dim=0) / (len(members) + 1e-6)
        torch.testing.assert_close(out.hidden[0, visual_at + c], expected)


def test_k_zero_with_the_image_first():
    """No token before the image (e.g. a prompt without BOS / system text), one rater,
    scale 0.8: k = 0, all 20 visual tokens pruned, 7 recycled into 1 merged token, which must
    then open the sequence: [m0.0] [text]."""
    visual = 10 * basis(0).expand(20, DIM)
    text = torch.stack([basis(0), basis(1), basis(1), basis(1)])
    start = hand_state(torch.zeros(0, DIM), visual, text)
    run = new_run(SparseVLM(sparsevlm_v1(0.8, 0.0, layers=(0,))), start)
    state = layer_hidden(start)
    scores = designed_scores(20, seed=20)
    rater_seq = state.text_index()[:1]
    out = run.after_layer(0, state, layer_probe(state, rater_seq, scores[None]))
    assert run.records[0].k == 0 and len(run.records[0].clusters) == 1
    assert out.roles[0].tolist() == [VISUAL] + [TEXT] * 4


def test_merged_tokens_are_ordinary_visual_tokens_at_the_next_pruning_layer():
    """Layer 2 keeps 7 of 40 and merges 10 into m2.0, m2.1; at layer 6 (9 visual tokens, the
    same 2 raters -> k = 7) the two lowest scores are the first kept token and m2.0: they are
    pruned, the better one (m2.0) comes back as the single member of m6.0."""
    start = rater_state(40, 6, [1, 4])
    run = new_run(SparseVLM(sparsevlm_v1(3.0, 1.0, layers=(2, 6))), start)
    state = layer_hidden(start)
    rater_seq = state.text_index()[torch.tensor([1, 4])]
    scores = designed_scores(40, seed=40)
    out = run.after_layer(2, state, layer_probe(state, rater_seq, rater_rows(scores, 2, False, 1)))
    first = run.records[0]
    labels = first.kept + ["m2.0", "m2.1"]
    assert out.num_visual == 9

    state2 = layer_hidden(out.renumbered(), seed=4)
    # Scores at layer 6 (sequence order): lowest for kept[0], second lowest for m2.0.
    scores2 = torch.tensor([0.01, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.02, 0.4])
    rater_seq2 = state2.text_index()[torch.tensor([1, 4])]
    probe2 = layer_probe(state2, rater_seq2, rater_rows(scores2, 2, False, 2))
    out2 = run.after_layer(6, state2, probe2)
    assert probe2.asked == [rater_seq2.tolist()]  # rater indices still valid after the prune
    second = run.records[1]
    assert (second.visual_in, second.rank, second.k) == (9, 2, 7)
    assert second.kept == labels[1:7] + ["m2.1"]
    assert second.clusters == [["m2.0"]]
    assert out2.num_visual == 8
    merged = state2.hidden[0, state2.visual_index()[7]] / (1 + 1e-6)
    torch.testing.assert_close(out2.hidden[0, out2.visual_index()[-1]], merged)


# Np pruned -> n1 = int(0.3 Np) + 1 candidates -> int(n1 / 10) + 1 clusters (by hand).
RECYCLING = [(0, 100, 31, 4), (10, 90, 28, 3), (50, 50, 16, 2), (69, 31, 10, 2), (71, 29, 9, 1)]


@pytest.mark.parametrize(("k", "num_pruned", "n1", "clusters"), RECYCLING)
def test_recycling_counts_with_budgets(k, num_pruned, n1, clusters):
    start = rater_state(100, 5, [0, 3])
    scores = designed_scores(100, seed=5)
    for version in ("v1.5", "v2"):
        if version == "v1.5":
            pruner = SparseVLM(sparsevlm_v15(layers=(0,), budgets=(k,)))
        else:
            config = sparsevlm_v2(layers=(0,), budgets=(k,), head_fraction=1.0)
            pruner = SparseVLM(config)
        run = new_run(pruner, start)
        state = layer_hidden(start)
        rater_seq = state.text_index()[torch.tensor([0, 3])]
        probe = layer_probe(state, rater_seq, rater_rows(scores, 2, False, 3))
        out = run.after_layer(0, state, probe)
        (record,) = run.records
        kept, candidates, _ = expected_recycling(scores, k)
        assert record.rank is None and record.k == k and record.kept == kept
        if version == "v2":  # no recycling
            assert record.clusters == [] and out.num_visual == k
            continue
        assert 100 - k == num_pruned and len(candidates) == n1
        assert len(record.clusters) == clusters
        assert sorted(sum(record.clusters, [])) == sorted(candidates)
        assert out.num_visual == k + clusters


def test_budget_capped_at_nv_minus_one():
    """v1.5: k = min(budget, Nv - 1): a budget equal to Nv still prunes (and recycles) one."""
    start = rater_state(12, 5, [0, 3])
    run = new_run(SparseVLM(sparsevlm_v15(layers=(0,), budgets=(12,))), start)
    state = layer_hidden(start)
    scores = designed_scores(12, seed=12)
    rater_seq = state.text_index()[torch.tensor([0, 3])]
    out = run.after_layer(0, state, layer_probe(state, rater_seq, rater_rows(scores, 2, False, 1)))
    (record,) = run.records
    assert record.k == 11 and record.clusters == [[int(scores.argmin())]]
    assert out.num_visual == 12


def test_v2_averages_only_the_top_heads():
    """Four heads, head fraction 0.5: the two heads with the largest rater x visual mass decide.
    Heads 1 and 3 (mass 10x) prefer visual tokens 0-2; heads 0 and 2 prefer tokens 3-5."""
    start = rater_state(6, 4, [1])
    config = sparsevlm_v2(layers=(0,), budgets=(3,), head_fraction=0.5)
    run = new_run(SparseVLM(config), start)
    n = start.num_tokens
    rater = int(start.text_index()[1])
    matrix = torch.zeros(4, n, n)
    vis = start.visual_index()
    weak = torch.tensor([0.01, 0.01, 0.01, 0.05, 0.05, 0.05])
    strong = torch.tensor([0.9, 0.8, 0.7, 0.1, 0.1, 0.1])
    for head, row in enumerate([weak, strong, weak, strong]):
        matrix[head, rater, vis] = row
    run.after_layer(0, start, MatrixProbe(matrix, NEAR_ZERO_FREQ))
    assert run.records[0].kept == [0, 1, 2]
    # Near-zero frequencies: w(i, j) ~ w(i, i) = sqrt(head_dim) for every pair.
    torch.testing.assert_close(run.records[0].scores, strong / DIM**0.5)


def test_v2_divides_by_the_rope_term_at_the_positions_the_layer_ran_with():
    """Equal attention everywhere, positions with gaps (kept originals): the score of visual
    token v is mean over raters r of 1 / w(pos r, pos v), with
    w(d) = 2 / sqrt(8) * (cos d + cos d/10 + cos d/100 + cos d/1000), floored at 0.01 sqrt(8)."""
    start = rater_state(10, 4, [1, 3])
    state = replace(start, positions=start.positions * 3 + 5)  # gaps, as after a v2 prune
    inv_freq = torch.tensor([1.0, 0.1, 0.01, 0.001])
    config = sparsevlm_v2(layers=(0,), budgets=(4,), head_fraction=1.0)
    run = new_run(SparseVLM(config), start)
    n = state.num_tokens
    probe = MatrixProbe(torch.ones(n, n), inv_freq)
    probe.positions = state.positions
    run.after_layer(0, state, probe)
    positions = state.positions[0].tolist()
    raters = [positions[i] for i in state.text_index()[[1, 3]].tolist()]
    expected = []
    for v in state.visual_index().tolist():
        weights = []
        for r in raters:
            d = r - positions[v]
            cosines = sum(math.cos(d * f) for f in (1.0, 0.1, 0.01, 0.001))
            weights.append(max(2 / math.sqrt(8) * cosines, 0.01 * math.sqrt(8)))
        expected.append(sum(1 / w for w in weights) / len(weights))
    expected = torch.tensor(expected)
    torch.testing.assert_close(run.records[0].scores, expected, rtol=1e-5, atol=0)
    assert run.records[0].kept == sorted(expected.topk(4).indices.tolist())


# --------------------------------------------------------------------------- RoPE distance term


@pytest.mark.parametrize("head_dim", [8, 16, 128])
def test_rope_distance_weight(head_dim):
    inv_freq = Rotary(head_dim, 10000.0).inv_freq
    pos = torch.arange(0, 400, 7)
    w = rope_distance_weight(pos, pos, inv_freq)
    torch.testing.assert_close(w.diagonal(), torch.full((len(pos),), head_dim**0.5))
    torch.testing.assert_close(w, w.T)
    # The score of all-ones q and k through the model's own RoPE, / sqrt(head_dim).
    cos, sin = Rotary(head_dim, 10000.0)(pos[None], torch.float64)
    ones = torch.ones(1, 1, len(pos), head_dim, dtype=torch.float64)
    rotated = apply_rope(ones, cos, sin)[0, 0]  # (N, hd)
    explicit = rotated @ rotated.T / head_dim**0.5
    floor = ROPE_WEIGHT_FLOOR * head_dim**0.5
    torch.testing.assert_close(w.double(), explicit.clamp_min(floor), atol=1e-4, rtol=1e-5)
    assert float(w.min()) >= floor - 1e-7
    # Depends on the distance only.
    torch.testing.assert_close(rope_distance_weight(pos + 1000, pos + 1000, inv_freq), w)
