"""Fault injection, flags: numeric generation and pruning flags outside what decoding and the
methods can honour are refused with the flag named, not run with a silently different meaning
(`--temperature -1` would decode greedily, `--temperature nan` sample from NaN)."""

from __future__ import annotations

import argparse
from types import SimpleNamespace

import pytest

from llava.eval.generation_args import check_generation_args
from llava.eval.pruning_args import add_pruning_args, pruner_from_args

LLAVA_DEFAULTS = {"temperature": 0.2, "top_p": None, "num_beams": 1, "max_new_tokens": 128}


def generation(**flags) -> argparse.Namespace:
    return argparse.Namespace(**{**LLAVA_DEFAULTS, **flags})


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        ({"temperature": -1.0}, "--temperature must be a finite number >= 0"),
        ({"temperature": float("nan")}, "--temperature must be a finite number >= 0"),
        ({"temperature": float("inf")}, "--temperature must be a finite number >= 0"),
        ({"top_p": 5.0}, "--top_p must be in (0, 1]"),
        ({"top_p": 0.0}, "--top_p must be in (0, 1]"),
        ({"top_p": float("nan")}, "--top_p must be in (0, 1]"),
        ({"max_new_tokens": 0}, "--max_new_tokens must be at least 1"),
        ({"max_new_tokens": -3}, "--max_new_tokens must be at least 1"),
        ({"num_beams": 2}, "--num_beams 2: beam search is not implemented"),
        ({"num_beams": 0}, "--num_beams 0: beam search is not implemented"),
    ],
)
def test_bad_generation_flags_are_named(flags: dict, named: str) -> None:
    with pytest.raises(ValueError) as err:
        check_generation_args(generation(**flags))
    assert str(err.value).startswith(named)


@pytest.mark.parametrize(
    "flags",
    [{}, {"temperature": 0.0}, {"temperature": 1.5, "top_p": 0.9}, {"top_p": 1.0},
     {"max_new_tokens": 1}],
)  # fmt: skip
def test_sound_generation_flags_pass(flags: dict) -> None:
    check_generation_args(generation(**flags))


def test_flags_an_entry_point_lacks_are_skipped() -> None:
    check_generation_args(argparse.Namespace(temperature=0.0))  # no --top_p, --num_beams, ...


# --- pruning flags: checked by the method registry --------------------------------------------

# What pruner_from_args reads of a model: its depth (LLaVA-1.5-7B: 32 layers; no vision tower
# here means LLaVA-1.5's 576 visual tokens).
MODEL_7B = SimpleNamespace(model=SimpleNamespace(layers=[None] * 32))


def pruning_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="model_vqa_loader")
    add_pruning_args(parser)
    return parser


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--sparse", "--scale", "inf"], "--scale must be a finite number"),
        (["--sparse", "--scale", "nan"], "--scale must be a finite number"),
        (["--sparse", "--scale", "-1"], "--scale must be a finite number"),
        (["--sparse", "--bias", "nan"], "--bias must be a finite number"),
        (["--sparse", "--bias=-inf"], "--bias must be a finite number"),
        (["--pruning-method", "random", "--keep-ratio", "2"], "--keep-ratio"),
        (["--pruning-method", "grid", "--keep-ratio", "0"], "--keep-ratio"),
        (["--pruning-method", "random", "--keep-ratio", "nan"], "--keep-ratio"),
        (["--pruning-method", "pdrop", "--pdrop-lambda", "1.5"], "--pdrop-lambda"),
        (["--sparse", "--pruning-layers", "2,40"], "do not fit a model with 32 layers"),
        (["--sparse", "--pruning-layers", "6,2"], "(--pruning-layers) must be distinct"),
        (["--pruning-method", "random", "--pruning-layers", "6,2"], "--pruning-layers: layers"),
    ],
)
def test_bad_pruning_flags_are_named(argv: list[str], named: str) -> None:
    args = pruning_parser().parse_args(argv)
    with pytest.raises(ValueError) as err:
        pruner_from_args(args, MODEL_7B)
    assert named in str(err.value)


@pytest.mark.parametrize("layers", ["", " ", "a,b", ","])
def test_unparseable_pruning_layers_are_a_usage_error(layers: str, capsys) -> None:
    with pytest.raises(SystemExit) as err:
        pruning_parser().parse_args(["--sparse", "--pruning-layers", layers])
    assert err.value.code == 2
    message = capsys.readouterr().err
    assert "model_vqa_loader: error: argument --pruning-layers: expected comma-separated" in message


def test_sound_pruning_flags_pass() -> None:
    args = pruning_parser().parse_args(["--sparse", "--scale", "9", "--bias", "6"])
    assert pruner_from_args(args, MODEL_7B).describe()["scale"] == 9.0
