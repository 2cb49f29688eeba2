"""Multiple-choice questions: the true option among distractors, lettered A, B, C, ...

ScienceQA, MMBench and SEED ask the same facts as options; this is their shared shape. The
distractors come from a fact's false values, so exactly one option is true.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

LETTERS = "ABCDE"  # ScienceQA has up to five options, MMBench and SEED four


@dataclass(frozen=True)
class MultipleChoice:
    question: str
    options: tuple[str, ...]
    answer: int  # index of the true option
    objects: tuple[int, ...] = ()  # the objects the answer rests on

    @property
    def letter(self) -> str:
        return LETTERS[self.answer]

    @property
    def answer_text(self) -> str:
        return self.options[self.answer]


def multiple_choice(
    rng: random.Random,
    question: str,
    correct: str,
    wrong: Iterable[str],
    n_options: int,
    objects: Sequence[int] = (),
) -> MultipleChoice:
    """`correct` and up to n_options - 1 distinct distractors drawn from `wrong`, shuffled.

    Fewer options when `wrong` has fewer distinct values (at least one is needed).
    """
    if not 2 <= n_options <= len(LETTERS):
        raise ValueError(f"n_options must be 2-{len(LETTERS)}, got {n_options}")
    pool = [w for w in dict.fromkeys(wrong) if w != correct]
    if not pool:
        raise ValueError(f"no distractor for {question!r}")
    options = rng.sample(pool, min(n_options - 1, len(pool))) + [correct]
    rng.shuffle(options)
    return MultipleChoice(question, tuple(options), options.index(correct), tuple(objects))


def option_lines(options: Sequence[str]) -> str:
    """ "A. red\\nB. blue": the option block of ScienceQA's, MMBench's and SEED's prompts."""
    return "\n".join(f"{LETTERS[k]}. {text}" for k, text in enumerate(options))
