"""Reading the JSON and JSON-lines files every scorer consumes (and the UTF-8 text of the answer
generators' question files), and writing a scorer's JSON report, with errors (ValueError) that
name the file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


def read_jsonl(path: str | Path, what: str) -> list[dict]:
    """Read a JSON-lines file (blank lines skipped); `what` names the file in error messages."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{what} {path} is a folder; pass the file itself")
    if not path.is_file():
        raise ValueError(f"{what} not found: {path} (check the path you passed)")
    records = []
    try:
        with path.open("rb") as f:
            for line_no, raw in enumerate(f, start=1):
                record = _parse_line(raw, line_no, path, what)
                if record is not None:
                    records.append(record)
    except OSError as err:
        raise ValueError(f"{what} {path} cannot be read ({err.strerror})") from err
    return records


def read_json(path: str | Path, what: str) -> object:
    """Read a whole JSON document; `what` names the file in error messages."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{what} {path} is a folder; pass the file itself")
    if not path.is_file():
        raise ValueError(f"{what} not found: {path} (check the path you passed)")
    try:
        with path.open(encoding="utf-8-sig") as f:
            return json.load(f)
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{what} {path}: not UTF-8 text ({err.reason} at byte {err.start})"
        ) from err
    except json.JSONDecodeError as err:
        raise ValueError(f"{what} {path} is not valid JSON ({err})") from err
    except OSError as err:
        raise ValueError(f"{what} {path} cannot be read ({err.strerror})") from err


def _parse_line(raw: bytes, line_no: int, path: Path, what: str) -> dict | None:
    try:
        # utf-8-sig on the first line: a byte-order mark some editors write is not an error
        line = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{what} {path}, line {line_no}: not UTF-8 text ({err.reason} at byte {err.start})"
        ) from err
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise ValueError(f"{what} {path}, line {line_no}: not valid JSON ({err})") from err
    if not isinstance(record, dict):
        raise ValueError(f"{what} {path}, line {line_no}: expected a JSON object")
    return record


def decode_utf8(raw: bytes, path: Path, first_line: int = 1) -> str:
    """The text of a file's bytes (or of its lines from `first_line` on); a byte-order
    mark at the start is not an error."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = first_line + raw[: err.start].count(b"\n")
        raise ValueError(
            f"{path}:{line}: not UTF-8 text ({err.reason}); "
            "re-encode it (e.g. with iconv -t UTF-8)"
        ) from err


@contextmanager
def output_file(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """`path` opened for writing, its folder created; a path that cannot be written (a folder,
    no permission, a full disk) is a ValueError naming it."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open(mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
    except OSError as err:
        raise ValueError(f"cannot write {path} ({err.strerror or err})") from err


def write_json(path: str | Path, document: dict) -> None:
    """Save a scorer's report (indented JSON, a final newline)."""
    with output_file(path) as f:
        f.write(json.dumps(document, indent=2) + "\n")
