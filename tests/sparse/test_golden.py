"""Our SparseVLM v1 against the reference code's outputs on the tiny oracle checkpoint.

../shared/oracle/golden/*_sparse_s*.json hold, per question and scale/bias, what the reference
(SparseVLM commit b72c5d6, transformers 4.37.2, CPU float32) decided and produced: raters,
per pruning layer the rank, k, kept tokens, recycling clusters and scores, the per-layer visual
counter, KV lengths, RoPE positions in prefill and decode, tokens and first-step logits. Skipped
when ../shared is absent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sparse_helpers import Spy

import llava.generate as generation
from llava.constants import IMAGE_TOKEN_INDEX
from llava.eval import model_vqa_loader
from llava.eval.runner import build_prompt
from llava.generate import GenerationOptions, generate
from llava.mm_utils import process_images, tokenizer_image_token
from llava.model.builder import load_pretrained_model
from llava.sparse.base import NoPruning
from llava.sparse.budget import account
from llava.sparse.sparsevlm import SparseVLM, sparsevlm_v1

GOLDEN = Path(__file__).resolve().parents[2].parent / "shared" / "oracle" / "golden"
# The reference files (../shared/oracle/README.md), named here so that the tests exist (and skip,
# saying why) where ../shared is absent; test_golden_files_present checks the list is complete.
SPARSE_FILES = [
    f"{question}_sparse_{setting}.json"
    for question in ("q1_short", "q2_medium")
    for setting in ("s0.8_b0", "s13.5_b0", "s9_b6")
] + ["q2_medium_sparse_s9_b6_zeronoise.json"]
DENSE_FILES = ["q1_short_dense.json", "q2_medium_dense.json"]
IMAGE = "synthetic_400x300.png"
SCORE_TOLERANCE = 1e-6
LOGIT_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def oracle(oracle_dir):
    tokenizer, model, processor, _ = load_pretrained_model(
        str(oracle_dir / "llava-v1.5-tiny"),
        None,
        "llava-v1.5-tiny",
        device="cpu",
        torch_dtype="float32",
    )
    return tokenizer, model, processor


@dataclass
class Run:
    golden: dict
    ids: torch.Tensor
    pixels: torch.Tensor
    raters: list[int]
    views: list
    stats: object
    first_logits: torch.Tensor
    kv_lengths: list[list[int]]  # after the prefill, then after each decode step
    next_positions: list[list[int]]  # position each layer gives the next token, same moments
    tokens: list[int]  # greedy, through our generate()


_RUNS: dict[str, Run] = {}


class Recorder:
    """Within `with`, records what `llava.generate.generate` does: the logits of the prefill (the
    first `next_token` call), each layer's KV length after the prefill and after every decode
    step, and the RoPE position each layer gives every decoded token (read before the step)."""

    def __enter__(self) -> Recorder:
        self.first_logits = None
        self.kv_lengths: list[list[int]] = []
        self.next_positions: list[list[int]] = []
        self._next_token, self._decode = generation.next_token, generation.decode_one_token

        def next_token(logits, options, generators=None):
            if self.first_logits is None:
                self.first_logits = logits[0].clone()
            return self._next_token(logits, options, generators)

        def decode_one_token(model, token, cache):
            if not self.kv_lengths:
                self.kv_lengths.append(cache.lengths())  # as the prefill left it
            self.next_positions.append(cache.next_positions()[:, 0].tolist())
            logits = self._decode(model, token, cache)
            self.kv_lengths.append(cache.lengths())
            return logits

        generation.next_token, generation.decode_one_token = next_token, decode_one_token
        return self

    def __exit__(self, *exc) -> None:
        generation.next_token, generation.decode_one_token = self._next_token, self._decode


def run_file(name: str, oracle) -> Run:
    if name in _RUNS:
        return _RUNS[name]
    tokenizer, model, processor = oracle
    golden = json.loads((GOLDEN / name).read_text())
    args = golden["args"]
    prompt = build_prompt(args["question"], args["conv_mode"])
    ids = tokenizer_image_token(prompt, tokenizer, IMAGE_TOKEN_INDEX, return_tensors="pt")[None]
    with Image.open(GOLDEN / args["image"]) as image:
        pixels = process_images([image.convert("RGB")], processor, model.config)
    if "nopruning" in name or not args["sparse"]:
        method = NoPruning()
    else:
        method = SparseVLM(sparsevlm_v1(args["scale"], args["bias"]))
    spy = Spy(method)
    with Recorder() as seen:
        out = generate(
            model, ids, pixels, spy, GenerationOptions(max_new_tokens=args["max_new_tokens"])
        )
    inner = spy.runs[0].inner
    raters = inner.raters.tolist() if getattr(inner, "raters", None) is not None else []
    _RUNS[name] = Run(
        golden,
        ids,
        pixels,
        raters,
        spy.runs[0].after_views(),
        out.stats[0],
        seen.first_logits,
        seen.kv_lengths,
        seen.next_positions,
        out.tokens[0].tolist(),
    )
    return _RUNS[name]


sparse_file = pytest.mark.parametrize("name", SPARSE_FILES)


def test_golden_files_present(oracle_dir):
    on_disk = sorted(p.name for p in GOLDEN.glob("*_sparse_s*.json"))
    assert on_disk == sorted(SPARSE_FILES)
    assert sorted(p.name for p in GOLDEN.glob("*_dense.json")) == DENSE_FILES


@pytest.mark.parametrize("name", SPARSE_FILES + DENSE_FILES)
def test_prompt_ids_and_pixels(name, oracle):
    run = run_file(name, oracle)
    assert run.ids[0].tolist() == run.golden["prompt_token_ids"]
    reference = np.load(GOLDEN / "synthetic_400x300.pixel_values.npy")
    assert np.array_equal(run.pixels[0].numpy(), reference)


@sparse_file
def test_raters(name, oracle):
    run = run_file(name, oracle)
    assert run.raters == run.golden["raters_rel_text"]
    text_ids = run.ids[0, run.ids[0].tolist().index(IMAGE_TOKEN_INDEX) + 1 :]
    assert text_ids[run.raters].tolist() == run.golden["rater_token_ids"]


@sparse_file
def test_pruning_decisions(name, oracle):
    run = run_file(name, oracle)
    expected = run.golden["pruning"]
    records = run.stats.records
    assert [r.layer for r in records] == [p["layer"] for p in expected]
    for record, ref in zip(records, expected, strict=True):
        where = f"layer {ref['layer']}"
        assert record.visual_in == ref["v_token_num_in"], where
        assert record.rank == ref["rank"], where
        assert record.k == ref["k_kept"], where
        assert record.pruned == ref["s_flag"], where
        assert record.kept == ref["kept_ids"], where
        assert record.clusters == ref.get("cluster_members_ids", []), where
        merged = len(record.clusters)
        assert merged == ref["num_merged"], where
        assert sum(len(m) for m in record.clusters) == ref["num_recycled_candidates"], where
        assert (record.visual_in - record.k if record.pruned else 0) == ref["num_pruned"], where


@sparse_file
def test_scores(name, oracle):
    run = run_file(name, oracle)
    for record, ref in zip(run.stats.records, run.golden["pruning"], strict=True):
        reference = torch.tensor(ref["scores"], dtype=torch.float32)
        assert record.scores.shape == reference.shape
        torch.testing.assert_close(
            record.scores, reference, atol=SCORE_TOLERANCE, rtol=0, msg=f"layer {ref['layer']}"
        )


@pytest.mark.parametrize("name", SPARSE_FILES + ["q1_short_sparse_nopruning_diagnostic.json"])
def test_token_counter_and_equivalent_tokens(name, oracle):
    run = run_file(name, oracle)
    _, model, _ = oracle
    assert run.stats.visual_out == run.golden["visual_tokens_per_layer_counter"]
    accounting = account(run.stats, model.config.text)
    assert accounting.equivalent_tokens_output == run.golden["equal_token_number_recomputed"]
    assert accounting.visual_tokens == 576
    assert accounting.prompt_tokens == run.golden["prefill_seq_len"]


@pytest.mark.parametrize("name", SPARSE_FILES + ["q1_short_sparse_nopruning_diagnostic.json"])
def test_kv_lengths_and_positions(name, oracle):
    run = run_file(name, oracle)
    golden = run.golden
    steps = [s for s in golden["steps"] if "kv_len_per_layer" in s]
    assert len(steps) == len(golden["steps"]) == len(run.kv_lengths) == 16
    for step in steps:
        assert run.kv_lengths[step["step"]] == step["kv_len_per_layer"], f"step {step['step']}"
    assert run.kv_lengths[0] == run.stats.tokens_in
    decode = golden["decode_rope_position_per_layer"]
    assert len(decode) == len(run.next_positions) == 15
    for step, positions in decode.items():
        assert run.next_positions[int(step) - 1] == positions, f"decode step {step}"
    for view, ref in zip(run.views, golden["prefill_rope_positions_per_layer"], strict=True):
        positions = view.before.positions[0]
        summary = {
            "len": positions.numel(),
            "min": int(positions.min()),
            "max": int(positions.max()),
            "contiguous_from_0": positions.tolist() == list(range(positions.numel())),
        }
        assert summary == ref, f"layer {view.layer}"


@pytest.mark.parametrize(
    "name", SPARSE_FILES + DENSE_FILES + ["q1_short_sparse_nopruning_diagnostic.json"]
)
def test_generated_tokens_and_first_logits(name, oracle):
    run = run_file(name, oracle)
    assert run.tokens == run.golden["generated_token_ids"][1:]
    reference = torch.tensor(run.golden["first_step_logits"], dtype=torch.float32)
    torch.testing.assert_close(run.first_logits, reference, atol=LOGIT_TOLERANCE, rtol=0)


def test_zero_noise_run_made_the_same_decisions(oracle):
    """The reference with its clustering noise set to zero decided the same as with noise; we
    use no noise, so both files describe our run."""
    noisy = run_file("q2_medium_sparse_s9_b6.json", oracle).golden["pruning"]
    quiet = run_file("q2_medium_sparse_s9_b6_zeronoise.json", oracle).golden["pruning"]
    for a, b in zip(noisy, quiet, strict=True):
        assert a["kept_ids"] == b["kept_ids"]
        assert a.get("cluster_members_ids") == b.get("cluster_members_ids")


def test_nopruning_diagnostic_equals_dense(oracle):
    """The reference's sparse code path with pruning off (no raters) = dense = our NoPruning."""
    diagnostic = run_file("q1_short_sparse_nopruning_diagnostic.json", oracle)
    dense = run_file("q1_short_dense.json", oracle)
    assert diagnostic.golden["raters_rel_text"] == [] and diagnostic.golden["pruning"] == []
    assert diagnostic.stats.records == []
    assert diagnostic.stats.visual_out == [576] * 32
    assert dense.golden["generated_token_ids"] == diagnostic.golden["generated_token_ids"]
    assert dense.tokens == diagnostic.tokens
    torch.testing.assert_close(dense.first_logits, diagnostic.first_logits, atol=0, rtol=0)


@pytest.mark.parametrize(("scale", "bias"), [("9", "6"), ("13.5", "0"), ("0.8", "0")])
def test_cli_answers_equal_the_reference(scale, bias, oracle_dir, tmp_path, capsys):
    """`model_vqa_loader --sparse --scale S --bias B` on both questions in one question file."""
    tag = f"s{scale}_b{bias}"
    files = sorted(GOLDEN.glob(f"*_sparse_{tag}.json"))
    assert len(files) >= 2
    goldens = [json.loads(f.read_text()) for f in files]
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        "".join(
            json.dumps({"question_id": i, "image": IMAGE, "text": g["args"]["question"]}) + "\n"
            for i, g in enumerate(goldens)
        )
    )
    answers = tmp_path / "answers.jsonl"
    model_vqa_loader.main(
        [
            "--model-path",
            str(oracle_dir / "llava-v1.5-tiny"),
            "--question-file",
            str(questions),
            "--image-folder",
            str(GOLDEN),
            "--answers-file",
            str(answers),
            "--sparse",
            "--scale",
            scale,
            "--bias",
            bias,
            "--dtype",
            "float32",
            "--device",
            "cpu",
            "--temperature",
            "0",
            "--conv-mode",
            "vicuna_v1",
            "--max_new_tokens",
            "16",
        ]
    )
    lines = [json.loads(line) for line in answers.read_text().splitlines()]
    assert [line["question_id"] for line in lines] == list(range(len(goldens)))
    for line, golden in zip(lines, goldens, strict=True):
        assert line["text"] == golden["generated_text"].strip()
        metadata = line["metadata"]
        assert metadata["equivalent_tokens_output"] == golden["equal_token_number_recomputed"]
        assert [p["layer"] for p in metadata["pruning_layers"]] == [2, 6, 15, 19]
        assert metadata["run"]["pruning"]["scale"] == float(scale)
    assert "answered 2 questions" in capsys.readouterr().out
