"""ScienceQA: model_vqa_science's prompt and eval_science_qa.py's scorer, against the released
13B results and the official script's outputs on randomized answer sets."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from llava.benchmarks.scienceqa import (
    evaluate_science_qa,
    parse_letter,
    predicted_index,
    science_prompt,
    score_science_qa,
)
from llava.eval import eval_science_qa


@pytest.mark.parametrize(
    ("text", "choices", "letter", "index"),
    [
        ("A", 2, "A", 0),
        ("A. chiasmus", 2, "A", 0),
        ("The answer is A.", 2, "A", 0),
        ("The answer is B!", 2, "B", 1),  # the regex's final "." is any character
        ("A.", 2, "FAILED", -1),
        ("(A)", 2, "FAILED", -1),
        ("a", 2, "FAILED", -1),
        ("A) x", 2, "FAILED", -1),
        ("A.\nExplanation", 2, "FAILED", -1),
        ("The answer is A", 2, "FAILED", -1),
        ("The answer is B. The answer is B.", 2, "FAILED", -1),
        ("E", 4, "E", -1),
        ("E", 5, "E", 4),
        ("The answer is Z.", 4, "Z", -1),
        ("", 3, "FAILED", -1),
    ],
)
def test_letter_rules(text: str, choices: int, letter: str, index: int) -> None:
    assert parse_letter(text) == letter
    assert predicted_index(parse_letter(text), choices) == index


def test_prompt_for_image_and_text_only_items() -> None:
    suffix = "\nAnswer with the option's letter from the given choices directly."
    image = {"id": "11", "image": "11/image.png", "conversations": [{"value": "<image>\nQ?\nA. x"}]}
    text_only = {"id": "4", "conversations": [{"value": " Q?\nA. x <image>"}]}
    assert science_prompt(image) == "<image>\nQ?\nA. x" + suffix
    assert science_prompt(text_only) == "Q?\nA. x" + suffix
    assert science_prompt(text_only, single_pred_prompt=False) == "Q?\nA. x"
    with pytest.raises(ValueError, match="'9' has no conversations"):
        science_prompt({"id": "9"})


def test_missing_answers_count_as_text_only_failures() -> None:
    problems = {
        "1": {"choices": ["x", "y"], "answer": 1},
        "2": {"choices": ["x", "y"], "answer": 0},
    }
    answers = {"1": {"text": "B", "prompt": "<image>\nQ"}}
    result = score_science_qa(problems, ["1", "2"], answers)
    assert (result.total, result.correct, result.img_total, result.img_correct) == (2, 1, 1, 1)
    assert result.analyses[1]["question"] == "Unknown" and result.outputs["2"] == "FAILED"
    assert score_science_qa(problems, ["2"], {}).img_accuracy is None


def test_official_outputs_on_randomized_answers(official_cases) -> None:
    for case in official_cases("scienceqa"):
        pids = case["pid_splits"]["test"]
        answers = {a["question_id"]: a for a in case["answers"]}
        result = score_science_qa(case["problems"], pids, answers)
        assert result.output_file() == case["output_file"], case["seed"]
        assert result.output_result() == case["output_result"], case["seed"]
        assert eval_science_qa.format_result(result) + "\n" == case["printed"]


@pytest.fixture
def base_dir(shared_suite, tmp_path):
    folder = tmp_path / "scienceqa"
    folder.mkdir()
    shutil.copy(shared_suite / "scienceqa" / "pid_splits.json", folder)
    shutil.copy(shared_suite / "scienceqa" / "derived" / "problems_test_min.json",
                folder / "problems.json")  # fmt: skip
    return folder


def test_released_13b_results_are_reproduced(base_dir, shared_suite, tmp_path, repo_root) -> None:
    released = shared_suite / "scienceqa" / "answers"
    answers = shared_suite / "scienceqa" / "derived" / "llava-v1.5-13b.reconstructed.jsonl"
    out = [str(tmp_path / "output.jsonl"), str(tmp_path / "result.json")]
    completed = subprocess.run(
        [sys.executable, str(repo_root / "llava" / "eval" / "eval_science_qa.py"),
         "--base-dir", str(base_dir), "--result-file", str(answers),
         "--output-file", out[0], "--output-result", out[1]],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert completed.stdout == (
        "Total: 4241, Correct: 3155, Accuracy: 74.39%, IMG-Accuracy: 71.64%\n"
    )
    assert (tmp_path / "result.json").read_bytes() == (
        released / "llava-v1.5-13b_result.json"
    ).read_bytes()
    assert (tmp_path / "output.jsonl").read_bytes() == (
        released / "llava-v1.5-13b_output.jsonl"
    ).read_bytes()
    result = evaluate_science_qa(base_dir, answers)
    assert (result.img_correct, result.img_total) == (1445, 2017)


def test_prompt_builder_reproduces_every_released_prompt(shared_suite) -> None:
    items = json.loads((shared_suite / "scienceqa" / "llava_test_CQM-A.json").read_text())
    answers = shared_suite / "scienceqa" / "derived" / "llava-v1.5-13b.reconstructed.jsonl"
    prompts = {json.loads(line)["question_id"]: json.loads(line)["prompt"] for line in
               answers.read_text().splitlines()}  # fmt: skip
    assert len(items) == len(prompts) == 4241
    assert [science_prompt(item) for item in items] == [prompts[item["id"]] for item in items]


def test_partial_duplicated_and_foreign_files_are_refused(base_dir, shared_suite, tmp_path):
    lines = shared_suite / "scienceqa" / "derived" / "llava-v1.5-13b.reconstructed.jsonl"
    lines = lines.read_text().splitlines(keepends=True)
    foreign = json.dumps({"question_id": "nope", "prompt": "p", "text": "A"}) + "\n"
    for name, content, message in [
        ("partial", lines[:100], "100 answers for 4241 questions, 4141 unanswered"),
        ("twice", lines + lines[:3], "3 question(s) answered more than once"),
        ("foreign", lines + [foreign], "1 of 4242 answers are for questions that are not"),
    ]:
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(content))
        with pytest.raises(ValueError, match=name) as err:
            evaluate_science_qa(base_dir, path)
        assert message in str(err.value)


def test_cli_errors_without_traceback(tmp_path, capsys) -> None:
    code = eval_science_qa.main(["--base-dir", str(tmp_path), "--result-file", "x.jsonl"])
    assert code == 1
    assert capsys.readouterr().err.startswith("eval_science_qa: error: ScienceQA pid_splits.json")
