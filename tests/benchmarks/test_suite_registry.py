"""The registry entries of GQA, ScienceQA, MMBench, MMBench-CN and SEED: layout, answering
flags, headline scores on tiny data roots, and the synthetic writers they call."""

from __future__ import annotations

import csv
import json
import sys
import types

import pytest

from llava.benchmarks import BENCHMARK_MODULES, get_benchmark

SUITE_A = ("gqa", "sqa", "mmbench", "mmbench_cn", "seed")


def test_entries_and_answering_flags() -> None:
    assert {"gqa", "scienceqa", "mmbench", "mmbench_cn", "seed"} <= set(BENCHMARK_MODULES)
    flags = {name: get_benchmark(name).answering_flags for name in SUITE_A}
    assert flags == {
        "gqa": (),
        "sqa": ("--single-pred-prompt",),
        "mmbench": ("--single-pred-prompt",),
        "mmbench_cn": ("--single-pred-prompt", "--lang", "cn"),
        "seed": (),
    }
    assert get_benchmark("sqa").answering == "llava.eval.model_vqa_science"
    assert get_benchmark("mmbench_cn").answering == "llava.eval.model_vqa_mmbench"
    assert get_benchmark("gqa").answers_file("root", "m-dense").as_posix() == (
        "root/gqa/answers/llava_gqa_testdev_balanced/m-dense/merge.jsonl"
    )
    assert all(get_benchmark(name).scoring == "offline" for name in SUITE_A)


@pytest.mark.parametrize(
    ("name", "module", "function", "extra"),
    [
        ("gqa", "gqa", "write_gqa", {}),
        ("sqa", "scienceqa", "write_scienceqa", {}),
        ("mmbench", "mmbench", "write_mmbench", {"lang": "en"}),
        ("mmbench_cn", "mmbench", "write_mmbench", {"lang": "cn"}),
        ("seed", "seed", "write_seed", {}),
    ],
)
def test_synthetic_writers_are_called_lazily(name, module, function, extra, monkeypatch) -> None:
    calls = []
    fake = types.ModuleType(f"llava.synthetic.{module}")
    setattr(fake, function, lambda root, **kwargs: calls.append((root, kwargs)) or {"q": 1})
    monkeypatch.setitem(sys.modules, f"llava.synthetic.{module}", fake)
    assert get_benchmark(name).write_synthetic("root", seed=3, images=4) == {"q": 1}
    assert calls == [("root", {"seed": 3, "images": 4, "progress": False, **extra})]


def write_json(path, document) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document), encoding="utf-8")


def test_gqa_headline_is_accuracy(tmp_path, write_jsonl) -> None:
    question = {"question": "Is it red?", "isBalanced": True, "groups": {"global": None},
                "types": {"structural": "verify", "semantic": "attr"}, "semantic": []}  # fmt: skip
    write_json(tmp_path / "gqa/data/testdev_balanced_questions.json",
               {"1": {**question, "answer": "no"}, "2": {**question, "answer": "yes"}})  # fmt: skip
    answers = get_benchmark("gqa").answers_file(tmp_path, "m")
    write_jsonl(answers, [{"question_id": "1", "text": "No."}, {"question_id": "2", "text": "no"}])
    score = get_benchmark("gqa").score(tmp_path, answers)
    assert score.value == 50.0 and score.details["binary"] == 50.0


def test_sqa_headline_is_img_accuracy(tmp_path, write_jsonl) -> None:
    write_json(tmp_path / "scienceqa/pid_splits.json", {"test": ["1", "2", "3"]})
    write_json(tmp_path / "scienceqa/problems.json",
               {pid: {"choices": ["x", "y"], "answer": 0} for pid in "123"})  # fmt: skip
    answers = get_benchmark("sqa").answers_file(tmp_path, "m")
    write_jsonl(answers, [
        {"question_id": "1", "prompt": "<image>\nQ", "text": "A"},
        {"question_id": "2", "prompt": "<image>\nQ", "text": "B"},
        {"question_id": "3", "prompt": "Q", "text": "A"},
    ])  # fmt: skip
    score = get_benchmark("sqa").score(tmp_path, answers)
    assert score.value == 50.0 and score.details["accuracy"] == 2 / 3 * 100


@pytest.mark.parametrize("name", ["mmbench", "mmbench_cn"])
def test_mmbench_headline_is_circular_accuracy(name, tmp_path, write_jsonl) -> None:
    benchmark = get_benchmark(name)
    tsv = tmp_path / benchmark.question_file
    tsv.parent.mkdir(parents=True)
    with tsv.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter="\t")
        writer.writerow(["index", "question", "hint", "A", "B", "answer", "image", "split"])
        writer.writerows([[1, "Q", "", "x", "y", "A", "i", "dev"],
                          [1000001, "Q", "", "y", "x", "B", "i", "dev"],
                          [2, "Q", "", "x", "y", "B", "i", "dev"]])  # fmt: skip
    answers = benchmark.answers_file(tmp_path, "m")
    texts = {1: "A", 1000001: "B", 2: "A"}
    write_jsonl(answers, [{"question_id": i, "round_id": 0, "text": t} for i, t in texts.items()])
    assert benchmark.score(tmp_path, answers).value == 50.0


def test_seed_headline_is_image_accuracy(tmp_path, write_jsonl) -> None:
    questions = [
        {"question_id": "1", "question_type_id": 1, "data_type": "image", "answer": "A"},
        {"question_id": "2", "question_type_id": 1, "data_type": "image", "answer": "B"},
        {"question_id": "v3", "question_type_id": 10, "data_type": "video", "answer": "C"},
    ]
    write_json(tmp_path / "seed_bench/SEED-Bench.json",
               {"questions": questions, "question_type": {"Scene": 1, "Action": 10}})  # fmt: skip
    answers = get_benchmark("seed").answers_file(tmp_path, "m")
    write_jsonl(answers, [{"question_id": 1, "text": "A"}, {"question_id": 2, "text": "A"},
                          {"question_id": "v3", "text": "C"}])  # fmt: skip
    score = get_benchmark("seed").score(tmp_path, answers)
    assert score.value == 50.0 and score.details["all_accuracy"] == 2 / 3 * 100
