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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

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
    with path.open(encoding="utf-8") as f:
        try:
            content = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON ({err})") from err
    if not isinstance(content, dict) or not isinstance(content.get("data"), list):
        raise ValueError(f'{path}: expected {{"data": [...]}} as in TextVQA_0.5.1_val.json')
    annotations = {}
    for entry in content["data"]:
        try:
            annotations[(entry["image_id"], entry["question"].lower())] = entry["answers"]
        except (KeyError, TypeError, AttributeError) as err:
            raise ValueError(
                f"{path}: every entry needs 'image_id', 'question' and 'answers'"
            ) from err
    return annotations


@dataclass(frozen=True)
class TextVQAResult:
    samples: int
    accuracy: float  # a fraction; LLaVA prints 100 * accuracy with two decimals

    def to_dict(self) -> dict:
        return {"samples": self.samples, "accuracy": self.accuracy}


def score_answers(
    answers: Iterable[dict], annotations: dict[tuple[str, str], list[str]]
) -> TextVQAResult:
    """Score LLaVA answer records (`question_id` = image id, `prompt`, `text`)."""
    scores = []
    for answer in answers:
        if not all(field in answer for field in ("question_id", "prompt", "text")):
            raise ValueError("every TextVQA answer needs 'question_id', 'prompt' and 'text'")
        question = question_from_prompt(answer["prompt"])
        key = (answer["question_id"], question)
        if key not in annotations:
            raise ValueError(
                f"no TextVQA annotation for question_id {answer['question_id']!r} with question "
                f"{question!r} (prompt {answer['prompt']!r}); use the annotation file of the "
                "split the question file was made from (TextVQA_0.5.1_val.json)"
            )
        try:
            scores.append(vqa_accuracy(answer["text"], annotations[key]))
        except ValueError as err:
            raise ValueError(f"question_id {answer['question_id']!r}: {err}") from err
    if not scores:
        raise ValueError("the TextVQA result file has no answers")
    return TextVQAResult(samples=len(scores), accuracy=sum(scores) / len(scores))


def evaluate_textvqa(annotation_file: str | Path, result_file: str | Path) -> TextVQAResult:
    """Score one LLaVA TextVQA answers file against `TextVQA_0.5.1_val.json`."""
    annotations = load_annotations(annotation_file)
    return score_answers(read_jsonl(result_file, "TextVQA result file"), annotations)


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
