"""Answer processing of the VQA family of evaluations: TextVQA, VQAv2 and VizWiz.

The same rules exist in three variants, and the differences change scores:
- EvalAI's answer processor (`evalai_answer`): lower-case; drop "," and "?"; "'s" -> " 's";
  punctuation; periods; number words, articles, contractions. LLaVA's converters
  (llava/eval/m4c_evaluator.py, EvalAIAnswerProcessor, copied from MMF) apply it to every
  prediction before upload, and TextVQA's evaluator to predictions and human answers alike.
- The official VQA evaluation (`vqa_eval_prediction`, `vqa_eval_human_answers`):
  GT-Vision-Lab/VQA c4e6a0e, PythonEvaluationTools/vqaEvaluation/vqaEval.py. The prediction
  gets the punctuation, period, number, article and contraction steps (no comma / "?" / "'s"
  step; lower-casing happens in the number step); the 10 human answers get the punctuation
  step only, and only when they are not all identical. Its digit-comma test takes exactly one
  comma between digits, EvalAI's a run of them. (The repository's later master, a013f00 of
  2021, instead processes prediction and human answers fully when the answers disagree and
  neither when they agree; the c4e6a0e rule is the one followed here.)
- VizWiz's evaluation (`vizwiz_prediction`; Qing Li's VQAEval for VizWiz, distributed at
  vizwiz.org, ported in TRI-ML/vlm-evaluation 7292fd6 vlm_eval/util/evaluation/vizwiz/eval.py):
  the prediction as in the VQA evaluation but with VizWiz's contraction table; human answers
  compared raw.
Every variant then scores with the leave-one-out accuracy. Nothing here prints.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

# Source of the rules and tables: the VQA evaluation code (GT-Vision-Lab/VQA,
# PythonEvaluationTools/vqaEvaluation/vqaEval.py), as used by EvalAI and copied into MMF
# (pythia/tasks/processors.py, EvalAIAnswerProcessor) and LLaVA (llava/eval/m4c_evaluator.py).
# Keys are matched against lower-cased words, so the capitalised keys ("Im", "Ive", ...) never
# match; they are kept so the table stays the standard one. "somebody'd" -> "somebodyd" is
# reversed in the original too.
# fmt: off
CONTRACTIONS = {
    "aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've",
    "couldnt": "couldn't", "couldn'tve": "couldn't've", "couldnt've": "couldn't've",
    "didnt": "didn't", "doesnt": "doesn't", "dont": "don't", "hadnt": "hadn't",
    "hadnt've": "hadn't've", "hadn'tve": "hadn't've", "hasnt": "hasn't", "havent": "haven't",
    "hed": "he'd", "hed've": "he'd've", "he'dve": "he'd've", "hes": "he's", "howd": "how'd",
    "howll": "how'll", "hows": "how's", "Id've": "I'd've", "I'dve": "I'd've", "Im": "I'm",
    "Ive": "I've", "isnt": "isn't", "itd": "it'd", "itd've": "it'd've", "it'dve": "it'd've",
    "itll": "it'll", "let's": "let's", "maam": "ma'am", "mightnt": "mightn't",
    "mightnt've": "mightn't've", "mightn'tve": "mightn't've", "mightve": "might've",
    "mustnt": "mustn't", "mustve": "must've", "neednt": "needn't", "notve": "not've",
    "oclock": "o'clock", "oughtnt": "oughtn't", "ow's'at": "'ow's'at", "'ows'at": "'ow's'at",
    "'ow'sat": "'ow's'at", "shant": "shan't", "shed've": "she'd've", "she'dve": "she'd've",
    "she's": "she's", "shouldve": "should've", "shouldnt": "shouldn't",
    "shouldnt've": "shouldn't've", "shouldn'tve": "shouldn't've", "somebody'd": "somebodyd",
    "somebodyd've": "somebody'd've", "somebody'dve": "somebody'd've",
    "somebodyll": "somebody'll", "somebodys": "somebody's", "someoned": "someone'd",
    "someoned've": "someone'd've", "someone'dve": "someone'd've", "someonell": "someone'll",
    "someones": "someone's", "somethingd": "something'd", "somethingd've": "something'd've",
    "something'dve": "something'd've", "somethingll": "something'll", "thats": "that's",
    "thered": "there'd", "thered've": "there'd've", "there'dve": "there'd've",
    "therere": "there're", "theres": "there's", "theyd": "they'd", "theyd've": "they'd've",
    "they'dve": "they'd've", "theyll": "they'll", "theyre": "they're", "theyve": "they've",
    "twas": "'twas", "wasnt": "wasn't", "wed've": "we'd've", "we'dve": "we'd've",
    "weve": "we've", "werent": "weren't", "whatll": "what'll", "whatre": "what're",
    "whats": "what's", "whatve": "what've", "whens": "when's", "whered": "where'd",
    "wheres": "where's", "whereve": "where've", "whod": "who'd", "whod've": "who'd've",
    "who'dve": "who'd've", "wholl": "who'll", "whos": "who's", "whove": "who've",
    "whyll": "why'll", "whyre": "why're", "whys": "why's", "wont": "won't",
    "wouldve": "would've", "wouldnt": "wouldn't", "wouldnt've": "wouldn't've",
    "wouldn'tve": "wouldn't've", "yall": "y'all", "yall'll": "y'all'll", "y'allll": "y'all'll",
    "yall'd've": "y'all'd've", "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've",
    "youd": "you'd", "youd've": "you'd've", "you'dve": "you'd've", "youll": "you'll",
    "youre": "you're", "youve": "you've",
}
NUMBER_WORDS = {
    "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}
ARTICLES = frozenset({"a", "an", "the"})
PUNCTUATION = (";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<",
               "@", "`", ",", "?", "!")
# fmt: on

# VizWiz's table is the same with most apostrophes written as the typographic "’" (U+2019; the
# TRI port writes them as "`"). These keys and these entries' values keep the ASCII "'".
_VIZWIZ_ASCII_KEYS = frozenset({"couldn'tve", "hadn'tve"})
_VIZWIZ_ASCII_VALUES = frozenset(
    {"aint", "arent", "cant", "couldve", "couldnt", "weve", "wheres", "whove"}
)
VIZWIZ_CONTRACTIONS = {
    (key if key in _VIZWIZ_ASCII_KEYS else key.replace("'", "\u2019")): (
        value if key in _VIZWIZ_ASCII_VALUES else value.replace("'", "\u2019")
    )
    for key, value in CONTRACTIONS.items()
}

# "A digit, comma(s), digit somewhere in the text" makes every punctuation mark deletable.
EVALAI_DIGIT_COMMA = re.compile(r"(?<=\d)(,)+(?=\d)")  # m4c_evaluator.py: a run of commas
VQA_EVAL_DIGIT_COMMA = re.compile(r"(\d)(,)(\d)")  # vqaEval.py: exactly one comma
# The original pattern is r"(?!<=\d)(\.)(?!\d)": its "(?!<=\d)" is a mistyped lookbehind that
# always succeeds in front of a ".", so the rule is just "a period not followed by a digit".
_PERIOD = re.compile(r"\.(?!\d)")
# The originals call PERIOD_STRIP.sub("", text, re.UNICODE): re.UNICODE lands in the `count`
# argument, so at most 32 periods are removed. Kept for identical scores.
_PERIOD_MAX_REMOVED = 32


def process_punctuation(text: str, digit_comma: re.Pattern = EVALAI_DIGIT_COMMA) -> str:
    """The punctuation rule: each mark is deleted if it touches a space somewhere in the text
    (or the text has a digit-comma-digit), else replaced by a space; then periods not followed
    by a digit are deleted."""
    has_digit_comma = digit_comma.search(text) is not None
    out = text
    for mark in PUNCTUATION:
        touches_space = f"{mark} " in text or f" {mark}" in text  # tested on the input text
        out = out.replace(mark, "" if touches_space or has_digit_comma else " ")
    return _PERIOD.sub("", out, count=_PERIOD_MAX_REMOVED)


def process_digits_articles(text: str, contractions: Mapping[str, str] = CONTRACTIONS) -> str:
    """Number words to digits, articles dropped, then the contraction table, word by word."""
    words = [NUMBER_WORDS.get(word, word) for word in text.lower().split()]
    words = [word for word in words if word not in ARTICLES]
    return " ".join(contractions.get(word, word) for word in words)


def evalai_answer(text: str) -> str:
    """EvalAI's answer processor, as LLaVA's converters and TextVQA evaluator apply it."""
    # Commas are dropped here, before process_punctuation, so its digit-comma test never fires
    # in this pipeline ("1,000" -> "1000" either way); it is kept for fidelity.
    text = text.lower().replace(",", "").replace("?", "").replace("'s", " 's").strip()
    text = text.replace("\n", " ").replace("\t", " ").strip()
    return process_digits_articles(process_punctuation(text))


def _one_line(text: str) -> str:
    return text.replace("\n", " ").replace("\t", " ").strip()


def vqa_eval_prediction(text: str) -> str:
    """A prediction as the official VQA evaluation (and so the VQAv2 server) processes it."""
    text = process_punctuation(_one_line(text), VQA_EVAL_DIGIT_COMMA)
    return process_digits_articles(text)


def vqa_eval_human_answers(answers: Sequence[str]) -> list[str]:
    """The human answers of one question as the official VQA evaluation compares them:
    punctuation only, and only when they are not all identical."""
    if len(set(answers)) > 1:
        return [process_punctuation(answer, VQA_EVAL_DIGIT_COMMA) for answer in answers]
    return list(answers)


def vizwiz_prediction(text: str) -> str:
    """A prediction as VizWiz's evaluation processes it (its human answers stay raw)."""
    text = process_punctuation(_one_line(text), VQA_EVAL_DIGIT_COMMA)
    return process_digits_articles(text, VIZWIZ_CONTRACTIONS)


def leave_one_out_accuracy(prediction: str, answers: Sequence[str]) -> float:
    """The VQA soft accuracy of an already processed prediction against already processed human
    answers: for each answer, min(1, matches among the *other* answers / 3), averaged.

    With 10 human answers, 0, 1, 2, 3, 4+ matches give 0, 0.3, 0.6, 0.9, 1.0. The sum runs over
    the answers in order, as in the official evaluators, so floats are bit-identical.
    """
    if not answers:
        raise ValueError("a question needs at least one human answer to be scored")
    matches = [answer == prediction for answer in answers]
    total_matches = sum(matches)
    subset_scores = [min(1, (total_matches - left_out) / 3) for left_out in matches]
    return sum(subset_scores) / len(subset_scores)
