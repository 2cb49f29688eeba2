"""Reading the JSON and JSON-lines files every scorer consumes, with errors naming the file
and line."""

from __future__ import annotations

import json
from pathlib import Path


def read_jsonl(path: str | Path, what: str) -> list[dict]:
    """Read a JSON-lines file (blank lines skipped); `what` names the file in error messages."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{what} not found: {path} (check the path you passed)")
    records = []
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{what} {path}, line {line_no}: not valid JSON ({err})") from err
            if not isinstance(record, dict):
                raise ValueError(f"{what} {path}, line {line_no}: expected a JSON object")
            records.append(record)
    return records


def read_json(path: str | Path, what: str) -> object:
    """Read a whole JSON document; `what` names the file in error messages."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{what} not found: {path} (check the path you passed)")
    with path.open(encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f"{what} {path} is not valid JSON ({err})") from err
