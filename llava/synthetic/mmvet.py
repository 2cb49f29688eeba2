"""Synthetic MM-Vet: open questions combining MM-Vet's capabilities, graded by an LLM judge.

    <root>/mm-vet/llava-mm-vet.jsonl    LLaVA's question file (category "conv", no suffix)
    <root>/mm-vet/images/v1_<i>.png     named after the first question asked about it
    <root>/mm-vet/mm-vet.json           "v1_<i>" -> {imagename, question, answer, capability,
                                        imagesource}, MM-Vet's ground truth
    <root>/mm-vet/synthetic_scenes.jsonl

Capabilities are MM-Vet's six: rec (recognition), ocr, know (knowledge), gen (language
generation), spat (spatial awareness), math, listed in that order as in mm-vet.json. Answers use
MM-Vet's markers: "red<AND>blue" when all parts are needed, "3<OR>three" when any one will do
(as in yuweihao/MM-Vet's mm-vet.json; its grader reads them).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import partial
from pathlib import Path

from llava.synthetic.facts import (
    RELATION_PHRASES,
    name,
    plain,
    relations,
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
from llava.synthetic.scenes import Scene
from llava.synthetic.seeding import TEST, make_rng
from llava.synthetic.textvqa import ocr_tokens
from llava.synthetic.vocab import NUMBER_WORDS, PLURALS

QUESTION_FILE = "llava-mm-vet.jsonl"
GROUND_TRUTH = "mm-vet.json"
IMAGE_FOLDER = "images"
CAPABILITIES: tuple[str, ...] = ("rec", "ocr", "know", "gen", "spat", "math")
AND, OR = "<AND>", "<OR>"
# What some of the box words are: the knowledge MM-Vet's "know" questions ask for.
WORD_CLASSES: dict[str, tuple[str, ...]] = {
    "an animal": ("bird", "cat", "dog", "fish"),
    "a vehicle": ("bike", "bus", "car", "taxi", "train"),
    "a drink": ("milk", "tea"),
}

Asked = tuple[str, str, tuple[str, ...], tuple[int, ...]]  # question, answer, capabilities, objects


def _number(n: int) -> str:
    return f"{n}{OR}{NUMBER_WORDS[n]}"


def _color(scene: Scene, rng: random.Random) -> Asked | None:
    fact = sample_fact(scene, rng, "color")
    if fact is None:
        return None
    shape = scene.objects[fact.target].shape
    return f"What color is the {shape}?", fact.answer, ("rec",), fact.objects


def _shapes(scene: Scene, rng: random.Random) -> Asked | None:
    shapes = scene.shapes()
    if len(shapes) < 2:
        return None
    return "What shapes are in the image?", AND.join(shapes), ("rec",), tuple(plain(scene))


def _word(scene: Scene, rng: random.Random) -> Asked | None:
    fact = sample_fact(scene, rng, "word")
    if fact is None:
        return None
    color = scene.objects[fact.target].color
    return f"What is written on the {color} box?", fact.answer, ("ocr",), fact.objects


def _words(scene: Scene, rng: random.Random) -> Asked | None:
    words = ocr_tokens(scene)
    if len(words) < 2:
        return None
    return "What words are shown in the image?", AND.join(words), ("ocr",), scene.word_boxes()


def _related(scene: Scene, rng: random.Random) -> Asked | None:
    fact = sample_fact(scene, rng, "relation")
    if fact is None or fact.reference is None or fact.relation is None:
        return None
    shape = scene.objects[fact.target].shape
    phrase = RELATION_PHRASES[fact.relation]
    question = f"Which shape is {phrase} the {name(scene, fact.reference)}?"
    return question, f"{fact.answer}{OR}{shape}", ("rec", "spat"), fact.objects


def _leftmost_word(scene: Scene, rng: random.Random) -> Asked | None:
    boxes = scene.word_boxes()
    firsts = [b for b in boxes if all("left" in relations(scene, b, o) for o in boxes if o != b)]
    if len(boxes) < 2 or not firsts:
        return None
    question = "What is the word on the box furthest to the left?"
    return question, str(scene.objects[firsts[0]].word), ("ocr", "spat"), (firsts[0],)


def _total(scene: Scene, rng: random.Random) -> Asked | None:
    n = len(plain(scene))
    if not 2 <= n < len(NUMBER_WORDS):
        return None
    question = "How many shapes are there in total, not counting the boxes?"
    return question, _number(n), ("rec", "math"), tuple(plain(scene))


def _difference(scene: Scene, rng: random.Random) -> Asked | None:
    counts = {s: len(scene.indices(shape=s)) for s in scene.shapes()}
    pairs = [(a, b) for a in counts for b in counts if counts[a] > counts[b]]
    if not pairs:
        return None
    a, b = rng.choice(pairs)
    question = f"How many more {PLURALS[a]} than {PLURALS[b]} are there?"
    objects = scene.indices(shape=a) + scene.indices(shape=b)
    return question, _number(counts[a] - counts[b]), ("rec", "math"), objects


def _knowledge(scene: Scene, rng: random.Random) -> Asked | None:
    boxes = scene.word_boxes()
    options = []
    for label, members in WORD_CLASSES.items():
        matching = [b for b in boxes if scene.objects[b].word in members]
        if len(matching) == 1:
            options.append((label, matching[0]))
    if not options:
        return None
    label, box = rng.choice(options)
    question = f"Which word in the image names {label}?"
    return question, str(scene.objects[box].word), ("ocr", "know"), (box,)


def _describe(scene: Scene, rng: random.Random) -> Asked | None:
    kinds = scene.kinds()
    if not kinds:
        return None
    answer = AND.join(f"a {color} {shape}" for color, shape in kinds)
    return "Describe the shapes in the image.", answer, ("rec", "gen"), tuple(plain(scene))


ASKERS: tuple[Callable[[Scene, random.Random], Asked | None], ...] = (
    _color, _shapes, _word, _words, _related, _leftmost_word, _total, _difference, _knowledge,
    _describe,
)  # fmt: skip


def mmvet_questions(scene: Scene, rng: random.Random, n: int) -> list[Asked] | None:
    """`n` questions of different kinds about `scene`, or None if it has fewer."""
    askers = list(ASKERS)
    rng.shuffle(askers)
    asked = []
    for ask in askers:
        built = ask(scene, rng)
        if built is not None:
            asked.append(built)
            if len(asked) == n:
                return asked
    return None


def write_mmvet(
    root: str | Path,
    *,
    seed: int,
    split: str = TEST,
    images: int = 30,
    nonsquare_prob: float = 0.1,
    progress: bool = False,
) -> dict[str, int]:
    """Write `<root>/mm-vet` (1-2 questions per image); returns {"conv": number of questions}."""
    if images < 0:
        raise ValueError(f"images must be >= 0, got {images}")
    folder = Path(root) / "mm-vet"
    (folder / IMAGE_FOLDER).mkdir(parents=True, exist_ok=True)
    question_rows, ground_truth, scene_rows = [], {}, []
    for i in progress_bar(range(images), progress, "mm-vet images", images):
        rng = make_rng(seed, split, f"mmvet/{i}")
        n = rng.choice((1, 1, 2))
        scene, asked = sample_fitting(
            rng,
            partial(mmvet_questions, n=n),
            num_objects=(2, 6),
            num_words=(0, 3),
            nonsquare_prob=nonsquare_prob,
        )
        image = f"v1_{len(question_rows)}.png"
        save_png(scene, folder / IMAGE_FOLDER / image)
        scene_questions = []
        for question, answer, capabilities, objects in asked:
            question_id = len(question_rows)
            question_rows.append(
                {"image": image, "text": question, "category": "conv", "question_id": question_id}
            )
            ground_truth[f"v1_{question_id}"] = {
                "imagename": image,
                "question": question,
                "answer": answer,
                "capability": [c for c in CAPABILITIES if c in capabilities],
                "imagesource": "synthetic",
            }
            scene_questions.append(question_row(question, answer, objects, question_id=question_id))
        scene_rows.append(scene_row(image, scene, scene_questions))
    write_jsonl(folder / QUESTION_FILE, question_rows)
    write_json(folder / GROUND_TRUTH, ground_truth, indent=4)  # as the real mm-vet.json
    write_jsonl(folder / SCENES_FILE, scene_rows)
    return {"conv": len(question_rows)}
