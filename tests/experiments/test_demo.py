"""The shipped demo model and the main job (`python -m llava.experiments.demo`) on a tiny subset."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from llava.eval.runner import build_prompt
from llava.experiments import demo
from llava.mm_utils import process_images, tokenizer_image_token
from llava.model.builder import load_pretrained_model
from llava.synthetic import BenchmarkSizes, write_benchmarks

SHIPPED = demo.DEFAULT_MODEL
TINY = BenchmarkSizes(pope_images=3, pope_pairs=1, mme_images=1, textvqa_images=2)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    write_benchmarks(root, seed=0, sizes=TINY, benchmarks=("pope", "mme", "textvqa"))
    return root


@pytest.fixture(scope="module")
def shipped():
    torch.set_num_threads(1)
    return load_pretrained_model(str(SHIPPED), None, SHIPPED.name, device="cpu")


def test_shipped_model_is_an_original_llava_checkpoint(shipped) -> None:
    config = json.loads((SHIPPED / "config.json").read_text())
    assert config["architectures"] == ["LlavaLlamaForCausalLM"]
    assert config["num_hidden_layers"] == 32  # SparseVLM's default layers apply unchanged
    _, model, _, _ = shipped
    assert model.get_vision_tower().num_patches == 576
    size = sum(p.stat().st_size for p in SHIPPED.rglob("*") if p.is_file())
    assert size < 25 * 2**20


def test_shipped_model_answers_heldout_pope_questions(shipped, data) -> None:
    """Benchmark questions (seed 0, split "test") are never seen in training."""
    tokenizer, model, processor, _ = shipped
    questions = [json.loads(line) for line in (data / "pope/llava_pope_test.jsonl").open()]
    labels = {  # POPE aligns a split's questions with its label file by position
        split: [
            json.loads(line)["label"]
            for line in (data / f"pope/coco/coco_pope_{split}.json").open()
        ]
        for split in ("adversarial", "popular", "random")
    }
    right = 0
    for question in questions:
        prompt = build_prompt(question["text"], "vicuna_v1")
        ids = tokenizer_image_token(prompt, tokenizer, return_tensors="pt")[None]
        image = Image.open(data / "pope/val2014" / question["image"]).convert("RGB")
        output = model.generate(
            ids,
            images=process_images([image], processor, model.config),
            do_sample=False,
            max_new_tokens=4,
        )
        answer = tokenizer.batch_decode(output, skip_special_tokens=True)[0].strip().lower()
        right += answer == labels[question["category"]].pop(0)
    assert right >= 0.85 * len(questions), f"{right} of {len(questions)} right"


def test_main_job_on_a_tiny_subset(data, tmp_path, capsys) -> None:
    output = tmp_path / "results"
    demo.main(["--data", str(data), "--output", str(output),
               "--methods", "dense,sparsevlm-64,random-64"])  # fmt: skip
    results = json.loads((output / "results.json").read_text())
    labels = [r["label"] for r in results["results"]]
    assert labels == ["dense", "sparsevlm-64", "random-64"]
    dense, sparse, _ = results["results"]
    assert dense["equivalent_tokens"] == 576.0
    assert sparse["equivalent_tokens"] == pytest.approx(64.8, abs=0.1)
    for result in results["results"]:
        assert set(result["scores"]) == set(results["metrics"])
    table = [line for line in (output / "results.md").read_text().splitlines() if line[:1] == "|"]
    assert len(table) == 5  # header, rule, 3 rows
    with Image.open(output / "accuracy_vs_tokens.png") as picture:
        assert picture.format == "PNG"
    # A second run resumes: nothing is answered again, and the header says so.
    demo.main(["--data", str(data), "--output", str(output), "--methods", "dense"])
    assert "0 answers written" in (output / "results.md").read_text()


def test_several_models_give_spread_and_ranks(data, tmp_path) -> None:
    """The same checkpoint under two folder names stands in for two training seeds."""
    twin = tmp_path / "llava-v1.5-synthetic-twin"
    twin.symlink_to(SHIPPED.resolve(), target_is_directory=True)
    output = tmp_path / "results"
    demo.main(["--data", str(data), "--output", str(output), "--benchmarks", "pope",
               "--models", f"{SHIPPED},{twin}",
               "--methods", "dense,fastv-64,random-64"])  # fmt: skip
    text = (output / "results.md").read_text()
    assert "± 0.0" in text  # identical models: no spread
    assert "| 64 | POPE F1 |" in text and "rank per model" in text
