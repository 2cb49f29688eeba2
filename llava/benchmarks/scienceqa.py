"""ScienceQA-IMG: the prompt of LLaVA's `model_vqa_science` and the rules of `eval_science_qa.py`.

Rules (haotian-liu/LLaVA c121f0432da27facab705978f83c4ada465e46fd, llava/eval/eval_science_qa.py
and model_vqa_science.py; docs/benchmarks-suite.md section 4):
- prompt: the first turn's text with every "<image>" removed and stripped, "<image>\\n" in front
  when the item has an image, then the single-prediction instruction;
- letter: the text if it is exactly one of A-E; else its first character if the text is at
  least 3 long, starts with A-E and continues with ". "; else the one letter of
  "The answer is ([A-Z])." if that regex matches exactly once; else FAILED;
- predicted index: the letter's position in A-E if below the number of choices, else -1;
  correct iff it equals the problem's answer index;
- IMG membership: "<image>" in the answer's prompt (not the problem's image field). A pid
  without an answer is scored as text "FAILED" with prompt "Unknown", hence text-only.

The published number is IMG-Accuracy. Nothing here prints.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from llava.benchmarks.answer_checks import (
    check_answer_keys,
    check_answer_texts,
    degenerate_answer_warnings,
)
from llava.benchmarks.jsonl import read_jsonl
from llava.benchmarks.registry import Benchmark, Score

OPTION_LETTERS = ("A", "B", "C", "D", "E")
SINGLE_PRED_SUFFIX = "\nAnswer with the option's letter from the given choices directly."
IMAGE_MARK = "<image>"
FAILED = "FAILED"
# What eval_science_qa.py substitutes for a pid the answers file lacks.
MISSING_TEXT, MISSING_PROMPT = "FAILED", "Unknown"
# The final "." is an unescaped regex dot in LLaVA: it matches any character.
_ANSWER_IS = re.compile(r"The answer is ([A-Z]).")


def science_prompt(item: Mapping, single_pred_prompt: bool = True) -> str:
    """The prompt model_vqa_science asks and writes to the answers file for one question item.

    `item` is an entry of llava_test_CQM-A.json; items without an "image" key are text-only.
    """
    try:
        text = item["conversations"][0]["value"]
    except (KeyError, IndexError, TypeError) as err:
        raise ValueError(
            f"ScienceQA item {item.get('id', '?')!r} has no conversations[0].value"
        ) from err
    prompt = text.replace(IMAGE_MARK, "").strip()
    if "image" in item:
        prompt = f"{IMAGE_MARK}\n{prompt}"
    return prompt + SINGLE_PRED_SUFFIX if single_pred_prompt else prompt


def parse_letter(text: str) -> str:
    """The answer letter eval_science_qa.py reads from a model's text, or "FAILED"."""
    if text in OPTION_LETTERS:
        return text
    if len(text) >= 3 and text[0] in OPTION_LETTERS and text[1:3] == ". ":
        return text[0]
    found = _ANSWER_IS.findall(text)
    return found[0] if len(found) == 1 else FAILED


def predicted_index(letter: str, choice_count: int) -> int:
    """Index of the letter among the problem's choices, -1 if it names none of them."""
    letters = OPTION_LETTERS[:choice_count]
    return letters.index(letter) if letter in letters else -1


@dataclass(frozen=True)
class ScienceQAResult:
    # One entry per scored pid, in split order, with the fields of LLaVA's --output-file.
    analyses: list[dict]
    correct_flags: list[bool]
    results: dict[str, int]  # pid -> predicted index (LLaVA's --output-result "results")
    outputs: dict[str, str]  # pid -> raw text (LLaVA's "outputs")
    warnings: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.analyses)

    @property
    def correct(self) -> int:
        return sum(self.correct_flags)

    @property
    def img_total(self) -> int:
        return sum(a["is_multimodal"] for a in self.analyses)

    @property
    def img_correct(self) -> int:
        pairs = zip(self.analyses, self.correct_flags, strict=True)
        return sum(ok for analysis, ok in pairs if analysis["is_multimodal"])

    @property
    def accuracy(self) -> float:
        return self.correct / self.total * 100

    @property
    def img_accuracy(self) -> float | None:
        """IMG-Accuracy in percent, None without image questions (LLaVA divides by zero)."""
        return self.img_correct / self.img_total * 100 if self.img_total else None

    def output_file(self) -> dict:
        """LLaVA's --output-file document: the analyses split into correct and incorrect."""
        flags = self.correct_flags
        return {
            "correct": [a for a, ok in zip(self.analyses, flags, strict=True) if ok],
            "incorrect": [a for a, ok in zip(self.analyses, flags, strict=True) if not ok],
        }

    def output_result(self) -> dict:
        """LLaVA's --output-result document."""
        return {
            "acc": self.accuracy,
            "correct": self.correct,
            "count": self.total,
            "results": self.results,
            "outputs": self.outputs,
        }

    def to_dict(self) -> dict:
        return {
            "total": self.total,
            "correct": self.correct,
            "accuracy": self.accuracy,
            "img_total": self.img_total,
            "img_correct": self.img_correct,
            "img_accuracy": self.img_accuracy,
            "warnings": self.warnings,
        }


def score_science_qa(
    problems: Mapping[str, Mapping],
    split_pids: Sequence[str],
    predictions: Mapping[str, Mapping],
) -> ScienceQAResult:
    """Score answers (pid -> answer record with `text` and `prompt`) on the split's problems.

    Exactly eval_science_qa.py's rule, including a missing pid scored as a text-only FAILED.
    """
    analyses, flags, results, outputs = [], [], {}, {}
    for pid in dict.fromkeys(split_pids):  # LLaVA builds a dict: a repeated pid counts once
        problem = problems[pid]
        answer = predictions.get(pid, {"text": MISSING_TEXT, "prompt": MISSING_PROMPT})
        text = answer["text"]
        letter = parse_letter(text)
        index = predicted_index(letter, len(problem["choices"]))
        analyses.append(
            {
                "question_id": pid,
                "parsed_ans": letter,
                "ground_truth": OPTION_LETTERS[problem["answer"]],
                "question": answer["prompt"],
                "pred": text,
                "is_multimodal": IMAGE_MARK in answer["prompt"],
            }
        )
        flags.append(index == problem["answer"])
        results[pid] = index
        outputs[pid] = text
    return ScienceQAResult(analyses, flags, results, outputs)


def _load_json(path: Path, what: str):
    if not path.is_file():
        raise ValueError(
            f"{what} not found: {path} (--base-dir must hold ScienceQA's pid_splits.json and "
            "problems.json, from lupantech/ScienceQA data/scienceqa)"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err})") from err


def load_split(base_dir: str | Path, split: str) -> tuple[dict, list[str]]:
    """problems.json and the pids of `split` from pid_splits.json, checked for what is used."""
    base_dir = Path(base_dir)
    splits = _load_json(base_dir / "pid_splits.json", "ScienceQA pid_splits.json")
    problems = _load_json(base_dir / "problems.json", "ScienceQA problems.json")
    if not isinstance(splits, dict) or split not in splits:
        raise ValueError(f"{base_dir / 'pid_splits.json'} has no split {split!r} (--split)")
    pids = [str(pid) for pid in splits[split]]
    for pid in pids:
        problem = problems.get(pid) if isinstance(problems, dict) else None
        if not isinstance(problem, dict) or not {"choices", "answer"} <= problem.keys():
            raise ValueError(
                f"{base_dir / 'problems.json'}: pid {pid!r} of split {split!r} is missing or "
                "lacks 'choices' and 'answer'"
            )
        answer = problem["answer"]
        if not isinstance(answer, int) or not 0 <= answer < len(OPTION_LETTERS):
            raise ValueError(
                f"{base_dir / 'problems.json'}: pid {pid!r} has answer index "
                f"{problem['answer']!r}; expected 0-4"
            )
    return problems, pids


def evaluate_science_qa(
    base_dir: str | Path, result_file: str | Path, split: str = "test"
) -> ScienceQAResult:
    """Score a LLaVA answers file; refuses partial, duplicated and foreign answer files."""
    problems, pids = load_split(base_dir, split)
    answers = read_jsonl(result_file, "ScienceQA result file")
    check_answer_texts(answers, result_file)
    for position, answer in enumerate(answers, start=1):
        if not isinstance(answer.get("prompt"), str):
            raise ValueError(f"{result_file}: answer #{position} has no string 'prompt'")
    check_answer_keys(answers, result_file, pids, key=lambda a: a.get("question_id"))
    result = score_science_qa(problems, pids, {a["question_id"]: a for a in answers})
    return replace(result, warnings=degenerate_answer_warnings(answers, result_file))


def _score(data_root: Path, answers: Path) -> Score:
    result = evaluate_science_qa(Path(data_root) / "scienceqa", answers)
    if result.img_accuracy is None:
        raise ValueError(f"{answers}: no answered question has an image; IMG-Accuracy undefined")
    return Score(result.img_accuracy, result.to_dict())


def _write_synthetic(data_root: Path, *, seed: int, images: int, progress: bool = False) -> dict:
    from llava.synthetic.scienceqa import write_scienceqa

    return write_scienceqa(data_root, seed=seed, images=images, progress=progress)


BENCHMARK = Benchmark(
    name="sqa",
    title="ScienceQA-IMG (test)",
    # IMG-Accuracy: accuracy over the test questions with an image, the number LLaVA's
    # MODEL_ZOO and the pruning papers report as "SQA" (71.6 for LLaVA-1.5-13B).
    metric="SQA-IMG",
    scoring="offline",
    question_file="scienceqa/llava_test_CQM-A.json",
    image_folder="scienceqa/images/test",
    answers="scienceqa/answers/{experiment}.jsonl",
    answering="llava.eval.model_vqa_science",
    answering_flags=("--single-pred-prompt",),
    score=_score,
    write_synthetic=_write_synthetic,
)
