"""Synthetic GQA (testdev-balanced): compositional questions about shapes, in GQA's formats.

    <root>/gqa/llava_gqa_testdev_balanced.jsonl        LLaVA's question file
    <root>/gqa/data/images/n<id>.png
    <root>/gqa/data/testdev_balanced_questions.json    ground truth, GQA's questions format
    <root>/gqa/synthetic_scenes.jsonl

Questions mix GQA's structural types, open ("query": "What color is the star?") and binary
(verify, logical, choose, compare), binary ones half yes and half no. Every entry carries
what GQA's eval.py reads as LLaVA patches it (e.g. xyang583/ARDS,
playground/data/eval/gqa/data/eval/eval.py @ 5e6928d1bcd003a0bcee8f23568d92002a309645):
answer (lower case), isBalanced, types, groups (`global`: the answer's kind for open
questions, which the distribution metric groups by) and the `semantic` program, whose length
is the number of reasoning steps. The question file's lines are LLaVA's (question_id a numeric
string, text ending in the short-answer instruction, category "default").
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from llava.synthetic.facts import sample_fitting
from llava.synthetic.files import (
    SCENES_FILE,
    progress_bar,
    question_row,
    save_png,
    scene_row,
    write_json,
    write_jsonl,
)
from llava.synthetic.gqa_questions import STRUCTURAL_TYPES, GqaQuestion, gqa_questions
from llava.synthetic.questions import short_answer_prompt
from llava.synthetic.seeding import TEST, make_rng

QUESTION_FILE = "llava_gqa_testdev_balanced.jsonl"
GROUND_TRUTH = "data/testdev_balanced_questions.json"
IMAGE_FOLDER = "data/images"
FIRST_QUESTION_ID = 201_000_000  # GQA ids are numeric strings
FIRST_IMAGE_ID = 100_000  # image names "n100000" like GQA's "n161313"


def _semantic_str(steps: tuple[dict[str, Any], ...]) -> str:
    """GQA's one-line program: "select: star (3)->query: color [0]"."""
    parts = []
    for step in steps:
        deps = step["dependencies"]
        suffix = f" [{', '.join(str(d) for d in deps)}]" if deps else ""
        parts.append(f"{step['operation']}: {step['argument']}{suffix}")
    return "->".join(parts)


def _ground_truth(q: GqaQuestion, question_id: str, image_id: str) -> dict[str, Any]:
    return {
        "semantic": list(q.steps),
        "entailed": [],
        "equivalent": [question_id],
        "question": q.question,
        "imageId": image_id,
        "isBalanced": True,
        "groups": {"global": q.group, "local": f"{q.structural}-{q.detailed}"},
        "answer": q.answer,
        "semanticStr": _semantic_str(q.steps),
        "annotations": {"answer": {}, "question": {}, "fullAnswer": {}},
        "types": {"detailed": q.detailed, "semantic": q.semantic, "structural": q.structural},
        "fullAnswer": q.full_answer,
    }


def write_gqa(
    root: str | Path,
    *,
    seed: int,
    split: str = TEST,
    images: int = 40,
    questions_per_image: int = 3,
    nonsquare_prob: float = 0.1,
    progress: bool = False,
) -> dict[str, int]:
    """Write `<root>/gqa`; returns the number of questions per structural type."""
    if images < 0 or questions_per_image < 1:
        raise ValueError(
            f"images must be >= 0 and questions_per_image >= 1, got {images}, {questions_per_image}"
        )
    folder = Path(root) / "gqa"
    (folder / IMAGE_FOLDER).mkdir(parents=True, exist_ok=True)
    question_rows, ground_truth, scene_rows = [], {}, []
    counts = dict.fromkeys(STRUCTURAL_TYPES, 0)
    for i in progress_bar(range(images), progress, "gqa images", images):
        rng = make_rng(seed, split, f"gqa/{i}")
        scene, questions = sample_fitting(
            rng,
            partial(gqa_questions, n=questions_per_image),
            num_objects=(3, 6),
            num_words=(0, 2),
            nonsquare_prob=nonsquare_prob,
        )
        image_id = f"n{FIRST_IMAGE_ID + i}"
        save_png(scene, folder / IMAGE_FOLDER / f"{image_id}.png")
        asked = []
        for q in questions:
            question_id = str(FIRST_QUESTION_ID + len(question_rows))
            question_rows.append(
                {
                    "question_id": question_id,
                    "image": f"{image_id}.png",
                    "text": short_answer_prompt(q.question),
                    "category": "default",
                }
            )
            ground_truth[question_id] = _ground_truth(q, question_id, image_id)
            asked.append(
                question_row(
                    q.question,
                    q.answer,
                    q.objects,
                    question_id=question_id,
                    structural=q.structural,
                )
            )
            counts[q.structural] += 1
        scene_rows.append(scene_row(f"{image_id}.png", scene, asked))
    write_jsonl(folder / QUESTION_FILE, question_rows)
    write_json(folder / GROUND_TRUTH, ground_truth)
    write_jsonl(folder / SCENES_FILE, scene_rows)
    return counts
