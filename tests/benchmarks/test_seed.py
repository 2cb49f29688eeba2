"""SEED-Bench: convert_seed_for_submission.py's accuracies and upload file, on a hand-built
SEED-Bench.json, on the official script's outputs and on the released 13B upload file."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llava.benchmarks.seed import (
    evaluate_seed,
    score_seed,
    selection_accuracy,
    upload_records,
    write_upload,
)

SCRIPT = "convert_seed_for_submission.py"


def load_script(repo_root):
    """The script module (it lives in scripts/, outside the package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("convert_seed", repo_root / "scripts" / SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seed_question(qid: str, type_id: int, answer: str) -> dict:
    data_type = "video" if qid.startswith("v") else "image"
    return {"question_id": qid, "question_type_id": type_id, "data_type": data_type,
            "answer": answer, "choice_a": "One", "choice_b": "Two", "choice_c": "Three",
            "choice_d": "Four", "question": "How many?", "data_id": f"{qid}.png"}  # fmt: skip


ANNOTATION = {
    "question_type": {"Scene Understanding": 1, "Instances Counting": 5, "Action Recognition": 10},
    "questions": [
        seed_question("12", 5, "A"),
        seed_question("7", 1, "B"),
        seed_question("v3", 10, "C"),
        seed_question("9", 1, "D"),
        seed_question("v4", 10, "A"),
        seed_question("31", 5, "B"),
    ],
}


def test_exact_letters_micro_averages_and_missing_answers() -> None:
    # 12 right; 7 "B." is wrong; v3 right; 9 unanswered; v4 lower case; 31 right.
    texts = {12: "A", 7: "B.", "v3": "C", "v4": "a", 31: "B"}
    result = score_seed(ANNOTATION, texts)
    assert result.all.per_type == {1: (0, 2), 5: (2, 2), 10: (1, 2)}  # id order
    assert (result.all.correct, result.all.count) == (3, 6)
    assert result.image.accuracy == 2 / 4 * 100  # micro average, not the mean of types
    assert result.video.accuracy == 50.0
    assert selection_accuracy(ANNOTATION["questions"][:1], texts, "video").accuracy is None


def test_upload_keeps_annotation_ids_and_order(tmp_path) -> None:
    texts = {12: "A", 7: "B.", "v3": "C", 9: "D", "v4": "a", 31: "B"}
    write_upload(upload_records(ANNOTATION, texts), tmp_path / "up.jsonl")
    lines = (tmp_path / "up.jsonl").read_text().splitlines()
    assert lines[:3] == [
        '{"question_id": "12", "prediction": "A"}',
        '{"question_id": "7", "prediction": "B."}',
        '{"question_id": "v3", "prediction": "C"}',
    ]
    with pytest.raises(ValueError, match="SEED question '9' has no answer"):
        upload_records(ANNOTATION, {12: "A", 7: "B", "v3": "C"})


def test_string_ids_for_image_questions_are_refused(tmp_path, write_jsonl) -> None:
    (tmp_path / "SEED-Bench.json").write_text(json.dumps(ANNOTATION))
    answers = [{"question_id": q["question_id"], "text": "A"} for q in ANNOTATION["questions"]]
    write_jsonl(tmp_path / "merge.jsonl", answers)
    with pytest.raises(ValueError, match="4 of 6 answers are for questions that are not"):
        evaluate_seed(tmp_path / "SEED-Bench.json", tmp_path / "merge.jsonl")


def test_official_printout_and_upload_on_randomized_answers(official_cases, repo_root) -> None:
    script = load_script(repo_root)
    for case in official_cases("seed"):
        texts = {a["question_id"]: a["text"] for a in case["answers"]}
        result = score_seed(case["annotation"], texts)
        assert script.format_result(result) + "\n" == case["printed"], case["seed"]
        if case["error"] is None:
            records = upload_records(case["annotation"], texts)
            assert "".join(json.dumps(r) + "\n" for r in records) == case["upload"]
        else:  # LLaVA wrote its accuracies, then failed on the unanswered question
            with pytest.raises(ValueError, match="has no answer"):
                upload_records(case["annotation"], texts)


def test_script_refuses_a_partial_file_before_writing(tmp_path, write_jsonl, repo_root) -> None:
    (tmp_path / "SEED-Bench.json").write_text(json.dumps(ANNOTATION))
    write_jsonl(tmp_path / "merge.jsonl", [{"question_id": 12, "text": "A"}])
    completed = subprocess.run(
        [sys.executable, str(repo_root / "scripts" / SCRIPT),
         "--annotation-file", str(tmp_path / "SEED-Bench.json"),
         "--result-file", str(tmp_path / "merge.jsonl"),
         "--result-upload-file", str(tmp_path / "up.jsonl")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert completed.returncode == 1
    assert "1 answers for 6 questions, 5 unanswered" in completed.stderr
    assert "Traceback" not in completed.stderr and not (tmp_path / "up.jsonl").exists()


def test_released_13b_upload_is_rebuilt_byte_for_byte(shared_suite, tmp_path, repo_root) -> None:
    released = shared_suite / "seed_bench" / "answers_upload" / "llava-v1.5-13b.jsonl"
    lines = [json.loads(line) for line in released.read_text().splitlines()]
    assert len(lines) == 19242
    assert all(isinstance(line["question_id"], str) for line in lines)
    assert sum(line["question_id"].startswith("v") for line in lines) == 5009
    assert {line["prediction"] for line in lines} == {"A", "B", "C", "D"}
    # An annotation in the released order, and answers keyed as the loader writes them.
    annotation = {
        "question_type": {"Scene Understanding": 1, "Action Recognition": 10},
        "questions": [
            seed_question(line["question_id"], 10 if line["question_id"][0] == "v" else 1, "A")
            for line in lines
        ],
    }
    (tmp_path / "SEED-Bench.json").write_text(json.dumps(annotation))
    answers = [
        {"question_id": q if q.startswith("v") else int(q), "prompt": "p", "text": p}
        for q, p in ((line["question_id"], line["prediction"]) for line in lines)
    ]
    (tmp_path / "merge.jsonl").write_text("".join(json.dumps(a) + "\n" for a in answers))
    completed = subprocess.run(
        [sys.executable, str(repo_root / "scripts" / SCRIPT),
         "--annotation-file", str(tmp_path / "SEED-Bench.json"),
         "--result-file", str(tmp_path / "merge.jsonl"),
         "--result-upload-file", str(tmp_path / "up.jsonl")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert (tmp_path / "up.jsonl").read_bytes() == released.read_bytes()
    image_a = sum(line["prediction"] == "A" for line in lines if line["question_id"][0] != "v")
    assert f"image accuracy: {image_a / 14233 * 100:.2f}%" in completed.stdout


def test_only_ids_the_annotation_repeats_may_be_answered_twice(tmp_path, write_jsonl) -> None:
    annotation = {
        **ANNOTATION,
        "questions": ANNOTATION["questions"] + [seed_question("12", 5, "B")],
    }
    (tmp_path / "SEED-Bench.json").write_text(json.dumps(annotation))
    answers = [{"question_id": 12, "text": "A"}, {"question_id": 12, "text": "B"}]
    answers += [{"question_id": k, "text": "A"} for k in (7, "v3", 9, "v4", 31)]
    write_jsonl(tmp_path / "merge.jsonl", answers)
    result = evaluate_seed(tmp_path / "SEED-Bench.json", tmp_path / "merge.jsonl")
    # Both copies of 12 are scored with the last answer, B: only the copy whose answer is B is
    # right (31, answered A, is wrong).
    assert result.all.per_type[5] == (1, 3)
    write_jsonl(tmp_path / "merge.jsonl", answers + [{"question_id": 7, "text": "B"}])
    with pytest.raises(ValueError, match="1 question.s. answered more than once .7."):
        evaluate_seed(tmp_path / "SEED-Bench.json", tmp_path / "merge.jsonl")
