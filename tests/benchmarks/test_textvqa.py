"""TextVQA scorer: EvalAI normalisation, 10-choose-9 accuracy, prompt parsing, errors, CLI.

Expected normalisations are derived by hand from the EvalAI rules (docs/llava.md section 5):
lower-case; drop "," and "?"; "'s" -> " 's"; newline/tab -> space; punctuation deleted where it
touches a space anywhere in the text (or the text has a digit,digit comma), else replaced by a
space; periods not followed by a digit deleted (at most 32); number words -> digits; articles
dropped; contraction table.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from llava.benchmarks.textvqa import (
    evaluate_textvqa,
    load_annotations,
    question_from_prompt,
    score_answers,
    vqa_accuracy,
)
from llava.benchmarks.vqa_answers import evalai_answer, process_punctuation
from llava.eval import eval_textvqa


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Two", "2"),  # number words
        ("none", "0"),
        ("ten", "10"),
        ("eleven", "eleven"),  # only none/zero..ten
        ("The Cat", "cat"),  # articles
        ("an apple a day", "apple day"),
        ("dont", "don't"),  # contraction table
        ("Im", "im"),  # capitalised keys never match lower-cased words
        ("somebody'd", "somebodyd"),  # the table's reversed entry
        ("the dog's bone", "dog 's bone"),  # "'s" -> " 's"
        ("What?", "what"),  # "?" dropped first
        ("Hello, World!", "hello world"),  # "!" touches no space: becomes a space, then split
        ("well-known", "well known"),  # "-" touches no space: space
        ("well-known -", "wellknown"),  # " -" occurs, so every "-" is deleted
        ("(555) 123-4567", "555 123 4567"),  # ")" touches a space: deleted; "(", "-": spaces
        ("1,000", "1000"),  # commas are dropped before the punctuation rule
        ("3.5", "3.5"),  # period before a digit kept
        ("end.", "end"),
        ("U.S.A.", "usa"),
        ("3.5.", "3.5"),
        ("yes\tno\nmaybe", "yes no maybe"),
        ("  Coca-Cola  ", "coca cola"),
        ("x" + "." * 40, "x" + "." * 8),  # at most 32 periods removed (re.UNICODE as count)
    ],
)
def test_normalisation(raw: str, expected: str) -> None:
    assert evalai_answer(raw) == expected


def test_digit_comma_rule_in_the_punctuation_step() -> None:
    # Unreachable through evalai_answer (commas are gone by then), kept for fidelity.
    assert process_punctuation("1,000-2") == "10002"  # digit,digit comma: all marks deleted
    assert process_punctuation("1000-2") == "1000 2"


@pytest.mark.parametrize(("matches", "expected"), [(0, 0.0), (1, 0.3), (2, 0.6), (3, 0.9),
                                                   (4, 1.0), (10, 1.0)])  # fmt: skip
def test_ten_choose_nine_accuracy(matches: int, expected: float) -> None:
    humans = ["two"] * matches + ["three"] * (10 - matches)
    assert vqa_accuracy("2", humans) == pytest.approx(expected, abs=1e-12)


def test_accuracy_needs_ten_answers() -> None:
    with pytest.raises(ValueError, match="needs 10 human answers per question, got 9"):
        vqa_accuracy("2", ["2"] * 9)


@pytest.mark.parametrize(
    ("prompt", "question"),
    [
        ("What Brand?\nReference OCR token: DAKOTA, x\nAnswer the question using a single word "
         "or phrase.", "what brand?"),
        ("Reference OCR token: DAKOTA, x\nWhat Brand?\nAnswer briefly.", "what brand?"),
        ("What Brand?\nAnswer the question using a single word or phrase.", "what brand?"),
        ("OCR tokens: DAKOTA, x Question: What Brand? Short answer:", "what brand?"),
        ("OCR tokens: a\nb Question: What\nBrand? Short answer: c", "what\nbrand?"),
    ],
)  # fmt: skip
def test_question_from_prompt(prompt: str, question: str) -> None:
    assert question_from_prompt(prompt) == question


@pytest.mark.parametrize(
    "prompt",
    [
        "What brand?",  # one line
        "What brand?\nsome line\nAnswer briefly.",  # three lines but no OCR line
        "What brand?\nReference OCR token: a\nb\nAnswer briefly.",  # four lines
        "OCR tokens: a, b What brand?",  # no "Question: ... Short answer:"
    ],
)
def test_question_from_prompt_errors(prompt: str) -> None:
    with pytest.raises(ValueError, match="prompt"):
        question_from_prompt(prompt)


def _annotations(path: Path) -> Path:
    data = [
        {"image_id": "img1", "question": "What Brand?", "answers": ["dakota"] * 3 + ["kodak"] * 7},
        {"image_id": "img2", "question": "How many?", "answers": ["two"] + ["3"] * 9},
        {"image_id": "img3", "question": "Color?", "answers": ["red"] * 10},
        {"image_id": "img3", "question": "color?", "answers": ["blue"] * 10},  # same key: wins
    ]
    path.write_text(json.dumps({"dataset_name": "textvqa", "data": data}), encoding="utf-8")
    return path


def _answer(image_id: str, question: str, text: str) -> dict:
    prompt = (
        f"{question}\nReference OCR token: A, B\nAnswer the question using a single word or phrase."
    )
    return {"question_id": image_id, "prompt": prompt, "text": text}


def test_score_answers(tmp_path: Path) -> None:
    annotations = load_annotations(_annotations(tmp_path / "val.json"))
    assert annotations[("img3", "color?")] == ["blue"] * 10
    answers = [_answer("img1", "What brand?", "Dakota"), _answer("img2", "How many?", "2"),
               _answer("img3", "COLOR?", "Blue")]  # fmt: skip
    result = score_answers(answers, annotations)  # 3 matches: 0.9, 1 match: 0.3, the last 1.0
    assert result.samples == 3
    assert result.accuracy == pytest.approx(2.2 / 3, abs=1e-12)


def test_unknown_question_is_an_error(tmp_path: Path) -> None:
    annotations = load_annotations(_annotations(tmp_path / "val.json"))
    message = (
        r"1 of 1 answers have no TextVQA annotation, the first: question_id 'img1' with "
        r"question 'what colour\?' \(prompt 'What colour\?\\nRef"
    )
    with pytest.raises(ValueError, match=message):
        score_answers([_answer("img1", "What colour?", "red")], annotations)
    with pytest.raises(ValueError, match="no TextVQA annotation, the first: question_id 'img9'"):
        score_answers([_answer("img9", "What brand?", "red")], annotations)


def test_input_errors(tmp_path: Path, write_jsonl) -> None:
    annotations = load_annotations(_annotations(tmp_path / "val.json"))
    with pytest.raises(ValueError, match="answer #1 has no 'prompt' field"):
        score_answers([{"question_id": "img1", "text": "x"}], annotations)
    with pytest.raises(ValueError, match="is empty: no answers"):
        score_answers([], annotations)
    with pytest.raises(ValueError, match="annotation file not found"):
        load_annotations(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_annotations(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(ValueError, match=r'expected \{"data": \[...\]\}'):
        load_annotations(tmp_path / "list.json")
    (tmp_path / "fields.json").write_text('{"data": [{"image_id": "x"}]}')
    with pytest.raises(ValueError, match="needs 'image_id', 'question' and 'answers'"):
        load_annotations(tmp_path / "fields.json")
    (tmp_path / "nine.json").write_text(
        json.dumps({"data": [{"image_id": "i", "question": "Q?", "answers": ["a"] * 9}]})
    )
    write_jsonl(tmp_path / "nine.jsonl", [_answer("i", "Q?", "a")])
    with pytest.raises(ValueError, match="question_id 'i': TextVQA needs 10 human answers"):
        evaluate_textvqa(tmp_path / "nine.json", tmp_path / "nine.jsonl")
    (tmp_path / "broken.jsonl").write_text("{\n")
    with pytest.raises(ValueError, match="broken.jsonl, line 1: not valid JSON"):
        evaluate_textvqa(tmp_path / "val.json", tmp_path / "broken.jsonl")
    with pytest.raises(ValueError, match="TextVQA result file not found"):
        evaluate_textvqa(tmp_path / "val.json", tmp_path / "missing.jsonl")


def _results(tmp_path: Path, write_jsonl) -> tuple[Path, Path]:
    folder = tmp_path / "answers"
    good = [_answer("img1", "What brand?", "Dakota"), _answer("img2", "How many?", "2"),
            _answer("img3", "color?", "blue")]  # fmt: skip
    best = [_answer("img1", "What brand?", "kodak"), _answer("img2", "How many?", "three"),
            _answer("img3", "color?", "blue")]  # fmt: skip
    write_jsonl(folder / "model-b.jsonl", good)
    write_jsonl(folder / "model-a.jsonl", best)
    (folder / "notes.txt").write_text("skipped")
    return _annotations(tmp_path / "val.json"), folder


def test_cli_file_and_dir(tmp_path: Path, write_jsonl, capsys: pytest.CaptureFixture) -> None:
    annotation, folder = _results(tmp_path, write_jsonl)
    json_out = tmp_path / "metrics.json"
    argv = ["--annotation-file", str(annotation), "--result-file", str(folder / "model-b.jsonl"),
            "--result-dir", str(folder), "--json-out", str(json_out)]  # fmt: skip
    assert eval_textvqa.main(argv) == 0
    assert capsys.readouterr().out == (
        "model-b\nSamples: 3\nAccuracy: 73.33%\n\n"
        "model-a\nSamples: 3\nAccuracy: 100.00%\n\n"
        "model-b\nSamples: 3\nAccuracy: 73.33%\n\n"
    )
    saved = json.loads(json_out.read_text())
    assert saved["model-a"] == {"samples": 3, "accuracy": 1.0, "warnings": []}
    assert saved["model-b"]["accuracy"] == pytest.approx(2.2 / 3, abs=1e-12)


def test_cli_errors(tmp_path: Path, write_jsonl, capsys: pytest.CaptureFixture) -> None:
    annotation, folder = _results(tmp_path, write_jsonl)
    with pytest.raises(SystemExit):  # argparse: neither --result-file nor --result-dir
        eval_textvqa.main(["--annotation-file", str(annotation)])
    assert "pass --result-file or --result-dir" in capsys.readouterr().err
    assert eval_textvqa.main(["--annotation-file", str(annotation),
                              "--result-dir", str(tmp_path / "none")]) == 1  # fmt: skip
    assert "eval_textvqa: error: result folder not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert eval_textvqa.main(["--annotation-file", str(annotation),
                              "--result-dir", str(tmp_path / "empty")]) == 1  # fmt: skip
    assert "no .jsonl answer files" in capsys.readouterr().err


def test_cli_runs_as_script(tmp_path: Path, write_jsonl, repo_root: Path) -> None:
    annotation, folder = _results(tmp_path, write_jsonl)
    done = subprocess.run(
        [sys.executable, str(repo_root / "llava/eval/eval_textvqa.py"),
         "--annotation-file", str(annotation), "--result-file", str(folder / "model-b.jsonl")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "model-b\nSamples: 3\nAccuracy: 73.33%\n\n"


def test_real_prompts_give_their_first_line(shared_llava: Path) -> None:
    for name in ("llava_textvqa_val_v051_ocr.jsonl", "answers/llava-v1.5-13b.jsonl"):
        lines = (shared_llava / "textvqa" / name).read_text(encoding="utf-8").splitlines()
        records = [json.loads(line) for line in lines]
        assert len(records) == 5000
        for record in records:
            prompt = record.get("prompt", record.get("text"))
            assert question_from_prompt(prompt) == prompt.split("\n")[0].lower()
