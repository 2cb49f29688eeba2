"""VizWiz: LLaVA's upload conversion (byte-identical on the released 13B files), the upload
check and the accuracy, against the outputs of LLaVA's converter and VizWiz's evaluation on the
fixture in tests/data/suite/vizwiz (see its README), plus the strictness LLaVA's lacks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from llava.benchmarks import get_benchmark, vizwiz
from llava.benchmarks.jsonl import read_jsonl
from llava.eval import eval_vizwiz


@pytest.fixture
def fixture_dir(suite_fixtures: Path) -> Path:
    return suite_fixtures / "vizwiz"


def _official(fixture_dir: Path, name: str) -> dict:
    return json.loads((fixture_dir / name).read_text())["original"]


def _assert_equals_official(result: vizwiz.VizWizResult, official: dict) -> None:
    assert result.overall == official["overall"]
    assert result.per_answer_type == official["perAnswerType"]
    assert {image: round(100 * a, 2) for image, a in result.per_question.items()} == (
        official["evalQA"]
    )


def _convert(repo_root: Path, questions: Path, answers: Path, upload: Path):
    command = [sys.executable, "scripts/convert_vizwiz_for_submission.py"]
    command += ["--annotation-file", str(questions), "--result-file", str(answers)]
    command += ["--result-upload-file", str(upload)]
    return subprocess.run(command, cwd=repo_root, capture_output=True, text=True)


def test_converter_is_byte_identical_on_the_released_13b_files(shared_suite, repo_root, tmp_path):
    folder = shared_suite / "vizwiz"
    upload = tmp_path / "answers_upload" / "llava-v1.5-13b.json"
    run = _convert(
        repo_root, folder / "llava_test.jsonl", folder / "answers/llava-v1.5-13b.jsonl", upload
    )
    assert run.returncode == 0, run.stderr
    assert "total results: 8000, total split: 8000, error_line: 0" in run.stdout
    assert upload.read_bytes() == (folder / "answers_upload/llava-v1.5-13b.json").read_bytes()


def test_converter_script_on_the_fixture(fixture_dir: Path, repo_root: Path, tmp_path: Path):
    upload = tmp_path / "upload.json"
    run = _convert(
        repo_root, fixture_dir / "llava_val.jsonl", fixture_dir / "answers.jsonl", upload
    )
    assert run.returncode == 0, run.stderr
    assert upload.read_bytes() == (fixture_dir / "upload.json").read_bytes()
    run = _convert(repo_root, fixture_dir / "llava_val.jsonl", fixture_dir / "upload.json", upload)
    assert run.returncode == 1
    assert run.stderr.startswith("convert_vizwiz_for_submission.py: error: ")


def test_accuracy_of_answers_equals_the_evaluation_of_their_upload(fixture_dir: Path) -> None:
    result = vizwiz.evaluate_answers(
        fixture_dir / "annotations.json",
        fixture_dir / "llava_val.jsonl",
        fixture_dir / "answers.jsonl",
    )
    _assert_equals_official(result, _official(fixture_dir, "official_eval_of_upload.json"))
    upload = vizwiz.evaluate_upload(fixture_dir / "annotations.json", fixture_dir / "upload.json")
    assert upload.per_question == result.per_question


def test_server_processing_alone_equals_the_evaluation(fixture_dir: Path, tmp_path: Path):
    images = {
        q["question_id"]: q["image"] for q in vizwiz.read_questions(fixture_dir / "llava_val.jsonl")
    }
    raw = [{"image": images[a["question_id"]], "answer": a["text"]}
           for a in read_jsonl(fixture_dir / "answers.jsonl", "answers")]  # fmt: skip
    (tmp_path / "raw.json").write_text(json.dumps(raw))
    result = vizwiz.evaluate_upload(fixture_dir / "annotations.json", tmp_path / "raw.json")
    _assert_equals_official(result, _official(fixture_dir, "official_eval_of_raw_texts.json"))


def test_converter_refuses_partial_duplicated_and_foreign_answers(fixture_dir: Path) -> None:
    answers = read_jsonl(fixture_dir / "answers.jsonl", "answers")
    questions = vizwiz.read_questions(fixture_dir / "llava_val.jsonl")
    with pytest.raises(ValueError, match=r"a.jsonl: 79 answers for 80 questions, 1 unanswered"):
        vizwiz.convert_for_submission(answers[1:], "a.jsonl", questions)
    with pytest.raises(ValueError, match="answered more than once"):
        vizwiz.convert_for_submission(answers + answers[:1], "a.jsonl", questions)
    with pytest.raises(ValueError, match="1 of 80 answers are for questions that are not"):
        vizwiz.convert_for_submission(
            [*answers[1:], {**answers[0], "question_id": 10_000}], "a.jsonl", questions
        )


def test_upload_check(fixture_dir: Path) -> None:
    images = [q["image"] for q in vizwiz.read_questions(fixture_dir / "llava_val.jsonl")]
    upload = json.loads((fixture_dir / "upload.json").read_text())
    assert len(vizwiz.read_upload(upload, images, "u.json")) == 80
    bad_uploads = {
        "JSON array": {"image": "x"},
        "exactly the keys": [{"image": images[0]}],
        "must be strings": [{"image": images[0], "answer": None}],
        "answered twice": upload + upload[:1],
        "79 answers for 80 questions, 1 missing and 0 for images": upload[1:],
    }
    for message, bad in bad_uploads.items():
        with pytest.raises(ValueError, match=message):
            vizwiz.read_upload(bad, images, "u.json")


def test_annotation_errors(fixture_dir: Path, tmp_path: Path) -> None:
    annotations = json.loads((fixture_dir / "annotations.json").read_text())
    path = tmp_path / "annotations.json"
    cases = {
        "annotated twice": annotations[:1] * 2,
        "needs image, answers, answer_type": [{"image": "x"}],
        "string answers": [{**annotations[0], "answers": [{"answer": 1}]}],
        "do not ask about the same images": annotations[1:],
    }
    for message, content in cases.items():
        path.write_text(json.dumps(content))
        with pytest.raises(ValueError, match=message):
            vizwiz.evaluate_answers(
                path, fixture_dir / "llava_val.jsonl", fixture_dir / "answers.jsonl"
            )


def test_cli(fixture_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    json_out = tmp_path / "out.json"
    argv = ["--annotation-file", str(fixture_dir / "annotations.json")]
    argv += ["--question-file", str(fixture_dir / "llava_val.jsonl")]
    argv += ["--result-file", str(fixture_dir / "answers.jsonl"), "--json-out", str(json_out)]
    assert eval_vizwiz.main(argv) == 0
    assert capsys.readouterr().out.startswith("Overall Accuracy is: 25.63\n")
    assert json.loads(json_out.read_text())["per_answer_type"]["unanswerable"] == 32.5
    check = ["--upload-file", str(fixture_dir / "upload.json")]
    check += ["--question-file", str(fixture_dir / "llava_val.jsonl")]
    assert eval_vizwiz.main(check) == 0
    assert "a valid EvalAI upload, 80 questions" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        eval_vizwiz.main(["--upload-file", str(fixture_dir / "upload.json")])
    assert exit_info.value.code == 2
    assert "eval_vizwiz: error: pass --annotation-file" in capsys.readouterr().err


def test_registry_entry(tmp_path: Path, fixture_dir: Path) -> None:
    entry = get_benchmark("vizwiz")
    assert (entry.scoring, entry.answering) == ("server", "llava.eval.model_vqa_loader")
    assert entry.answers_file(tmp_path, "m") == tmp_path / "vizwiz/answers/m.jsonl"
    (tmp_path / "vizwiz").mkdir()
    shutil.copy(fixture_dir / "annotations.json", tmp_path / vizwiz.SYNTHETIC_ANNOTATIONS)
    shutil.copy(fixture_dir / "llava_val.jsonl", tmp_path / entry.question_file)
    score = entry.score(tmp_path, fixture_dir / "answers.jsonl")
    assert score.value == 25.63 and score.details["samples"] == 80
