"""The new stand-ins' answers are what their images show.

Each image's scene (synthetic_scenes.jsonl) is rendered again and compared with the written
image; then the questions whose form says what they ask ("What color is the star?", "How many
circles are there?", "What is written on the red box?", "Is there a red circle ...?") are
answered here from the scene's objects, independently of the generator, and compared with
each benchmark's ground truth.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from llava.synthetic.files import SCENES_FILE
from llava.synthetic.render import render
from llava.synthetic.scenes import scene_from_dict
from llava.synthetic.vocab import NUMBER_WORDS, PLURALS

SINGULAR = {plural: shape for shape, plural in PLURALS.items()}
IMAGE_FOLDERS = {
    "gqa": "gqa/data/images",
    "scienceqa": "scienceqa/images/test",
    "vqav2": "vqav2/test2015",
    "vizwiz": "vizwiz/test",
    "seed_bench": "seed_bench",
    "mm-vet": "mm-vet/images",
    "llava-bench-in-the-wild": "llava-bench-in-the-wild/images",
}


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def _scenes(root: Path, folder: str) -> dict[str, dict]:
    return {row["image"]: row for row in _jsonl(root / folder / SCENES_FILE)}


def oracle(objects: list[dict], question: str) -> str | None:
    """The answer a reader of the scene gives to a recognisable question, else None.

    Returns "unanswerable" when the question names something the image lacks.
    """
    text = question.strip().rstrip("?").lower()
    match = re.fullmatch(r"what (?:color|is the color) (?:is|of) the (\w+)(?: in the \w+)?", text)
    if match:
        found = [o for o in objects if o["shape"] == match[1]]
        return found[0]["color"] if len(found) == 1 else ("unanswerable" if not found else None)
    match = re.fullmatch(
        r"(?:what (?:word )?is written on|what does) the (\w+) box(?: say)?|"
        r"which word is written on the (\w+) box",
        text,
    )
    if match:
        color = match[1] or match[2]
        found = [o for o in objects if o["shape"] == "box" and o["color"] == color]
        return found[0]["word"] if found else "unanswerable"
    match = re.fullmatch(r"how many (\w+) are (?:there|in the \w+)(?: in the \w+)?", text)
    if match and match[1] in SINGULAR:
        return str(sum(o["shape"] == SINGULAR[match[1]] for o in objects))
    match = re.fullmatch(r"is there a (\w+) (\w+) (?:in the \w+|here)", text)
    if match:
        present = any(o["color"] == match[1] and o["shape"] == match[2] for o in objects)
        return "yes" if present else "no"
    return None


def _number(answer: str) -> str:
    """Digits for number words ("three", "Three" -> "3"); other answers lower-cased."""
    lowered = answer.lower()
    return str(NUMBER_WORDS.index(lowered)) if lowered in NUMBER_WORDS else lowered


def _check(objects: list[dict], question: str, truth: str, checked: list[str]) -> None:
    expected = oracle(objects, question)
    if expected is not None:
        assert _number(truth) == expected, (question, truth, objects)
        checked.append(question)


def test_images_are_their_scenes(suite_root):
    for folder, images in IMAGE_FOLDERS.items():
        for name, row in _scenes(suite_root, folder).items():
            drawn = np.asarray(render(scene_from_dict(row["scene"])))
            with Image.open(suite_root / images / name) as written:
                assert np.array_equal(np.asarray(written), drawn), (folder, name)


def test_mmbench_images_are_their_scenes(suite_root):
    csv.field_size_limit(sys.maxsize)
    scenes = _scenes(suite_root, "mmbench")
    with (suite_root / "mmbench" / "mmbench_dev_20230712.tsv").open(newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            scene = scenes[str(int(row["index"]) % 1_000_000)]["scene"]
            with Image.open(io.BytesIO(base64.b64decode(row["image"]))) as image:
                drawn = np.asarray(render(scene_from_dict(scene)))
                assert np.array_equal(np.asarray(image), drawn), row["index"]


def test_open_answers_match_the_scenes(suite_root):
    checked: list[str] = []
    truth = _json(suite_root / "gqa" / "data" / "testdev_balanced_questions.json")
    scenes = _scenes(suite_root, "gqa")
    for entry in truth.values():
        objects = scenes[entry["imageId"] + ".png"]["scene"]["objects"]
        _check(objects, entry["question"], entry["answer"], checked)

    annotations = _json(suite_root / "vqav2" / "synthetic_test-dev2015_annotations.json")
    questions = _json(suite_root / "vqav2" / "synthetic_test-dev2015_questions.json")
    scenes = _scenes(suite_root, "vqav2")
    for q, entry in zip(questions["questions"], annotations["annotations"], strict=True):
        objects = scenes[f"COCO_test2015_{q['image_id']:012d}.png"]["scene"]["objects"]
        _check(objects, q["question"], entry["multiple_choice_answer"], checked)

    scenes = _scenes(suite_root, "vizwiz")
    for entry in _json(suite_root / "vizwiz" / "synthetic_test_annotations.json"):
        answers = [a["answer"] for a in entry["answers"]]
        majority = max(set(answers), key=answers.count)
        _check(scenes[entry["image"]]["scene"]["objects"], entry["question"], majority, checked)
        if entry["answer_type"] == "unanswerable":
            assert oracle(scenes[entry["image"]]["scene"]["objects"], entry["question"]) == (
                "unanswerable"
            )

    truth = _json(suite_root / "mm-vet" / "mm-vet.json")
    scenes = _scenes(suite_root, "mm-vet")
    for entry in truth.values():
        if "<" not in entry["answer"]:
            _check(scenes[entry["imagename"]]["scene"]["objects"], entry["question"],
                   entry["answer"], checked)  # fmt: skip
    assert len(checked) >= 15  # enough recognisable questions to mean something


def test_multiple_choice_answers_match_the_scenes(suite_root):
    checked: list[str] = []
    problems = _json(suite_root / "scienceqa" / "problems.json")
    scenes = _scenes(suite_root, "scienceqa")
    for pid, problem in problems.items():
        if problem["image"] is not None:
            objects = scenes[f"{pid}/image.png"]["scene"]["objects"]
            true_option = problem["choices"][problem["answer"]]
            _check(objects, problem["question"], true_option, checked)
            for k, option in enumerate(problem["choices"]):  # and no other option is right
                if k != problem["answer"] and oracle(objects, problem["question"]) is not None:
                    assert _number(option) != oracle(objects, problem["question"])

    data = _json(suite_root / "seed_bench" / "SEED-Bench.json")
    scenes = _scenes(suite_root, "seed_bench")
    lines = _jsonl(suite_root / "seed_bench" / "llava-seed-bench.jsonl")
    for line, entry in zip(lines, data["questions"], strict=True):
        options = [entry[f"choice_{c}"] for c in "abcd"]
        objects = scenes[line["image"]]["scene"]["objects"]
        _check(objects, entry["question"], options["ABCD".index(entry["answer"])], checked)

    csv.field_size_limit(sys.maxsize)
    scenes = _scenes(suite_root, "mmbench")
    with (suite_root / "mmbench" / "mmbench_dev_20230712.tsv").open(newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            objects = scenes[str(int(row["index"]) % 1_000_000)]["scene"]["objects"]
            _check(objects, row["question"], row[row["answer"]], checked)
    assert len(checked) >= 10


def test_text_only_scienceqa_answers(suite_root):
    """Problems without an image are answerable from their text alone."""
    problems = _json(suite_root / "scienceqa" / "problems.json")
    text_only = [p for p in problems.values() if p["image"] is None]
    assert text_only
    for problem in text_only:
        answer, question = problem["choices"][problem["answer"]], problem["question"]
        if question == "Which word is a color?":
            assert answer in ("red", "blue", "green", "yellow", "white", "black", "purple", "pink")
        elif question == "Which shape has three sides?":
            assert answer == "triangle"
        elif question == "Which shape has no corners?":
            assert answer == "circle"
        else:
            first, last = question.split("\n")[1].split(" - ")
            match = re.match(r"Would you find the word (\w+) ", question)
            word = match[1] if match else answer
            inside = first < word < last
            assert answer == ("yes" if inside else "no") if match else inside
