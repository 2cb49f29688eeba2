"""MMBench: TSV reading, prompt, rounds, the .xlsx submission and CircularEval, against pandas,
LLaVA's converter with VLMEvalKit's exact matching, and the released 13B files."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from llava.benchmarks.mmbench import (
    as_read_back,
    convert_for_submission,
    evaluate_mmbench,
    is_none,
    model_prompt,
    option_rounds,
    prompt_body,
    prompt_options,
    read_mmbench_tsv,
)
from llava.benchmarks.mmbench_circular import CircularRow, circular_eval, extract_letter

COLUMNS = ["index", "question", "hint", "A", "B", "C", "D", "answer", "category", "image",
           "source", "l2-category", "comment", "split"]  # fmt: skip
# VLMEvalKit's short names for the l2-categories in its accuracy table (multiple_choice.py).
L2_ABBREVIATIONS = {
    "coarse_perception": "CP",
    "finegrained_perception (instance-level)": "FP-S",
    "finegrained_perception (cross-instance)": "FP-C",
    "logic_reasoning": "LR",
    "relation_reasoning": "RR",
    "attribute_reasoning": "AR",
}
CHOICES = {"A": "a red apple", "B": "a blue car", "C": "green grass"}


@pytest.mark.parametrize(
    ("prediction", "letter"),
    [
        ("B", "B"),
        ("(B)", "B"),
        ("The answer is B", "B"),
        ("B. a blue car", "B"),
        ("a blue car", "B"),  # text match
        ("THAT IS GREEN GRASS.", "C"),  # text match ignores case
        ("It is A BLUE CAR.", "A"),  # the article "A" is a letter token: option match first
        ("A or B", None),  # two letters
        ("b", None),  # letters are upper case
        ("Z", "Z"),
        ("a", None),  # the text match looks for option texts inside the prediction
        ("I can't process this file.", "Z"),
        ("Failed to obtain answer via API", None),
        ("D", None),  # not a choice of this row
        ("[C]*", "C"),
    ],
)
def test_option_and_text_match(prediction: str, letter: str | None) -> None:
    assert extract_letter(prediction, CHOICES) == letter


def rows_of(index: int, answers: list[str]) -> list[CircularRow]:
    return [CircularRow(index + k * 1_000_000, CHOICES, a) for k, a in enumerate(answers)]


def test_a_question_counts_only_if_every_rotation_is_right() -> None:
    rows = rows_of(1, ["A", "C", "B"]) + rows_of(2, ["B", "A", "C"]) + rows_of(3, ["C", "B", "A"])
    predictions = {r.index: r.answer for r in rows}
    predictions[2_000_002] = "B"  # a flipped rotation
    predictions[2_000_003] = "I do not know"  # unresolved: exact matching scores it 0
    result = circular_eval(rows, predictions)
    assert result.verdicts == {1: "correct", 2: "wrong", 3: "unresolved"}
    assert (result.hits, result.questions) == (1, 3)
    assert "1 of 3 questions have an answer that names no option" in result.warnings[0]


def test_tsv_is_read_as_pandas_and_llava_read_it(tmp_path, repo_root) -> None:
    fixture = json.loads((repo_root / "tests/data/suite/mmbench_tsv_pandas.json").read_text())
    path = tmp_path / "tricky.tsv"
    path.write_bytes(fixture["tsv"].encode("utf-8"))
    _, rows = read_mmbench_tsv(path)
    assert len(rows) == len(fixture["rows"])
    for row, expected in zip(rows, fixture["rows"], strict=True):
        for column in ("index", "question", "hint", "A", "B", "C", "D", "answer", "split"):
            assert row[column] == expected[column], (expected["index"], column)
        assert prompt_options(row) == expected["llava_options"]
        assert is_none(row["hint"]) == expected["llava_hint_is_none"]


def test_prompt_and_rounds() -> None:
    assert prompt_body("Q?", None, ["x", "y"]) == "Q?\nA. x\nB. y"
    assert prompt_body("Q?", "Look.", ["x"]) == "Look.\nQ?\nA. x"
    assert model_prompt("Q?\nA. x") == (
        "<image>\nQ?\nA. x\nAnswer with the option's letter from the given choices directly."
    )
    assert model_prompt("Q?", lang="cn") == "<image>\nQ?\n请直接回答选项字母。"
    assert option_rounds(["x", "y", "z"], all_rounds=False) == [(["x", "y", "z"], ["A", "B", "C"])]
    assert option_rounds(["x", "y", "z"], all_rounds=True) == [
        (["x", "y", "z"], ["A", "B", "C"]),
        (["y", "z", "x"], ["B", "C", "A"]),
        (["z", "x", "y"], ["C", "A", "B"]),
    ]


def write_tsv(path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows([["" if r.get(c) is None else r[c] for c in COLUMNS] for r in rows])


def test_official_results_on_randomized_answers(official_cases, tmp_path, write_jsonl) -> None:
    from openpyxl import load_workbook

    for case in official_cases("mmbench"):
        tsv = tmp_path / f"case{case['seed']}.tsv"
        tsv.write_bytes(case["tsv"].encode("utf-8"))
        answers = write_jsonl(tmp_path / "answers.jsonl", case["answers"])
        result = evaluate_mmbench(tsv, answers)
        hits = {str(index): int(v == "correct") for index, v in result.verdicts.items()}
        assert hits == case["hits"], case["seed"]
        acc = {name: values[0] for name, values in case["acc"].items()}
        assert acc.pop("split") == "dev"
        assert result.overall() == {"dev": acc.pop("Overall")}
        ours = {name: by["dev"] for name, by in result.per_group("category").items()}
        ours |= {
            L2_ABBREVIATIONS[n]: by["dev"] for n, by in result.per_group("l2_category").items()
        }
        assert ours == acc
        convert_for_submission(tsv, answers, tmp_path / "upload.xlsx")
        sheet = load_workbook(tmp_path / "upload.xlsx").active
        assert [list(row) for row in sheet.iter_rows(values_only=True)] == case["xlsx_cells"]


@pytest.fixture
def released(shared_suite, tmp_path):
    """The released 13B answers and a TSV rebuilt from the released xlsx's rows, with each
    hint recovered from the released prompt (the TSV itself is not public without images)."""
    folder = shared_suite / "mmbench"
    answers = folder / "answers" / "mmbench_dev_20230712" / "llava-v1.5-13b.jsonl"
    by_index = {json.loads(line)["question_id"]: json.loads(line) for line in
                answers.read_text().splitlines()}  # fmt: skip
    rows = []
    for line in (
        (folder / "derived" / "mmbench_dev_20230712_answers.jsonl").read_text().splitlines()
    ):
        row = json.loads(line)
        prompt = by_index[row["index"]]["prompt"]
        head = prompt[: prompt.index(row["question"])]
        rows.append({**row, **row.pop("options"), "hint": head[:-1] or None, "image": "x"})
    write_tsv(tmp_path / "mmbench_dev_20230712.tsv", rows)
    return {"tsv": tmp_path / "mmbench_dev_20230712.tsv", "answers": answers, "folder": folder,
            "by_index": by_index}  # fmt: skip


def test_released_13b_answers_score_67_69(released) -> None:
    result = evaluate_mmbench(released["tsv"], released["answers"])
    assert (result.hits, result.questions) == (796, 1176)
    assert round(100 * result.accuracy, 2) == 67.69
    assert result.warnings == []


def test_released_prompts_are_rebuilt(released) -> None:
    _, rows = read_mmbench_tsv(released["tsv"])
    assert len(rows) == 4377
    for row in rows:
        answer = released["by_index"][row["index"]]
        options = prompt_options(row)
        assert options == answer["options"]
        assert prompt_body(row["question"], row["hint"], options) == answer["prompt"]


def test_converter_writes_the_released_xlsx_values(released, tmp_path, repo_root) -> None:
    from openpyxl import load_workbook

    subprocess.run(
        [sys.executable, str(repo_root / "scripts" / "convert_mmbench_for_submission.py"),
         "--annotation-file", str(released["tsv"]), "--result-dir", str(released["answers"].parent),
         "--upload-dir", str(tmp_path / "upload"), "--experiment", "llava-v1.5-13b"],
        check=True,
    )  # fmt: skip
    ours = load_workbook(tmp_path / "upload" / "llava-v1.5-13b.xlsx").active
    theirs = load_workbook(
        released["folder"] / "answers_upload" / "mmbench_dev_20230712" / "llava-v1.5-13b.xlsx"
    ).active
    assert list(ours.iter_rows(values_only=True)) == list(theirs.iter_rows(values_only=True))
    assert ours.title == theirs.title and ours["A1"].font.b


def test_all_rounds_answers_are_refused(tmp_path, write_jsonl) -> None:
    rows = [{"index": 1, "question": "Q?", "A": "x", "B": "y", "answer": "A", "split": "dev"}]
    write_tsv(tmp_path / "q.tsv", rows)
    answers = [{"question_id": 1, "round_id": r, "text": "A"} for r in range(2)]
    write_jsonl(tmp_path / "a.jsonl", answers)
    with pytest.raises(ValueError, match="answered more than once.*--all-rounds"):
        evaluate_mmbench(tmp_path / "q.tsv", tmp_path / "a.jsonl")


def test_predictions_are_read_back_as_the_xlsx_gives_them() -> None:
    assert [as_read_back(t) for t in ("None", "", "NA", "none", "B")] == [
        "nan", "nan", "nan", "none", "B"
    ]  # fmt: skip


def test_eval_cli_prints_the_circular_score(tmp_path, write_jsonl, capsys) -> None:
    from llava.eval import eval_mmbench

    rows = [
        {"index": 1, "question": "Q", "A": "x", "B": "y", "answer": "A", "category": "c1",
         "l2-category": "coarse_perception", "split": "dev"},
        {"index": 1000001, "question": "Q", "A": "y", "B": "x", "answer": "B", "category": "c1",
         "l2-category": "coarse_perception", "split": "dev"},
        {"index": 2, "question": "Q", "A": "x", "B": "y", "answer": "B", "category": "c2",
         "l2-category": "coarse_perception", "split": "dev"},
    ]  # fmt: skip
    write_tsv(tmp_path / "q.tsv", rows)
    write_jsonl(tmp_path / "a.jsonl", [{"question_id": r["index"], "text": "A"} for r in rows])
    args = [
        "--annotation-file",
        str(tmp_path / "q.tsv"),
        "--result-file",
        str(tmp_path / "a.jsonl"),
    ]
    assert eval_mmbench.main(args) == 0
    out = capsys.readouterr()
    assert out.out.startswith(
        "Questions: 2, Correct in every rotation: 0, CircularEval accuracy: 0.00%\n  dev: 0.00%\n"
    )
    assert "all 3 answers are the same ('A')" in out.err
    write_jsonl(tmp_path / "a.jsonl", [{"question_id": 1, "text": "A"}])
    assert eval_mmbench.main(args) == 1
    assert "eval_mmbench: error: " in capsys.readouterr().err


def test_converter_cli_error_has_no_traceback(tmp_path, repo_root) -> None:
    completed = subprocess.run(
        [sys.executable, str(repo_root / "scripts" / "convert_mmbench_for_submission.py"),
         "--annotation-file", str(tmp_path / "missing.tsv"), "--result-dir", str(tmp_path),
         "--upload-dir", str(tmp_path), "--experiment", "x"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert completed.returncode == 1
    assert completed.stderr.startswith("convert_mmbench_for_submission: error: MMBench TSV not")
