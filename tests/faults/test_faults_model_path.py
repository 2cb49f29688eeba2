"""Fault injection, model path: damaged checkpoints give a ValueError or FileNotFoundError (which
the command lines print as `prog: error: ...`) naming the file and what to do, before any answer
is written; weights holding NaN or infinities are refused with the tensor's name."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from llava.eval.model_vqa_loader import main
from llava.model.builder import hf_to_llava_keys, load_pretrained_model

SHARD = "pytorch_model-00001-of-00002.bin"


def load(folder: Path, dtype: str = "float32"):
    return load_pretrained_model(str(folder), None, device="cpu", torch_dtype=dtype)


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def edit_json(path: Path, **changes) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def poke_weight(folder: Path, contains: str, value: float) -> str:
    """Set one element of the first llava-hf weight whose name has `contains`; its name after
    the loader's renaming (llava-hf keys -> LLaVA keys) is returned."""
    state = load_file(str(folder / "model.safetensors"))
    name = next(k for k in state if contains in k)
    state[name].view(-1)[3] = value
    save_file(state, str(folder / "model.safetensors"))
    return next(iter(hf_to_llava_keys({name: state[name]})))


# (checkpoint format, damage, file named in the message, phrase of the message)
CASES: dict[str, tuple[str, Callable[[Path], None], str, str]] = {
    "zero-byte .bin shard": (
        "llava", lambda d: truncate(d / SHARD, 0), SHARD, "is empty (0 bytes)"),
    "truncated .bin shard": (
        "llava", lambda d: truncate(d / SHARD), SHARD, "is truncated or not a PyTorch weights"),
    "garbage .bin shard": (
        "llava", lambda d: (d / SHARD).write_bytes(b"x" * 999), SHARD, "is truncated or not a"),
    "shard index that is not an object": (
        "llava", lambda d: (d / "pytorch_model.bin.index.json").write_text("[]"),
        "pytorch_model.bin.index.json", "is not a JSON object"),
    "zero-byte safetensors": (
        "llava-hf", lambda d: truncate(d / "model.safetensors", 0), "model.safetensors",
        "is empty (0 bytes)"),
    "truncated safetensors": (
        "llava-hf", lambda d: truncate(d / "model.safetensors"), "model.safetensors",
        "is truncated or not a safetensors file"),
    "config.json that is an array": (
        "llava", lambda d: (d / "config.json").write_text("[1, 2]"), "config.json",
        "holds an array, not a JSON object"),
    "config.json that is null": (
        "llava", lambda d: (d / "config.json").write_text("null"), "config.json", "holds null"),
    "config.json not UTF-8": (
        "llava", lambda d: (d / "config.json").write_bytes(b'{"a": "\xe9"}'), "config.json",
        "is not UTF-8 text"),
    "config.json hidden_size a string": (
        "llava", lambda d: edit_json(d / "config.json", hidden_size="64"), "config.json",
        "hidden_size must be an integer, got '64'"),
    "config.json without vocab_size": (
        "llava", lambda d: edit_json(d / "config.json", vocab_size=None), "config.json",
        "has no 'vocab_size' field"),
    "config.json with zero heads": (
        "llava", lambda d: edit_json(d / "config.json", num_attention_heads=0), "config.json",
        "num_attention_heads must be positive"),
    "llava-hf text_config a list": (
        "llava-hf", lambda d: edit_json(d / "config.json", text_config=[1]), "config.json",
        "text_config must be an object"),
    "garbage tokenizer.json": (
        "llava", lambda d: (d / "tokenizer.json").write_text("{oops"), "tokenizer.json",
        "is not a tokenizer file"),
    "garbage tokenizer.model": (
        "llava", lambda d: (d / "tokenizer.model").write_bytes(b"\x00garbage"),
        "tokenizer.model", "is not a SentencePiece model"),
    "garbage special_tokens_map.json": (
        "llava-hf", lambda d: (d / "special_tokens_map.json").write_text("{oops"),
        "special_tokens_map.json", "is not a JSON file"),
    "tokenizer_config.json with a text model_max_length": (
        "llava", lambda d: (d / "tokenizer_config.json").write_text('{"model_max_length": "x"}'),
        "tokenizer_config.json", "model_max_length must be a positive number"),
    "truncated vision tower": (
        "llava", lambda d: truncate(d / "clip" / "model.safetensors"), "clip",
        "vision tower folder"),
    "garbage preprocessor_config.json": (
        "llava-hf", lambda d: (d / "preprocessor_config.json").write_text("{oops"),
        "preprocessor_config.json", "cannot be built"),
}  # fmt: skip


@pytest.fixture
def checkpoint(tiny_checkpoints, tmp_path) -> Callable[[str], Path]:
    """A private copy of a tiny checkpoint in the given format."""

    def copy(fmt: str) -> Path:
        return Path(shutil.copytree(tiny_checkpoints[fmt], tmp_path / fmt))

    return copy


@pytest.mark.parametrize("case", list(CASES))
def test_damaged_checkpoint_is_named(checkpoint, case: str) -> None:
    fmt, damage, named, phrase = CASES[case]
    folder = checkpoint(fmt)
    damage(folder)
    with pytest.raises((ValueError, FileNotFoundError)) as err:
        load(folder)
    message = str(err.value)
    assert str(folder / named) in message, message
    assert phrase in message, message


def test_nan_weight_is_refused_by_name(checkpoint) -> None:
    folder = checkpoint("llava-hf")
    name = poke_weight(folder, "layers.1.mlp.down_proj", float("nan"))
    with pytest.raises(ValueError) as err:
        load(folder)
    message = str(err.value)
    assert f"{folder}: weight {name} has 1 NaN or infinite values" in message
    assert "the checkpoint is broken" in message


def test_weight_that_overflows_float16_is_told_apart(checkpoint) -> None:
    folder = checkpoint("llava-hf")
    name = poke_weight(folder, "layers.0.self_attn.q_proj", 1e6)  # finite in float32
    load(folder, "float32")  # fine as stored
    with pytest.raises(ValueError) as err:
        load(folder, "float16")
    message = str(err.value)
    assert f"weight {name} has 1 NaN or infinite values" in message
    assert "overflow torch.float16; load with --dtype float32 or bfloat16" in message


def test_command_line_reports_a_broken_checkpoint(checkpoint, tmp_path) -> None:
    """Through model_vqa_loader: one error line naming the tensor, no answers file."""
    folder = checkpoint("llava-hf")
    name = poke_weight(folder, "layers.1.mlp.down_proj", float("inf"))
    Image.new("RGB", (20, 20), (200, 30, 30)).save(tmp_path / "red.png")
    questions = tmp_path / "questions.jsonl"
    questions.write_text(json.dumps({"question_id": 1, "image": "red.png", "text": "red ?"}) + "\n")
    answers = tmp_path / "answers.jsonl"
    argv = ["--model-path", str(folder), "--question-file", str(questions),
            "--image-folder", str(tmp_path), "--answers-file", str(answers),
            "--temperature", "0", "--device", "cpu"]  # fmt: skip
    with pytest.raises(SystemExit) as err:
        main(argv)
    message = str(err.value.code)
    assert message.startswith(f"model_vqa_loader: error: {folder}: weight {name} has 1 NaN")
    assert not answers.exists()


def test_healthy_checkpoint_loads_in_every_dtype(checkpoint) -> None:
    """No false alarm from the finiteness check, in every dtype the command line offers."""
    folder = checkpoint("llava")
    for dtype in ("float32", "float16", "bfloat16"):
        model = load(folder, dtype)[1]
        assert next(model.parameters()).dtype == getattr(torch, dtype)
