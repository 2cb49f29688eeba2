"""Helpers shared by the answering tests: a three-question folder with images, and readers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from llava.eval.model_vqa_loader import main

FIELDS = ["question_id", "prompt", "text", "answer_id", "model_id", "metadata"]
MAX_NEW = 6
QUESTIONS = [
    {
        "question_id": 7,
        "image": "shapes/red.png",
        "text": "is there a red square ?\nanswer yes or no .",
    },
    {"question_id": "b/2", "image": "shapes/blue.png", "text": "what color is the circle ?"},
    {
        "question_id": 3,
        "image": "green.png",
        "text": "how many circle ?\nanswer the question using a single word .",
        "category": "count",
    },
]


def _image(path: Path, size: tuple[int, int], colour: tuple[int, int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", size, (240, 240, 230))
    draw = ImageDraw.Draw(image)
    draw.rectangle([2, 2, size[0] // 2, size[1] // 2], fill=colour)
    draw.ellipse([size[0] // 2, size[1] // 3, size[0] - 2, size[1] - 2], fill=colour[::-1])
    image.save(path)


def write_questions(path: Path, questions: list[dict]) -> Path:
    path.write_text("".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Bench:
    root: Path
    model: Path
    images: Path
    questions: Path

    def args(self, answers: Path, *extra: str, questions: Path | None = None) -> list[str]:
        return [
            "--model-path", str(self.model),
            "--question-file", str(questions or self.questions),
            "--image-folder", str(self.images),
            "--answers-file", str(answers),
            "--temperature", "0",
            "--conv-mode", "vicuna_v1",
            "--max_new_tokens", str(MAX_NEW),
            "--device", "cpu",
            *extra,
        ]  # fmt: skip


def make_bench(root: Path, model: Path) -> Bench:
    """Three questions about three images under `root`, for `model`."""
    images = root / "images"
    _image(images / "shapes" / "red.png", (70, 42), (220, 20, 20))
    _image(images / "shapes" / "blue.png", (30, 64), (20, 20, 220))
    _image(images / "green.png", (56, 56), (20, 200, 20))
    questions = write_questions(root / "questions.jsonl", QUESTIONS)
    return Bench(root, model, images, questions)


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def fails(args: list[str]) -> str:
    """The error message of a run that must fail (exit status != 0)."""
    with pytest.raises(SystemExit) as err:
        main(args)
    assert err.value.code not in (0, None)
    return str(err.value.code)
