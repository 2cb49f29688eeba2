"""GQA testdev-balanced: LLaVA's conversion and the rules of GQA's eval.py as LLaVA patches it.

Conversion (haotian-liu/LLaVA c121f0432da27facab705978f83c4ada465e46fd,
scripts/convert_gqa_for_eval.py): prediction = text with trailing "." removed, lower-cased;
a JSON array of {"questionId", "prediction"}, nothing else normalised.

Scoring (GQA's eval.py with LLaVA's edits: questions from {tier}_questions.json, no scene graphs
or choices, no consistency; copy read at xyang583/ARDS 4a970313dde40b75fbe5aca8507ab2d413469943,
playground/data/eval/gqa/data/eval/eval.py;
docs/benchmarks-suite.md section 3.5), over the questions with isBalanced:
- correct iff prediction == answer, exact and case-sensitive;
- Accuracy over all; Binary over types.structural != "query", Open over "query";
- Validity and Plausibility are 0 (their lists stay empty without the choices file);
- Distribution: per groups.global, chi-square of the predicted against the gold answer counts
  over the gold answers, weighted by the group's size, averaged, divided by 100;
- tables by structural type, semantic type, reasoning steps (semantic operations other than
  those naming "exist", "query: name" or "choose name") and question length in words.
Every question needs a prediction (eval.py raises "missing predictions"). Nothing here prints.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from llava.benchmarks.answer_checks import (
    check_answer_keys,
    check_answer_texts,
    degenerate_answer_warnings,
)
from llava.benchmarks.jsonl import output_file, read_jsonl
from llava.benchmarks.registry import Benchmark, Score

# Operations that eval.py's getStepsNum does not count as a reasoning step (substring test on
# "operation: argument").
_NON_STEPS = ("exist", "query: name", "choose name")
# The per-type tables, in eval.py's order, with its titles.
TABLES = (
    ("structural", "Accuracy / structural type"),
    ("semantic", "Accuracy / semantic type"),
    ("steps", "Accuracy / steps number"),
    ("length", "Accuracy / words number"),
)


def gqa_prediction(text: str) -> str:
    """convert_gqa_for_eval.py's prediction: trailing periods removed, then lower-cased."""
    return text.rstrip(".").lower()


def convert_answers(answers: Sequence[Mapping]) -> list[dict]:
    """LLaVA answer records -> eval.py's predictions list, in answer-file order."""
    return [
        {"questionId": a["question_id"], "prediction": gqa_prediction(a["text"])} for a in answers
    ]


def write_predictions(predictions: list[dict], path: str | Path) -> None:
    """Write the predictions file byte for byte as LLaVA's converter (json.dump, no indent)."""
    with output_file(path) as f:
        json.dump(predictions, f)


def steps_number(question: Mapping) -> int:
    return sum(
        not any(o in f"{op['operation']}: {op['argument']}" for o in _NON_STEPS)
        for op in question["semantic"]
    )


def words_number(question: Mapping) -> int:
    return len(question["question"].split())


def chi_square(gold: Mapping[str, Mapping], predicted: Mapping[str, Mapping]) -> float:
    """eval.py's chiSquare: gold-weighted mean over groups of sum((o - e)^2 / e)."""
    weighted, total = 0.0, 0
    for group, gold_counts in gold.items():
        score = 0.0
        for answer, expected in gold_counts.items():
            observed = predicted[group].get(answer, 0)
            score += float(observed - expected) ** 2 / expected
        size = sum(gold_counts.values())
        weighted += score * size
        total += size
    # eval.py divides by zero when no question has a global group; there is nothing to compare.
    return weighted / total if total else 0.0


def _mean_percent(scores: Sequence[float]) -> float:
    return float(sum(scores)) / len(scores) * 100 if scores else 0.0


@dataclass(frozen=True)
class GQAResult:
    accuracy: float  # all percentages, as eval.py prints them
    binary: float
    open: float
    validity: float
    plausibility: float
    distribution: float  # lower is better
    # table name -> {type: (accuracy %, question count)}, keys sorted as eval.py prints them
    tables: dict[str, dict]
    questions: int
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "accuracy": self.accuracy,
            "binary": self.binary,
            "open": self.open,
            "validity": self.validity,
            "plausibility": self.plausibility,
            "distribution": self.distribution,
            "tables": {
                name: {str(k): list(v) for k, v in table.items()}
                for name, table in self.tables.items()
            },
            "questions": self.questions,
            "warnings": self.warnings,
        }


def score_gqa(questions: Mapping[str, Mapping], predictions: Mapping[str, str]) -> GQAResult:
    """Score predictions (questionId -> prediction) on GQA questions (questionId -> question)."""
    missing = [qid for qid in questions if qid not in predictions]
    if missing:
        raise ValueError(
            f"{len(missing)} of {len(questions)} GQA questions have no prediction "
            f"(e.g. {missing[0]!r}); eval.py needs a prediction for every question"
        )
    scores: dict[str, list[float]] = {"accuracy": [], "binary": [], "open": []}
    tables: dict[str, defaultdict] = {name: defaultdict(list) for name, _ in TABLES}
    gold_dist: defaultdict = defaultdict(lambda: defaultdict(int))
    predicted_dist: defaultdict = defaultdict(lambda: defaultdict(int))
    for qid, question in questions.items():
        if not question["isBalanced"]:
            continue
        gold, predicted = question["answer"], predictions[qid]
        score = 1.0 if predicted == gold else 0.0
        structural = question["types"]["structural"]
        scores["accuracy"].append(score)
        scores["open" if structural == "query" else "binary"].append(score)
        tables["length"][words_number(question)].append(score)
        tables["steps"][steps_number(question)].append(score)
        tables["structural"][structural].append(score)
        tables["semantic"][question["types"]["semantic"]].append(score)
        group = question["groups"]["global"]
        if group is not None:
            gold_dist[group][gold] += 1
            predicted_dist[group][predicted] += 1
    return GQAResult(
        accuracy=_mean_percent(scores["accuracy"]),
        binary=_mean_percent(scores["binary"]),
        open=_mean_percent(scores["open"]),
        validity=0.0,
        plausibility=0.0,
        distribution=chi_square(gold_dist, predicted_dist) / 100,
        tables={
            name: {key: (_mean_percent(table[key]), len(table[key])) for key in sorted(table)}
            for name, table in tables.items()
        },
        questions=len(scores["accuracy"]),
    )


def load_questions(path: str | Path) -> dict[str, dict]:
    """GQA's {tier}_questions.json (e.g. testdev_balanced_questions.json), checked."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(
            f"GQA questions file not found: {path} (testdev_balanced_questions.json comes with "
            "GQA's public questions download, v1.2)"
        )
    try:
        questions = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err})") from err
    required = ("answer", "isBalanced", "question", "semantic", "types", "groups")
    if not isinstance(questions, dict):
        raise ValueError(f"{path}: expected a JSON object of questionId -> question")
    for qid, question in questions.items():
        if not isinstance(question, dict) or not all(k in question for k in required):
            raise ValueError(f"{path}: question {qid!r} lacks one of {', '.join(required)}")
    return questions


def load_predictions(path: str | Path) -> list[dict]:
    """A predictions file written by convert_gqa_for_eval.py."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(
            f"GQA predictions file not found: {path} (write it with "
            "scripts/convert_gqa_for_eval.py)"
        )
    try:
        predictions = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err})") from err
    if not isinstance(predictions, list) or not all(
        isinstance(p, dict) and {"questionId", "prediction"} <= p.keys() for p in predictions
    ):
        raise ValueError(f'{path}: expected [{{"questionId": ..., "prediction": ...}}, ...]')
    for position, p in enumerate(predictions, start=1):
        if not isinstance(p["prediction"], str):
            raise ValueError(f"{path}: prediction #{position} is not a string")
    return predictions


def score_predictions(
    questions: Mapping[str, Mapping], predictions: Sequence[Mapping], path: str | Path
) -> GQAResult:
    """Score a predictions list after refusing a partial, duplicated or foreign one."""
    check_answer_keys(predictions, path, questions, key=lambda p: p["questionId"])
    result = score_gqa(questions, {p["questionId"]: p["prediction"] for p in predictions})
    texts = [{"text": p["prediction"]} for p in predictions]
    return replace(result, warnings=degenerate_answer_warnings(texts, path))


def evaluate_gqa(questions_file: str | Path, predictions_file: str | Path) -> GQAResult:
    """eval.py on files: the questions and a converted predictions file."""
    questions = load_questions(questions_file)
    return score_predictions(questions, load_predictions(predictions_file), predictions_file)


def read_answers(path: str | Path) -> list[dict]:
    """A LLaVA answers file (merge.jsonl), checked for the fields the conversion reads."""
    answers = read_jsonl(path, "GQA answers file")
    check_answer_texts(answers, path)
    for position, answer in enumerate(answers, start=1):
        if "question_id" not in answer:
            raise ValueError(f"{path}: answer #{position} has no 'question_id'")
    return answers


def _score(data_root: Path, answers: Path) -> Score:
    questions = load_questions(Path(data_root) / "gqa" / "data" / "testdev_balanced_questions.json")
    result = score_predictions(questions, convert_answers(read_answers(answers)), answers)
    return Score(result.accuracy, result.to_dict())


def _write_synthetic(data_root: Path, *, seed: int, images: int, progress: bool = False) -> dict:
    from llava.synthetic.gqa import write_gqa

    return write_gqa(data_root, seed=seed, images=images, progress=progress)


BENCHMARK = Benchmark(
    name="gqa",
    title="GQA (testdev-balanced)",
    # eval.py's "Accuracy" line: the number LLaVA's MODEL_ZOO and the papers report as GQA.
    metric="GQA",
    scoring="offline",
    question_file="gqa/llava_gqa_testdev_balanced.jsonl",
    image_folder="gqa/data/images",
    answers="gqa/answers/llava_gqa_testdev_balanced/{experiment}/merge.jsonl",
    score=_score,
    write_synthetic=_write_synthetic,
)
