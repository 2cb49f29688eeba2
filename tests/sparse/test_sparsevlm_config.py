"""SparseVLM's settings: user errors give a ValueError that says what to change, the CLI flags
map to the method, and the presets equal the numbers of method.md."""

from __future__ import annotations

import argparse

import pytest
from sparse_helpers import pixels, prompt_ids

from llava.eval.pruning_args import add_pruning_args, pruner_from_args
from llava.generate import prefill
from llava.sparse.sparsevlm import (
    SparseVLM,
    SparseVLMConfig,
    sparsevlm_v1,
    sparsevlm_v2,
    sparsevlm_v15,
)
from llava.sparse.sparsevlm_budgets import (
    BUDGET_LAYERS,
    DEFAULT_BIAS,
    DEFAULT_SCALE,
    RECYCLE_FRACTION,
    SEED_PRESETS,
    TOKENS_PER_CLUSTER,
    V1_LAYERS,
    V2_BUDGETS,
    V2_HEAD_FRACTION,
    V15_BUDGETS,
)

# --------------------------------------------------------------------------- config checks


def parse(argv):
    parser = argparse.ArgumentParser()
    add_pruning_args(parser)
    return parser.parse_args(argv)


@pytest.mark.parametrize(
    ("config", "layers", "message"),
    [
        (sparsevlm_v1(), 8, r"do not fit a model with 8 layers.*--pruning-layers"),
        (sparsevlm_v1(layers=(2, 6, 15, 32)), 32, r"valid: 0\.\.31"),
        (sparsevlm_v1(layers=(-1, 2)), 32, "do not fit"),
        (sparsevlm_v1(layers=(6, 2)), 32, "distinct and increasing"),
        (sparsevlm_v1(layers=(2, 2)), 32, "distinct and increasing"),
        (sparsevlm_v1(layers=()), 32, "distinct and increasing"),
        (sparsevlm_v1(scale=-1.0), 32, r"--scale must be >= 0"),
        (sparsevlm_v15(layers=(2, 6)), 32, "3 budgets for 2 pruning layers"),
        (sparsevlm_v2(budgets=(300, 200)), 32, "2 budgets for 3 pruning layers"),
        (sparsevlm_v15(budgets=(300, -1, 3)), 32, "budgets must be >= 0"),
        (sparsevlm_v2(head_fraction=0.0), 32, "head fraction"),
        (SparseVLMConfig("v3", (2,)), 32, "unknown SparseVLM version"),
    ],
)
def test_config_check_errors(config, layers, message):
    with pytest.raises(ValueError, match=message):
        config.check(layers)


def test_default_configs_fit_llava_depths():
    for depth in (32, 40):
        for config in (sparsevlm_v1(), sparsevlm_v15(), sparsevlm_v2()):
            config.check(depth)


def test_unknown_presets():
    with pytest.raises(ValueError, match=r"presets for \[64, 128, 192\].*not 100"):
        sparsevlm_v15(100)
    with pytest.raises(ValueError, match=r"\[64, 96, 128, 192\]"):
        sparsevlm_v2(32)


def test_budgets_larger_than_the_visual_tokens(small_gqa_model):
    """16 visual tokens: the v1.5 preset 192 (300 at layer 2) cannot apply."""
    with pytest.raises(ValueError, match=r"exceed the 16 visual tokens"):
        prefill(
            small_gqa_model,
            prompt_ids(),
            pixels(small_gqa_model),
            SparseVLM(sparsevlm_v15(192, layers=(0, 1, 2))),
        )


def test_cli_flags_are_checked_against_the_model(small_gqa_model):
    model = small_gqa_model  # 4 layers: the default layers do not fit
    for argv in (["--sparse"], ["--sparse", "--sparse-version", "v2"]):
        with pytest.raises(ValueError, match="4 layers.*--pruning-layers"):
            pruner_from_args(parse(argv), model)
    with pytest.raises(ValueError, match="--retained-tokens selects a v1.5 / v2 budget"):
        pruner_from_args(
            parse(["--sparse", "--sparse-version", "v1", "--retained-tokens", "64"]), model
        )
    # A token budget without a version asks for v1.5 (v1 has none).
    budget = parse(["--sparse", "--retained-tokens", "8", "--pruning-layers", "0,1,2"])
    assert pruner_from_args(budget, model).describe()["version"] == "v1.5"
    with pytest.raises(ValueError, match="--scale/--bias"):
        pruner_from_args(parse(["--sparse", "--sparse-version", "v1.5", "--scale", "2"]), model)
    pruner = pruner_from_args(parse(["--sparse", "--pruning-layers", "1,2", "--scale", "3"]), model)
    assert pruner.describe() == {
        "method": "sparsevlm",
        "version": "v1",
        "layers": [1, 2],
        "scale": 3.0,
        "bias": 0.0,
    }
    assert pruner_from_args(parse([]), model).describe() == {"method": "dense"}


def test_library_path_rejects_layers_beyond_the_depth(small_gqa_model):
    """4-layer model, default v1 layers (2, 6, 15, 19): a ValueError naming the depth."""
    with pytest.raises(ValueError, match="4 layers"):
        prefill(small_gqa_model, prompt_ids(), pixels(small_gqa_model), SparseVLM(sparsevlm_v1()))


# --------------------------------------------------------------------------- presets


def test_presets_equal_method_md():
    """The numbers of method.md §1-2 (reference commit b72c5d6, branches v1.5 and v2.0)."""
    assert V1_LAYERS == (2, 6, 15, 19)
    assert BUDGET_LAYERS == (2, 6, 15)
    assert (DEFAULT_SCALE, DEFAULT_BIAS) == (13.5, 0.0)
    assert SEED_PRESETS == {"mme": (13.5, 0.0), "pope": (9.0, 6.0), "textvqa": (0.8, 0.0)}
    assert V15_BUDGETS == {192: (300, 200, 110), 128: (303, 110, 36), 64: (66, 30, 17)}
    assert V2_BUDGETS == {
        192: (300, 200, 118),
        128: (238, 108, 60),
        96: (246, 54, 28),
        64: (66, 34, 20),
    }
    assert V2_HEAD_FRACTION == 14 / 28
    assert (RECYCLE_FRACTION, TOKENS_PER_CLUSTER) == (0.3, 10)

    v1 = sparsevlm_v1()
    assert (v1.layers, v1.scale, v1.bias, v1.budgets) == ((2, 6, 15, 19), 13.5, 0.0, None)
    assert (v1.recycle, v1.renumber_positions, v1.rope_correction, v1.head_fraction) == (
        True,
        True,
        False,
        1.0,
    )
    for retained, budgets in V15_BUDGETS.items():
        config = sparsevlm_v15(retained)
        assert (config.layers, config.budgets) == ((2, 6, 15), budgets)
        assert (config.recycle, config.renumber_positions, config.rope_correction) == (
            True,
            True,
            False,
        )
    for retained, budgets in V2_BUDGETS.items():
        config = sparsevlm_v2(retained)
        assert (config.layers, config.budgets, config.head_fraction) == ((2, 6, 15), budgets, 0.5)
        assert (config.recycle, config.renumber_positions, config.rope_correction) == (
            False,
            False,
            True,
        )
