"""VizWiz: LLaVA's conversion for EvalAI, a check of the upload, and VizWiz's accuracy on a split
with public answers.

- Conversion (haotian-liu/LLaVA c121f04, scripts/convert_vizwiz_for_submission.py): for every
  question of the question file, in its order, `{"image": its image, "answer": EvalAI-processed
  text}`; every question must be answered. The upload is that JSON array as `json.dump` writes
  it by default. "Unanswerable" needs no special case: it becomes "unanswerable".
- Scoring (EvalAI's VizWiz challenge: Qing Li's VQAEval for VizWiz, as distributed at
  vizwiz.org; Python 3 port in TRI-ML/vlm-evaluation 7292fd6,
  vlm_eval/util/evaluation/vizwiz/eval.py): the uploaded answer is processed again
  (`vizwiz_prediction`), the ten human answers are compared raw, by position; leave-one-out
  accuracy; overall and per answer type are 100 x the mean, rounded to 2 decimals. The
  answerability metrics (average precision, F1) need a confidence LLaVA never uploads and are
  not part of its number. Test answers are hidden, so this runs on a split with public answers
  (VizWiz val's format: a list of {image, question, answers: [{answer, answer_confidence}],
  answer_type, answerable}), with LLaVA answer files going through the converter first.

Nothing here prints.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from llava.benchmarks.answer_checks import (
    check_answer_keys,
    check_answer_texts,
    degenerate_answer_warnings,
)
from llava.benchmarks.jsonl import read_json, read_jsonl
from llava.benchmarks.registry import Benchmark, Score
from llava.benchmarks.vqa_answers import evalai_answer, leave_one_out_accuracy, vizwiz_prediction

DECIMALS = 2  # the evaluator's default precision (n=2)
ANNOTATION_KEYS = ("image", "answers", "answer_type")


def read_questions(path: str | Path, what: str = "VizWiz question file") -> list[dict]:
    """A LLaVA question file: `question_id` and `image` on every line, neither repeated."""
    questions = read_jsonl(path, what)
    for key in ("question_id", "image"):
        values = [question.get(key) for question in questions]
        if None in values:
            raise ValueError(f"{what} {path}: question #{values.index(None) + 1} has no {key!r}")
        if len(set(values)) != len(values):
            raise ValueError(f"{what} {path}: {len(values) - len(set(values))} repeated {key}s")
    return questions


def convert_for_submission(
    answers: Sequence[dict], answers_path: str | Path, questions: Sequence[dict]
) -> list[dict]:
    """The EvalAI upload: one {image, answer} per question, in question-file order."""
    check_answer_texts(answers, answers_path)
    question_ids = [question["question_id"] for question in questions]
    check_answer_keys(answers, answers_path, question_ids, key=lambda a: a.get("question_id"))
    texts = {answer["question_id"]: answer["text"] for answer in answers}
    return [
        {"image": q["image"], "answer": evalai_answer(texts[q["question_id"]])} for q in questions
    ]


def upload_text(upload: Sequence[dict]) -> str:
    """The upload file's content, byte for byte as LLaVA's `json.dump(all_answers, f)`."""
    return json.dumps(list(upload))


def read_upload(upload: object, images: Sequence[str], path: str | Path) -> dict[str, str]:
    """Check an upload against the images of its questions: a JSON array with exactly one
    `{"image": str, "answer": str}` per image, nothing else. Returns image -> answer."""
    if not isinstance(upload, list):
        raise ValueError(f"{path}: an upload is a JSON array of {{image, answer}} objects")
    answers: dict[str, str] = {}
    for position, entry in enumerate(upload, start=1):
        if not isinstance(entry, dict) or set(entry) != {"image", "answer"}:
            raise ValueError(f"{path}, entry #{position}: expected exactly the keys image, answer")
        if not isinstance(entry["answer"], str) or not isinstance(entry["image"], str):
            raise ValueError(f"{path}, entry #{position}: image and answer must be strings")
        if entry["image"] in answers:
            raise ValueError(f"{path}, entry #{position}: {entry['image']} is answered twice")
        answers[entry["image"]] = entry["answer"]
    missing, foreign = set(images) - set(answers), set(answers) - set(images)
    if missing or foreign:
        raise ValueError(
            f"{path}: {len(answers)} answers for {len(images)} questions, {len(missing)} missing "
            f"and {len(foreign)} for images that are not asked about; every question needs its "
            "answer, once"
        )
    return answers


# --- The accuracy on a split with public answers ---------------------------------------------


def load_annotations(annotation_file: str | Path) -> dict[str, dict]:
    """VizWiz's val format, a list of annotations: image -> annotation, in file order."""
    content = read_json(annotation_file, "VizWiz annotation file")
    if not isinstance(content, list):
        raise ValueError(f"{annotation_file}: expected a list of annotations (VizWiz val format)")
    annotations: dict[str, dict] = {}
    for position, ann in enumerate(content, start=1):
        if not isinstance(ann, dict) or not all(key in ann for key in ANNOTATION_KEYS):
            raise ValueError(
                f"{annotation_file}, annotation #{position}: needs {', '.join(ANNOTATION_KEYS)}"
            )
        records = ann["answers"]
        if not records or not all(
            isinstance(r, dict) and isinstance(r.get("answer"), str) for r in records
        ):
            raise ValueError(
                f"{annotation_file}, {ann['image']}: answers must be a list of "
                "{answer, answer_confidence} with string answers"
            )
        if ann["image"] in annotations:
            raise ValueError(f"{annotation_file}: {ann['image']} is annotated twice")
        annotations[ann["image"]] = ann
    return annotations


def _mean_percent(values: Sequence[float]) -> float:
    return round(100 * float(sum(values)) / len(values), DECIMALS)


@dataclass(frozen=True)
class VizWizResult:
    per_question: dict[str, float]  # image -> accuracy (a fraction), annotation order
    overall: float  # as the server reports it: 100 x mean, 2 decimals
    per_answer_type: dict[str, float]
    warnings: list[str] = field(default_factory=list)

    @property
    def samples(self) -> int:
        return len(self.per_question)

    def to_dict(self) -> dict:
        return {
            "samples": self.samples,
            "overall": self.overall,
            "per_answer_type": self.per_answer_type,
            "warnings": self.warnings,
        }


def score_uploaded_answers(
    uploaded: Mapping[str, str], annotations: Mapping[str, dict]
) -> VizWizResult:
    """The server's scoring of uploaded (already converted) answers, one per annotated image."""
    per_question: dict[str, float] = {}
    by_answer_type: dict[str, list[float]] = {}
    for image, ann in annotations.items():
        humans = [record["answer"] for record in ann["answers"]]  # raw, by position
        accuracy = leave_one_out_accuracy(vizwiz_prediction(uploaded[image]), humans)
        per_question[image] = accuracy
        by_answer_type.setdefault(ann["answer_type"], []).append(accuracy)
    return VizWizResult(
        per_question=per_question,
        overall=_mean_percent(list(per_question.values())),
        per_answer_type={name: _mean_percent(v) for name, v in by_answer_type.items()},
    )


def evaluate_upload(annotation_file: str | Path, upload_file: str | Path) -> VizWizResult:
    """Score an EvalAI upload file (converted answers) on a split with public answers."""
    annotations = load_annotations(annotation_file)
    upload = read_json(upload_file, "VizWiz upload file")
    return score_uploaded_answers(read_upload(upload, list(annotations), upload_file), annotations)


def evaluate_answers(
    annotation_file: str | Path, question_file: str | Path, answers_file: str | Path
) -> VizWizResult:
    """Score a LLaVA answers file as the server would score its upload: LLaVA's conversion
    (the question file gives each answer's image), then VizWiz's processing and accuracy."""
    annotations = load_annotations(annotation_file)
    questions = read_questions(question_file)
    answers = read_jsonl(answers_file, "VizWiz answers file")
    images = {question["image"] for question in questions}
    if images != set(annotations):
        raise ValueError(
            f"{question_file} and {annotation_file} do not ask about the same images "
            f"({len(images)} vs {len(annotations)}); use the pair of one split"
        )
    upload = convert_for_submission(answers, answers_file, questions)
    uploaded = {entry["image"]: entry["answer"] for entry in upload}
    result = score_uploaded_answers(uploaded, annotations)
    return replace(result, warnings=degenerate_answer_warnings(answers, answers_file))


# The synthetic stand-in's public answers, in VizWiz's val format (llava.synthetic.vizwiz).
SYNTHETIC_ANNOTATIONS = "vizwiz/synthetic_test_annotations.json"


def _score(data_root: Path, answers: Path) -> Score:
    root = Path(data_root)
    result = evaluate_answers(
        root / SYNTHETIC_ANNOTATIONS, root / BENCHMARK.question_file, Path(answers)
    )
    return Score(result.overall, result.to_dict())


def _write_synthetic(data_root: Path, *, seed: int, images: int, progress: bool = False) -> dict:
    from llava.synthetic.vizwiz import write_vizwiz

    return write_vizwiz(data_root, seed=seed, images=images, progress=progress)


BENCHMARK = Benchmark(
    name="vizwiz",
    title="VizWiz (test)",
    metric="VizWiz",  # VQA accuracy x100; the real number comes from EvalAI
    scoring="server",
    question_file="vizwiz/llava_test.jsonl",
    image_folder="vizwiz/test",
    answers="vizwiz/answers/{experiment}.jsonl",
    score=_score,
    write_synthetic=_write_synthetic,
)
