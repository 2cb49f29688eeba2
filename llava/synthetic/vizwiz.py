"""Synthetic VizWiz (test), with public answers in VizWiz's val format.

    <root>/vizwiz/llava_test.jsonl                      LLaVA's question file
    <root>/vizwiz/test/VizWiz_test_<8 digits>.png
    <root>/vizwiz/synthetic_test_annotations.json       [{image, question, answers, answer_type,
                                                          answerable}], as VizWiz's val.json
    <root>/vizwiz/synthetic_scenes.jsonl

One question per image, asked the way VizWiz's users ask (short, often lower case, sometimes
without a question mark), followed by the two instruction lines of LLaVA's file
(playground/data/eval/vizwiz/llava_test.jsonl in haotian-liu/LLaVA @ 32cebc38). About a
quarter cannot be answered from the image: they ask about a colour or a shape the image does
not have, and their answers are "unanswerable" (VizWiz's answer for them). VizWiz's scorer
compares its ten answers unprocessed (TRI-ML/vlm-evaluation vlm_eval/util/evaluation/vizwiz/
eval.py @ 7292fd6727dbc40c1ad6051bf090d925f26f3b3a), so they are written as annotators
mostly do: lower case, with some variation; at least six give the canonical answer.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from llava.synthetic.facts import absent_kinds, sample_fact, sample_fitting
from llava.synthetic.files import (
    SCENES_FILE,
    progress_bar,
    question_row,
    save_png,
    scene_row,
    write_json,
    write_jsonl,
)
from llava.synthetic.questions import INSTRUCTION
from llava.synthetic.scenes import Scene
from llava.synthetic.seeding import TEST, make_rng
from llava.synthetic.vocab import COLOR_NAMES, NUMBER_WORDS, PLURALS, SHAPES

QUESTION_FILE = "llava_test.jsonl"
ANNOTATIONS = "synthetic_test_annotations.json"
IMAGE_FOLDER = "test"
UNANSWERABLE_LINE = "When the provided information is insufficient, respond with 'Unanswerable'."
UNANSWERABLE = "unanswerable"
UNANSWERABLE_PROB = 0.25
ANSWER_TYPES: tuple[str, ...] = ("other", "yes/no", "number", UNANSWERABLE)


def vizwiz_prompt(question: str) -> str:
    """LLaVA's VizWiz text: the question and the two instruction lines."""
    return f"{question}\n{UNANSWERABLE_LINE}\n{INSTRUCTION}"


def vizwiz_question(
    scene: Scene, rng: random.Random
) -> tuple[str, str, str, tuple[int, ...]] | None:
    """(question, canonical answer, answer type, objects the answer rests on), or None."""
    if rng.random() < UNANSWERABLE_PROB:
        return _unanswerable(scene, rng)
    kind = rng.choice(("color", "word", "count", "exists", "shape"))
    fact = sample_fact(scene, rng, kind)
    if fact is None:
        return None
    obj = scene.objects[fact.target]
    if kind == "color":
        question = rng.choice(("What color is this {}?", "what color is the {}")).format(obj.shape)
        return question, fact.answer, "other", fact.objects
    if kind == "word":
        template = rng.choice(("What does this {} box say?", "what is written on the {} box?"))
        return template.format(obj.color), fact.answer, "other", fact.objects
    if kind == "count":
        return f"How many {PLURALS[obj.shape]} are there?", fact.answer, "number", fact.objects
    if kind == "exists":
        yes = rng.random() < 0.5
        asked = fact.answer if yes else rng.choice(absent_kinds(scene))
        objects = fact.objects if yes else ()
        return f"Is there a {asked} here?", "yes" if yes else "no", "yes/no", objects
    return f"What shape is the {obj.color} thing?", fact.answer, "other", fact.objects


def _unanswerable(scene: Scene, rng: random.Random) -> tuple[str, str, str, tuple[int, ...]] | None:
    """A question about a colour or shape the image lacks entirely."""
    colors = [c for c in COLOR_NAMES if not scene.indices(color=c)]
    shapes = [s for s in SHAPES if not scene.indices(shape=s)]
    if rng.random() < 0.5 and colors:
        return f"What does the {rng.choice(colors)} box say?", UNANSWERABLE, UNANSWERABLE, ()
    if shapes:
        return f"What color is the {rng.choice(shapes)}?", UNANSWERABLE, UNANSWERABLE, ()
    return None


def human_answers(rng: random.Random, answer: str, answer_type: str) -> list[dict[str, str]]:
    """Ten VizWiz answers (unprocessed text and confidence) around the canonical `answer`."""
    agree = rng.choice((10, 9, 8, 8, 7, 6))
    if answer_type == UNANSWERABLE:
        variants = ["unsuitable", "unsuitable image", "nothing"]
    elif answer_type == "yes/no":
        variants = [answer.capitalize(), {"yes": "no", "no": "yes"}[answer]]
    elif answer_type == "number":
        variants = [NUMBER_WORDS[int(answer)], str(int(answer) + 1)]
    elif answer in COLOR_NAMES:
        variants = [answer.capitalize(), f"{answer} color"]
    else:
        variants = [answer.capitalize(), PLURALS.get(answer, answer.upper())]
    texts = [answer] * agree + [rng.choice(variants) for _ in range(10 - agree)]
    rng.shuffle(texts)
    return [
        {"answer": t, "answer_confidence": rng.choice(("yes", "yes", "maybe", "no"))} for t in texts
    ]


def _casual(rng: random.Random, question: str) -> str:
    """VizWiz users often start in lower case or leave out the question mark."""
    if rng.random() < 0.3:
        question = question[0].lower() + question[1:]
    if rng.random() < 0.15:
        question = question.rstrip("?")
    return question


def write_vizwiz(
    root: str | Path,
    *,
    seed: int,
    split: str = TEST,
    images: int = 100,
    nonsquare_prob: float = 0.1,
    progress: bool = False,
) -> dict[str, int]:
    """Write `<root>/vizwiz`; returns the number of questions per answer type."""
    if images < 0:
        raise ValueError(f"images must be >= 0, got {images}")
    folder = Path(root) / "vizwiz"
    (folder / IMAGE_FOLDER).mkdir(parents=True, exist_ok=True)
    question_rows, annotations, scene_rows = [], [], []
    counts = dict.fromkeys(ANSWER_TYPES, 0)
    for i in progress_bar(range(images), progress, "vizwiz images", images):
        rng = make_rng(seed, split, f"vizwiz/{i}")
        scene, (question, answer, answer_type, objects) = sample_fitting(
            rng,
            vizwiz_question,
            num_objects=(1, 4),
            num_words=(0, 2),
            nonsquare_prob=nonsquare_prob,
        )
        question = _casual(rng, question)
        image = f"VizWiz_test_{i:08d}.png"
        save_png(scene, folder / IMAGE_FOLDER / image)
        question_rows.append(
            {
                "question_id": i,
                "image": image,
                "text": vizwiz_prompt(question),
                "category": "default",
            }
        )
        entry: dict[str, Any] = {
            "image": image,
            "question": question,
            "answers": human_answers(rng, answer, answer_type),
            "answer_type": answer_type,
            "answerable": int(answer_type != UNANSWERABLE),
        }
        annotations.append(entry)
        counts[answer_type] += 1
        scene_rows.append(
            scene_row(image, scene, [question_row(question, answer, objects, question_id=i)])
        )
    write_jsonl(folder / QUESTION_FILE, question_rows)
    write_json(folder / ANNOTATIONS, annotations)
    write_jsonl(folder / SCENES_FILE, scene_rows)
    return counts
