"""Answer files: LLaVA's format, written one flushed line per question, resumable.

An interrupted evaluation leaves a prefix of complete lines (and perhaps one cut-off line). A
rerun keeps the complete lines that match the questions position by position (MME's
question_ids are not unique, nor are MMBench's with --all-rounds, so position is the key; a line
must repeat its question's id, prompt and round), drops a cut-off last line, and continues.
Lines written by another question file, chunk or configuration are an error, never mixed in.
"""

from __future__ import annotations

import json
from pathlib import Path

from llava.eval.questions import Question


def _complete_lines(path: Path) -> tuple[list[str], int]:
    """The complete lines of `path` and the byte length they span (a cut-off tail excluded)."""
    raw = path.read_bytes()
    end = raw.rfind(b"\n") + 1
    lines = raw[:end].decode("utf-8").splitlines()
    if end < len(raw):
        return lines, end
    # A last line that ends in a newline but is not valid JSON was cut off by a crash mid-write.
    if lines:
        try:
            json.loads(lines[-1])
        except json.JSONDecodeError:
            return lines[:-1], end - len(lines[-1].encode("utf-8")) - 1
    return lines, end


def resume_answers(path: str | Path, questions: list[Question], run_config: dict) -> int:
    """How many of `questions` the answers file already holds; truncates a cut-off last line.

    Raises ValueError (naming the file and line) if a kept line is not the answer to the
    question at its position, or was written with a different configuration.
    """
    path = Path(path)
    if not path.exists():
        return 0
    lines, keep_bytes = _complete_lines(path)
    if len(lines) > len(questions):
        raise ValueError(
            f"{path} holds {len(lines)} answers but there are only {len(questions)} questions: "
            "it belongs to another question file or chunk; delete it or choose another "
            "--answers-file"
        )
    for line_no, (line, question) in enumerate(zip(lines, questions, strict=False), start=1):
        try:
            answer = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{line_no}: not valid JSON ({err.msg})") from err
        identity = question.identity()
        if any(answer.get(key) != value for key, value in identity.items()):
            raise ValueError(
                f"{path}:{line_no} answers question_id {answer.get('question_id')!r}, but question "
                f"{line_no} of this run is {question.question_id!r} ({question.where}): the "
                "answers file belongs to another question file, chunk or prompt; delete it or "
                "choose another --answers-file"
            )
        written_config = answer.get("metadata", {}).get("run")
        if written_config != run_config:
            raise ValueError(
                f"{path}:{line_no} was written with settings {written_config}, this run uses "
                f"{run_config}: delete the file or choose another --answers-file to start over"
            )
    if keep_bytes < path.stat().st_size:
        with path.open("r+b") as file:
            file.truncate(keep_bytes)
    return len(lines)


class AnswerWriter:
    """Appends answers, one JSON line each, flushed as soon as written."""

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")

    def write(self, answer: dict) -> None:
        self._file.write(json.dumps(answer) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> AnswerWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def merge_answer_files(parts: list[Path], output: Path) -> None:
    """Concatenate chunk answer files in index order (scorers depend on the order)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8") as merged:
        for part in parts:
            merged.write(part.read_text(encoding="utf-8"))
