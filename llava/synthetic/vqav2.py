"""Synthetic VQAv2 (test-dev2015 within test2015), with public answers in VQA's formats.

    <root>/vqav2/llava_vqav2_mscoco_test2015.jsonl        every question (LLaVA's file)
    <root>/vqav2/llava_vqav2_mscoco_test-dev2015.jsonl    the test-dev subset, same order
    <root>/vqav2/test2015/COCO_test2015_<12 digits>.png
    <root>/vqav2/synthetic_test-dev2015_questions.json    VQA questions format
    <root>/vqav2/synthetic_test-dev2015_annotations.json  VQA annotations format
    <root>/vqav2/synthetic_scenes.jsonl

The real test-dev answers are hidden (EvalAI); this stand-in publishes its own so the official
VQA accuracy can be computed offline; the two JSON files follow the official formats
(GT-Vision-Lab/VQA README @ c4e6a0e4e84b9702d99800d3393652d92b5df224). Question ids are
image_id * 1000 + k as in VQA. Each
question has ten human answers that mostly agree on the canonical one (lower case, digits for
numbers) and vary as people do: capitals, number words, articles, a unit, a dissenting answer.
At least six always give the canonical answer, so it earns full credit (VQA: min(1, n / 3)).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from llava.synthetic.facts import (
    OPPOSITE,
    RELATION_PHRASES,
    absent_kinds,
    name,
    sample_fact,
    sample_fitting,
)
from llava.synthetic.files import (
    SCENES_FILE,
    progress_bar,
    question_row,
    save_png,
    scene_row,
    write_json,
    write_jsonl,
)
from llava.synthetic.questions import short_answer_prompt
from llava.synthetic.scenes import Scene
from llava.synthetic.seeding import TEST, make_rng
from llava.synthetic.vocab import NUMBER_WORDS, PLURALS

TEST_FILE = "llava_vqav2_mscoco_test2015.jsonl"
TEST_DEV_FILE = "llava_vqav2_mscoco_test-dev2015.jsonl"
QUESTIONS_JSON = "synthetic_test-dev2015_questions.json"
ANNOTATIONS_JSON = "synthetic_test-dev2015_annotations.json"
IMAGE_FOLDER = "test2015"
# VQA's question types are the question's first words, from a fixed list (longest match wins).
QUESTION_TYPES: tuple[str, ...] = (
    "is there a", "is the", "how many", "what color is the", "what shape is the",
    "what is written on the", "what does the",
)  # fmt: skip
INFO = {"description": "Synthetic stand-in for VQA v2 test-dev2015", "version": "2.0"}
LICENSE = {"name": "synthetic images, no license restrictions", "url": ""}


def question_type(question: str) -> str:
    lowered = question.lower()
    matches = [t for t in QUESTION_TYPES if lowered.startswith(t + " ")]
    return max(matches, key=len) if matches else "none of the above"


@dataclass(frozen=True)
class VqaQuestion:
    question: str
    answer: str  # canonical: lower case, digits for numbers
    answer_type: str  # "yes/no", "number" or "other"
    objects: tuple[int, ...]  # the objects the answer rests on
    noun: str  # the shape asked about, for "3 stars"-style human answers


def vqav2_question(scene: Scene, rng: random.Random) -> VqaQuestion | None:
    """A question of a random kind about `scene`, or None if the scene has no such fact."""
    kind = rng.choice(("exists", "color?", "position?", "count", "color", "shape", "word"))
    fact = sample_fact(scene, rng, kind.rstrip("?"))
    if fact is None:
        return None
    obj, yes = scene.objects[fact.target], rng.random() < 0.5
    yes_no = "yes" if yes else "no"
    if kind == "exists":
        asked = fact.answer if yes else rng.choice(absent_kinds(scene))
        question = f"Is there a {asked} in the picture?"
        return VqaQuestion(question, yes_no, "yes/no", fact.objects if yes else (), obj.shape)
    if kind == "color?":
        color = fact.answer if yes else rng.choice(fact.wrong)
        question = f"Is the {obj.shape} {color}?"
        return VqaQuestion(question, yes_no, "yes/no", fact.objects, obj.shape)
    if kind == "position?":
        assert fact.reference is not None
        phrase = RELATION_PHRASES[fact.answer if yes else OPPOSITE[fact.answer]]
        question = f"Is the {name(scene, fact.target)} {phrase} the {name(scene, fact.reference)}?"
        return VqaQuestion(question, yes_no, "yes/no", fact.objects, obj.shape)
    if kind == "count":
        question = f"How many {PLURALS[obj.shape]} are there?"
        return VqaQuestion(question, fact.answer, "number", fact.objects, obj.shape)
    if kind == "color":
        question = f"What color is the {obj.shape}?"
    elif kind == "shape":
        question = f"What shape is the {obj.color} object?"
    else:
        template = rng.choice(("What is written on the {} box?", "What does the {} box say?"))
        question = template.format(obj.color)
    return VqaQuestion(question, fact.answer, "other", fact.objects, obj.shape)


def human_answers(
    rng: random.Random, answer: str, answer_type: str, noun: str
) -> list[dict[str, Any]]:
    """Ten VQA answers to a question whose canonical answer is `answer` (noun: what is asked
    about, for "3 stars"-style answers)."""
    agree = rng.choice((10, 9, 9, 8, 8, 7, 6))
    if answer_type == "yes/no":
        variants = [answer.capitalize(), {"yes": "no", "no": "yes"}[answer]]
    elif answer_type == "number":
        n = int(answer)
        variants = [
            NUMBER_WORDS[n],
            f"{n} {noun if n == 1 else PLURALS.get(noun, noun)}",
            str(n + 1),
        ]
    else:
        variants = [answer.capitalize(), answer.upper(), f"the {answer}"]
    answers = [(answer, rng.choice(("yes", "yes", "yes", "maybe"))) for _ in range(agree)]
    answers += [
        (rng.choice(variants), rng.choice(("yes", "maybe", "no"))) for _ in range(10 - agree)
    ]
    rng.shuffle(answers)
    return [
        {"answer": text, "answer_confidence": confidence, "answer_id": k + 1}
        for k, (text, confidence) in enumerate(answers)
    ]


def write_vqav2(
    root: str | Path,
    *,
    seed: int,
    split: str = TEST,
    images: int = 40,
    test_only_images: int | None = None,
    questions_per_image: int = 3,
    nonsquare_prob: float = 0.1,
    progress: bool = False,
) -> dict[str, int]:
    """Write `<root>/vqav2`; returns the test-dev questions per answer type.

    images: test-dev images; test_only_images: images only in test2015 (default: half as many).
    """
    test_only_images = images // 2 if test_only_images is None else test_only_images
    if images < 0 or test_only_images < 0 or questions_per_image < 1:
        raise ValueError("images and test_only_images must be >= 0, questions_per_image >= 1")
    folder = Path(root) / "vqav2"
    (folder / IMAGE_FOLDER).mkdir(parents=True, exist_ok=True)
    total = images + test_only_images
    items, used_ids = [], set()
    for i in progress_bar(range(total), progress, "vqav2 images", total):
        rng = make_rng(seed, split, f"vqav2/{i}")
        image_id = rng.randrange(1, 600_000)  # COCO-like ids, unique within the benchmark
        while image_id in used_ids:
            image_id = rng.randrange(1, 600_000)
        used_ids.add(image_id)
        scene, asked = sample_fitting(
            rng,
            partial(_distinct_questions, n=questions_per_image),
            num_objects=(3, 6),
            num_words=(0, 2),
            nonsquare_prob=nonsquare_prob,
        )
        image = f"COCO_test2015_{image_id:012d}.png"
        save_png(scene, folder / IMAGE_FOLDER / image)
        humans = [human_answers(rng, q.answer, q.answer_type, q.noun) for q in asked]
        items.append((image_id, image, scene, asked, humans, i < images))
    items.sort(key=lambda item: item[0])  # the files list images by id, test-dev interleaved

    test_rows, dev_rows, questions, annotations, scene_rows = [], [], [], [], []
    counts = {"yes/no": 0, "number": 0, "other": 0}
    for image_id, image, scene, asked, humans, in_dev in items:
        for k, q in enumerate(asked):
            question_id = image_id * 1000 + k
            row = {"question_id": question_id, "image": image,
                   "text": short_answer_prompt(q.question), "category": "default"}  # fmt: skip
            test_rows.append(row)
            if in_dev:
                dev_rows.append(row)
                counts[q.answer_type] += 1
                questions.append(
                    {"question_id": question_id, "image_id": image_id, "question": q.question}
                )
                annotations.append({
                    "question_id": question_id, "image_id": image_id,
                    "question_type": question_type(q.question), "answer_type": q.answer_type,
                    "multiple_choice_answer": q.answer, "answers": humans[k],
                })  # fmt: skip
        scene_questions = [
            question_row(q.question, q.answer, q.objects, question_id=image_id * 1000 + k)
            for k, q in enumerate(asked)
        ]
        scene_rows.append(scene_row(image, scene, scene_questions))
    write_jsonl(folder / TEST_FILE, test_rows)
    write_jsonl(folder / TEST_DEV_FILE, dev_rows)
    common = {
        "info": INFO,
        "license": LICENSE,
        "data_type": "mscoco",
        "data_subtype": "test-dev2015",
    }
    write_json(
        folder / QUESTIONS_JSON, {**common, "task_type": "Open-Ended", "questions": questions}
    )
    write_json(folder / ANNOTATIONS_JSON, {**common, "annotations": annotations})
    write_jsonl(folder / SCENES_FILE, scene_rows)
    return counts


def _distinct_questions(scene: Scene, rng: random.Random, n: int) -> list[VqaQuestion] | None:
    """`n` questions with different texts, or None after a few tries (then resample)."""
    asked: list[VqaQuestion] = []
    for _ in range(8 * n):
        built = vqav2_question(scene, rng)
        if built is not None and built.question not in {q.question for q in asked}:
            asked.append(built)
            if len(asked) == n:
                return asked
    return None
