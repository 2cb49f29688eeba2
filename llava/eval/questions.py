"""Questions as the answering loop sees them, LLaVA's JSON-lines question files, and chunks.

A `Question` is one model call and the answer line it produces: what the user turn says, which
image goes with it (or none), and the fields the answer file records. Each answer generator has
its own reader (JSON lines here, ScienceQA's JSON array, MMBench's TSV); they all return the
question file's rows, each with the questions it asks (one, or one per option rotation for
MMBench's --all-rounds), so that chunks split the file by rows, as LLaVA does.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from llava.benchmarks.jsonl import decode_utf8
from llava.constants import DEFAULT_IMAGE_TOKEN
from llava.eval.image_sources import ImageFile, ImageSource

REQUIRED_FIELDS = ("question_id", "image", "text")
# Characters of a question beyond which it cannot fit any LLaVA context (4,096 tokens are at
# most some 40,000 characters of text).
MAX_QUESTION_CHARS = 100_000


@dataclass(frozen=True)
class Question:
    where: str  # "file:line" (or "file, item N"), for messages
    question_id: object  # copied unchanged into the answer (an int or a string)
    prompt: str  # the answer's "prompt"
    user_turn: str  # the user message: "<image>\n..." when there is an image
    image: ImageSource | None  # None: a text-only prompt
    # Answer fields between question_id and prompt (MMBench: round_id) and after text (MMBench:
    # options, option_char), in LLaVA's key order.
    before_prompt: Mapping = field(default_factory=dict)
    after_text: Mapping = field(default_factory=dict)

    def __post_init__(self) -> None:
        # LLaVA's prompt takes one image, and the answer generator places its mark.
        marks = self.user_turn.count(DEFAULT_IMAGE_TOKEN)
        if self.image is not None and marks != 1:
            raise ValueError(
                f"{self.where}: the question text holds '{DEFAULT_IMAGE_TOKEN}' itself; the "
                "image's mark is placed by the answer generator, remove it from the text"
            )
        if self.image is None and marks:
            raise ValueError(f"{self.where}: '{DEFAULT_IMAGE_TOKEN}' in a question without image")

    def identity(self) -> dict:
        """What an answer line must repeat to be this question's answer (resume checks it)."""
        return {"question_id": self.question_id, **self.before_prompt, "prompt": self.prompt}

    def answer(self, text: str, answer_id: str, model_id: str, metadata: dict) -> dict:
        """The answer line, keys in LLaVA's order."""
        return {
            **self.identity(),
            "text": text,
            **self.after_text,
            "answer_id": answer_id,
            "model_id": model_id,
            "metadata": metadata,
        }


def image_question(where: str, question_id: object, text: str, image: ImageSource) -> Question:
    """A question about an image: the user turn is "<image>\\n" + text, LLaVA's layout."""
    return Question(where, question_id, text, f"{DEFAULT_IMAGE_TOKEN}\n{text}", image)


def read_questions(
    path: str | Path, image_folder: str | Path, allow_outside: bool = False
) -> list[list[Question]]:
    """A JSON-lines question file (model_vqa_loader, model_vqa): each line asks its `text` about
    image_folder/`image`, opened as RGB; the answer's prompt is the text unchanged."""
    path, image_folder = Path(path), Path(image_folder)
    if not path.is_file():
        raise FileNotFoundError(f"question file {path} not found (--question-file)")
    rows = []
    with path.open("rb") as lines:
        for line_no, raw in enumerate(lines, start=1):
            line = decode_utf8(raw, path, line_no)
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{line_no}: not valid JSON ({err.msg})") from err
            if not isinstance(data, dict):
                raise ValueError(f"{path}:{line_no}: expected a JSON object per line")
            missing = [name for name in REQUIRED_FIELDS if name not in data]
            if missing:
                raise ValueError(
                    f"{path}:{line_no}: missing field(s) {', '.join(missing)} "
                    f"(each line needs {', '.join(REQUIRED_FIELDS)})"
                )
            wrong = [name for name in ("image", "text") if not isinstance(data[name], str)]
            if wrong:
                raise ValueError(f"{path}:{line_no}: {', '.join(wrong)} must be a string")
            check_length(data["text"], f"{path}:{line_no}")
            image = ImageFile(image_folder, data["image"], True, allow_outside)
            where = f"{path}:{line_no}"
            rows.append([image_question(where, data["question_id"], data["text"], image)])
    return rows


def check_images(questions: Sequence[Question]) -> None:
    """Fail before loading the model if an image is missing (cheap: no decoding)."""
    for question in questions:
        if question.image is not None:
            question.image.check(question.where)


def check_length(text: str, where: str) -> None:
    """Refuse a question far longer than any LLaVA context before tokenising it (a runaway line
    of megabytes would otherwise take minutes to reach the prompt-length check)."""
    if len(text) > MAX_QUESTION_CHARS:
        raise ValueError(
            f"{where}: the question is {len(text):,} characters long, more than any model's "
            f"context holds (limit {MAX_QUESTION_CHARS:,}); is this the right question file?"
        )


def get_chunk(items: list, num_chunks: int, chunk_idx: int) -> list:
    """The chunk_idx-th of num_chunks contiguous slices of ceil(len / num_chunks) items, as
    LLaVA splits work across GPUs (the last chunks may be short or empty)."""
    if num_chunks < 1 or not 0 <= chunk_idx < num_chunks:
        raise ValueError(f"--chunk-idx {chunk_idx} must be in 0..{num_chunks - 1} (--num-chunks)")
    size = math.ceil(len(items) / num_chunks)
    return items[chunk_idx * size : (chunk_idx + 1) * size]
