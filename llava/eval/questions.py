"""Question files (JSON lines, LLaVA's format) and their chunks, validated with errors that name
the file and line."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

REQUIRED_FIELDS = ("question_id", "image", "text")


@dataclass(frozen=True)
class Question:
    line_no: int  # 1-based line in the question file
    data: dict  # the line as read

    @property
    def question_id(self):
        return self.data["question_id"]

    @property
    def text(self) -> str:
        return self.data["text"]

    @property
    def image(self) -> str:
        return self.data["image"]


def read_questions(path: str | Path) -> list[Question]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"question file {path} not found (--question-file)")
    questions = []
    with path.open(encoding="utf-8") as lines:
        for line_no, line in enumerate(lines, start=1):
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
            questions.append(Question(line_no, data))
    return questions


def get_chunk(items: list, num_chunks: int, chunk_idx: int) -> list:
    """The chunk_idx-th of num_chunks contiguous slices of ceil(len / num_chunks) items, as
    LLaVA splits work across GPUs (the last chunks may be short or empty)."""
    if num_chunks < 1 or not 0 <= chunk_idx < num_chunks:
        raise ValueError(f"--chunk-idx {chunk_idx} must be in 0..{num_chunks - 1} (--num-chunks)")
    size = math.ceil(len(items) / num_chunks)
    return items[chunk_idx * size : (chunk_idx + 1) * size]
