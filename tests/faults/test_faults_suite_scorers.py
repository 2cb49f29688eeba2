"""Fault injection, the rest of the suite's scorers (GQA, ScienceQA, MMBench, SEED) on their
synthetic stand-ins: answers naming their question by a list or an object, answer files that
are folders, and outputs that cannot be written end in `prog: error: ...`, not a traceback."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from llava.benchmarks import get_benchmark
from llava.benchmarks.mmbench import read_mmbench_tsv
from llava.eval import eval_gqa, eval_mmbench, eval_science_qa

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
BENCHMARKS = ("gqa", "sqa", "mmbench", "seed")


def script(name: str) -> Callable[[list[str]], int]:
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def answers_for(name: str, root: Path) -> list[dict]:
    """A complete answer file for a synthetic benchmark, as the answer generators write it."""
    if name == "gqa":
        questions = read_jsonl(root / "gqa" / "llava_gqa_testdev_balanced.jsonl")
        return [{"question_id": q["question_id"], "prompt": q["text"], "text": "yes"}
                for q in questions]  # fmt: skip
    if name == "sqa":
        items = json.loads((root / "scienceqa" / "llava_test_CQM-A.json").read_text())
        return [
            {"question_id": item["id"], "text": "A",
             "prompt": ("<image>\n" if "image" in item else "") + item["conversations"][0]["value"]}
            for item in items
        ]  # fmt: skip
    if name == "mmbench":
        _, rows = read_mmbench_tsv(root / "mmbench" / "mmbench_dev_20230712.tsv")
        return [{"question_id": row["index"], "round_id": 0, "prompt": "q", "text": "A",
                 "options": ["a", "b"], "option_char": ["A", "B"]} for row in rows]  # fmt: skip
    questions = read_jsonl(root / "seed_bench" / "llava-seed-bench.jsonl")
    return [{"question_id": q["question_id"], "prompt": q["text"], "text": "A"} for q in questions]


@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("suite")
    for name in BENCHMARKS:
        get_benchmark(name).write_synthetic(root, seed=0, images=3)
    return root


def write_answers(suite: Path, name: str, answers: list[dict]) -> Path:
    path = get_benchmark(name).answers_file(suite, "faults")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(a) + "\n" for a in answers), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", BENCHMARKS)
def test_the_complete_file_scores(suite: Path, name: str) -> None:
    get_benchmark(name).score(suite, write_answers(suite, name, answers_for(name, suite)))


@pytest.mark.parametrize("name", BENCHMARKS)
@pytest.mark.parametrize("question_id", [["x"], {"id": 1}])
def test_question_id_that_is_not_a_name(suite: Path, name: str, question_id) -> None:
    answers = answers_for(name, suite)
    answers[1]["question_id"] = question_id
    path = write_answers(suite, name, answers)
    with pytest.raises(ValueError) as err:
        get_benchmark(name).score(suite, path)
    message = str(err.value)
    assert message.startswith(f"{path}: answer #2 ") and f"1 of {len(answers)} answers" in message


@pytest.mark.parametrize("name", BENCHMARKS)
def test_answers_file_that_is_a_folder(suite: Path, name: str, tmp_path: Path) -> None:
    folder = tmp_path / "answers.jsonl"
    folder.mkdir()
    with pytest.raises(ValueError, match=f"{folder} is a folder; pass the file itself"):
        get_benchmark(name).score(suite, folder)


def test_outputs_that_cannot_be_written(suite: Path, tmp_path: Path, capsys) -> None:
    """Every output flag of the suite's command lines, pointed at a folder."""
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    answers = {name: write_answers(suite, name, answers_for(name, suite)) for name in BENCHMARKS}
    predictions = tmp_path / "testdev_balanced_predictions.json"
    assert script("convert_gqa_for_eval")(["--src", str(answers["gqa"]), "--dst",
                                           str(predictions)]) == 0  # fmt: skip
    runs = {
        "convert_gqa_for_eval": (script("convert_gqa_for_eval"),
                                 ["--src", str(answers["gqa"]), "--dst", str(blocked)]),
        "eval_gqa": (eval_gqa.main,
                     ["--questions", str(suite / "gqa/data/testdev_balanced_questions.json"),
                      "--predictions", str(predictions), "--json-out", str(blocked)]),
        "eval_science_qa": (eval_science_qa.main,
                            ["--base-dir", str(suite / "scienceqa"), "--result-file",
                             str(answers["sqa"]), "--output-result", str(blocked)]),
        "eval_mmbench": (eval_mmbench.main,
                         ["--annotation-file", str(suite / "mmbench/mmbench_dev_20230712.tsv"),
                          "--result-file", str(answers["mmbench"]), "--json-out", str(blocked)]),
        "convert_mmbench_for_submission": (script("convert_mmbench_for_submission"),
            ["--annotation-file", str(suite / "mmbench/mmbench_dev_20230712.tsv"),
             "--result-dir", str(answers["mmbench"].parent), "--experiment", "faults",
             "--upload-dir", str(tmp_path / "up")]),
        "convert_seed_for_submission": (script("convert_seed_for_submission"),
            ["--annotation-file", str(suite / "seed_bench/SEED-Bench.json"),
             "--result-file", str(answers["seed"]), "--result-upload-file", str(blocked)]),
    }  # fmt: skip
    (tmp_path / "up" / "faults.xlsx").mkdir(parents=True)  # the upload file's place is taken
    for prog, (main, argv) in runs.items():
        assert main(argv) == 1, prog
        err = capsys.readouterr().err
        assert err.splitlines()[-1].startswith(f"{prog}: error: cannot write "), (prog, err)
