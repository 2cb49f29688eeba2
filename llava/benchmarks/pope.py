"""POPE scoring, identical to LLaVA-1.5's `llava/eval/eval_pope.py` (haotian-liu/LLaVA c121f04).

Rules (see docs/llava.md section 5):
- labels come from `coco_pope_{split}.json` (JSON lines despite the name, POPE commit e3e39262);
- the answers of one split (the `category` of their question) are aligned *by position* with
  that split's label file, in answer-file order;
- an answer is "no" if, in the text before its first ".", with "," removed and split on single
  spaces, some word is exactly "No", "not" or "no" (case-sensitive: "NO" and "Not" count as yes);
  everything else is "yes". Positive = yes.

Where LLaVA would silently truncate (zip of unequal lists), crash with a KeyError, or divide by
zero, this module raises a ValueError that says what is wrong instead. Nothing here prints.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from llava.benchmarks.answer_checks import (
    check_answer_ids,
    check_answer_keys,
    check_answer_texts,
    degenerate_answer_warnings,
)
from llava.benchmarks.jsonl import read_jsonl
from llava.benchmarks.registry import Benchmark, Score

# The three POPE splits LLaVA-1.5 reports; papers quote the mean F1 over them.
POPE_SPLITS = ("adversarial", "popular", "random")
LABEL_FILE_PATTERN = re.compile(r"^coco_pope_(?P<split>.+)\.json$")
# Words that make an answer "no" (LLaVA eval_pope.py: `'No' in words or 'not' in words or ...`).
_NEGATIVE_WORDS = frozenset({"No", "not", "no"})


def parse_pope_answer(text: str) -> str:
    """Map a model answer to "yes" or "no" with LLaVA's POPE rule (quirks kept)."""
    first_sentence = text.split(".")[0]  # text before the first "." (all of it if none)
    words = first_sentence.replace(",", "").split(" ")  # single spaces only, as LLaVA
    return "no" if _NEGATIVE_WORDS.intersection(words) else "yes"


@dataclass(frozen=True)
class PopeSplitResult:
    """Confusion counts of one split; the metrics are derived from them."""

    split: str
    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def samples(self) -> int:
        return self.tp + self.fp + self.tn + self.fn

    @property
    def accuracy(self) -> float:
        return (self.tp + self.tn) / self.samples

    @property
    def precision(self) -> float:
        # LLaVA divides by zero when nothing is predicted "yes"; we report 0.0 (sklearn's
        # zero_division=0 convention) so that a degenerate model still gets a number.
        predicted_yes = self.tp + self.fp
        return self.tp / predicted_yes if predicted_yes else 0.0

    @property
    def recall(self) -> float:
        actual_yes = self.tp + self.fn
        return self.tp / actual_yes if actual_yes else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def yes_ratio(self) -> float:
        return (self.tp + self.fp) / self.samples

    def to_dict(self) -> dict:
        metrics = ("samples", "accuracy", "precision", "recall", "f1", "yes_ratio")
        return {**asdict(self), **{name: getattr(self, name) for name in metrics}}


@dataclass(frozen=True)
class PopeResult:
    splits: dict[str, PopeSplitResult]
    warnings: list[str] = field(default_factory=list)  # answer sets that say little

    @property
    def mean_f1(self) -> float:
        """Mean F1 over the scored splits (the number papers quote, over all three splits)."""
        return sum(r.f1 for r in self.splits.values()) / len(self.splits)

    def to_dict(self) -> dict:
        return {
            "splits": {name: r.to_dict() for name, r in self.splits.items()},
            "mean_f1": self.mean_f1,
            "warnings": self.warnings,
        }


def score_split(split: str, answers: Sequence[str], labels: Sequence[str]) -> PopeSplitResult:
    """Score one split: raw answer texts aligned by position with "yes"/"no" labels."""
    if len(answers) != len(labels):
        raise ValueError(
            f"POPE split '{split}': {len(answers)} answers but {len(labels)} labels; answers are "
            "aligned with the label file by position, so both must cover the same questions "
            "(did generation stop early, or is the question file a different version?)"
        )
    if not labels:
        raise ValueError(f"POPE split '{split}' has no labels to score")
    counts = {"tp": 0, "fp": 0, "tn": 0, "fn": 0}
    for position, (answer, label) in enumerate(zip(answers, labels, strict=True)):
        if label not in ("yes", "no"):
            raise ValueError(
                f"POPE split '{split}', label #{position + 1}: expected 'yes' or 'no', "
                f"got {label!r}"
            )
        predicted_yes = parse_pope_answer(answer) == "yes"
        key = ("t" if predicted_yes == (label == "yes") else "f") + ("p" if predicted_yes else "n")
        counts[key] += 1
    return PopeSplitResult(split=split, **counts)


def find_label_files(annotation_dir: str | Path) -> dict[str, Path]:
    """The `coco_pope_{split}.json` files of a folder, by split name, sorted by split."""
    annotation_dir = Path(annotation_dir)
    if not annotation_dir.is_dir():
        raise ValueError(
            f"POPE annotation folder not found: {annotation_dir} (it should hold "
            "coco_pope_adversarial.json, coco_pope_popular.json, coco_pope_random.json)"
        )
    found = {}
    for path in annotation_dir.iterdir():
        match = LABEL_FILE_PATTERN.match(path.name)
        if match and path.is_file():
            found[match["split"]] = path
    if not found:
        raise ValueError(
            f"no coco_pope_{{split}}.json label files in {annotation_dir}; get them from the "
            "POPE repository (output/coco/ at commit e3e39262)"
        )
    return dict(sorted(found.items()))


def _questions_by_id(questions: Sequence[dict], path: str | Path) -> dict:
    question_by_id: dict = {}
    for position, question in enumerate(questions, start=1):
        qid, category = question.get("question_id"), question.get("category")
        if (
            not isinstance(qid, (str, int))
            or isinstance(qid, bool)
            or not isinstance(category, str)
        ):
            raise ValueError(
                f"POPE question file {path}, question #{position}: every POPE question needs a "
                "'question_id' (string or integer) and a 'category' (string)"
            )
        if qid in question_by_id:
            raise ValueError(f"question_id {qid!r} repeats in question file {path}")
        question_by_id[qid] = question
    return question_by_id


def _answers_by_split(
    question_by_id: dict, answers: Sequence[dict], splits: Iterable[str], result_file: str | Path
) -> dict[str, list[dict]]:
    """Answers of the scored splits, each exactly once, in answer-file order within a split.
    Answers to questions of a split without a label file are ignored, as in LLaVA."""
    foreign = [a["question_id"] for a in answers if a["question_id"] not in question_by_id]
    if foreign:
        raise ValueError(
            f"{result_file}: {len(foreign)} of {len(answers)} answers are for question_ids that "
            f"are not in the question file (first: {foreign[0]!r}); answers and questions must "
            "come from the same question file"
        )
    by_split: dict[str, list[dict]] = {split: [] for split in splits}
    scored = [a for a in answers if question_by_id[a["question_id"]]["category"] in by_split]
    expected = [qid for qid, q in question_by_id.items() if q["category"] in by_split]
    check_answer_keys(scored, result_file, expected, key=lambda a: a["question_id"])
    for answer in scored:
        question = question_by_id[answer["question_id"]]
        by_split[question["category"]].append({**answer, "image": question.get("image")})
    return by_split


def empty_answer_warnings(answers: Sequence[dict], result_file: str | Path) -> list[str]:
    """LLaVA's rule reads an empty answer as "yes" (no negative word): say so, with the count;
    otherwise the warnings every scorer gives for a constant answer set."""
    empty = sum(not answer["text"].strip() for answer in answers)
    if not empty:
        return degenerate_answer_warnings(answers, result_file)
    return [
        f"{result_file}: {empty} of {len(answers)} answers are empty, and LLaVA's POPE rule "
        "counts an empty answer as 'yes' (a broken checkpoint or a failed generation?)"
    ]


def evaluate_pope(
    annotation_dir: str | Path, question_file: str | Path, result_file: str | Path
) -> PopeResult:
    """Score a LLaVA answers file on every split that has a label file in `annotation_dir`."""
    label_files = find_label_files(annotation_dir)
    question_by_id = _questions_by_id(
        read_jsonl(question_file, "POPE question file"), question_file
    )
    answers = read_jsonl(result_file, "POPE result file")
    if not answers:
        raise ValueError(f"POPE result file {result_file} is empty: no answers to score")
    check_answer_ids(answers, result_file)
    check_answer_texts(answers, result_file)
    by_split = _answers_by_split(question_by_id, answers, label_files, result_file)
    results = {}
    for split, label_path in label_files.items():
        label_records = read_jsonl(label_path, f"POPE label file ({split})")
        _check_alignment(split, by_split[split], label_records, label_path)
        results[split] = score_split(
            split, [a["text"] for a in by_split[split]], [r["label"] for r in label_records]
        )
    scored = [answer for split in by_split.values() for answer in split]
    return PopeResult(splits=results, warnings=empty_answer_warnings(scored, result_file))


def _check_alignment(
    split: str, answers: Sequence[dict], label_records: Sequence[dict], label_path: Path
) -> None:
    """Refuse what LLaVA would silently mis-score: unequal lengths or misaligned images."""
    if len(answers) != len(label_records):
        raise ValueError(
            f"POPE split '{split}': {len(answers)} answers but {len(label_records)} labels in "
            f"{label_path.name}; answers are aligned with the labels by position, so the "
            "question file must be the one built from these label files"
        )
    for position, (answer, record) in enumerate(zip(answers, label_records, strict=True)):
        if "label" not in record:
            raise ValueError(f"{label_path}, line {position + 1}: no 'label' field")
        # A guard LLaVA lacks: position alignment is only meaningful if the images agree.
        if answer["image"] is not None and "image" in record and answer["image"] != record["image"]:
            raise ValueError(
                f"POPE split '{split}', position {position + 1}: the answer to question_id "
                f"{answer['question_id']!r} is about {answer['image']} but line {position + 1} "
                f"of {label_path.name} is about {record['image']}; keep the answers in "
                "question-file order"
            )


def _score(data_root: Path, answers: Path) -> Score:
    folder = Path(data_root) / "pope"
    result = evaluate_pope(folder / "coco", folder / "llava_pope_test.jsonl", answers)
    return Score(100 * result.mean_f1, result.to_dict())


def _write_synthetic(data_root: Path, *, seed: int, images: int, progress: bool = False) -> dict:
    from llava.synthetic.write import write_pope

    return write_pope(data_root, seed=seed, images=images, progress=progress)


BENCHMARK = Benchmark(
    name="pope",
    title="POPE (adversarial, popular, random)",
    metric="POPE F1",  # mean F1 of the three splits, x100: the number papers quote
    scoring="offline",
    question_file="pope/llava_pope_test.jsonl",
    image_folder="pope/val2014",
    answers="pope/answers/{experiment}.jsonl",
    score=_score,
    write_synthetic=_write_synthetic,
    synthetic_images=30,
)
