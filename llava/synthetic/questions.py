"""Question/answer pairs and LLaVA's prompt formats, shared by every synthetic benchmark."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

INSTRUCTION = (
    "Answer the question using a single word or phrase."  # LLaVA-1.5's short-answer suffix
)
MME_SUFFIX = " Please answer yes or no."  # MME's ground-truth questions end with it
OCR_PREFIX = "Reference OCR token: "  # LLaVA's TextVQA prompt line (llava_textvqa_val_v051_ocr)
YES, NO = "yes", "no"


@dataclass(frozen=True)
class QA:
    """One question about one scene.

    question: the bare question, e.g. "Is there a red circle in the image?".
    answer: "yes" / "no" for yes-no questions, else the expected word (lower case).
    objects: indices into `scene.objects` the answer rests on: the asked object(s) for a yes,
        the present look-alikes (same colour or same shape) for a no. Training can use them
        with `patches.patch_owners` as "which visual tokens matter for this question".
    """

    question: str
    answer: str
    objects: tuple[int, ...] = ()

    @property
    def reply(self) -> str:
        """The reply a LLaVA-1.5 model gives: "Yes" / "No", or the word itself."""
        return {YES: "Yes", NO: "No"}.get(self.answer, self.answer)


def short_answer_prompt(question: str) -> str:
    """The question-file text of POPE and MME: question, newline, LLaVA's instruction."""
    return f"{question}\n{INSTRUCTION}"


def mme_ground_truth_question(question: str) -> str:
    """The question as MME's ground-truth .txt files write it."""
    return question + MME_SUFFIX


def textvqa_prompt(question: str, ocr_tokens: Sequence[str]) -> str:
    """LLaVA's TextVQA text: question line, OCR line, instruction line."""
    return f"{question}\n{OCR_PREFIX}{', '.join(ocr_tokens)}\n{INSTRUCTION}"
