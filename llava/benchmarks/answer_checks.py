"""Checks every scorer runs on an answers file before scoring it.

LLaVA's scorers silently score whatever they are given: a partial file, a file with every answer
twice, answers to another question file. Here each of those is refused with a message naming the
file and the count, and an answer set that cannot mean anything (every answer empty, or one
answer repeated for every question) is reported as a warning next to the score.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Hashable, Sequence
from pathlib import Path


def _preview(keys: Sequence, limit: int = 3) -> str:
    shown = ", ".join(repr(k) for k in keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


_ABSENT = object()


def _check_field(
    answers: Sequence[dict],
    path: str | Path,
    field: str,
    valid: Callable[[object], bool],
    kind: str,
) -> None:
    """Every answer's `field` passes `valid`; else one error with the first case and the count."""
    bad = [
        (position, answer.get(field, _ABSENT))
        for position, answer in enumerate(answers, start=1)
        if field not in answer or not valid(answer[field])
    ]
    if not bad:
        return
    position, value = bad[0]
    first = (
        f"answer #{position} has no '{field}' field"
        if value is _ABSENT
        else f"answer #{position} has a {type(value).__name__} '{field}' ({value!r:.80})"
    )
    raise ValueError(
        f"{path}: {first}; {len(bad)} of {len(answers)} answers lack a {kind} '{field}' "
        "(answers must be as the answer generator writes them)"
    )


def check_answer_texts(answers: Sequence[dict], path: str | Path) -> None:
    """Every answer has a string `text` (a model's decoded output, possibly empty)."""
    check_answer_strings(answers, path, "text")


def check_answer_ids(answers: Sequence[dict], path: str | Path, field: str = "question_id") -> None:
    """Every answer's `field` is a string or an integer, as question files write ids."""
    _check_field(
        answers,
        path,
        field,
        lambda value: isinstance(value, (str, int)) and not isinstance(value, bool),
        "string or integer",
    )


def check_answer_strings(answers: Sequence[dict], path: str | Path, field: str) -> None:
    """Every answer's `field` (a `prompt`, a string `question_id`) is a string."""
    _check_field(answers, path, field, lambda value: isinstance(value, str), "string")


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def check_answer_keys(
    answers: Sequence[dict],
    path: str | Path,
    expected: Collection[Hashable],
    key: Callable[[dict], Hashable],
    what: str = "question",
) -> None:
    """The answers cover `expected` exactly once each: no duplicate, no foreign, none missing.

    `key` maps an answer to what identifies its question (the question_id, or a pair where
    question ids repeat); `what` names that in messages.
    """
    keys = [key(answer) for answer in answers]
    unhashable = [position for position, k in enumerate(keys, start=1) if not _hashable(k)]
    if unhashable:
        first = keys[unhashable[0] - 1]
        raise ValueError(
            f"{path}: answer #{unhashable[0]} names its {what} by a {type(first).__name__} "
            f"({first!r:.80}), not a string or a number; {len(unhashable)} of {len(answers)} "
            "answers do"
        )
    repeated = [k for k, n in Counter(keys).items() if n > 1]
    if repeated:
        raise ValueError(
            f"{path}: {len(repeated)} {what}(s) answered more than once ({_preview(repeated)}); "
            f"{len(answers)} answers for {len(set(keys))} distinct {what}s: was the file written "
            "twice or merged with another? Keep one answer per question"
        )
    expected_set = set(expected)
    foreign = [k for k in keys if k not in expected_set]
    if foreign:
        raise ValueError(
            f"{path}: {len(foreign)} of {len(answers)} answers are for {what}s that are not in "
            f"the ground truth ({_preview(foreign)}): the answers come from another question file"
        )
    missing = len(expected_set) - len(keys)
    if missing:
        answered = set(keys)
        unanswered = [k for k in expected if k not in answered]
        raise ValueError(
            f"{path}: {len(keys)} answers for {len(expected_set)} {what}s, {missing} unanswered "
            f"({_preview(unanswered)}): the file is partial; finish generation (rerunning the "
            "same command resumes) before scoring"
        )


def degenerate_answer_warnings(answers: Sequence[dict], path: str | Path) -> list[str]:
    """Warnings for answer sets that say nothing about the model's ability."""
    texts = [answer["text"].strip() for answer in answers]
    if len(texts) < 2:
        return []
    if not any(texts):
        return [f"{path}: every one of the {len(texts)} answers is empty (a broken checkpoint?)"]
    distinct = set(texts)
    if len(distinct) == 1:
        return [
            f"{path}: all {len(texts)} answers are the same ({texts[0]!r}); the score measures "
            "the label balance, not the model"
        ]
    return []
