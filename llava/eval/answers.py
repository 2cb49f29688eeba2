"""Answer files: LLaVA's format, written one flushed line per question, resumable.

An interrupted evaluation leaves a prefix of complete lines (and perhaps one cut-off line). A
rerun keeps the complete lines that match the questions position by position (MME's
question_ids are not unique, nor are MMBench's with --all-rounds, so position is the key; a line
must repeat its question's id, prompt and round), drops a cut-off last line, and continues.
Lines written by another question file, chunk or configuration are an error, never mixed in.
While a run writes an answers file it holds an exclusive lock on it (`AnswerLock`): a second
writer is refused at once, naming the holder; a lock left by a killed run is released by the
system and simply taken over.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
from pathlib import Path

from llava.eval.questions import Question


def check_output(path: Path, flag: str = "--answers-file") -> None:
    """Before anything expensive: `path` is not a folder and its folder can be made and
    written to."""
    if path.is_dir():
        raise ValueError(f"{flag} {path} is a folder; give a file name, e.g. {path}/answers.jsonl")
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"{flag} {path}: cannot create {folder} ({err.strerror})") from err
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"{flag} {path}: not writable; choose another --answers-file")


class AnswerLock:
    """An exclusive lock on an answers file for as long as a run writes it (a `.lock` file
    beside it, holding the writer's pid)."""

    def __init__(self, path: Path) -> None:
        self.path = path.with_name(path.name + ".lock")
        self._file = None

    def __enter__(self) -> AnswerLock:
        file = self.path.open("a+")
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            file.seek(0)
            holder = file.read().strip() or "unknown"
            file.close()
            if err.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            answers = self.path.with_suffix("")
            raise ValueError(
                f"{answers} is being written by another run (pid {holder}); wait for it to "
                "finish, or choose another --answers-file"
            ) from err
        file.seek(0)
        file.truncate()
        file.write(f"{os.getpid()}\n")
        file.flush()
        self._file = file
        return self

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)
        fcntl.flock(self._file, fcntl.LOCK_UN)
        self._file.close()


def _differences(written: object, wanted: dict) -> str:
    """The run settings that differ, as `name: written -> wanted`."""
    if not isinstance(written, dict):
        return f"the line has no run settings ({written!r})"
    names = list(wanted) + [name for name in written if name not in wanted]
    changed = [
        f"{name}: {written.get(name)!r} -> {wanted.get(name)!r}"
        for name in names
        if written.get(name) != wanted.get(name)
    ]
    return "; ".join(changed)


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
                f"{path}:{line_no} was written by another run "
                f"({_differences(written_config, run_config)}): pass --overwrite to start the "
                "file over, or choose another --answers-file"
            )
    if keep_bytes < path.stat().st_size:
        with path.open("r+b") as file:
            file.truncate(keep_bytes)
    return len(lines)


class AnswerWriter:
    """Appends answers, one JSON line each, flushed as soon as written."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")

    def write(self, answer: dict) -> None:
        try:
            self._file.write(json.dumps(answer) + "\n")
            self._file.flush()
        except OSError as err:
            # A full disk may leave half a line: the next run drops it and resumes.
            raise ValueError(
                f"cannot write {self.path} ({err.strerror}): free some space and rerun the same "
                "command; it resumes after the last complete answer"
            ) from err

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
