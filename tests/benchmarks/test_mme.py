"""MME scorer on a small ground-truth folder with both official layouts; eval_tool files; CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from llava.benchmarks.mme import (
    COGNITION,
    PERCEPTION,
    evaluate_mme,
    load_records,
    parse_mme_answer,
    score_records,
    write_eval_tool_answers,
)
from llava.eval import eval_mme

SUFFIX = "\nAnswer the question using a single word or phrase."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes", "yes"),
        ("NO", "no"),
        ("no.", "no"),
        ("Yes, it is", "yes"),  # "yes" in the first 4 characters
        ("Not sure", "no"),  # "not " contains "no"
        ("I think yes", "other"),  # "i th": neither
        ("Nope", "no"),
        ("Eyes", "yes"),  # "eyes"[:4] contains "yes"
        ("A yes", "other"),  # "a ye": the "yes" starts too late
        ("So no", "other"),  # "so n"
        ("Yes no", "yes"),  # "yes" wins over "no"
        ("", "other"),
    ],
)
def test_parse_first_four_characters(text: str, expected: str) -> None:
    assert parse_mme_answer(text) == expected


def _write_gt(path: Path, lines: list[tuple[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{q}\t{a}\n" for q, a in lines), encoding="utf-8")


def make_mme(root: Path) -> Path:
    """A miniature MME_Benchmark_release_version: artwork with images/ + questions_answers_YN/,
    existence and code_reasoning flat (GT .txt next to the images)."""
    mme = root / "MME_Benchmark_release_version"
    (mme / "artwork" / "images").mkdir(parents=True)
    qa = mme / "artwork" / "questions_answers_YN"
    _write_gt(
        qa / "a1.txt",
        [
            ("Is this by Monet? Please answer yes or no.", "Yes"),
            ("Is this by Dali? Please answer yes or no.", "No"),
        ],
    )
    _write_gt(
        qa / "a2.txt",
        [
            ("Is this a portrait? Please answer yes or no.", "Yes"),
            ("Is this a landscape?  Please answer yes or no.", "No"),
        ],
    )
    flat = mme / "existence"
    _write_gt(
        flat / "e1.txt",
        [
            ("Is there a dog in this image? Please answer yes or no.", "Yes"),
            ("Is there a cat in this image? Please answer yes or no.", "No"),
        ],
    )
    _write_gt(
        flat / "e2.txt",
        [
            ("Is there a car in this image? Please answer yes or no.", "No"),
            ("Is there a tree in this image? Please answer yes or no.", "Yes"),
        ],
    )
    _write_gt(mme / "code_reasoning" / "c1.txt",
              [("Is a python code shown? Please answer yes or no.", "Yes"),
               ("Is a c++ code shown? Please answer yes or no.", "No")])  # fmt: skip
    (mme / "README.md").write_text("not a category")  # stray file at the top: ignored
    return mme


ANSWERS = [
    # artwork: 3 of 4 right, images a1 both right, a2 one right -> acc 0.75, acc+ 0.5, 125
    ("artwork/images/a1.jpg", "Is this by Monet?", "Yes"),
    ("artwork/images/a1.jpg", "Is this by Dali?", "No"),
    ("artwork/images/a2.jpg", "Is this a portrait?", "Yes, it is"),
    ("artwork/images/a2.jpg", "Is this a landscape?", "I think yes"),  # two-space GT; "other"
    # existence: e1 "Not sure" -> no (wrong), "no." right; e2 both right -> 125
    ("existence/e1.png", "Is there a dog in this image?", "Not\tsure\nreally"),
    ("existence/e1.png", "Is there a cat in this image?", "no."),
    ("existence/e2.png", "Is there a car in this image?", "NO"),
    ("existence/e2.png", "Is there a tree in this image?", "yes"),
    # code_reasoning (cognition): both right -> 200; the second prompt already has MME's suffix
    ("code_reasoning/c1.png", "Is a python code shown?", "Yes"),
    ("code_reasoning/c1.png", "Is a c++ code shown? Please answer yes or no.", "No"),
]


def write_answers(path: Path, write_jsonl, answers=ANSWERS) -> Path:
    records = []
    for qid, question, text in answers:
        prompt = question if "Please answer" in question else question + SUFFIX
        records.append({"question_id": qid, "prompt": prompt, "text": text, "metadata": {}})
    return write_jsonl(path, records)


def test_scores_by_hand(tmp_path: Path, write_jsonl) -> None:
    mme = make_mme(tmp_path)
    result = evaluate_mme(mme, write_answers(tmp_path / "answers" / "m.jsonl", write_jsonl))
    assert list(result.categories) == ["existence", "artwork", "code_reasoning"]  # official order
    art, ex, code = (result.categories[c] for c in ("artwork", "existence", "code_reasoning"))
    assert (art.questions, art.images, art.correct, art.both_correct, art.other) == (4, 2, 3, 1, 1)
    assert (art.acc, art.acc_plus, art.score) == (0.75, 0.5, 125.0)
    assert (ex.acc, ex.acc_plus, ex.score, ex.other) == (0.75, 0.5, 125.0, 0)
    assert (code.acc, code.acc_plus, code.score) == (1.0, 1.0, 200.0)
    assert (result.perception, result.cognition, result.total) == (250.0, 200.0, 450.0)
    assert result.missing_categories == [
        c for c in PERCEPTION + COGNITION if c not in ("existence", "artwork", "code_reasoning")
    ]
    saved = result.to_dict()
    assert saved["categories"]["artwork"]["acc_plus"] == 0.5
    assert saved["total"] == 450.0


def _official_calculation(results_dir: Path, category: str) -> tuple[float, float]:
    """What MME's eval_tool/calculation.py computes from one file: pairs of consecutive lines
    are one image; fields split on tabs; the prediction keeps its line's newline."""
    lines = (results_dir / f"{category}.txt").open(encoding="utf-8").readlines()
    correct = both = 0
    for start in range(0, len(lines), 2):
        pair = lines[start : start + 2]
        assert len(pair) == 2
        right = 0
        for line in pair:
            _image, _question, gt, pred = line.split("\t")
            right += parse_mme_answer(pred.lower()) == gt.lower()
        correct += right
        both += right == 2
    return correct / len(lines), both / (len(lines) / 2)


def test_eval_tool_files(tmp_path: Path, write_jsonl) -> None:
    mme = make_mme(tmp_path)
    records = load_records(mme, write_answers(tmp_path / "m.jsonl", write_jsonl))
    written = write_eval_tool_answers(records, tmp_path / "out")
    assert sorted(p.name for p in written) == ["artwork.txt", "code_reasoning.txt", "existence.txt"]
    assert (tmp_path / "out" / "artwork.txt").read_text() == (
        "a1.jpg\tIs this by Monet? Please answer yes or no.\tYes\tYes\n"
        "a1.jpg\tIs this by Dali? Please answer yes or no.\tNo\tNo\n"
        "a2.jpg\tIs this a portrait? Please answer yes or no.\tYes\tYes, it is\n"
        "a2.jpg\tIs this a landscape?  Please answer yes or no.\tNo\tI think yes\n"
    )
    existence = (tmp_path / "out" / "existence.txt").read_text().splitlines()
    assert (
        existence[0] == "e1.png\tIs there a dog in this image? Please answer yes or no.\tYes\t"
        "Not sure really"
    )  # tab and newline of the answer replaced by spaces
    result = score_records(records)
    for category, r in result.categories.items():
        assert _official_calculation(tmp_path / "out", category) == (r.acc, r.acc_plus)


def test_pairs_are_written_together_even_if_answers_interleave(tmp_path, write_jsonl) -> None:
    mme = make_mme(tmp_path)
    order = [0, 2, 1, 3]  # a1, a2, a1, a2
    answers = [ANSWERS[i] for i in order] + ANSWERS[4:]
    records = load_records(mme, write_answers(tmp_path / "m.jsonl", write_jsonl, answers))
    write_eval_tool_answers(records, tmp_path / "out")
    images = [line.split("\t")[0] for line in (tmp_path / "out" / "artwork.txt").open()]
    assert images == ["a1.jpg", "a1.jpg", "a2.jpg", "a2.jpg"]
    assert score_records(records).categories["artwork"].acc_plus == 0.5


def test_join_errors(tmp_path: Path, write_jsonl) -> None:
    mme = make_mme(tmp_path)
    cases = [
        ([("artwork/images/a1.jpg", "Is this by Picasso?", "Yes")],
         r"m.jsonl: 1 of 1 answers have no MME ground truth, the first: question_id "
         r"'artwork/images/a1.jpg', question 'Is this by Picasso\? Please answer yes or no.'"),
        ([("sculpture/s1.png", "Is it?", "Yes")], r"MME category folder not found: .*sculpture"),
        (ANSWERS[:3], r"m.jsonl: 3 answers for 10 MME questions, 7 unanswered .* partial"),
        (ANSWERS + ANSWERS[:1], r"m.jsonl: 1 MME question\(s\) answered more than once"),
    ]  # fmt: skip
    for answers, message in cases:
        path = write_answers(tmp_path / "m.jsonl", write_jsonl, answers)
        with pytest.raises(ValueError, match=message):
            evaluate_mme(mme, path)


def test_input_errors(tmp_path: Path, write_jsonl) -> None:
    mme = make_mme(tmp_path)
    with pytest.raises(ValueError, match="MME answers file not found"):
        evaluate_mme(mme, tmp_path / "missing.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(ValueError, match="is empty"):
        evaluate_mme(mme, tmp_path / "empty.jsonl")
    (tmp_path / "bad.jsonl").write_text("{\n")
    with pytest.raises(ValueError, match="bad.jsonl, line 1: not valid JSON"):
        evaluate_mme(mme, tmp_path / "bad.jsonl")
    write_jsonl(tmp_path / "fields.jsonl", [{"question_id": "existence/e1.png", "text": "Yes"}])
    with pytest.raises(ValueError, match=r"fields.jsonl: answer #1 has no 'prompt' field; 1 of 1"):
        evaluate_mme(mme, tmp_path / "fields.jsonl")
    answers = write_answers(tmp_path / "m.jsonl", write_jsonl)
    _write_gt(mme / "existence" / "e2.txt", [("Is there a car? Please answer yes or no.", "Maybe")])
    with pytest.raises(ValueError, match=r"e2.txt, line 1: expected 'question<TAB>Yes'"):
        evaluate_mme(mme, answers)
    (mme / "existence" / "e2.txt").unlink()
    (mme / "existence" / "images").mkdir()
    with pytest.raises(ValueError, match="has images/ but no questions_answers_YN/"):
        evaluate_mme(mme, answers)


def test_cli(tmp_path: Path, write_jsonl, capsys: pytest.CaptureFixture) -> None:
    mme = make_mme(tmp_path)
    answers = write_answers(tmp_path / "answers" / "llava-test.jsonl", write_jsonl)
    json_out = tmp_path / "metrics.json"
    argv = ["--mme-dir", str(mme), "--answers-file", str(answers), "--json-out", str(json_out)]
    assert eval_mme.main(argv) == 0
    out = capsys.readouterr().out
    assert "artwork                    75.00   50.00    125.00" in out
    assert "code_reasoning            100.00  100.00    200.00" in out
    assert "Perception (10 categories, max 2000): 250.00" in out
    assert "Cognition (4 categories, max 800): 200.00" in out
    assert "Perception + Cognition: 450.00" in out
    assert "Warning: no answers for count, position" in out
    default_dir = tmp_path / "eval_tool" / "answers" / "llava-test"  # next to the MME folder
    assert sorted(p.name for p in default_dir.iterdir()) == [
        "artwork.txt", "code_reasoning.txt", "existence.txt"]  # fmt: skip
    assert json.loads(json_out.read_text())["perception"] == 250.0
    argv = ["--mme-dir", str(mme), "--answers-file", str(answers), "--experiment", "exp"]
    assert eval_mme.main(argv) == 0
    assert (tmp_path / "eval_tool" / "answers" / "exp" / "artwork.txt").is_file()
    assert eval_mme.main([*argv, "--output-dir", str(tmp_path / "mine")]) == 0
    assert (tmp_path / "mine" / "existence.txt").is_file()


def test_cli_errors(tmp_path: Path, write_jsonl, capsys: pytest.CaptureFixture) -> None:
    mme = make_mme(tmp_path)
    answers = write_answers(tmp_path / "m.jsonl", write_jsonl)
    assert eval_mme.main(["--mme-dir", str(tmp_path / "nope"), "--answers-file", str(answers)]) == 1
    assert "eval_mme: error: MME folder not found" in capsys.readouterr().err
    (tmp_path / "file").write_text("a file, not a folder")
    argv = ["--mme-dir", str(mme), "--answers-file", str(answers),
            "--output-dir", str(tmp_path / "file" / "out")]  # fmt: skip
    assert eval_mme.main(argv) == 1
    assert "cannot write the eval_tool files" in capsys.readouterr().err


def test_cli_runs_as_module(tmp_path: Path, write_jsonl, repo_root: Path) -> None:
    mme = make_mme(tmp_path)
    answers = write_answers(tmp_path / "m.jsonl", write_jsonl)
    done = subprocess.run(
        [sys.executable, "-m", "llava.eval.eval_mme", "--mme-dir", str(mme),
         "--answers-file", str(answers), "--output-dir", str(tmp_path / "out")],
        cwd=repo_root, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Perception + Cognition: 450.00" in done.stdout


def test_real_question_file_joins_and_pairs(shared_llava: Path, tmp_path: Path) -> None:
    """The real llava_mme.jsonl: two adjacent questions per image, categories known."""
    lines = (shared_llava / "MME" / "llava_mme.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line) for line in lines]
    assert len(questions) == 2374
    categories = {q["question_id"].split("/")[0] for q in questions}
    assert categories == set(PERCEPTION + COGNITION)
    ids = [q["question_id"] for q in questions]
    assert all(ids[i] == ids[i + 1] for i in range(0, len(ids), 2))
