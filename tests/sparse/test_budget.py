"""Token accounting (both conventions) and analytic FLOPs: the worked checks of method.md §3.

The per-layer counts of v1.5's budgets are derived by hand (576 visual tokens; at each pruning
layer k = min(budget, Nv - 1) kept, plus int(int(0.3 * Np) + 1) / 10) + 1 merged tokens) and
fed to the real accounting function as a PrefillStats; then a real 32-layer model is run with the
same presets and must report exactly those counts.
"""

from __future__ import annotations

import pytest
from sparse_helpers import load_tiny, pixels, prompt_ids

from llava.generate import prefill
from llava.model.config import LlamaConfig
from llava.sparse.base import PrefillStats
from llava.sparse.budget import account, layer_flops, prefill_flops
from llava.sparse.sparsevlm import SparseVLM, sparsevlm_v15

LAYERS = (2, 6, 15)
NON_VISUAL = 92  # a 668-token LLaVA-1.5 prompt: 576 image rows + 92 other tokens
LLAVA_7B = LlamaConfig(
    vocab_size=32000,
    hidden_size=4096,
    intermediate_size=11008,
    num_hidden_layers=32,
    num_attention_heads=32,
    num_key_value_heads=32,
)

# Hand-derived (576 -> kept + merged at layers 2, 6, 15):
#   192: 576 -> 300 + 9 = 309 -> 200 + 4 = 204 -> 110 + 3 = 113
#   128: 576 -> 303 + 9 = 312 -> 110 + 7 = 117 -> 36 + 3 = 39
#    64: 576 -> 66 + 16 = 82 -> 30 + 2 = 32 -> 17 + 1 = 18
AFTER_PRUNING = {192: (309, 204, 113), 128: (312, 117, 39), 64: (82, 32, 18)}
# Equivalent tokens, output / input convention, exact and as method.md prints them.
EQUIVALENT = {
    192: (6145 / 32, 6608 / 32, "192.0", "206.5"),
    128: (4116 / 32, 4653 / 32, "128.6", "145.4"),
    64: (2074 / 32, 2632 / 32, "64.8", "82.2"),
}
TFLOPS = {192: "1.96", 128: "1.56", 64: "1.14"}


def simulated_counts(budgets, num_layers: int = 32) -> tuple[list[int], list[int]]:
    """Visual tokens entering and leaving each layer under v1.5's rules."""
    visual, entering, leaving = 576, [], []
    for layer in range(num_layers):
        entering.append(visual)
        if layer in LAYERS:
            k = min(budgets[LAYERS.index(layer)], visual - 1)
            candidates = int(0.3 * (visual - k)) + 1
            visual = k + int(candidates / 10) + 1
        leaving.append(visual)
    return entering, leaving


def hand_stats(retained: int) -> PrefillStats:
    entering, leaving = simulated_counts(sparsevlm_v15(retained).budgets)
    return PrefillStats([NON_VISUAL + v for v in entering], entering, leaving, [], 576, 668)


@pytest.mark.parametrize("retained", [192, 128, 64])
def test_v15_worked_check(retained):
    stats = hand_stats(retained)
    a, b, c = AFTER_PRUNING[retained]
    assert stats.visual_out == [576] * 2 + [a] * 4 + [b] * 9 + [c] * 17
    assert stats.visual_in == [576] * 3 + [a] * 4 + [b] * 9 + [c] * 16
    accounting = account(stats, LLAVA_7B)
    output, entering, output_text, entering_text = EQUIVALENT[retained]
    assert accounting.equivalent_tokens_output == output
    assert accounting.equivalent_tokens_input == entering
    assert f"{accounting.equivalent_tokens_output:.1f}" == output_text
    assert f"{accounting.equivalent_tokens_input:.1f}" == entering_text
    assert accounting.visual_tokens == 576 and accounting.prompt_tokens == 668
    assert f"{accounting.prefill_flops / 1e12:.2f}" == TFLOPS[retained]
    assert f"{accounting.dense_prefill_flops / 1e12:.2f}" == "4.44"


def test_dense_llava_7b_flops():
    """4 n d^2 + 2 n^2 d + 3 n d m per layer, 32 layers, n = 668: about 4.44 TFLOPs."""
    per_layer = 4 * 668 * 4096**2 + 2 * 668**2 * 4096 + 3 * 668 * 4096 * 11008
    assert layer_flops(668, 4096, 11008) == per_layer
    total = prefill_flops([668] * 32, LLAVA_7B)
    assert total == 32 * per_layer
    assert f"{total / 1e12:.2f}" == "4.44"
    dense = account(PrefillStats([668] * 32, [576] * 32, [576] * 32, [], 576, 668), LLAVA_7B)
    assert dense.prefill_flops == dense.dense_prefill_flops == total
    assert dense.equivalent_tokens_output == dense.equivalent_tokens_input == 576


def test_layer_flops_small_numbers():
    assert layer_flops(1, 1, 1) == 4 + 2 + 3
    assert layer_flops(2, 3, 5) == 4 * 2 * 9 + 2 * 4 * 3 + 3 * 2 * 3 * 5
    assert layer_flops(0, 4096, 11008) == 0


def test_the_two_conventions_differ_only_at_pruning_layers():
    """Output counts a pruning layer after pruning, input before: with one prune at layer 0
    of a 2-layer model from 10 to 4 visual tokens, output = (4 + 4) / 2, input = (10 + 4) / 2."""
    stats = PrefillStats([15, 9], [10, 4], [4, 4], [], 10, 15)
    config = LlamaConfig(100, 8, 16, 2, 2, 2)
    accounting = account(stats, config)
    assert (accounting.equivalent_tokens_output, accounting.equivalent_tokens_input) == (4, 7)
    assert accounting.prefill_flops == layer_flops(15, 8, 16) + layer_flops(9, 8, 16)
    assert accounting.dense_prefill_flops == 2 * layer_flops(15, 8, 16)


@pytest.fixture(scope="module")
def llava32(tmp_path_factory):
    folder = tmp_path_factory.mktemp("llava32") / "llava-32-layers"
    return load_tiny(folder, layers=32, grid=24, hidden=32, heads=2, kv_heads=1, seed=3)


@pytest.mark.parametrize("retained", [192, 128, 64])
def test_real_run_reports_the_worked_counts(retained, llava32):
    """The decoder loop with SparseVLM v1.5 on a 32-layer model reports the hand counts."""
    ids = prompt_ids()
    _, cache, (stats,) = prefill(llava32, ids, pixels(llava32), SparseVLM(sparsevlm_v15(retained)))
    expected = hand_stats(retained)
    non_visual = ids.shape[1] - 1
    assert stats.visual_in == expected.visual_in
    assert stats.visual_out == expected.visual_out
    assert stats.tokens_in == [non_visual + v for v in expected.visual_in] == cache.lengths()
    accounting = account(stats, llava32.config.text)
    output, entering, _, _ = EQUIVALENT[retained]
    assert (accounting.equivalent_tokens_output, accounting.equivalent_tokens_input) == (
        output,
        entering,
    )
