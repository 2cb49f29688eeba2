"""POPE scorer: LLaVA's parse rule, metrics, the LLaVA-1.5-13B regression, errors and CLI."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from llava.benchmarks.pope import evaluate_pope, parse_pope_answer, score_split
from llava.eval import eval_pope

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "pope"
SPLITS = ("adversarial", "popular", "random")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes", "yes"),
        ("No", "no"),
        ("no.", "no"),  # text before the first "." is "no"
        ("NO", "yes"),  # case-sensitive: only "No", "not", "no" count
        ("Not at all.", "yes"),  # "Not" is not "not"
        ("Yes, there is no dog.", "no"),  # "," removed, then "no" is a word
        ("There is a dog. It is not a cat.", "yes"),  # only the first sentence counts
        ("No,", "no"),  # "No," -> "No"
        ("no\nthere", "yes"),  # split on single spaces only: "no\nthere" is one word
        ("nothing", "yes"),
        ("", "yes"),
    ],
)
def test_parse_quirks(text: str, expected: str) -> None:
    assert parse_pope_answer(text) == expected


def test_metrics_by_hand() -> None:
    # predictions: yes, yes ("Not" is yes), yes ("NO" is yes), no, yes
    result = score_split(
        "random", ["Yes", "Not at all.", "NO", "no.", "Yes"], ["yes", "yes", "yes", "no", "no"]
    )
    assert (result.tp, result.fp, result.tn, result.fn) == (3, 1, 1, 0)
    assert result.samples == 5
    assert result.accuracy == 0.8
    assert result.precision == 0.75
    assert result.recall == 1.0
    assert result.f1 == pytest.approx(6 / 7, abs=1e-15)
    assert result.yes_ratio == 0.8


def test_no_yes_predictions_give_zero_precision_and_f1() -> None:
    # LLaVA divides by zero here; we report 0.0.
    result = score_split("random", ["No", "No"], ["yes", "no"])
    assert (result.precision, result.recall, result.f1, result.yes_ratio) == (0.0, 0.0, 0.0, 0.0)
    assert result.accuracy == 0.5


def test_score_split_errors() -> None:
    with pytest.raises(ValueError, match=r"split 'popular': 2 answers but 3 labels"):
        score_split("popular", ["Yes", "No"], ["yes", "no", "no"])
    with pytest.raises(ValueError, match="has no labels"):
        score_split("popular", [], [])
    with pytest.raises(ValueError, match=r"label #2: expected 'yes' or 'no', got 'maybe'"):
        score_split("popular", ["Yes", "No"], ["yes", "maybe"])


def _unpack_fixture(root: Path) -> Path:
    """Lay the gzipped real files out as playground/data/eval/pope/."""
    (root / "coco").mkdir(parents=True)
    (root / "answers").mkdir()
    for split in SPLITS:
        name = f"coco_pope_{split}.json"
        (root / "coco" / name).write_bytes(gzip.decompress((FIXTURE / f"{name}.gz").read_bytes()))
    for name, target in [
        ("llava_pope_test.jsonl", root / "llava_pope_test.jsonl"),
        ("llava-v1.5-13b.jsonl", root / "answers" / "llava-v1.5-13b.jsonl"),
    ]:
        target.write_bytes(gzip.decompress((FIXTURE / f"{name}.gz").read_bytes()))
    return root


@pytest.fixture(scope="module")
def pope_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _unpack_fixture(tmp_path_factory.mktemp("pope"))


def _args(root: Path) -> list[str]:
    return [
        "--annotation-dir", str(root / "coco"),
        "--question-file", str(root / "llava_pope_test.jsonl"),
        "--result-file", str(root / "answers" / "llava-v1.5-13b.jsonl"),
    ]  # fmt: skip


def test_llava_13b_regression(pope_dir: Path) -> None:
    result = evaluate_pope(
        pope_dir / "coco",
        pope_dir / "llava_pope_test.jsonl",
        pope_dir / "answers" / "llava-v1.5-13b.jsonl",
    )
    assert list(result.splits) == list(SPLITS)
    f1 = {split: round(r.f1, 4) for split, r in result.splits.items()}
    assert f1 == {"adversarial": 0.8446, "popular": 0.8625, "random": 0.8714}
    accuracy = {split: round(r.accuracy, 3) for split, r in result.splits.items()}
    assert accuracy == {"adversarial": 0.855, "popular": 0.874, "random": 0.880}
    assert round(result.mean_f1, 4) == 0.8595
    counts = {s: (r.tp, r.fp, r.tn, r.fn) for s, r in result.splits.items()}
    assert counts == {
        "adversarial": (1182, 117, 1383, 318),
        "popular": (1182, 59, 1441, 318),
        "random": (1182, 31, 1379, 318),
    }
    as_dict = result.to_dict()
    assert as_dict["splits"]["random"]["samples"] == 2910
    assert as_dict["mean_f1"] == result.mean_f1


def test_fixture_is_a_faithful_copy(shared_llava: Path) -> None:
    pope = shared_llava / "pope"
    originals = {f"coco_pope_{s}.json": pope / "coco" / f"coco_pope_{s}.json" for s in SPLITS}
    originals["llava_pope_test.jsonl"] = pope / "llava_pope_test.jsonl"
    originals["llava-v1.5-13b.jsonl"] = pope / "answers" / "llava-v1.5-13b.jsonl"
    for name, original in originals.items():
        assert gzip.decompress((FIXTURE / f"{name}.gz").read_bytes()) == original.read_bytes()


def test_cli_main_prints_and_saves_json(
    pope_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    json_out = tmp_path / "out" / "pope.json"
    assert eval_pope.main([*_args(pope_dir), "--json-out", str(json_out)]) == 0
    out = capsys.readouterr().out
    assert "Category: adversarial, # samples: 3000\nTP\tFP\tTN\tFN\t\n1182\t117\t1383\t318\n" in out
    assert "Accuracy: 0.855\n" in out
    assert "F1 score: 0.8445873526259379\n" in out
    assert "0.871, 0.880, 0.974, 0.788, 0.417\n" in out
    assert out.rstrip().endswith("Mean F1 over 3 splits (adversarial, popular, random): 0.8595")
    saved = json.loads(json_out.read_text())
    assert round(saved["mean_f1"], 4) == 0.8595
    assert saved["splits"]["popular"]["tp"] == 1182


@pytest.mark.parametrize("as_module", [False, True])
def test_cli_runs_as_script_and_module(pope_dir: Path, repo_root: Path, as_module: bool) -> None:
    if as_module:
        command, cwd = [sys.executable, "-m", "llava.eval.eval_pope"], repo_root
    else:  # a file path from another folder: the script must find `llava` by itself
        command, cwd = [sys.executable, str(repo_root / "llava/eval/eval_pope.py")], pope_dir
    done = subprocess.run(
        [*command, *_args(pope_dir)], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "F1 score: 0.8713601179506082" in done.stdout
    assert "0.8595" in done.stdout


def test_script_works_without_an_installed_package(pope_dir: Path, repo_root: Path) -> None:
    """`python -S` hides site-packages (and so an editable install of llava): only the
    script's own path shim can make `import llava` work from another folder."""
    bare = subprocess.run([sys.executable, "-S", "-c", "import llava"], cwd=repo_root)
    if bare.returncode != 0:
        pytest.skip("llava/__init__.py imports third-party packages, which -S hides")
    script = repo_root / "llava" / "eval" / "eval_pope.py"
    done = subprocess.run(
        [sys.executable, "-S", str(script), *_args(pope_dir)],
        cwd=pope_dir, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Mean F1 over 3 splits (adversarial, popular, random): 0.8595" in done.stdout


# --- error paths, on a three-question synthetic split ----------------------------------------
def _small(tmp_path: Path, write_jsonl, labels=("yes", "no", "yes"), answers=None) -> list[str]:
    images = ["a.jpg", "a.jpg", "b.jpg", "c.jpg"]
    write_jsonl(
        tmp_path / "coco" / "coco_pope_random.json",
        [{"question_id": i + 1, "image": images[i], "label": lab} for i, lab in enumerate(labels)],
    )
    questions = [
        {"question_id": 10 + i, "image": images[i], "text": "Is there a dog?", "category": "random"}
        for i in range(3)
    ]
    # a question of a split without a label file: ignored, as in LLaVA
    questions.append({"question_id": 99, "image": "z.jpg", "category": "adversarial"})
    write_jsonl(tmp_path / "questions.jsonl", questions)
    if answers is None:
        answers = [{"question_id": 10 + i, "text": t} for i, t in enumerate(["Yes", "No", "No"])]
    write_jsonl(tmp_path / "answers.jsonl", answers)
    return [
        str(tmp_path / "coco"),
        str(tmp_path / "questions.jsonl"),
        str(tmp_path / "answers.jsonl"),
    ]


def test_small_split_scores(tmp_path: Path, write_jsonl) -> None:
    result = evaluate_pope(*_small(tmp_path, write_jsonl))
    assert list(result.splits) == ["random"]
    r = result.splits["random"]
    assert (r.tp, r.fp, r.tn, r.fn) == (1, 0, 1, 1)
    assert result.mean_f1 == r.f1 == pytest.approx(2 / 3, abs=1e-15)


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (("yes", "no", "yes", "no"), r"split 'random': 3 answers but 4 labels in coco_pope_random"),
        (("yes", "no"), r"split 'random': 3 answers but 2 labels in coco_pope_random"),
    ],
)
def test_length_mismatch_names_split_and_counts(
    tmp_path: Path, write_jsonl, labels: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate_pope(*_small(tmp_path, write_jsonl, labels=labels))


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ([{"question_id": 10, "text": "Yes"}, {"question_id": 12, "text": "No"}],
         r"answers.jsonl: 2 answers for 3 questions, 1 unanswered \(11\): the file is partial"),
        ([{"question_id": 10, "text": "Yes"}, {"question_id": 7, "text": "No"}],
         r"answers.jsonl: 1 of 2 answers are for question_ids that are not in the question file"),
        ([{"question_id": 10, "text": "Yes"}, {"question_id": 10, "text": "No"}],
         r"answers.jsonl: 1 question\(s\) answered more than once \(10\)"),
        ([{"question_id": 10}], r"answers.jsonl: answer #1 has no 'text' field; 1 of 1 answers"),
        ([{"question_id": 10, "text": "Yes"}, {"question_id": 12, "text": "No"},
          {"question_id": 11, "text": "No"}],
         r"position 2: the answer to question_id 12 is about b.jpg but line 2 .* is about a.jpg"),
    ],
)  # fmt: skip
def test_answer_errors(tmp_path: Path, write_jsonl, answers: list[dict], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate_pope(*_small(tmp_path, write_jsonl, answers=answers))


def test_label_errors(tmp_path: Path, write_jsonl) -> None:
    with pytest.raises(ValueError, match="expected 'yes' or 'no', got 'Yes'"):
        evaluate_pope(*_small(tmp_path, write_jsonl, labels=("yes", "Yes", "no")))
    args = _small(tmp_path, write_jsonl)
    write_jsonl(tmp_path / "coco" / "coco_pope_random.json", [{"image": "a.jpg"}] * 3)
    with pytest.raises(ValueError, match="line 1: no 'label' field"):
        evaluate_pope(*args)


def test_question_file_errors(tmp_path: Path, write_jsonl) -> None:
    args = _small(tmp_path, write_jsonl)
    write_jsonl(tmp_path / "questions.jsonl", [{"question_id": 10}])
    with pytest.raises(ValueError, match=r"question #1: every POPE question needs a 'question_id'"):
        evaluate_pope(*args)
    write_jsonl(tmp_path / "questions.jsonl", [{"question_id": 10, "category": "random"}] * 2)
    with pytest.raises(ValueError, match="question_id 10 repeats"):
        evaluate_pope(*args)


def test_file_errors(tmp_path: Path, write_jsonl) -> None:
    coco, questions, answers = _small(tmp_path, write_jsonl)
    with pytest.raises(ValueError, match="POPE annotation folder not found"):
        evaluate_pope(tmp_path / "nowhere", questions, answers)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not a label file")
    with pytest.raises(ValueError, match=r"no coco_pope_\{split\}.json label files"):
        evaluate_pope(tmp_path / "empty", questions, answers)
    with pytest.raises(ValueError, match="POPE result file not found"):
        evaluate_pope(coco, questions, tmp_path / "missing.jsonl")
    Path(answers).write_text('{"question_id": 10, "text": "Yes"}\n{oops\n')
    with pytest.raises(ValueError, match=r"answers.jsonl, line 2: not valid JSON"):
        evaluate_pope(coco, questions, answers)
    Path(answers).write_text("[1, 2]\n")
    with pytest.raises(ValueError, match="line 1: expected a JSON object"):
        evaluate_pope(coco, questions, answers)


def test_cli_reports_errors(tmp_path: Path, write_jsonl, capsys: pytest.CaptureFixture) -> None:
    coco, questions, answers = _small(tmp_path, write_jsonl, labels=("yes", "no"))
    argv = ["--annotation-dir", coco, "--question-file", questions, "--result-file", answers]
    assert eval_pope.main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "eval_pope: error: POPE split 'random': 3 answers but 2 labels" in captured.err
