"""MME scoring, identical to MME's official `eval_tool/calculation.py` fed by LLaVA-1.5's
`playground/data/eval/MME/convert_answer_to_mme.py` (see docs/llava.md section 5).

Ground truth: `MME_Benchmark_release_version/<category>/questions_answers_YN/<stem>.txt` for the
categories with an `images/` folder, else `<category>/<stem>.txt`; two lines per image,
`question<TAB>Yes|No`. Answers: LLaVA JSON lines with `question_id` = "<category>/.../<image>",
`prompt` and `text`. Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from llava.benchmarks.answer_checks import (
    check_answer_keys,
    check_answer_strings,
    degenerate_answer_warnings,
)
from llava.benchmarks.jsonl import read_jsonl
from llava.benchmarks.registry import Benchmark, Score

# Official eval_tool/calculation.py, `eval_type_dict` (this order is also the summation order).
PERCEPTION = ("existence", "count", "position", "color", "posters", "celebrity", "scene",
              "landmark", "artwork", "OCR")  # fmt: skip
COGNITION = ("commonsense_reasoning", "numerical_calculation", "text_translation",
             "code_reasoning")  # fmt: skip
# LLaVA's prompt suffix, removed before the join; MME's own suffix, appended if absent.
LLAVA_SUFFIX = "Answer the question using a single word or phrase."
MME_SUFFIX = " Please answer yes or no."
MME_SUFFIX_TWO_SPACES = "  Please answer yes or no."  # how some MME GT questions are written

GroundTruth = dict[tuple[str, str, str], str]  # (category, "<stem>.txt", question) -> Yes/No


def parse_mme_answer(text: str) -> str:
    """Parse an answer to yes / no / other with calculation.py's rule.

    The lower-cased answer itself if it is "yes" or "no"; else "yes" if "yes" is in its first 4
    characters, elif "no" is; else "other" (always wrong).
    """
    text = text.lower()
    if text in ("yes", "no"):
        return text
    prefix = text[:4]
    if "yes" in prefix:
        return "yes"
    if "no" in prefix:
        return "no"
    return "other"


def gt_file_name(image_name: str) -> str:
    """GT file of an image: LLaVA keeps the name up to its *first* dot ("a.b.png" -> "a.txt")."""
    return image_name.split(".")[0] + ".txt"


def category_qa_dir(mme_dir: str | Path, category: str) -> Path:
    """Folder holding a category's `<stem>.txt` GT files (the two official layouts)."""
    category_dir = Path(mme_dir) / category
    if not category_dir.is_dir():
        raise ValueError(
            f"MME category folder not found: {category_dir}; --mme-dir must be the official "
            "MME_Benchmark_release_version folder"
        )
    if (category_dir / "images").is_dir():
        qa_dir = category_dir / "questions_answers_YN"
        if not qa_dir.is_dir():
            raise ValueError(f"{category_dir} has images/ but no questions_answers_YN/ folder")
        return qa_dir
    return category_dir


def load_ground_truth(mme_dir: str | Path, categories: Iterable[str]) -> GroundTruth:
    """Read the GT of the given categories. A repeated key keeps its last answer, as LLaVA."""
    gt: GroundTruth = {}
    for category in categories:
        for path in sorted(category_qa_dir(mme_dir, category).glob("*.txt")):
            for line_no, line in enumerate(_gt_lines(path), start=1):
                if not line.strip():
                    continue
                fields = line.strip().split("\t")
                if len(fields) != 2 or fields[1].lower() not in ("yes", "no"):
                    raise ValueError(
                        f"{path}, line {line_no}: expected 'question<TAB>Yes' or "
                        f"'question<TAB>No', got {line!r}"
                    )
                gt[(category, path.name, fields[0])] = fields[1]
    return gt


def _gt_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from err


def categories_in(mme_dir: str | Path) -> list[str]:
    """The category folders of an MME_Benchmark_release_version folder (those holding GT
    files), in name order; other files and hidden folders are ignored."""
    mme_dir = Path(mme_dir)
    if not mme_dir.is_dir():
        raise ValueError(
            f"MME folder not found: {mme_dir}; --mme-dir must be the official "
            "MME_Benchmark_release_version folder"
        )
    return sorted(
        folder.name
        for folder in mme_dir.iterdir()
        if folder.is_dir()
        and not folder.name.startswith(".")
        and (any(folder.glob("*.txt")) or (folder / "questions_answers_YN").is_dir())
    )


@dataclass(frozen=True)
class MMERecord:
    """One answer joined to its ground truth."""

    category: str
    image: str  # image file name, e.g. "0020.png"
    question: str  # the GT question, as written in the GT file
    gt: str  # "Yes" or "No", as written in the GT file
    text: str  # the model's answer

    @property
    def correct(self) -> bool:
        return parse_mme_answer(self.text) == self.gt.lower()


def _gt_key(answer: dict, gt: GroundTruth) -> tuple[str, str, str]:
    """The GT key of an answer, with convert_answer_to_mme.py's rules: LLaVA's suffix removed,
    MME's appended if absent (with two spaces before "Please" where the GT has that)."""
    parts = answer["question_id"].split("/")
    category, image = parts[0], parts[-1]
    question = answer["prompt"]
    if LLAVA_SUFFIX in question:
        question = question.replace(LLAVA_SUFFIX, "").strip()
    if MME_SUFFIX.strip() not in question:
        question = question + MME_SUFFIX
        if (category, gt_file_name(image), question) not in gt:
            question = question.replace(MME_SUFFIX, MME_SUFFIX_TWO_SPACES)
    return category, gt_file_name(image), question


def join_answers(
    answers: Sequence[dict], gt: GroundTruth, answers_file: str | Path = "MME answers file"
) -> list[MMERecord]:
    """Join LLaVA answer records to the GT: every GT question answered exactly once."""
    keys = [_gt_key(answer, gt) for answer in answers]
    foreign = [position for position, key in enumerate(keys) if key not in gt]
    if foreign:
        answer, (category, gt_file, question) = answers[foreign[0]], keys[foreign[0]]
        question = question.replace(MME_SUFFIX_TWO_SPACES, MME_SUFFIX)
        raise ValueError(
            f"{answers_file}: {len(foreign)} of {len(answers)} answers have no MME ground truth, "
            f"the first: question_id {answer['question_id']!r}, question {question!r} (looked "
            f"in {category}/.../{gt_file}, with one and two spaces before 'Please'); the "
            "answers must come from llava_mme.jsonl and --mme-dir must be "
            "MME_Benchmark_release_version"
        )
    keyed = [{"key": key} for key in keys]
    check_answer_keys(keyed, answers_file, gt, key=lambda a: a["key"], what="MME question")
    records = []
    for answer, key in zip(answers, keys, strict=True):
        category, _, question = key
        image = answer["question_id"].split("/")[-1]
        records.append(MMERecord(category, image, question, gt[key], answer["text"]))
    return records


def group_by_image(records: Iterable[MMERecord]) -> dict[str, dict[str, list[MMERecord]]]:
    """category -> image -> its records, in order of first appearance.

    calculation.py pairs consecutive lines of a category file as one image; grouping by image
    (and writing the eval_tool files in this order) makes that pairing hold by construction.
    """
    grouped: dict[str, dict[str, list[MMERecord]]] = {}
    for record in records:
        grouped.setdefault(record.category, {}).setdefault(record.image, []).append(record)
    for category, images in grouped.items():
        for image, image_records in images.items():
            if len(image_records) != 2:
                raise ValueError(
                    f"MME has two questions per image, but {category}/{image} has "
                    f"{len(image_records)} answer(s); answer the whole llava_mme.jsonl"
                )
    return grouped


@dataclass(frozen=True)
class MMECategoryResult:
    category: str
    questions: int
    images: int
    correct: int  # questions answered right
    both_correct: int  # images with both questions right
    other: int  # answers parsed as neither yes nor no

    @property
    def acc(self) -> float:
        return self.correct / self.questions

    @property
    def acc_plus(self) -> float:
        return self.both_correct / self.images

    @property
    def score(self) -> float:
        return self.acc * 100 + self.acc_plus * 100  # calculation.py's order of addition

    def to_dict(self) -> dict:
        return {**asdict(self), "acc": self.acc, "acc_plus": self.acc_plus, "score": self.score}


@dataclass(frozen=True)
class MMEResult:
    categories: dict[str, MMECategoryResult]  # official order first, then any others
    warnings: list[str] = field(default_factory=list)  # answer sets that say little

    def _total(self, names: Sequence[str]) -> float:
        total = 0
        for name in names:
            if name in self.categories:
                total += self.categories[name].score
        return total

    @property
    def perception(self) -> float:
        """Sum of the perception scores present (max 2000 with all ten categories)."""
        return self._total(PERCEPTION)

    @property
    def cognition(self) -> float:
        """Sum of the cognition scores present (max 800 with all four categories)."""
        return self._total(COGNITION)

    @property
    def total(self) -> float:
        return self.perception + self.cognition

    @property
    def missing_categories(self) -> list[str]:
        """Official categories without answers: totals are then not comparable to papers."""
        return [name for name in PERCEPTION + COGNITION if name not in self.categories]

    def to_dict(self) -> dict:
        return {
            "categories": {name: r.to_dict() for name, r in self.categories.items()},
            "perception": self.perception,
            "cognition": self.cognition,
            "total": self.total,
            "missing_categories": self.missing_categories,
            "warnings": self.warnings,
        }


def score_records(
    records: Sequence[MMERecord], answers_file: str | Path | None = None
) -> MMEResult:
    """Scores per category; with `answers_file`, warnings about degenerate answer sets."""
    grouped = group_by_image(records)
    order = [c for c in PERCEPTION + COGNITION if c in grouped]
    order += sorted(c for c in grouped if c not in order)
    results = {}
    for category in order:
        images = grouped[category].values()
        results[category] = MMECategoryResult(
            category=category,
            questions=sum(len(pair) for pair in images),
            images=len(images),
            correct=sum(r.correct for pair in images for r in pair),
            both_correct=sum(all(r.correct for r in pair) for pair in images),
            other=sum(parse_mme_answer(r.text) == "other" for pair in images for r in pair),
        )
    texts = [{"text": record.text} for record in records]
    warnings = degenerate_answer_warnings(texts, answers_file) if answers_file else []
    return MMEResult(categories=results, warnings=warnings)


def read_answers(answers_file: str | Path) -> list[dict]:
    answers = read_jsonl(answers_file, "MME answers file")
    if not answers:
        raise ValueError(f"MME answers file {answers_file} is empty")
    for field_name in ("question_id", "prompt", "text"):
        check_answer_strings(answers, answers_file, field_name)
    return answers


def load_records(mme_dir: str | Path, answers_file: str | Path) -> list[MMERecord]:
    """Read an answers file and join it to the GT of every category in `mme_dir` (an answered
    category without a folder there is an error)."""
    answers = read_answers(answers_file)
    answered = (answer["question_id"].split("/")[0] for answer in answers)
    categories = dict.fromkeys([*categories_in(mme_dir), *answered])
    return join_answers(answers, load_ground_truth(mme_dir, categories), answers_file)


def evaluate_mme(mme_dir: str | Path, answers_file: str | Path) -> MMEResult:
    """Score a LLaVA MME answers file against MME_Benchmark_release_version."""
    return score_records(load_records(mme_dir, answers_file), answers_file)


def _one_field(text: str) -> str:
    """Keep a model answer on one tab-free line so calculation.py can split its file."""
    for char in ("\r\n", "\r", "\n", "\t"):
        text = text.replace(char, " ")
    return text


def write_eval_tool_answers(records: Iterable[MMERecord], output_dir: str | Path) -> list[Path]:
    """Write `<output_dir>/<category>.txt` for MME's own calculation.py, like LLaVA's
    convert_answer_to_mme.py: per line `image<TAB>question<TAB>GT<TAB>answer`, the two
    questions of an image on consecutive lines. Returns the files written."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for category, images in group_by_image(records).items():
        lines = [
            "\t".join((r.image, r.question, r.gt, _one_field(r.text))) + "\n"
            for pair in images.values()
            for r in pair
        ]
        path = output_dir / f"{category}.txt"
        path.write_text("".join(lines), encoding="utf-8")
        written.append(path)
    return written


def _score(data_root: Path, answers: Path) -> Score:
    result = evaluate_mme(Path(data_root) / "MME" / "MME_Benchmark_release_version", answers)
    return Score(result.total, result.to_dict())


def _write_synthetic(data_root: Path, *, seed: int, images: int, progress: bool = False) -> dict:
    from llava.synthetic.write import write_mme

    return write_mme(data_root, seed=seed, images=images, progress=progress)


BENCHMARK = Benchmark(
    name="mme",
    title="MME",
    # Perception + cognition, as token-pruning papers quote it (LLaVA's own table gives
    # perception alone); `details` has both.
    metric="MME",
    scoring="offline",
    question_file="MME/llava_mme.jsonl",
    image_folder="MME/MME_Benchmark_release_version",
    answers="MME/answers/{experiment}.jsonl",
    score=_score,
    write_synthetic=_write_synthetic,
    synthetic_images=20,
)
