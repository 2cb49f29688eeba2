"""VQAv2: LLaVA's upload conversion, the upload check and the official accuracy, against the
outputs of LLaVA's converter and of the official VQA evaluation on the fixture in
tests/data/suite/vqav2 (see its README), plus the strictness LLaVA's converter lacks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from llava.benchmarks import get_benchmark, vqav2
from llava.benchmarks.jsonl import read_jsonl
from llava.eval import eval_vqav2

SPLIT = "llava_vqav2_val_diff"


@pytest.fixture
def fixture_dir(suite_fixtures: Path) -> Path:
    return suite_fixtures / "vqav2"


@pytest.fixture
def vqav2_dir(fixture_dir: Path, tmp_path: Path) -> Path:
    """LLaVA's layout: vqav2/{test2015 file, SPLIT.jsonl, answers/SPLIT/CKPT/merge.jsonl}."""
    folder = tmp_path / "vqav2"
    (folder / "answers" / SPLIT / "ckpt").mkdir(parents=True)
    shutil.copy(fixture_dir / vqav2.TEST_QUESTION_FILE, folder)
    shutil.copy(fixture_dir / f"{SPLIT}.jsonl", folder)
    shutil.copy(fixture_dir / "merge.jsonl", folder / "answers" / SPLIT / "ckpt")
    return folder


def _official(fixture_dir: Path, name: str) -> dict:
    return json.loads((fixture_dir / name).read_text())


def _assert_equals_official(result: vqav2.VQAv2Result, official: dict) -> None:
    assert result.overall == official["accuracy"]["overall"]
    assert result.per_answer_type == official["accuracy"]["perAnswerType"]
    assert result.per_question_type == official["accuracy"]["perQuestionType"]
    assert {str(q): round(100 * a, 2) for q, a in result.per_question.items()} == official["evalQA"]


def test_converter_script_writes_llavas_bytes(vqav2_dir: Path, fixture_dir: Path, repo_root):
    command = [sys.executable, "scripts/convert_vqav2_for_submission.py", "--dir", str(vqav2_dir)]
    run = subprocess.run(
        [*command, "--split", SPLIT, "--ckpt", "ckpt"],
        cwd=repo_root,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "total results: 108, total split: 113, error_line: 0" in run.stdout
    written = vqav2_dir / "answers_upload" / SPLIT / "ckpt.json"
    assert written.read_bytes() == (fixture_dir / "upload.json").read_bytes()


def test_accuracy_of_answers_equals_the_official_evaluation_of_their_upload(fixture_dir: Path):
    result = vqav2.evaluate_answers(
        fixture_dir / "annotations.json",
        fixture_dir / "questions.json",
        fixture_dir / "merge.jsonl",
    )
    _assert_equals_official(result, _official(fixture_dir, "official_eval_of_upload.json"))
    upload = vqav2.evaluate_upload(
        fixture_dir / "annotations.json",
        fixture_dir / "questions.json",
        fixture_dir / "upload.json",
    )
    assert upload.per_question == result.per_question


def test_server_processing_alone_equals_the_official_evaluation(fixture_dir: Path, tmp_path):
    raw = [{"question_id": a["question_id"], "answer": a["text"]}
           for a in read_jsonl(fixture_dir / "merge.jsonl", "answers")]  # fmt: skip
    (tmp_path / "raw.json").write_text(json.dumps(raw))
    result = vqav2.evaluate_upload(
        fixture_dir / "annotations.json", fixture_dir / "questions.json", tmp_path / "raw.json"
    )
    _assert_equals_official(result, _official(fixture_dir, "official_eval_of_raw_texts.json"))


def _split_inputs(fixture_dir: Path) -> tuple[list[dict], list[dict], list[dict]]:
    answers = read_jsonl(fixture_dir / "merge.jsonl", "answers")
    test = vqav2.read_questions(fixture_dir / vqav2.TEST_QUESTION_FILE)
    split = vqav2.read_questions(fixture_dir / f"{SPLIT}.jsonl")
    return answers, test, split


def test_converter_refuses_partial_duplicated_and_foreign_answers(fixture_dir: Path) -> None:
    answers, test, split = _split_inputs(fixture_dir)
    with pytest.raises(ValueError, match=r"merge.jsonl: 107 answers for 108 questions, 1 unan"):
        vqav2.convert_for_submission(answers[1:], "merge.jsonl", test, split)
    with pytest.raises(ValueError, match="answered more than once"):
        vqav2.convert_for_submission(answers + answers[:1], "merge.jsonl", test, split)
    foreign = [*answers, {**answers[0], "question_id": 9_000_000}]  # in test2015, not the split
    with pytest.raises(ValueError, match="1 of 109 answers are for questions that are not"):
        vqav2.convert_for_submission(foreign, "merge.jsonl", test, split)
    with pytest.raises(ValueError, match="split are not in the test2015 question file"):
        vqav2.convert_for_submission(answers, "merge.jsonl", test[:10], split)


def test_upload_check(fixture_dir: Path) -> None:
    answers, test, split = _split_inputs(fixture_dir)
    upload = vqav2.convert_for_submission(answers, "merge.jsonl", test, split)
    assert vqav2.check_upload(upload, test, "u.json") == sum(1 for u in upload if u["answer"])
    bad_uploads = {
        "JSON array": {"question_id": 1},
        "exactly the keys": [{"question_id": 1}],
        "is not a new int": [{"question_id": "1007", "answer": "2"}],
        "must be a string": [{"question_id": 1007, "answer": 2}],
        "112 entries, 1 test2015 questions missing and 0 foreign": upload[1:],
    }
    for message, bad in bad_uploads.items():
        with pytest.raises(ValueError, match=message):
            vqav2.check_upload(bad, test, "u.json")


def test_scoring_refuses_what_the_official_code_would_not_score(fixture_dir: Path, tmp_path):
    annotations = json.loads((fixture_dir / "annotations.json").read_text())
    questions = fixture_dir / "questions.json"
    answers = fixture_dir / "merge.jsonl"
    ann_path = tmp_path / "annotations.json"
    twice = {**annotations, "annotations": annotations["annotations"][:1] * 2}
    ann_path.write_text(json.dumps(twice))
    with pytest.raises(ValueError, match="annotated twice"):
        vqav2.evaluate_answers(ann_path, questions, answers)
    record = annotations["annotations"][0]
    same = {**record, "answers": [record["answers"][0]] * 10}
    ann_path.write_text(json.dumps({**annotations, "annotations": [same]}))
    with pytest.raises(ValueError, match="two identical answer records"):
        vqav2.evaluate_answers(ann_path, questions, answers)
    ann_path.write_text(json.dumps({**annotations, "annotations": annotations["annotations"][1:]}))
    with pytest.raises(ValueError, match="do not list the same questions"):
        vqav2.evaluate_answers(ann_path, questions, answers)
    partial = tmp_path / "partial.jsonl"
    partial.write_text("".join(answers.read_text().splitlines(keepends=True)[:-1]))
    with pytest.raises(ValueError, match="107 answers for 108 questions, 1 unanswered"):
        vqav2.evaluate_answers(fixture_dir / "annotations.json", questions, partial)


def test_cli(fixture_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    files = ["--annotation-file", str(fixture_dir / "annotations.json")]
    files += ["--question-file", str(fixture_dir / "questions.json")]
    json_out = tmp_path / "out.json"
    argv = [*files, "--result-file", str(fixture_dir / "merge.jsonl"), "--json-out", str(json_out)]
    assert eval_vqav2.main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("Overall Accuracy is: 33.52\n")
    assert "Per Answer Type Accuracy is the following:\nyes/no : 26.67\n" in out
    assert json.loads(json_out.read_text())["samples"] == 108
    check = ["--upload-file", str(fixture_dir / "upload.json")]
    check += ["--test-questions", str(fixture_dir / vqav2.TEST_QUESTION_FILE)]
    assert eval_vqav2.main(check) == 0
    assert "a valid EvalAI upload, 113 questions, 108 with a non-empty answer" in (
        capsys.readouterr().out
    )
    with pytest.raises(SystemExit) as exit_info:
        eval_vqav2.main([*files, "--upload-file", str(fixture_dir / "merge.jsonl")])
    assert exit_info.value.code == 1
    assert "eval_vqav2" in capsys.readouterr().err


def test_registry_entry(tmp_path: Path, fixture_dir: Path) -> None:
    entry = get_benchmark("vqav2")
    assert (entry.scoring, entry.answering) == ("server", "llava.eval.model_vqa_loader")
    assert entry.answers_file(tmp_path, "m-dense") == (
        tmp_path / "vqav2/answers/llava_vqav2_mscoco_test-dev2015/m-dense/merge.jsonl"
    )
    (tmp_path / "vqav2").mkdir()
    shutil.copy(fixture_dir / "annotations.json", tmp_path / vqav2.SYNTHETIC_ANNOTATIONS)
    shutil.copy(fixture_dir / "questions.json", tmp_path / vqav2.SYNTHETIC_QUESTIONS)
    score = entry.score(tmp_path, fixture_dir / "merge.jsonl")
    assert score.value == 33.52 and score.details["samples"] == 108
