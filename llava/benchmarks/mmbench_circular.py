"""MMBench's CircularEval with exact matching, the rule of VLMEvalKit's multiple_choice_eval.

Source: open-compass/VLMEvalKit 646ee5e42d20b681415df632fba0cf928a99bdd3 (2024-01),
vlmeval/utils/matching_util.py and vlmeval/evaluate/multiple_choice.py, in its
"exact_matching" mode (no LLM); docs/benchmarks-suite.md section 5.5.

- A prediction's letter ("prefetch"): first the option match - replace each of
  . ( ) [ ] , : ; ! * # { } by a space and split on whitespace; exactly one choice letter among
  the tokens gives that letter; no choice letter but a "Z" token gives Z; a known refusal gives
  Z. Then the text match - the one choice whose lower-cased text is a substring of the
  lower-cased prediction. Else unresolved.
- A question (index < 1e6) is scored with every row whose index mod 1e6 equals it (its circular
  rotations), in index order: 0 as soon as a row's letter differs from that row's answer, 1 when
  every row resolved to its answer, else unresolved, which exact matching scores 0 (VLMEvalKit
  would ask an LLM).
- Accuracy: mean over the questions of each split, per category and l2-category too.
Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

CIRCULAR_STRIDE = 1_000_000  # a rotation of question i has index i + k * 1e6
_SEPARATORS = ".()[],:;!*#{}"
# matching_util.can_infer_option's refusals (Bard's), read as "none of the options".
_REFUSALS = ("Sorry, I can't help with images of people yet.", "I can't process this file.")
_API_FAILURE = "Failed to obtain answer via API"  # never an option match, in VLMEvalKit


def match_option_letter(prediction: str, choices: Mapping[str, str]) -> str | None:
    """VLMEvalKit's option match: a choice letter standing alone in the prediction, or Z."""
    if _API_FAILURE in prediction:
        return None
    if any(refusal in prediction for refusal in _REFUSALS):
        return "Z"
    for separator in _SEPARATORS:
        prediction = prediction.replace(separator, " ")
    tokens = prediction.split()
    named = [letter for letter in choices if letter in tokens]
    if len(named) == 1:
        return named[0]
    # VLMEvalKit counts the choices {"Z", ""} present among the tokens: "" never is one.
    if not named and "Z" in tokens:
        return "Z"
    return None


def match_option_text(prediction: str, choices: Mapping[str, str]) -> str | None:
    """VLMEvalKit's text match: the one choice whose text is inside the prediction."""
    prediction = prediction.lower()
    found = [letter for letter, text in choices.items() if str(text).lower() in prediction]
    return found[0] if len(found) == 1 else None


def extract_letter(prediction: str, choices: Mapping[str, str]) -> str | None:
    """The letter VLMEvalKit reads from a prediction without an LLM, or None (unresolved)."""
    return match_option_letter(prediction, choices) or match_option_text(prediction, choices)


@dataclass(frozen=True)
class CircularRow:
    """One TSV row as the scorer sees it: its choices (letter -> text) and its answer letter."""

    index: int
    choices: dict[str, str]
    answer: str
    split: str = "dev"
    category: str | None = None
    l2_category: str | None = None


def group_verdict(rows: Sequence[CircularRow], predictions: Mapping[int, str]) -> str:
    """ "correct", "wrong" or "unresolved" for a question's rows, in index order."""
    letters = []
    for row in rows:
        letter = extract_letter(predictions[row.index], row.choices)
        if letter is not None and letter != row.answer:
            return "wrong"
        letters.append(letter)
    return "correct" if all(letter is not None for letter in letters) else "unresolved"


@dataclass(frozen=True)
class CircularResult:
    verdicts: dict[int, str]  # main index -> "correct" / "wrong" / "unresolved"
    main_rows: dict[int, CircularRow]
    warnings: list[str] = field(default_factory=list)

    @property
    def hits(self) -> int:
        return sum(v == "correct" for v in self.verdicts.values())

    @property
    def questions(self) -> int:
        return len(self.verdicts)

    @property
    def accuracy(self) -> float:
        """Fraction of questions right in every rotation, over all scored questions."""
        return self.hits / self.questions

    def _mean(self, select) -> dict[str, float]:
        by_split: dict[str, list[int]] = {}
        for index, verdict in self.verdicts.items():
            row = self.main_rows[index]
            if select(row):
                by_split.setdefault(row.split, []).append(verdict == "correct")
        return {split: sum(hits) / len(hits) for split, hits in sorted(by_split.items())}

    def overall(self) -> dict[str, float]:
        """Accuracy per split (VLMEvalKit's "Overall" row)."""
        return self._mean(lambda row: True)

    def per_group(self, attribute: str) -> dict[str, dict[str, float]]:
        """Accuracy per category or l2_category, per split; empty when the rows lack it."""
        names = sorted({getattr(r, attribute) for r in self.main_rows.values()} - {None})
        return {
            name: self._mean(lambda row, name=name: getattr(row, attribute) == name)
            for name in names
        }

    def to_dict(self) -> dict:
        return {
            "questions": self.questions,
            "hits": self.hits,
            "accuracy": self.accuracy,
            "unresolved": sum(v == "unresolved" for v in self.verdicts.values()),
            "overall": self.overall(),
            "category": self.per_group("category"),
            "l2-category": self.per_group("l2_category"),
            "warnings": self.warnings,
        }


def circular_eval(rows: Iterable[CircularRow], predictions: Mapping[int, str]) -> CircularResult:
    """CircularEval over the rows that have a prediction (every row, for a complete file)."""
    answered = sorted((row for row in rows if row.index in predictions), key=lambda r: r.index)
    groups: dict[int, list[CircularRow]] = {}
    for row in answered:
        groups.setdefault(row.index % CIRCULAR_STRIDE, []).append(row)
    main_rows = {row.index: row for row in answered if row.index < CIRCULAR_STRIDE}
    if not main_rows:
        raise ValueError("no MMBench question (index < 1000000) has a prediction to score")
    verdicts = {index: group_verdict(groups[index], predictions) for index in main_rows}
    unresolved = sum(v == "unresolved" for v in verdicts.values())
    warnings = []
    if unresolved:
        warnings.append(
            f"{unresolved} of {len(verdicts)} questions have an answer that names no option "
            "(neither a letter nor an option's text); exact matching scores them 0, where the "
            "MMBench server would ask an LLM to match them"
        )
    return CircularResult(verdicts, main_rows, warnings)
