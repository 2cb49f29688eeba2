"""Synthetic ScienceQA (test split), in LLaVA's CQM-A question file and ScienceQA's files.

    <root>/scienceqa/llava_test_CQM-A.json        LLaVA's conversation-format JSON array
    <root>/scienceqa/images/test/<pid>/image.png
    <root>/scienceqa/problems.json                pid -> problem (ScienceQA's fields)
    <root>/scienceqa/pid_splits.json              {"test": [pids]}
    <root>/scienceqa/synthetic_scenes.jsonl

Some problems have no image and are answerable from their text alone ("Which word is a
color?", dictionary guide words; a third by default, about half in the real test split); the
others ask about the picture. Some prompts start with a "Context: ..." line; problems have 2 to
5 options, weighted as the real ones. The human turn is "<image>\\n" (image problems), the
context line, the question and the options "A. ...\\nB. ..."; the gpt turn is the true letter
(prompt format CQM-A of LLaVA's scripts/convert_sqa_to_llava.py @
c121f0432da27facab705978f83c4ada465e46fd; layout as its output llava_test_CQM-A.json in
haotian-liu/LLaVA @ 32cebc3809441cc40d8ac7b2855d148308741f2a). problems.json has ScienceQA's
fields (lupantech/ScienceQA data/scienceqa/problems.json) with image "image.png" or null;
eval_science_qa.py reads answer and choices.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llava.synthetic.choices import MultipleChoice, multiple_choice, option_lines
from llava.synthetic.facts import RELATION_PHRASES, name, sample_fact, sample_fitting
from llava.synthetic.files import (
    SCENES_FILE,
    progress_bar,
    question_row,
    save_png,
    scene_row,
    write_json,
    write_jsonl,
)
from llava.synthetic.scenes import Scene
from llava.synthetic.seeding import TEST, make_rng
from llava.synthetic.vocab import COLOR_NAMES, NUMBER_WORDS, PLURALS, SHAPES, WORDS

QUESTION_FILE = "llava_test_CQM-A.json"
IMAGE_FOLDER = "images/test"
IMAGE_TOPICS: tuple[str, ...] = ("color", "exists", "count", "relation", "word")
# Options per problem, weighted as in the real test split (2: 2,228, 3: 971, 4: 1,004, 5: 38).
OPTION_COUNTS, OPTION_WEIGHTS = (2, 3, 4, 5), (2228, 971, 1004, 38)
SHAPE_RIDDLES = (
    ("Which shape has three sides?", "triangle", "A triangle has three sides."),
    ("Which shape has no corners?", "circle", "A circle is round, so it has no corners."),
)
CONTEXTS = {
    "color": "Look at the picture of shapes.",
    "exists": "The picture shows a few shapes of different colors.",
    "count": "Look at the shapes in the picture.",
    "relation": "The picture shows shapes in different places.",
    "word": "Some boxes in the picture have a word written on them.",
}
# (subject, topic, category, skill, lecture) of each kind of problem, in ScienceQA's fields.
CURRICULUM = {
    "color": ("natural science", "colors", "Identify colors", "Identify colors in a picture",
              "Every object has a color. Look closely to tell the colors apart."),
    "exists": ("natural science", "shapes", "Identify shapes", "Identify shapes in a picture",
               "A shape is named by its outline: circles are round, squares have four corners."),
    "count": ("natural science", "counting", "Count objects", "Count shapes in a picture",
              "To count objects, point at each one once."),
    "relation": ("natural science", "spatial relations", "Describe positions",
                 "Use words like left, right, above and below",
                 "Words like left, right, above and below tell where things are."),
    "word": ("language science", "reading", "Read words", "Read words in a picture",
             "Letters make up words. Read each letter from left to right."),
    "color word": ("language science", "vocabulary", "Categories", "Identify color words",
                   "Some words name colors, like red and blue."),
    "sides": ("natural science", "shapes", "Identify shapes", "Count the sides of a shape",
              "A triangle has three sides. A circle has no sides and no corners."),
    "guide words": ("language science", "reference-skills", "Use guide words",
                    "Use guide words", "Guide words show the first and last word on a "
                    "dictionary page. Words in between come in alphabetical order."),
}  # fmt: skip


@dataclass(frozen=True)
class SqaProblem:
    choice: MultipleChoice
    kind: str  # a key of CURRICULUM
    hint: str  # the "Context:" text, "" for none
    solution: str


def _n_options(rng: random.Random) -> int:
    return rng.choices(OPTION_COUNTS, weights=OPTION_WEIGHTS)[0]


def image_problem(scene: Scene, rng: random.Random) -> SqaProblem | None:
    """A question about the picture, or None if the scene has no fact of the drawn topic."""
    topic = rng.choice(IMAGE_TOPICS)
    fact = sample_fact(scene, rng, topic)
    if fact is None:
        return None
    obj, n = scene.objects[fact.target], _n_options(rng)
    if topic == "color":
        question = f"What color is the {obj.shape} in the picture?"
        choice = multiple_choice(rng, question, fact.answer, fact.wrong, n, fact.objects)
        solution = f"Look at the {obj.shape}. It is {fact.answer}."
    elif topic == "exists":
        question = "Which of these shapes is in the picture?"
        choice = multiple_choice(rng, question, fact.answer, fact.wrong, n, fact.objects)
        solution = f"The picture shows a {fact.answer}. The other shapes are not in it."
    elif topic == "count":
        question = f"How many {PLURALS[obj.shape]} are in the picture?"
        words = [NUMBER_WORDS[int(w)] for w in fact.wrong]
        answer = NUMBER_WORDS[int(fact.answer)]
        choice = multiple_choice(rng, question, answer, words, n, fact.objects)
        solution = f"Count the {PLURALS[obj.shape]}: there are {answer}."
    elif topic == "relation":
        assert fact.reference is not None and fact.relation is not None
        phrase = RELATION_PHRASES[fact.relation]
        question = f"Which shape is {phrase} the {name(scene, fact.reference)}?"
        choice = multiple_choice(rng, question, fact.answer, fact.wrong, n, fact.objects)
        solution = f"The {fact.answer} is {phrase} the {name(scene, fact.reference)}."
    else:
        question = f"Which word is written on the {obj.color} box?"
        choice = multiple_choice(rng, question, fact.answer, fact.wrong, n, fact.objects)
        solution = f"The {obj.color} box says {fact.answer}."
    hint = CONTEXTS[topic] if rng.random() < 0.5 else ""
    return SqaProblem(choice, topic, hint, solution)


def text_problem(rng: random.Random) -> SqaProblem:
    """A problem answerable from its text alone (no image)."""
    kind = rng.choice(("color word", "sides", "guide words"))
    if kind == "color word":
        color = rng.choice(COLOR_NAMES)
        choice = multiple_choice(rng, "Which word is a color?", color, WORDS, _n_options(rng))
        return SqaProblem(choice, kind, "", f"{color.capitalize()} is a color word.")
    if kind == "sides":
        question, answer, solution = rng.choice(SHAPE_RIDDLES)
        choice = multiple_choice(rng, question, answer, SHAPES, _n_options(rng))
        return SqaProblem(choice, kind, "", solution)
    words = sorted(WORDS)
    first = rng.randrange(len(words) - 6)
    last = first + rng.randint(2, 5)
    guide = f"{words[first]} - {words[last]}"
    inside = rng.choice(words[first + 1 : last])
    outside = [w for w in words if w < words[first] or w > words[last]]
    solution = (
        f"Guide words {guide} mean that the page has the words between {words[first]} "
        f"and {words[last]} in alphabetical order."
    )
    if rng.random() < 0.5:
        word = inside if rng.random() < 0.5 else rng.choice(outside)  # yes and no alike
        question = (
            f"Would you find the word {word} on a dictionary page with the following guide "
            f"words?\n{guide}"
        )
        choice = MultipleChoice(question, ("no", "yes"), int(word == inside))  # real order
    else:
        question = (
            f"Which word would you find on a dictionary page with the following guide words?"
            f"\n{guide}"
        )
        choice = multiple_choice(rng, question, inside, outside, 2)
    return SqaProblem(choice, kind, "", solution)


def human_turn(problem: SqaProblem, has_image: bool) -> str:
    """CQM-A: "<image>\\n" for image problems, "Context: ..." when hinted, question, options."""
    context = f"Context: {problem.hint}\n" if problem.hint else ""
    image = "<image>\n" if has_image else ""
    return f"{image}{context}{problem.choice.question}\n{option_lines(problem.choice.options)}"


def _problem_entry(problem: SqaProblem, has_image: bool) -> dict[str, Any]:
    subject, topic, category, skill, lecture = CURRICULUM[problem.kind]
    return {
        "question": problem.choice.question,
        "choices": list(problem.choice.options),
        "answer": problem.choice.answer,
        "hint": problem.hint,
        "image": "image.png" if has_image else None,
        "task": "closed choice",
        "grade": "grade2",
        "subject": subject,
        "topic": topic,
        "category": category,
        "skill": skill,
        "lecture": lecture,
        "solution": problem.solution,
        "split": "test",
    }


def _is_text_only(n: int, total: int, text_only: int) -> bool:
    """Spread the text-only problems evenly among the image ones, as the real file mixes them."""
    return (n + 1) * text_only // total > n * text_only // total


def write_scienceqa(
    root: str | Path,
    *,
    seed: int,
    split: str = TEST,
    images: int = 60,
    text_only: int | None = None,
    nonsquare_prob: float = 0.1,
    progress: bool = False,
) -> dict[str, int]:
    """Write `<root>/scienceqa`; returns the number of problems with and without an image.

    text_only: problems without an image (default: half as many as `images`).
    """
    text_only = images // 2 if text_only is None else text_only
    if images < 0 or text_only < 0:
        raise ValueError(f"images and text_only must be >= 0, got {images}, {text_only}")
    folder = Path(root) / "scienceqa"
    (folder / IMAGE_FOLDER).mkdir(parents=True, exist_ok=True)
    total = images + text_only
    entries, problems, scene_rows = [], {}, []
    n_image = n_text = 0
    for n in progress_bar(range(total), progress, "scienceqa problems", total):
        pid = str(n + 1)
        if _is_text_only(n, total, text_only):
            problem = text_problem(make_rng(seed, split, f"scienceqa/text/{n_text}"))
            n_text += 1
            has_image = False
        else:
            rng = make_rng(seed, split, f"scienceqa/image/{n_image}")
            n_image += 1
            has_image = True
            scene, problem = sample_fitting(
                rng,
                image_problem,
                num_objects=(2, 6),
                num_words=(0, 2),
                nonsquare_prob=nonsquare_prob,
            )
            (folder / IMAGE_FOLDER / pid).mkdir(exist_ok=True)
            save_png(scene, folder / IMAGE_FOLDER / pid / "image.png")
            choice = problem.choice
            scene_rows.append(
                scene_row(
                    f"{pid}/image.png",
                    scene,
                    [question_row(choice.question, choice.letter, choice.objects, question_id=pid)],
                )
            )
        entry: dict[str, Any] = {"id": pid}
        if has_image:
            entry["image"] = f"{pid}/image.png"
        entry["conversations"] = [
            {"from": "human", "value": human_turn(problem, has_image)},
            {"from": "gpt", "value": problem.choice.letter},
        ]
        entries.append(entry)
        problems[pid] = _problem_entry(problem, has_image)
    write_json(folder / QUESTION_FILE, entries, indent=2)  # indented as LLaVA's files
    write_json(folder / "problems.json", problems)
    write_json(folder / "pid_splits.json", {"test": list(problems)}, indent=2)
    write_jsonl(folder / SCENES_FILE, scene_rows)
    return {"image": images, "no image": text_only}
