"""TextVQA scoring, identical to LLaVA-1.5's `llava/eval/eval_textvqa.py` + `m4c_evaluator.py`.

Answers are normalised with the EvalAI VQA rules (llava.benchmarks.vqa_answers: the answer
processor of the official VQA evaluation, as reused by MMF/Pythia and LLaVA), then scored with
the VQA soft accuracy averaged over the 10 leave-one-out subsets of the human answers. See
docs/llava.md section 5.
Nothing here prints.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from llava.benchmarks.answer_checks import (
    check_answer_ids,
    check_answer_keys,
    check_answer_strings,
    check_answer_texts,
    degenerate_answer_warnings,
)
from llava.benchmarks.jsonl import read_jsonl
from llava.benchmarks.registry import Benchmark, Score
from llava.benchmarks.vqa_answers import evalai_answer, leave_one_out_accuracy

# TextVQA's official evaluator (m4c_evaluator.TextVQAAccuracyEvaluator) requires 10 answers.
HUMAN_ANSWERS = 10


def vqa_accuracy(prediction: str, human_answers: Sequence[str]) -> float:
    """TextVQA's accuracy: EvalAI's processing on the prediction and on every human answer, then
    the leave-one-out VQA accuracy (0, 1, 2, 3, 4+ matches give 0, 0.3, 0.6, 0.9, 1.0)."""
    if len(human_answers) != HUMAN_ANSWERS:
        raise ValueError(
            f"TextVQA needs {HUMAN_ANSWERS} human answers per question, got {len(human_answers)}"
        )
    return leave_one_out_accuracy(
        evalai_answer(prediction), [evalai_answer(answer) for answer in human_answers]
    )


# --- Joining answers to annotations ----------------------------------------------------------
_OCR_QUESTION = re.compile(r"Question: (.*?) Short answer:", re.DOTALL)


def question_from_prompt(prompt: str) -> str:
    """Recover the lower-cased question from a LLaVA TextVQA prompt (eval_textvqa.py rules)."""
    lines = prompt.split("\n")
    if prompt.startswith("OCR tokens: "):
        match = _OCR_QUESTION.search(prompt)
        if match is None:
            raise ValueError(
                f"prompt starts with 'OCR tokens: ' but has no 'Question: ... Short answer:' "
                f"part: {prompt!r}"
            )
        question = match.group(1)
    elif "Reference OCR token: " in prompt and len(lines) == 3:
        question = lines[1] if prompt.startswith("Reference OCR token:") else lines[0]
    elif len(lines) == 2:
        question = lines[0]
    else:
        raise ValueError(
            "cannot find the question in this TextVQA prompt (expected question / 'Reference "
            "OCR token: ...' / instruction lines, question / instruction lines, or 'OCR tokens: "
            f"... Question: ... Short answer:'): {prompt!r}"
        )
    return question.lower()


def load_annotations(annotation_file: str | Path) -> dict[tuple[str, str], list[str]]:
    """`TextVQA_0.5.1_val.json` -> {(image_id, lower-cased question): human answers}.

    When two entries share a key, the last one wins, as in LLaVA's dict comprehension.
    """
    path = Path(annotation_file)
    if not path.is_file():
        raise ValueError(
            f"TextVQA annotation file not found: {path} (download TextVQA_0.5.1_val.json from "
            "textvqa.org)"
        )
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not UTF-8 text ({err.reason} at byte {err.start})") from err
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err})") from err
    if not isinstance(content, dict) or not isinstance(content.get("data"), list):
        raise ValueError(f'{path}: expected {{"data": [...]}} as in TextVQA_0.5.1_val.json')
    annotations = {}
    for position, entry in enumerate(content["data"], start=1):
        try:
            key = (entry["image_id"], entry["question"].lower())
            answers = entry["answers"]
            valid = isinstance(answers, list) and all(isinstance(a, str) for a in answers)
        except (KeyError, TypeError, AttributeError) as err:
            raise ValueError(
                f"{path}: every entry needs 'image_id', 'question' and 'answers' (entry "
                f"#{position} has not)"
            ) from err
        if not valid:
            raise ValueError(f"{path}: entry #{position}'s 'answers' is not a list of strings")
        annotations[key] = answers
    return annotations


@dataclass(frozen=True)
class TextVQAResult:
    samples: int
    accuracy: float  # a fraction; LLaVA prints 100 * accuracy with two decimals
    warnings: list[str] = field(default_factory=list)  # answer sets that say little

    def to_dict(self) -> dict:
        return {"samples": self.samples, "accuracy": self.accuracy, "warnings": self.warnings}


def _annotation_keys(
    answers: Sequence[dict], result_file: str | Path
) -> list[tuple[str | int, str]]:
    """(question_id, lower-cased question) of every answer, the question read from its prompt."""
    keys = []
    for position, answer in enumerate(answers, start=1):
        try:
            keys.append((answer["question_id"], question_from_prompt(answer["prompt"])))
        except ValueError as err:
            raise ValueError(f"{result_file}: answer #{position}: {err}") from err
    return keys


def score_answers(
    answers: Sequence[dict],
    annotations: dict[tuple[str, str], list[str]],
    result_file: str | Path = "TextVQA result file",
) -> TextVQAResult:
    """Score LLaVA answer records (`question_id` = image id, `prompt`, `text`): one answer to
    every annotated question, none to others."""
    if not answers:
        raise ValueError(f"{result_file} is empty: no answers to score")
    check_answer_ids(answers, result_file)
    check_answer_strings(answers, result_file, "prompt")
    check_answer_texts(answers, result_file)
    keys = _annotation_keys(answers, result_file)
    foreign = [position for position, key in enumerate(keys) if key not in annotations]
    if foreign:
        answer, (_, question) = answers[foreign[0]], keys[foreign[0]]
        raise ValueError(
            f"{result_file}: {len(foreign)} of {len(answers)} answers have no TextVQA annotation, "
            f"the first: question_id {answer['question_id']!r} with question {question!r} "
            f"(prompt {answer['prompt']!r}); use the annotation file of the split the question "
            "file was made from (TextVQA_0.5.1_val.json)"
        )
    check_answer_keys([{"key": key} for key in keys], result_file, annotations, lambda a: a["key"])
    scores = []
    for answer, key in zip(answers, keys, strict=True):
        try:
            scores.append(vqa_accuracy(answer["text"], annotations[key]))
        except ValueError as err:
            raise ValueError(f"question_id {answer['question_id']!r}: {err}") from err
    return TextVQAResult(
        samples=len(scores),
        accuracy=sum(scores) / len(scores),
        warnings=degenerate_answer_warnings(answers, result_file),
    )


def evaluate_textvqa(annotation_file: str | Path, result_file: str | Path) -> TextVQAResult:
    """Score one LLaVA TextVQA answers file against `TextVQA_0.5.1_val.json`."""
    annotations = load_annotations(annotation_file)
    return score_answers(read_jsonl(result_file, "TextVQA result file"), annotations, result_file)


def _score(data_root: Path, answers: Path) -> Score:
    result = evaluate_textvqa(Path(data_root) / "textvqa" / "TextVQA_0.5.1_val.json", answers)
    return Score(100 * result.accuracy, result.to_dict())


def _write_synthetic(data_root: Path, *, seed: int, images: int, progress: bool = False) -> dict:
    from llava.synthetic.write import write_textvqa

    return write_textvqa(data_root, seed=seed, images=images, progress=progress)


BENCHMARK = Benchmark(
    name="textvqa",
    title="TextVQA (val)",
    metric="TextVQA",  # VQA accuracy x100
    scoring="offline",
    question_file="textvqa/llava_textvqa_val_v051_ocr.jsonl",
    image_folder="textvqa/train_images",
    answers="textvqa/answers/{experiment}.jsonl",
    score=_score,
    write_synthetic=_write_synthetic,
    synthetic_images=50,
)
