"""SEED-Bench (v1): the accuracy and upload file of LLaVA's convert_seed_for_submission.py.

Rules (haotian-liu/LLaVA c121f0432da27facab705978f83c4ada465e46fd,
scripts/convert_seed_for_submission.py; docs/benchmarks-suite.md section 9.4), for the
selections all / data_type "image" / data_type "video" of SEED-Bench.json's questions:
- an annotation's question_id is looked up as an int when it parses as one (image questions),
  else as the string (video questions, "v..."); a question without an answer counts as wrong;
- correct iff the answer's text == the annotation's answer letter, exactly;
- accuracy per question_type_id (printed in id order, for "all" only) and micro-averaged totals.
Upload file: {"question_id": annotation id, "prediction": raw text} lines in annotation order.
The published "SEED-IMG" is the image accuracy, "SEED" the total. Nothing here prints.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from llava.benchmarks.answer_checks import (
    check_answer_ids,
    check_answer_keys,
    check_answer_texts,
    degenerate_answer_warnings,
)
from llava.benchmarks.jsonl import output_file, read_jsonl
from llava.benchmarks.registry import Benchmark, Score


def answer_key(annotation_question_id: str) -> int | str:
    """The answers' question_id for an annotation id: int if it parses as one, as LLaVA's try."""
    try:
        return int(annotation_question_id)
    except ValueError:
        return annotation_question_id


@dataclass(frozen=True)
class SelectionAccuracy:
    """Counts of one selection; `per_type` maps question_type_id -> (correct, count)."""

    per_type: dict[int, tuple[int, int]]

    @property
    def correct(self) -> int:
        return sum(correct for correct, _ in self.per_type.values())

    @property
    def count(self) -> int:
        return sum(count for _, count in self.per_type.values())

    @property
    def accuracy(self) -> float | None:
        """Micro-averaged accuracy in percent; None for an empty selection."""
        return self.correct / self.count * 100 if self.count else None


def selection_accuracy(
    questions: Sequence[Mapping], texts: Mapping, data_type: str | None = None
) -> SelectionAccuracy:
    """Accuracy over the questions of `data_type` (all if None); `texts` is answer id -> text."""
    per_type: dict[int, list[int]] = {}
    for question in questions:
        if data_type is not None and question["data_type"] != data_type:
            continue
        counts = per_type.setdefault(question["question_type_id"], [0, 0])
        counts[1] += 1
        text = texts.get(answer_key(question["question_id"]))
        counts[0] += text is not None and text == question["answer"]
    return SelectionAccuracy({t: (c[0], c[1]) for t, c in sorted(per_type.items())})


@dataclass(frozen=True)
class SeedResult:
    all: SelectionAccuracy
    image: SelectionAccuracy
    video: SelectionAccuracy
    type_names: dict[int, str]  # question_type_id -> dimension name
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "per_type": {
                self.type_names[t]: {"correct": c, "count": n, "accuracy": c / n * 100}
                for t, (c, n) in self.all.per_type.items()
            },
            **{
                f"{name}_accuracy": getattr(self, name).accuracy
                for name in ("all", "image", "video")
            },
            **{f"{name}_count": getattr(self, name).count for name in ("all", "image", "video")},
            "warnings": self.warnings,
        }


def score_seed(
    annotation: Mapping, texts: Mapping, warnings: list[str] | None = None
) -> SeedResult:
    """The three accuracies of convert_seed_for_submission.py (missing answers are wrong)."""
    questions = annotation["questions"]
    names = {type_id: name for name, type_id in annotation["question_type"].items()}
    return SeedResult(
        all=selection_accuracy(questions, texts),
        image=selection_accuracy(questions, texts, "image"),
        video=selection_accuracy(questions, texts, "video"),
        type_names=names,
        warnings=warnings or [],
    )


def upload_records(annotation: Mapping, texts: Mapping) -> list[dict]:
    """The upload lines, in annotation order; every question needs an answer."""
    records = []
    for question in annotation["questions"]:
        qid = question["question_id"]
        key = qid if qid in texts else answer_key(qid)  # LLaVA: the string first, then the int
        if key not in texts:
            raise ValueError(f"SEED question {qid!r} has no answer; the upload needs them all")
        records.append({"question_id": qid, "prediction": texts[key]})
    return records


def write_upload(records: Sequence[Mapping], path: str | Path) -> None:
    with output_file(path) as f:
        f.writelines(json.dumps(record) + "\n" for record in records)


def load_annotation(path: str | Path) -> dict:
    """SEED-Bench.json, checked for the fields used."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(
            f"SEED annotation file not found: {path} (SEED-Bench.json from the "
            "AILab-CVC/SEED-Bench dataset; pin the revision whose video questions match "
            "llava-seed-bench.jsonl)"
        )
    try:
        annotation = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err})") from err
    if not isinstance(annotation, dict) or not {"questions", "question_type"} <= annotation.keys():
        raise ValueError(f'{path}: expected {{"questions": [...], "question_type": {{...}}}}')
    type_ids = set(annotation["question_type"].values())
    required = ("question_id", "question_type_id", "data_type", "answer")
    for position, question in enumerate(annotation["questions"], start=1):
        if not isinstance(question, dict) or not all(k in question for k in required):
            raise ValueError(f"{path}: question #{position} lacks one of {', '.join(required)}")
        if question["question_type_id"] not in type_ids:
            raise ValueError(
                f"{path}: question {question['question_id']!r} has question_type_id "
                f"{question['question_type_id']!r}, which question_type does not name"
            )
    return annotation


def read_answers(annotation: Mapping, result_file: str | Path) -> tuple[dict, list[str]]:
    """(answer question_id -> text, warnings), refusing partial, duplicated and foreign files."""
    answers = read_jsonl(result_file, "SEED result file")
    check_answer_texts(answers, result_file)
    check_answer_ids(answers, result_file)  # int for images, "v..." for video questions
    expected = Counter(answer_key(q["question_id"]) for q in annotation["questions"])
    # SEED-Bench.json itself repeats a question id (49914 appears twice in the upload file LLaVA
    # released): its question may be answered as often as it is listed, and LLaVA scores every
    # copy with the last answer. Any other repeat is refused.
    answered = Counter(a.get("question_id") for a in answers)
    listed_repeats = {k for k, n in answered.items() if 1 < n <= expected.get(k, 0)}
    last = {a["question_id"]: a for a in answers if a.get("question_id") in listed_repeats}
    checked = [a for a in answers if a.get("question_id") not in listed_repeats]
    check_answer_keys(
        checked + list(last.values()), result_file, expected, key=lambda a: a.get("question_id")
    )
    texts = {a["question_id"]: a["text"] for a in answers}
    return texts, degenerate_answer_warnings(answers, result_file)


def evaluate_seed(annotation_file: str | Path, result_file: str | Path) -> SeedResult:
    annotation = load_annotation(annotation_file)
    return score_seed(annotation, *read_answers(annotation, result_file))


def _score(data_root: Path, answers: Path) -> Score:
    result = evaluate_seed(Path(data_root) / "seed_bench" / "SEED-Bench.json", answers)
    if result.image.accuracy is None:
        raise ValueError(f"{answers}: SEED-Bench.json has no image question; SEED-IMG undefined")
    return Score(result.image.accuracy, result.to_dict())


def _write_synthetic(data_root: Path, *, seed: int, images: int, progress: bool = False) -> dict:
    from llava.synthetic.seed import write_seed

    return write_seed(data_root, seed=seed, images=images, progress=progress)


BENCHMARK = Benchmark(
    name="seed",
    title="SEED-Bench (image)",
    # SEED-IMG, the image accuracy: what LLaVA's later tables and the pruning papers report
    # (66.1 / 68.2 for LLaVA-1.5-7B / 13B); MODEL_ZOO's "SEED" (image + video) is in details.
    metric="SEED-IMG",
    scoring="offline",
    question_file="seed_bench/llava-seed-bench.jsonl",
    image_folder="seed_bench",
    answers="seed_bench/answers/{experiment}/merge.jsonl",
    score=_score,
    write_synthetic=_write_synthetic,
)
