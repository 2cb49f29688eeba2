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
from functools import partial
from pathlib import Path
from typing import Any

from llava.synthetic.facts import (
    OPPOSITE,
    RELATION_PHRASES,
    Fact,
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
NUM_ANSWERS = 10
INFO = {"description": "Synthetic stand-in for VQA v2 test-dev2015", "version": "2.0"}
LICENSE = {"name": "synthetic images, no license restrictions", "url": ""}


def question_type(question: str) -> str:
    lowered = question.lower()
    matches = [t for t in QUESTION_TYPES if lowered.startswith(t + " ")]
    return max(matches, key=len) if matches else "none of the above"


def vqav2_question(scene: Scene, rng: random.Random) -> tuple[str, str, str, Fact] | None:
    """(question, canonical answer, answer type, fact) of a random kind, or None."""
    kind = rng.choice(("exists", "color?", "position?", "count", "color", "shape", "word"))
    fact = sample_fact(scene, rng, kind.rstrip("?"))
    if fact is None:
        return None
    obj, yes = scene.objects[fact.target], rng.random() < 0.5
    if kind == "exists":
        kind_asked = fact.answer if yes else rng.choice(absent_kinds(scene))
        return f"Is there a {kind_asked} in the picture?", "yes" if yes else "no", "yes/no", fact
    if kind == "color?":
        color = fact.answer if yes else rng.choice(fact.wrong)
        return f"Is the {obj.shape} {color}?", "yes" if yes else "no", "yes/no", fact
    if kind == "position?":
        assert fact.reference is not None
        relation = fact.answer if yes else OPPOSITE[fact.answer]
        phrase = RELATION_PHRASES[relation]
        question = f"Is the {name(scene, fact.target)} {phrase} the {name(scene, fact.reference)}?"
        return question, "yes" if yes else "no", "yes/no", fact
    if kind == "count":
        return f"How many {PLURALS[obj.shape]} are there?", fact.answer, "number", fact
    if kind == "color":
        return f"What color is the {obj.shape}?", fact.answer, "other", fact
    if kind == "shape":
        return f"What shape is the {obj.color} object?", fact.answer, "other", fact
    template = rng.choice(("What is written on the {} box?", "What does the {} box say?"))
    return template.format(obj.color), fact.answer, "other", fact


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
        humans = [human_answers(rng, a, t, scene.objects[f.target].shape) for _, a, t, f in asked]
        items.append((image_id, image, scene, asked, humans, i < images))
    items.sort(key=lambda item: item[0])  # the files list images by id, test-dev interleaved

    test_rows, dev_rows, questions, annotations, scene_rows = [], [], [], [], []
    counts = {"yes/no": 0, "number": 0, "other": 0}
    for image_id, image, scene, asked, humans, in_dev in items:
        scene_questions = []
        for k, ((question, answer, answer_type, fact), human) in enumerate(
            zip(asked, humans, strict=True)
        ):
            question_id = image_id * 1000 + k
            row = {
                "question_id": question_id,
                "image": image,
                "text": short_answer_prompt(question),
                "category": "default",
            }
            test_rows.append(row)
            scene_questions.append(
                question_row(question, answer, fact.objects, question_id=question_id)
            )
            if not in_dev:
                continue
            dev_rows.append(row)
            counts[answer_type] += 1
            questions.append(
                {"question_id": question_id, "image_id": image_id, "question": question}
            )
            annotations.append(
                {
                    "question_id": question_id,
                    "image_id": image_id,
                    "question_type": question_type(question),
                    "answer_type": answer_type,
                    "multiple_choice_answer": answer,
                    "answers": human,
                }
            )
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


def _distinct_questions(
    scene: Scene, rng: random.Random, n: int
) -> list[tuple[str, str, str, Fact]] | None:
    """`n` questions with different texts, or None after a few tries (then resample)."""
    asked: list[tuple[str, str, str, Fact]] = []
    for _ in range(8 * n):
        built = vqav2_question(scene, rng)
        if built is not None and built[0] not in {q[0] for q in asked}:
            asked.append(built)
            if len(asked) == n:
                return asked
    return None
