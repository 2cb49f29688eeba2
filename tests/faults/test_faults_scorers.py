"""Fault injection, scorers: the POPE, MME and TextVQA command lines on bad answer files and bad
ground truth. Every fault ends with exit status 1 and one `prog: error: ...` line naming the file
(and the count where there is one), never a traceback and never a score; answer sets that say
nothing about the model are scored with a warning."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from llava.eval import eval_mme, eval_pope, eval_textvqa

SUFFIX = "\nAnswer the question using a single word or phrase."


@dataclass(frozen=True)
class Scorer:
    prog: str
    main: Callable[[list[str]], int]
    answers: list[dict]  # a complete, varied answer set that scores cleanly
    foreign: dict  # an answer to a question the ground truth does not have
    argv: Callable[[Path], list[str]]  # the command line that scores an answers file
    truth: Path  # a ground-truth file the scorer reads


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def pope(root: Path) -> Scorer:
    labels = ["yes", "no", "yes", "no"]
    images = [f"COCO_val2014_{i}.jpg" for i in range(4)]
    label_file = write_jsonl(
        root / "coco" / "coco_pope_random.json",
        [{"question_id": i + 1, "image": images[i], "label": lab} for i, lab in enumerate(labels)],
    )
    questions = write_jsonl(
        root / "llava_pope_test.jsonl",
        [
            {"question_id": i + 1, "image": images[i], "text": "Is there a dog?" + SUFFIX,
             "category": "random"}
            for i in range(4)
        ],
    )  # fmt: skip
    answers = [
        {"question_id": i + 1, "prompt": "Is there a dog?" + SUFFIX, "text": text}
        for i, text in enumerate(["Yes", "No", "No", "No"])
    ]
    return Scorer(
        "eval_pope",
        eval_pope.main,
        answers,
        {"question_id": 99, "prompt": "Is there a cat?", "text": "Yes"},
        lambda path: ["--annotation-dir", str(root / "coco"), "--question-file", str(questions),
                      "--result-file", str(path)],
        label_file,
    )  # fmt: skip


def mme(root: Path) -> Scorer:
    folder = root / "MME_Benchmark_release_version" / "existence"
    folder.mkdir(parents=True)
    questions = {"e1": ("Is there a dog?", "Is there a cat?"), "e2": ("Is there a car?", "Is "
                 "there a tree?")}  # fmt: skip
    for stem, (first, second) in questions.items():
        (folder / f"{stem}.txt").write_text(
            f"{first} Please answer yes or no.\tYes\n{second} Please answer yes or no.\tNo\n",
            encoding="utf-8",
        )
    answers = [
        {"question_id": f"existence/{stem}.png", "prompt": question + SUFFIX, "text": text}
        for stem, pair in questions.items()
        for question, text in zip(pair, ("Yes", "No"), strict=True)
    ]
    return Scorer(
        "eval_mme",
        eval_mme.main,
        answers,
        {"question_id": "existence/e9.png", "prompt": "Is it red?" + SUFFIX, "text": "Yes"},
        lambda path: ["--mme-dir", str(folder.parent), "--answers-file", str(path),
                      "--output-dir", str(root / "eval_tool")],
        folder / "e1.txt",
    )  # fmt: skip


def textvqa(root: Path) -> Scorer:
    entries = [("img1", "What brand?", "dakota"), ("img2", "How many?", "3"),
               ("img3", "What color?", "red")]  # fmt: skip
    root.mkdir(parents=True)
    annotation = root / "TextVQA_0.5.1_val.json"
    data = [{"image_id": i, "question": q, "answers": [a] * 10} for i, q, a in entries]
    annotation.write_text(json.dumps({"data": data}), encoding="utf-8")

    def answer(image_id: str, question: str, text: str) -> dict:
        prompt = f"{question}\nReference OCR token: A, B{SUFFIX}"
        return {"question_id": image_id, "prompt": prompt, "text": text}

    return Scorer(
        "eval_textvqa",
        eval_textvqa.main,
        [answer(i, q, a) for i, q, a in entries],
        answer("img9", "What brand?", "kodak"),
        lambda path: ["--annotation-file", str(annotation), "--result-file", str(path)],
        annotation,
    )


SCORERS = {"pope": pope, "mme": mme, "textvqa": textvqa}


@pytest.fixture(params=list(SCORERS))
def scorer(request, tmp_path: Path) -> Scorer:
    return SCORERS[request.param](tmp_path / "data")


def run(scorer: Scorer, path: Path, capsys, *extra: str) -> tuple[int, str]:
    """Exit status and stderr of the scorer's command line; an exception would fail the test."""
    status = scorer.main([*scorer.argv(path), *extra])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return status, err


def refused(scorer: Scorer, path: Path, capsys, *needles: str) -> str:
    status, err = run(scorer, path, capsys)
    assert status == 1
    assert err.startswith(f"{scorer.prog}: error: ") and err.count("\n") == 1, err
    assert str(path) in err, err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


def test_the_complete_file_scores_cleanly(scorer: Scorer, tmp_path: Path, capsys) -> None:
    status, err = run(scorer, write_jsonl(tmp_path / "answers.jsonl", scorer.answers), capsys)
    assert (status, err) == (0, "")


# --- answer files: counts -----------------------------------------------------------------------


def test_partial_file(scorer: Scorer, tmp_path: Path, capsys) -> None:
    n = len(scorer.answers)
    path = write_jsonl(tmp_path / "partial.jsonl", scorer.answers[:-1])
    refused(scorer, path, capsys, f"{n - 1} answers for {n} ", "unanswered", "partial")


def test_duplicated_file(scorer: Scorer, tmp_path: Path, capsys) -> None:
    n = len(scorer.answers)
    path = write_jsonl(tmp_path / "twice.jsonl", scorer.answers + scorer.answers)
    refused(scorer, path, capsys, "answered more than once", f"{2 * n} answers for {n} distinct")


def test_foreign_answer(scorer: Scorer, tmp_path: Path, capsys) -> None:
    n = len(scorer.answers)
    path = write_jsonl(tmp_path / "foreign.jsonl", [*scorer.answers, scorer.foreign])
    refused(scorer, path, capsys, f"1 of {n + 1} answers")


# --- answer files: fields -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("text", None, "answer #2 has a NoneType 'text'"),
        ("text", 7, "answer #2 has a int 'text'"),
        ("text", ["Yes"], "answer #2 has a list 'text'"),
        ("question_id", ["x"], "answer #2 has a list 'question_id'"),
        ("question_id", None, "answer #2 has a NoneType 'question_id'"),
    ],
)
def test_wrong_field_type(scorer, tmp_path, capsys, field, value, needle) -> None:
    answers = [dict(a) for a in scorer.answers]
    answers[1][field] = value
    path = write_jsonl(tmp_path / "answers.jsonl", answers)
    refused(scorer, path, capsys, needle, f"1 of {len(answers)} answers")


@pytest.mark.parametrize("field", ["text", "question_id"])
def test_missing_field(scorer: Scorer, tmp_path: Path, capsys, field: str) -> None:
    answers = [{k: v for k, v in a.items() if k != field} for a in scorer.answers]
    path = write_jsonl(tmp_path / "answers.jsonl", answers)
    n = len(answers)
    refused(scorer, path, capsys, f"answer #1 has no '{field}' field", f"{n} of {n} answers")


# --- answer files: the file itself -------------------------------------------------------------


def test_not_utf8(scorer: Scorer, tmp_path: Path, capsys) -> None:
    path = tmp_path / "latin1.jsonl"
    first = json.dumps(scorer.answers[0]).encode()
    path.write_bytes(first + b'\n{"question_id": 2, "text": "caf\xe9"}\n')
    refused(scorer, path, capsys, "line 2: not UTF-8")


def test_empty_file(scorer: Scorer, tmp_path: Path, capsys) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n")
    refused(scorer, path, capsys, "is empty")


def test_folder_given_as_the_file(scorer: Scorer, tmp_path: Path, capsys) -> None:
    path = tmp_path / "answers.jsonl"
    path.mkdir()
    refused(scorer, path, capsys, "is a folder")


def test_line_that_is_not_an_object(scorer: Scorer, tmp_path: Path, capsys) -> None:
    path = tmp_path / "answers.jsonl"
    path.write_text('["Yes"]\n')
    refused(scorer, path, capsys, "line 1: expected a JSON object")


def test_unwritable_report(scorer: Scorer, tmp_path: Path, capsys) -> None:
    answers = write_jsonl(tmp_path / "answers.jsonl", scorer.answers)
    (tmp_path / "report.json").mkdir()
    status = scorer.main([*scorer.argv(answers), "--json-out", str(tmp_path / "report.json")])
    err = capsys.readouterr().err
    assert status == 1
    assert f"{scorer.prog}: error: cannot write {tmp_path / 'report.json'}" in err


def test_ground_truth_not_utf8(scorer: Scorer, tmp_path: Path, capsys) -> None:
    answers = write_jsonl(tmp_path / "answers.jsonl", scorer.answers)
    scorer.truth.write_bytes(scorer.truth.read_bytes() + "\ncafé\n".encode("latin-1"))
    status, err = run(scorer, answers, capsys)
    assert status == 1
    assert err.startswith(f"{scorer.prog}: error: ") and str(scorer.truth) in err, err
    assert "not UTF-8" in err


# --- degenerate answer sets: scored, with a warning --------------------------------------------


def warned(scorer: Scorer, tmp_path: Path, capsys, texts: list[str]) -> str:
    answers = [dict(a, text=t) for a, t in zip(scorer.answers, texts, strict=False)]
    path = write_jsonl(tmp_path / "answers.jsonl", answers)
    status, err = run(scorer, path, capsys)
    assert status == 0
    assert err.startswith(f"{scorer.prog}: warning: {path}: "), err
    return err


def test_every_answer_empty(scorer: Scorer, tmp_path: Path, capsys) -> None:
    err = warned(scorer, tmp_path, capsys, [""] * len(scorer.answers))
    assert "empty" in err


def test_one_constant_answer(scorer: Scorer, tmp_path: Path, capsys) -> None:
    err = warned(scorer, tmp_path, capsys, ["Yes"] * len(scorer.answers))
    assert f"all {len(scorer.answers)} answers are the same ('Yes')" in err


def test_pope_counts_an_empty_answer_as_yes_aloud(tmp_path: Path, capsys) -> None:
    bench = pope(tmp_path / "data")
    err = warned(bench, tmp_path, capsys, ["Yes", "", "No", "No"])
    assert "1 of 4 answers are empty, and LLaVA's POPE rule counts an empty answer as 'yes'" in err


@pytest.mark.parametrize("module", ["eval_pope", "eval_mme", "eval_textvqa"])
def test_real_process_exits_without_traceback(module: str, tmp_path: Path) -> None:
    """The same through `python -m`: what a user sees is one line and status 1."""
    bench = SCORERS[module.removeprefix("eval_")](tmp_path / "data")
    (tmp_path / "answers.jsonl").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", f"llava.eval.{module}", *bench.argv(tmp_path / "answers.jsonl")],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith(f"{module}: error: ") and "Traceback" not in done.stderr
