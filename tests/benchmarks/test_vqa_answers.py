"""The three variants of the VQA answer processing, on cases derived by hand from the rules
(benchmarks-suite.md §7.4-7.5, §8.5): where EvalAI's processor, the official VQA evaluation and
VizWiz's evaluation part ways. The whole pipelines are checked against the official code's
outputs in test_vqav2.py and test_vizwiz.py."""

from __future__ import annotations

import pytest

from llava.benchmarks.vqa_answers import (
    EVALAI_DIGIT_COMMA,
    VQA_EVAL_DIGIT_COMMA,
    evalai_answer,
    leave_one_out_accuracy,
    process_punctuation,
    vizwiz_prediction,
    vqa_eval_human_answers,
    vqa_eval_prediction,
)


@pytest.mark.parametrize(
    ("raw", "evalai", "vqa_eval"),
    [
        ("Man's", "man 's", "man's"),  # the "'s" split is EvalAI's alone
        ("What?", "what", "what"),  # "?" dropped vs. replaced by a space, then split
        ("1,,000", "1000", "1 000"),  # vqaEval's digit-comma test wants exactly one comma
        ("1,000", "1000", "1000"),
        ("Yes, it is.", "yes it is", "yes it is"),
        ("Two Dogs", "2 dogs", "2 dogs"),
        ("u.s.", "us", "us"),
        ("  The cat\n", "cat", "cat"),
        ("dont", "don't", "don't"),
        ("t-shirt", "t shirt", "t shirt"),
    ],
)
def test_prediction_processing(raw: str, evalai: str, vqa_eval: str) -> None:
    assert evalai_answer(raw) == evalai
    assert vqa_eval_prediction(raw) == vqa_eval


def test_the_digit_comma_patterns() -> None:
    assert process_punctuation("1,,000-2", EVALAI_DIGIT_COMMA) == "10002"  # marks deleted
    assert process_punctuation("1,,000-2", VQA_EVAL_DIGIT_COMMA) == "1  000 2"  # -> spaces


def test_human_answers_get_punctuation_only_and_only_when_they_disagree() -> None:
    assert vqa_eval_human_answers(["Two.", "Two.", "Two."]) == ["Two.", "Two.", "Two."]
    assert vqa_eval_human_answers(["Two.", "two", "a dog"]) == ["Two", "two", "a dog"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("dont", "don\u2019t"),  # VizWiz writes the table's apostrophes as U+2019 ...
        ("Let\u2019s", "let\u2019s"),
        ("weve", "we've"),  # ... except in these entries
        ("couldnt", "couldn't"),
        ("couldn'tve", "couldn\u2019t\u2019ve"),  # an ASCII key with a U+2019 value
        ("Unanswerable.", "unanswerable"),
    ],
)
def test_vizwiz_contractions(raw: str, expected: str) -> None:
    assert vizwiz_prediction(raw) == expected


@pytest.mark.parametrize(("matches", "expected"), [(0, 0.0), (1, 0.3), (2, 0.6), (3, 0.9),
                                                   (4, 1.0), (10, 1.0)])  # fmt: skip
def test_leave_one_out_accuracy(matches: int, expected: float) -> None:
    answers = ["2"] * matches + ["3"] * (10 - matches)
    assert leave_one_out_accuracy("2", answers) == pytest.approx(expected, abs=1e-12)


def test_leave_one_out_needs_answers() -> None:
    with pytest.raises(ValueError, match="at least one human answer"):
        leave_one_out_accuracy("2", [])
