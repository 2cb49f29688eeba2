"""Budget solving (pure functions of depth, schedule and V = 576): every method hits N
equivalent tokens within one token on the default 32-layer schedules, method.md's worked
numbers come out, and what the solver predicts is what the method then runs."""

from __future__ import annotations

import pytest
from baseline_helpers import drive, hand_state

from llava.sparse.budget import equivalent_tokens, keep_ratio_counts, solve_keep_ratio
from llava.sparse.fastv import FastV, FastVConfig
from llava.sparse.pdrop import pdrop_counts, solve_lambda
from llava.sparse.pdrop_after import PDropAfter, PDropAfterConfig
from llava.sparse.random import RandomConfig, RandomPruning
from llava.sparse.sparsevlm_budgets import (
    BUDGET_LAYERS,
    V2_BUDGETS,
    V15_BUDGETS,
    solve_sparsevlm_budgets,
    sparsevlm_counts,
)

FASTV = (1,)  # after layer K-1, K = 2; random and grid use the same schedule by default
PDROP = (8, 16, 24)
TARGETS = [192, 128, 64, 100, 250, 40]


def realised(ratio: float, layers, convention: str = "output") -> float:
    return equivalent_tokens(keep_ratio_counts(ratio, layers, 32, 576), convention)


@pytest.mark.parametrize("target", TARGETS)
def test_fastv_random_grid_hit_the_target(target):
    ratio = solve_keep_ratio(target, FASTV)
    assert 0 < ratio <= 1
    assert abs(realised(ratio, FASTV) - target) <= 1
    # The kept count k = ratio * 576 sits mid-step: printing 4 digits and parsing back keeps it.
    assert realised(float(f"{ratio:.4f}"), FASTV) == realised(ratio, FASTV)


@pytest.mark.parametrize("target", [192, 250, 300, 150])
def test_pdrop_hits_the_target_with_its_own_stages(target):
    lam = solve_keep_ratio(target, PDROP)  # the after-layer variant
    assert abs(realised(lam, PDROP) - target) <= 1
    lam = solve_lambda(target, PDROP, 32, 576)  # as published: int(576 * lambda^s) per stage
    assert abs(equivalent_tokens(pdrop_counts(lam, PDROP, 32, 576)) - target) <= 1


def test_published_pdrop_counts():
    """lambda 0.5: 288 / 144 / 72 from layers 8 / 16 / 24 on (dropped before those layers
    run, so both conventions agree): 270 equivalent tokens; lambda 0.3: int(576 * 0.3^s)."""
    entering, leaving = pdrop_counts(0.5, PDROP, 32, 576)
    assert entering == leaving == [576] * 8 + [288] * 8 + [144] * 8 + [72] * 8
    assert equivalent_tokens((entering, leaving)) == 270.0
    assert sorted(set(pdrop_counts(0.3, PDROP, 32, 576)[0])) == [15, 51, 172, 576]


@pytest.mark.parametrize("target", [128, 64, 100, 40])
def test_pdrop_below_its_floor_needs_earlier_stages(target):
    """PDrop's default stages keep all 576 tokens in layers 0-7: at least 144 equivalent."""
    with pytest.raises(ValueError, match=r"cannot reach .*reachable: 144\.0 to 576\.0"):
        solve_keep_ratio(target, PDROP)
    lam = solve_keep_ratio(target, BUDGET_LAYERS)  # stages ending after SparseVLM's layers
    assert abs(realised(lam, BUDGET_LAYERS) - target) <= 1


@pytest.mark.parametrize("version", ["v1.5", "v2"])
@pytest.mark.parametrize("target", TARGETS + [96, 150, 300])
def test_sparsevlm_budgets_hit_the_target(version, target):
    solved = solve_sparsevlm_budgets(target, version)
    counts = sparsevlm_counts(solved.budgets, BUDGET_LAYERS, 32, 576, recycle=version == "v1.5")
    assert abs(equivalent_tokens(counts) - target) <= 1
    table = V15_BUDGETS if version == "v1.5" else V2_BUDGETS
    if target in table:
        assert solved.budgets == table[target] and solved.source == f"{version} preset {target}"
    else:
        assert "scaled by" in solved.source
        assert list(solved.budgets) == sorted(solved.budgets, reverse=True)


def test_method_md_worked_numbers():
    """method.md §3-4 on 32 layers with 576 visual tokens."""
    # SparseVLM v1.5 presets: 192.0 / 128.6 / 64.8 (output), 206.5 / 145.4 / 82.2 (input).
    for target, output, entering in [(192, 192.0, 206.5), (128, 128.6, 145.4), (64, 64.8, 82.2)]:
        counts = sparsevlm_counts(V15_BUDGETS[target], BUDGET_LAYERS, 32, 576)
        assert round(equivalent_tokens(counts), 1) == output
        assert round(equivalent_tokens(counts, "input"), 1) == entering
    # PDrop lambda 0.5: 576 / 288 / 144 / 72 over four 8-layer stages = 270; 192 needs 0.253.
    assert realised(0.5, PDROP) == 270.0
    assert round(solve_keep_ratio(192, PDROP), 3) == 0.253
    # FastV K=2 R=50%: method.md's 306 counts layers 0 and 1 with all 576 tokens, i.e. the
    # input convention (layer 1, where FastV scores and prunes, still ran on all of them); in
    # the papers' output convention layer 1 counts its 288 survivors: 297.
    assert realised(0.5, FASTV, "input") == 306.0
    assert realised(0.5, FASTV) == 297.0
    # "192 needs R ~ 0.711": FastV's R is the fraction pruned, input convention.
    assert round(1 - solve_keep_ratio(192, FASTV, convention="input"), 3) == 0.712
    kept = solve_keep_ratio(192, FASTV)  # what --retained-tokens 192 runs (output convention)
    assert round(kept * 576) == 180 and realised(kept, FASTV) == 192.375


@pytest.mark.parametrize(
    ("target", "message"),
    [(0, r"must be in 1\.\.576"), (577, r"must be in 1\.\.576"), (10, "reachable: 18.0")],
)
def test_unreachable_targets(target, message):
    with pytest.raises(ValueError, match=message):
        solve_keep_ratio(target, FASTV)


def test_sparsevlm_solver_errors():
    with pytest.raises(ValueError, match="3 pruning layers"):
        solve_sparsevlm_budgets(100, "v1.5", layers=(2, 6))
    with pytest.raises(ValueError, match="not 'v1'"):
        solve_sparsevlm_budgets(100, "v1")
    with pytest.raises(ValueError, match="cannot reach 20"):
        solve_sparsevlm_budgets(20, "v1.5")


@pytest.mark.parametrize(
    "make",
    [
        lambda r: FastV(FastVConfig(ratio=r)),
        lambda r: PDropAfter(PDropAfterConfig(lam=r)),
        lambda r: RandomPruning(RandomConfig(ratio=r)),
    ],
)
@pytest.mark.parametrize("target", [192, 160])
def test_the_methods_run_what_the_solver_predicts(make, target):
    """Drive the method over 32 layers on a 576-token image: its per-layer visual counts are
    the solver's."""
    method = make(0.5)
    layers = list(method.config.schedule.layers)
    ratio = solve_keep_ratio(target, layers)
    method = make(ratio)
    state = hand_state(35, 576, 57)
    run = method.start(state, 32)
    states = drive(run, state, 32)
    leaving = [s.num_visual for s in states]
    assert leaving == keep_ratio_counts(ratio, layers, 32, 576)[1]
    assert abs(sum(leaving) / 32 - target) <= 1
