"""The checks every scorer runs on an answers file."""

from __future__ import annotations

import pytest

from llava.benchmarks.answer_checks import (
    check_answer_keys,
    check_answer_texts,
    degenerate_answer_warnings,
)


def answers(*pairs):
    return [{"question_id": qid, "text": text} for qid, text in pairs]


def by_id(answer: dict):
    return answer["question_id"]


def test_complete_answers_pass() -> None:
    check_answer_keys(answers((1, "a"), (2, "b")), "f.jsonl", [1, 2], by_id)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (answers((1, "a")), "1 answers for 2 questions, 1 unanswered"),
        (answers((1, "a"), (2, "b"), (1, "a"), (2, "b")), "2 question(s) answered more than once"),
        (answers((1, "a"), (2, "b"), (7, "c")), "1 of 3 answers are for questions that are not"),
    ],
)
def test_partial_duplicated_and_foreign_files_are_refused(given, message) -> None:
    with pytest.raises(ValueError, match="f.jsonl") as err:
        check_answer_keys(given, "f.jsonl", [1, 2], by_id)
    assert message in str(err.value)


@pytest.mark.parametrize("text", [None, 3, ["yes"]])
def test_non_string_answers_are_refused(text) -> None:
    with pytest.raises(ValueError, match=r"f.jsonl: answer #2 has a .* 'text'"):
        check_answer_texts(answers((1, "a"), (2, text)), "f.jsonl")


def test_degenerate_answer_sets_are_reported() -> None:
    assert (
        "every one of the 3 answers is empty"
        in degenerate_answer_warnings(answers((1, ""), (2, " "), (3, "")), "f")[0]
    )
    assert (
        "all 2 answers are the same ('Yes')"
        in degenerate_answer_warnings(answers((1, "Yes"), (2, "Yes ")), "f")[0]
    )
    assert degenerate_answer_warnings(answers((1, "Yes"), (2, "No")), "f") == []
