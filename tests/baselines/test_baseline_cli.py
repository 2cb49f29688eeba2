"""The pruning flags: every method and --retained-tokens through `pruner_from_args`, clear
errors for bad combinations, the seed's `--sparse` flags unchanged, the demo's method table, and
one `model_vqa_loader` run with a baseline."""

from __future__ import annotations

import json

import pytest
from baseline_helpers import parse, pixels, prompt_ids
from PIL import Image

from llava.eval import model_vqa_loader
from llava.eval.pruning_args import pruner_from_args
from llava.experiments.method_grid import BUDGETS, expand_methods, method_grid, method_groups
from llava.generate import prefill
from llava.sparse.budget import account
from llava.sparse.fastv import FastV
from llava.sparse.sparsevlm import SparseVLM


def test_fastv_with_a_token_budget(llava32):
    pruner = pruner_from_args(
        parse(["--pruning-method", "fastv", "--retained-tokens", "64"]), llava32
    )
    assert isinstance(pruner, FastV)
    described = pruner.describe()
    assert round(described.pop("ratio") * 576) == 47  # (576 + 31 * 47) / 32 = 63.5
    assert described == {"method": "fastv", "k": 2, "layers": [1], "retained_tokens_requested": 64}


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--pruning-method", "fastv", "--fastv-k", "3", "--fastv-ratio", "0.25"],
         {"method": "fastv", "k": 3, "layers": [2], "ratio": 0.25}),
        (["--pruning-method", "pdrop", "--pdrop-layers", "4,12", "--pdrop-lambda", "0.4"],
         {"method": "pdrop", "layers": [4, 12], "lambda": 0.4}),
        (["--pruning-method", "random", "--random-seed", "7", "--keep-ratio", "0.3"],
         {"method": "random", "layers": [1], "ratio": 0.3, "seed": 7}),
        (["--pruning-method", "grid", "--pruning-layers", "2,6"],
         {"method": "grid", "layers": [2, 6], "ratio": 0.5}),
        ([], {"method": "dense"}),
        (["--pruning-method", "dense"], {"method": "dense"}),
        (["--pruning-layers", "1,2"], {"method": "dense"}),  # the eval scripts pass this (SPARSE=0)
        (["--sparse", "--scale", "9", "--bias", "6"],  # the seed's flags, unchanged
         {"method": "sparsevlm", "version": "v1", "layers": [2, 6, 15, 19], "scale": 9.0,
          "bias": 6.0}),
        (["--pruning-method", "sparsevlm", "--scale", "9", "--bias", "6"],
         {"method": "sparsevlm", "version": "v1", "layers": [2, 6, 15, 19], "scale": 9.0,
          "bias": 6.0}),
        (["--sparse", "--sparse-version", "v1.5", "--retained-tokens", "128"],  # a preset
         {"method": "sparsevlm", "version": "v1.5", "layers": [2, 6, 15],
          "budgets": [303, 110, 36], "retained_tokens_requested": 128}),
        (["--sparse", "--retained-tokens", "64"],  # a budget without a version: v1.5
         {"method": "sparsevlm", "version": "v1.5", "layers": [2, 6, 15],
          "budgets": [66, 30, 17], "retained_tokens_requested": 64}),
        (["--sparse", "--sparse-version", "v1.5", "--retained-tokens", "96"],  # solved
         {"method": "sparsevlm", "version": "v1.5", "layers": [2, 6, 15],
          "budgets": [193, 70, 23], "retained_tokens_requested": 96,
          "budget_source": "v1.5 preset 128 [303, 110, 36] scaled by 0.6370"}),
    ],
)  # fmt: skip
def test_flags_to_methods(argv, expected, llava32):
    assert pruner_from_args(parse(argv), llava32).describe() == expected


def test_seed_flags_give_the_seed_method(llava32):
    pruner = pruner_from_args(parse(["--sparse", "--scale", "9", "--bias", "6"]), llava32)
    assert type(pruner) is SparseVLM
    assert (pruner.config.scale, pruner.config.bias) == (9.0, 6.0)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--sparse", "--pruning-method", "fastv"], "--sparse means --pruning-method sparsevlm"),
        (["--sparse", "--sparse-version", "v1", "--retained-tokens", "64"],
         "v1 is set by --scale and --bias"),
        (["--retained-tokens", "64"], "--retained-tokens needs a --pruning-method"),
        (["--fastv-k", "3"], "--fastv-k is a setting of --pruning-method fastv, not of dense"),
        (["--pruning-method", "fastv", "--pdrop-lambda", "0.3"], "--pdrop-lambda is a setting"),
        (["--pruning-method", "fastv", "--scale", "2"], "--scale is a setting"),
        (["--pruning-method", "grid", "--random-seed", "3"], "--random-seed is a setting"),
        (["--pruning-method", "fastv", "--pruning-layers", "3"],
         "--pruning-layers does not apply to fastv"),
        (["--pruning-method", "pdrop", "--pruning-layers", "3"],
         "--pruning-layers does not apply to pdrop"),
        (["--pruning-method", "fastv", "--fastv-ratio", "0.5", "--retained-tokens", "64"],
         "either --retained-tokens or --fastv-ratio"),
        (["--pruning-method", "fastv", "--fastv-k", "40"], r"K must be in 1\.\.32"),
        (["--pruning-method", "fastv", "--fastv-ratio", "0"], r"--fastv-ratio .* in \(0, 1\]"),
        (["--pruning-method", "fastv", "--fastv-ratio", "nan"], r"finite number"),
        (["--sparse", "--scale", "inf"], r"--scale must be a finite number"),
        (["--sparse", "--bias", "nan"], r"--bias must be a finite number"),
        (["--pruning-method", "fastv", "--retained-tokens", "10"], "reachable: 18.0"),
        (["--pruning-method", "random", "--retained-tokens", "600"], r"1\.\.576"),
        (["--pruning-method", "pdrop", "--retained-tokens", "64"], "--pdrop-layers 2,12,22"),
        (["--pruning-method", "pdrop", "--pdrop-layers", "8,40"], "do not fit"),
        (["--pruning-method", "grid", "--pruning-layers", "5,2"], "distinct and increasing"),
    ],
)  # fmt: skip
def test_bad_combinations(argv, message, llava32):
    with pytest.raises(ValueError, match=message):
        pruner_from_args(parse(argv), llava32)


def test_unknown_method_is_an_argparse_error():
    with pytest.raises(SystemExit):
        parse(["--pruning-method", "tome"])


def test_demo_method_groups():
    assert expand_methods("default") == method_groups()["default"]
    assert expand_methods("all") == list(method_grid())
    assert expand_methods("dense,fastv-64,dense,default")[:2] == ["dense", "fastv-64"]
    with pytest.raises(ValueError, match="unknown method 'fastv-65'"):
        expand_methods("fastv-65")


def target_tokens(label: str) -> int:
    """dense -> 576; method-budget[-variant] -> budget."""
    return 576 if label == "dense" else next(int(p) for p in label.split("-") if p.isdigit())


@pytest.mark.parametrize("label", sorted(method_grid()))
def test_every_demo_method_hits_its_budget(label, llava32):
    """Within one token, or half of DART's granularity (8 tokens at a time after layer 1)."""
    pruner = pruner_from_args(parse(method_grid()[label]), llava32)
    _, _, (stats,) = prefill(llava32, prompt_ids(), pixels(llava32), pruner)
    equivalent = account(stats, llava32.config.text).equivalent_tokens_output
    within = 8 * 31 / 32 / 2 if label.startswith("dart") else 1
    assert target_tokens(label) in BUDGETS + (576,)
    assert abs(equivalent - target_tokens(label)) <= within, (label, equivalent)


def test_model_vqa_loader_with_a_baseline(llava32_folder, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(images / "a.png")
    questions = tmp_path / "questions.jsonl"
    question = {"question_id": 1, "image": "a.png", "text": "is there a dog in the image ?"}
    questions.write_text(json.dumps(question) + "\n")
    answers = tmp_path / "answers.jsonl"
    model_vqa_loader.main([
        "--model-path", str(llava32_folder), "--question-file", str(questions),
        "--image-folder", str(images), "--answers-file", str(answers), "--temperature", "0",
        "--conv-mode", "vicuna_v1", "--max_new_tokens", "2", "--device", "cpu",
        "--dtype", "float32", "--pruning-method", "fastv", "--retained-tokens", "64",
    ])  # fmt: skip
    metadata = json.loads(answers.read_text())["metadata"]
    assert metadata["run"]["pruning"]["method"] == "fastv"
    assert metadata["run"]["pruning"]["retained_tokens_requested"] == 64
    assert abs(metadata["equivalent_tokens_output"] - 64) <= 1
    assert metadata["pruning_layers"] == [{"layer": 1, "visual_in": 576, "kept": 47, "merged": 0}]
