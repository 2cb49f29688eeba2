"""File writing shared by every synthetic benchmark: JSON lines, PNGs, the scenes file.

Every writer goes through these helpers so that the same arguments give byte-identical files:
JSON is written with `json.dumps` defaults (key order as built, ASCII escapes), newlines are
"\n" on every platform and PNGs use one fixed zlib level.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from llava.synthetic.render import render
from llava.synthetic.scenes import Scene, scene_to_dict

# Ours, beside every benchmark's files: per image its scene and, per question, the indices of
# the objects the answer rests on (to measure which of their visual tokens a method keeps).
SCENES_FILE = "synthetic_scenes.jsonl"
T = TypeVar("T")


def progress_bar(items: Iterable[T], enabled: bool, desc: str, total: int) -> Iterator[T]:
    """`items`, with a tqdm bar when `enabled`."""
    if not enabled:
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(items, desc=desc, total=total, leave=False)


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with Path(path).open("w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def write_json(path: Path, data: Any, indent: int | None = None) -> None:
    """One JSON document (indented as the official file is) and a final newline."""
    with Path(path).open("w", encoding="utf-8", newline="\n") as f:
        json.dump(data, f, indent=indent)
        f.write("\n")


def png_bytes(scene: Scene) -> bytes:
    buffer = io.BytesIO()
    # zlib level 3: as small as the default level 6 on these noisy backgrounds, 3x faster.
    render(scene).save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()


def save_png(scene: Scene, path: Path) -> None:
    Path(path).write_bytes(png_bytes(scene))


def png_base64(scene: Scene) -> str:
    """The PNG of `scene` as base64 text (MMBench's TSV image column)."""
    return base64.b64encode(png_bytes(scene)).decode("ascii")


def scene_row(image: str, scene: Scene, questions: list[dict[str, Any]]) -> dict[str, Any]:
    """One line of SCENES_FILE: the image's name, its scene and its questions."""
    return {"image": image, "scene": scene_to_dict(scene), "questions": questions}


def question_row(
    question: str, answer: str, objects: Iterable[int], **extra: Any
) -> dict[str, Any]:
    """A question of a SCENES_FILE line: `extra` (ids, category) first, then the facts."""
    return {**extra, "text": question, "answer": answer, "objects": list(objects)}
