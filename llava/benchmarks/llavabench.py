"""LLaVA-Bench (In-the-Wild): LLaVA's GPT-4 review of a model's answers against reference
answers, and its summary (haotian-liu/LLaVA c121f04, llava/eval/eval_gpt_review_bench.py and
llava/eval/summarize_gpt_review.py).

Review: the question file, the reference answers (GPT-4's, "Assistant 1") and the model's
answers ("Assistant 2") are taken line by line together; each question's rule is
`rule.json["llava_bench_" + category]`, its context the caption of its image (a list of
captions joined with newlines). One chat request per question: LLaVA's system message, the
user message laid out below, temperature 0.2, max_tokens 1024 by default. The reply's first
line, commas made spaces, split on single spaces, must give exactly two numbers, else the pair
is [-1, -1], which stays in the means. Summary: per category and overall, the mean of each
score column rounded to 3 decimals; the relative score 100 x model / reference rounded to 1 is
LLaVA-Bench's number. Nothing here prints.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from llava.benchmarks.registry import Benchmark

OFFICIAL_JUDGE_MODEL = "gpt-4-0314"  # hard-coded in LLaVA's reviewer
SYSTEM_MESSAGE = "You are a helpful and precise assistant for checking the quality of the answer."
TEMPERATURE = 0.2
MAX_TOKENS = 1024  # --max-tokens' default
PARSE_FAILURE = [-1, -1]


def review_prompt(caption: str, question: str, reference: str, answer: str, rule: Mapping) -> str:
    """The user message of one review, laid out as LLaVA's reviewer writes it."""
    role, prompt = rule["role"], rule["prompt"]
    return (
        f"[Context]\n{caption}\n\n"
        f"[Question]\n{question}\n\n"
        f"[{role} 1]\n{reference}\n\n[End of {role} 1]\n\n"
        f"[{role} 2]\n{answer}\n\n[End of {role} 2]\n\n"
        f"[System]\n{prompt}\n\n"
    )


def parse_scores(review: str) -> list:
    """The two scores on a review's first line (reference, model), or [-1, -1]."""
    parts = review.split("\n")[0].replace(",", " ").split(" ")
    if len(parts) != 2:
        return list(PARSE_FAILURE)
    try:
        return [float(parts[0]), float(parts[1])]
    except ValueError:
        return list(PARSE_FAILURE)


@dataclass(frozen=True)
class ReviewItem:
    question_id: object
    answer1_id: object
    answer2_id: object
    category: str  # "llava_bench_<category>"
    content: str  # the user message

    def record(self, index: int, review: str, judge_model: str) -> dict:
        """A review line: LLaVA's fields in LLaVA's order, then the judge that wrote it."""
        return {
            "id": index + 1,
            "question_id": self.question_id,
            "answer1_id": self.answer1_id,
            "answer2_id": self.answer2_id,
            "category": self.category,
            "content": review,
            "tuple": parse_scores(review),
            "judge_model": judge_model,
        }


def review_items(
    questions: Sequence[dict],
    contexts: Sequence[dict],
    references: Sequence[dict],
    answers: Sequence[dict],
    rules: Mapping[str, dict],
    files: Sequence[str | Path],
) -> list[ReviewItem]:
    """What to review, question by question. LLaVA zips the three files line by line and stops
    at the shortest; here they must have as many lines and the same question_id on each line.
    `files` names the question, reference and answer files for messages."""
    question_file, reference_file, answer_file = files
    for name, records in ((reference_file, references), (answer_file, answers)):
        if len(records) != len(questions):
            raise ValueError(
                f"{name} has {len(records)} lines for the {len(questions)} questions of "
                f"{question_file}; answers are matched to questions line by line"
            )
    captions = {}
    for context in contexts:
        caption = context.get("caption")
        captions[context.get("image")] = (
            "\n".join(caption) if isinstance(caption, list) else caption
        )
    items = []
    for line, (question, reference, answer) in enumerate(
        zip(questions, references, answers, strict=True), start=1
    ):
        for name, record in ((reference_file, reference), (answer_file, answer)):
            if record.get("question_id") != question.get("question_id"):
                raise ValueError(
                    f"{name}, line {line}: question_id {record.get('question_id')!r} where "
                    f"{question_file} has {question.get('question_id')!r}; keep all three files "
                    "in question order"
                )
            if not isinstance(record.get("text"), str):
                raise ValueError(f"{name}, line {line}: no string 'text'")
        if "answer_id" not in answer:
            raise ValueError(f"{answer_file}, line {line}: no 'answer_id'")
        if not isinstance(question.get("text"), str):
            raise ValueError(f"{question_file}, line {line}: no string 'text'")
        category = f"llava_bench_{question.get('category')}"
        if category not in rules:
            raise ValueError(f"{question_file}, line {line}: no rule {category!r} in the rule file")
        if question.get("image") not in captions:
            raise ValueError(
                f"{question_file}, line {line}: no context for {question.get('image')!r}"
            )
        content = review_prompt(
            captions[question["image"]], question["text"], reference["text"], answer["text"],
            rules[category],
        )  # fmt: skip
        items.append(
            ReviewItem(
                question_id=question["question_id"],
                answer1_id=reference.get("answer_id", reference["question_id"]),
                answer2_id=answer["answer_id"],
                category=category,
                content=content,
            )
        )
    return items


def check_existing_reviews(reviews: Sequence[dict], items: Sequence[ReviewItem], path) -> None:
    """Reviews already in the output file must be those of the first questions, in order."""
    if len(reviews) > len(items):
        raise ValueError(f"{path} has {len(reviews)} reviews for {len(items)} questions")
    for line, (review, item) in enumerate(zip(reviews, items[: len(reviews)], strict=True), 1):
        if review.get("question_id") != item.question_id:
            raise ValueError(
                f"{path}, line {line}: a review of question {review.get('question_id')!r} where "
                f"question {item.question_id!r} comes; this output belongs to other questions"
            )


def summarize(reviews: Iterable[dict], ignore: Iterable = ()) -> dict[str, tuple[float, ...]]:
    """LLaVA's summary: {"all" and each category, sorted: (relative score, 10 x reference mean,
    10 x model mean)}. Reviews of `ignore`d question ids are left out."""
    ignored = set(ignore)
    scores: dict[str, list] = defaultdict(list)
    for review in reviews:
        if review.get("question_id") in ignored:
            continue
        pair = review["tuple"] if "tuple" in review else review["score"]
        if "category" in review:
            scores[review["category"]].append(pair)
        scores["all"].append(pair)
    summary = {}
    for name, pairs in sorted(scores.items()):
        reference, model = (round(x, 3) for x in np.asarray(pairs).mean(0).tolist())
        if reference == 0:
            raise ValueError(f"{name}: the reference answers' mean score is 0; nothing to compare")
        summary[name] = (
            round(model / reference * 100, 1),
            round(reference * 10, 1),
            round(model * 10, 1),
        )
    return summary


def _write_synthetic(data_root: Path, *, seed: int, images: int, progress: bool = False) -> dict:
    from llava.synthetic.llavabench import write_llavabench

    return write_llavabench(data_root, seed=seed, images=images, progress=progress)


# LLaVA-Bench is scored by an LLM judge through eval_gpt_review_bench.py and
# summarize_gpt_review.py, from the endpoint the environment configures. The registry's `score`
# is an offline (data root, answers) -> Score function, which cannot assume an endpoint,
# credentials or the cost of calls, so it is None here.
BENCHMARK = Benchmark(
    name="llavabench",
    title="LLaVA-Bench (In-the-Wild)",
    metric="LLaVA-Bench",  # relative score: 100 x mean model score / mean GPT-4 answer score
    scoring="judge",
    question_file="llava-bench-in-the-wild/questions.jsonl",
    image_folder="llava-bench-in-the-wild/images",
    answers="llava-bench-in-the-wild/answers/{experiment}.jsonl",
    answering="llava.eval.model_vqa",
    score=None,
    write_synthetic=_write_synthetic,
)
