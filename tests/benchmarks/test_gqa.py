"""GQA: LLaVA's conversion and eval.py's metrics, against the official scripts' outputs on
randomized answer sets and on the released 13B answers."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llava.benchmarks.gqa import (
    convert_answers,
    gqa_prediction,
    score_gqa,
    score_predictions,
    steps_number,
    write_predictions,
)
from llava.eval import eval_gqa

# eval.py's names of its per-type tables.
OFFICIAL_TABLES = {
    "structural": "accuracyPerStructuralType",
    "semantic": "accuracyPerSemanticType",
    "steps": "accuracyPerSteps",
    "length": "accuracyPerLength",
}


def question(answer: str, structural: str = "query", group: str | None = "g", **extra) -> dict:
    return {
        "question": "Is it red?",
        "answer": answer,
        "isBalanced": True,
        "types": {"structural": structural, "semantic": "attr"},
        "groups": {"global": group},
        "semantic": [{"operation": "select", "argument": "cat"}],
        **extra,
    }


@pytest.mark.parametrize(
    ("text", "prediction"),
    [
        ("No", "no"),
        ("Yes.", "yes"),
        ("A man...", "a man"),
        (" cat.", " cat"),
        ("t-shirt", "t-shirt"),
    ],
)
def test_conversion_only_strips_periods_and_lowercases(text: str, prediction: str) -> None:
    assert gqa_prediction(text) == prediction


def test_exact_case_sensitive_match_and_binary_open_split() -> None:
    questions = {
        "1": question("no", "verify"),
        "2": question("man", "query"),
        "3": question("table", "query"),
        "4": question("yes", "compare", isBalanced=False),
    }
    result = score_gqa(questions, {"1": "no", "2": "a man", "3": "table", "4": "no"})
    assert (result.accuracy, result.binary, result.open) == (2 / 3 * 100, 100.0, 50.0)
    assert result.questions == 3  # the unbalanced one is not scored
    assert score_gqa(questions, {"1": "No", "2": "man", "3": "table", "4": "x"}).binary == 0.0


def test_steps_skip_exist_and_name_queries() -> None:
    ops = [("select", "cat"), ("exist", "?"), ("query", "name"), ("choose name", "a|b"),
           ("filter color", "red"), ("query", "color")]  # fmt: skip
    semantic = [{"operation": o, "argument": a} for o, a in ops]
    assert steps_number({"semantic": semantic}) == 3


def test_missing_predictions_are_refused() -> None:
    with pytest.raises(ValueError, match="1 of 2 GQA questions have no prediction"):
        score_gqa({"1": question("no"), "2": question("yes")}, {"1": "no"})


def test_official_metrics_and_printout_on_randomized_answers(official_cases, tmp_path) -> None:
    for case in official_cases("gqa"):
        predictions = convert_answers(case["answers"])
        write_predictions(predictions, tmp_path / "p.json")
        assert (tmp_path / "p.json").read_text() == case["predictions_file"]
        result = score_predictions(case["questions"], predictions, "p.json")
        metrics = {name: getattr(result, name) for name in case["metrics"]}
        assert metrics == case["metrics"], case["seed"]
        tables = {
            OFFICIAL_TABLES[name]: {str(k): list(v) for k, v in table.items()}
            for name, table in result.tables.items()
        }
        assert tables == case["tables"]
        assert eval_gqa.format_result(result) + "\n" == case["printed"]


def test_duplicated_and_foreign_predictions_are_refused() -> None:
    questions = {"1": question("no")}
    duplicated = [{"questionId": "1", "prediction": "no"}] * 2
    with pytest.raises(ValueError, match="p.json: 1 question.s. answered more than once"):
        score_predictions(questions, duplicated, "p.json")
    foreign = [{"questionId": "1", "prediction": "no"}, {"questionId": 1, "prediction": "no"}]
    with pytest.raises(ValueError, match="p.json: 1 of 2 answers are for questions that are not"):
        score_predictions(questions, foreign, "p.json")


def test_cli_tier_patterns_and_printout(tmp_path, capsys, monkeypatch) -> None:
    questions = {"1": question("no", "verify"), "2": question("man")}
    (tmp_path / "testdev_balanced_questions.json").write_text(json.dumps(questions))
    write_predictions(
        convert_answers([{"question_id": "1", "text": "No."}, {"question_id": "2", "text": "man"}]),
        tmp_path / "testdev_balanced_predictions.json",
    )
    monkeypatch.chdir(tmp_path)  # eval.py's defaults are relative to gqa/data
    assert eval_gqa.main(["--tier", "testdev_balanced"]) == 0
    printed = capsys.readouterr().out
    assert "Binary: 100.00%\nOpen: 100.00%\nAccuracy: 100.00%\n" in printed
    assert "Accuracy / structural type:\n  query: 100.00% (1 questions)\n" in printed
    assert eval_gqa.main(["--predictions", "missing.json"]) == 1
    assert capsys.readouterr().err.startswith("eval_gqa: error: GQA predictions file not found")


def test_converter_on_the_released_13b_answers(shared_suite, tmp_path, repo_root) -> None:
    answers = (
        shared_suite / "gqa" / "answers" / "llava_gqa_testdev_balanced" / "llava-v1.5-13b.jsonl"
    )
    dst = tmp_path / "testdev_balanced_predictions.json"
    subprocess.run(
        [sys.executable, str(repo_root / "scripts" / "convert_gqa_for_eval.py"),
         "--src", str(answers), "--dst", str(dst)],
        check=True,
    )  # fmt: skip
    predictions = json.loads(dst.read_text())
    assert len(predictions) == 12578
    assert [p["prediction"] for p in predictions[:3]] == ["no", "woman", "no"]
    assert all(isinstance(p["questionId"], str) for p in predictions)
    texts = [json.loads(line)["text"] for line in answers.read_text().splitlines()]
    assert sum(" " in p["prediction"] for p in predictions) == sum(" " in t for t in texts) == 384


def test_converter_cli_error_has_no_traceback(tmp_path, repo_root) -> None:
    (tmp_path / "merge.jsonl").write_text('{"question_id": "1", "text": 3}\n')
    completed = subprocess.run(
        [sys.executable, str(repo_root / "scripts" / "convert_gqa_for_eval.py"),
         "--src", str(tmp_path / "merge.jsonl"), "--dst", str(tmp_path / "p.json")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert completed.returncode == 1
    assert completed.stderr.startswith("convert_gqa_for_eval: error: ")
    assert "answer #1 has a int 'text'" in completed.stderr
