"""The scorers against transcriptions of the official code's rules, on randomized answer sets.

The transcriptions follow the public sources line by line: LLaVA's `llava/eval/eval_pope.py`
(first sentence, commas dropped, split on " ", "No" / "not" / "no" means no) and MME's
`eval_tool/calculation.py` (lower-case; "yes" / "no", else the first four characters decide;
acc over questions, acc+ over images whose two questions are both right, score = sum x 100).
"""

from __future__ import annotations

import random

import pytest

from llava.benchmarks.mme import MMERecord, score_records
from llava.benchmarks.pope import score_split

# Phrasings that exercise every branch of both rules (case, punctuation, negations inside words).
PHRASES = [
    "Yes", "No", "yes", "no", "YES", "NO", "No.", "no.", "Yes.", "Yes, there is.",
    "No, there is not.", "Not at all.", "There is no cat.", "It is not.", "nothing here",
    "Yes. No.", "No, no", "I don't know", "noon", "yesterday", "Nope", "Yes,no", "", " no",
    "The answer is yes.", "No\nYes", "not", "Yes it is not",
]  # fmt: skip


def official_pope(texts: list[str], labels: list[str]) -> tuple[float, float, float, float]:
    predictions = []
    for text in texts:
        if text.find(".") != -1:
            text = text.split(".")[0]
        text = text.replace(",", "")
        words = text.split(" ")
        predictions.append("no" if "No" in words or "not" in words or "no" in words else "yes")
    pairs = list(zip(predictions, labels, strict=True))
    tp = sum(p == "yes" and g == "yes" for p, g in pairs)
    fp = sum(p == "yes" and g == "no" for p, g in pairs)
    tn = sum(p == "no" and g == "no" for p, g in pairs)
    fn = sum(p == "no" and g == "yes" for p, g in pairs)
    precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    return (tp + tn) / len(labels), precision, recall, 2 * precision * recall / (precision + recall)


@pytest.mark.parametrize("seed", range(20))
def test_pope_equals_the_official_rule(seed: int) -> None:
    rng = random.Random(seed)
    size = rng.randint(20, 200)
    labels = [rng.choice(("yes", "no")) for _ in range(size)]
    labels[:2] = ["yes", "no"]  # the official code divides by zero without a positive
    texts = [rng.choice(PHRASES) for _ in range(size)]
    texts[0] = "Yes"  # ... or without a predicted yes
    result = score_split("random", texts, labels)
    official = official_pope(texts, labels)
    assert (result.accuracy, result.precision, result.recall, result.f1) == official


def official_mme_score(pairs: list[list[tuple[str, str]]]) -> float:
    """calculation.py's per-category score for (gt, prediction) pairs, one pair per image."""

    def parse(prediction: str) -> str:
        if prediction in ("yes", "no"):
            return prediction
        prefix = prediction[:4]
        return "yes" if "yes" in prefix else "no" if "no" in prefix else "other"

    correct = both = 0
    for pair in pairs:
        right = [parse(p.lower()) == g.lower() for g, p in pair]
        correct += sum(right)
        both += all(right)
    acc = correct / (2 * len(pairs))
    acc_plus = both / len(pairs)
    return acc * 100 + acc_plus * 100


@pytest.mark.parametrize("seed", range(20))
def test_mme_equals_the_official_rule(seed: int) -> None:
    rng = random.Random(seed)
    pairs = [
        [("Yes", rng.choice(PHRASES)), ("No", rng.choice(PHRASES))]
        for _ in range(rng.randint(5, 60))
    ]
    records = [
        MMERecord("existence", f"{i:04d}.png", f"q{j}", gt, text)
        for i, pair in enumerate(pairs)
        for j, (gt, text) in enumerate(pair)
    ]
    result = score_records(records).categories["existence"]
    assert result.score == pytest.approx(official_mme_score(pairs), abs=1e-12)
