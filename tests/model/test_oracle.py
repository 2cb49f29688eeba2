"""Against the reference outputs of stock LLaVA / SparseVLM on a tiny checkpoint
(`../shared/oracle`, see its README; every test skips with the reason when it is absent).

Prompt ids, pixel values, first-step logits and the 16 greedy tokens of the dense runs, then
the command line end to end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from llava.constants import IMAGE_TOKEN_INDEX
from llava.eval.runner import build_prompt
from llava.generate import GenerationOptions, generate
from llava.mm_utils import process_images, tokenizer_image_token
from llava.model.builder import load_pretrained_model

CASES = ("q1_short_dense", "q2_medium_dense")
IMAGE = "synthetic_400x300.png"


@pytest.fixture(scope="session")
def oracle_model(oracle_dir):
    return load_pretrained_model(
        str(oracle_dir / "llava-v1.5-tiny"),
        None,
        "llava-v1.5-tiny",
        device="cpu",
        torch_dtype="float32",
    )


@pytest.fixture(scope="session")
def oracle_pixels(oracle_dir, oracle_model) -> torch.Tensor:
    _, model, processor, _ = oracle_model
    image = Image.open(oracle_dir / "golden" / IMAGE).convert("RGB")
    return process_images([image], processor, model.config)


def golden(oracle_dir: Path, case: str) -> dict:
    return json.loads((oracle_dir / "golden" / f"{case}.json").read_text())


def test_reference_checkpoint_config(oracle_model) -> None:
    _, model, _, context_len = oracle_model
    text = model.config.text
    assert (text.num_hidden_layers, text.hidden_size, text.vocab_size) == (32, 128, 3000)
    assert model.config.image_aspect_ratio == "pad"
    assert model.get_vision_tower().num_patches == 576
    assert model.dtype == torch.float32  # stored in float16, loaded as asked
    assert context_len == 2048


def test_pixel_values_exact(oracle_dir, oracle_pixels) -> None:
    expected = np.load(oracle_dir / "golden" / "synthetic_400x300.pixel_values.npy")
    assert expected.shape == (3, 336, 336)  # the README says (1, 3, ...): one image, unbatched
    assert oracle_pixels.shape == (1, 3, 336, 336)
    assert np.abs(oracle_pixels[0].numpy() - expected).max() == 0.0


@pytest.mark.parametrize("case", CASES)
def test_dense_run_matches_reference(oracle_dir, oracle_model, oracle_pixels, case) -> None:
    ref = golden(oracle_dir, case)
    tokenizer, model, _, _ = oracle_model
    prompt = build_prompt(ref["args"]["question"], "vicuna_v1")
    assert prompt == ref["prompt"]
    ids = tokenizer_image_token(prompt, tokenizer, IMAGE_TOKEN_INDEX, return_tensors="pt")
    assert ids.tolist() == ref["prompt_token_ids"]

    max_new = ref["args"]["max_new_tokens"]
    out = generate(model, ids[None], oracle_pixels, None, GenerationOptions(max_new_tokens=max_new))
    assert out.prompt_tokens == [ref["prefill_seq_len"]]
    assert out.tokens[0].tolist() == ref["generated_token_ids"][1:]
    assert len(ref["generated_token_ids"][1:]) == 16

    with torch.no_grad():
        logits = model(ids[None], oracle_pixels)[0][0, -1]
    expected = torch.tensor(ref["first_step_logits"])
    assert logits.shape == expected.shape == (3000,)
    assert (logits - expected).abs().max().item() <= 1e-4


def test_cli_end_to_end(oracle_dir, tmp_path) -> None:
    questions = tmp_path / "questions.jsonl"
    refs = [golden(oracle_dir, case) for case in CASES]
    questions.write_text(
        "".join(
            json.dumps({"question_id": i, "image": IMAGE, "text": ref["args"]["question"]}) + "\n"
            for i, ref in enumerate(refs)
        )
    )
    answers = tmp_path / "answers" / "dense.jsonl"
    command = [
        sys.executable, "-m", "llava.eval.model_vqa_loader",
        "--model-path", str(oracle_dir / "llava-v1.5-tiny"),
        "--question-file", str(questions),
        "--image-folder", str(oracle_dir / "golden"),
        "--answers-file", str(answers),
        "--temperature", "0",
        "--conv-mode", "vicuna_v1",
        "--max_new_tokens", "16",
        "--dtype", "float32",
        "--device", "cpu",
    ]  # fmt: skip
    # One thread: on a small shared machine, competing BLAS threads cost far more than they give.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in answers.read_text().splitlines()]
    assert [a["question_id"] for a in lines] == [0, 1]
    assert [a["text"] for a in lines] == [ref["generated_text"].strip() for ref in refs]
    assert all(a["model_id"] == "llava-v1.5-tiny" for a in lines)
