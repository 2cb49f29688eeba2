"""Synthetic LLaVA-Bench (In-the-Wild): conversation, detail and reasoning questions.

    <root>/llava-bench-in-the-wild/questions.jsonl      {image, text, category, question_id}
    <root>/llava-bench-in-the-wild/context.jsonl        one line per image: {id, image, caption}
    <root>/llava-bench-in-the-wild/answers_gpt4.jsonl   the judge's reference answers
    <root>/llava-bench-in-the-wild/images/001.png ...
    <root>/llava-bench-in-the-wild/synthetic_scenes.jsonl

Every image gets one question of each category, in LLaVA-Bench's order (conv, detail,
complex). The reference answers are written from the scene, in the answer-file schema with
model_id "gpt-4-0314" as the real ones (LLaVA's llava/eval/eval_gpt_review_bench.py @
c121f0432da27facab705978f83c4ada465e46fd reads questions, contexts and answers line by line,
in this order, and puts the reference first).
"""

from __future__ import annotations

import random
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
    write_jsonl,
)
from llava.synthetic.scenes import Scene
from llava.synthetic.seeding import TEST, make_rng
from llava.synthetic.vocab import NUMBER_WORDS, PLURALS

FOLDER = "llava-bench-in-the-wild"
CATEGORIES: tuple[str, ...] = ("conv", "detail", "complex")
REFERENCE_MODEL = "gpt-4-0314"
SHORTUUID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"  # shortuuid's
DETAIL_QUESTIONS = (
    "Describe this photo in detail.",
    "What do you see in this image? Describe it in detail.",
    "Can you describe the main features of this image for me?",
)
QA = tuple[str, str, tuple[int, ...]]  # question, reference answer, objects


def where(scene: Scene, i: int) -> str:
    """Where an object is, by thirds of the image: "in the top left", "in the center"."""
    (cx, cy), (width, height) = scene.objects[i].center, scene.size
    column = ("left", "center", "right")[min(2, int(3 * cx / width))]
    row = ("top", "middle", "bottom")[min(2, int(3 * cy / height))]
    if row == "middle":
        return "in the center" if column == "center" else f"on the {column}"
    return f"at the {row}" if column == "center" else f"in the {row} {column}"


def describe(scene: Scene, i: int) -> str:
    """ "a red circle", 'a blue box with the word "cat"'."""
    obj = scene.objects[i]
    return f'a {obj.color} box with the word "{obj.word}"' if obj.word else f"a {obj.name}"


def listing(parts: list[str]) -> str:
    """ "a, b and c"."""
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def background_phrase(scene: Scene) -> str:
    colors = scene.background.colors
    if len(colors) == 1:
        return f"a plain {colors[0]} background"
    return f"a background fading from {colors[0]} to {colors[1]}"


def caption(scene: Scene) -> str:
    """The context line: a short description of everything in the image."""
    things = [describe(scene, i) for i in range(len(scene.objects))]
    return f"Colored shapes on {background_phrase(scene)}: {listing(things)}."


def conv_question(scene: Scene, rng: random.Random) -> QA | None:
    topic = rng.choice(("color", "word", "count"))
    fact = sample_fact(scene, rng, topic)
    if fact is None:
        return None
    obj = scene.objects[fact.target]
    if topic == "color":
        question = f"What color is the {obj.shape} in the image?"
        return question, f"The {obj.shape} in the image is {fact.answer}.", fact.objects
    if topic == "word":
        question = f"What is written on the {obj.color} box?"
        return (
            question,
            f'The {obj.color} box has the word "{fact.answer}" written on it.',
            (fact.objects),
        )
    n = int(fact.answer)
    answer = (
        f"There is one {obj.shape} in the image."
        if n == 1
        else f"There are {NUMBER_WORDS[n]} {PLURALS[obj.shape]} in the image."
    )
    return f"How many {PLURALS[obj.shape]} are there in the image?", answer, fact.objects


def detail_question(scene: Scene, rng: random.Random) -> QA:
    order = sorted(range(len(scene.objects)), key=lambda i: scene.objects[i].center[::-1])
    n = len(order)
    located = [f"{describe(scene, i)} {where(scene, i)}" for i in order]
    answer = (
        f"The image shows {NUMBER_WORDS[n] if n < len(NUMBER_WORDS) else n} "
        f"object{'s' if n != 1 else ''} on {background_phrase(scene)}. "
        f"There is {listing(located)}. The objects do not overlap, and each one is drawn in a "
        "single flat color."
    )
    return rng.choice(DETAIL_QUESTIONS), answer, tuple(order)


def complex_question(scene: Scene, rng: random.Random) -> QA | None:
    shapes = plain(scene)
    kind = rng.choice(("colors", "nearest", "most"))
    if kind == "colors" and len(shapes) >= 2:
        colors = sorted({scene.objects[i].color for i in shapes})
        k = len(colors)
        question = "If you sorted the shapes in this image by color, how many groups would you get?"
        answer = (
            f"The shapes come in {NUMBER_WORDS[k]} color{'s' if k > 1 else ''} "
            f"({listing(colors)}), so sorting them by color would give {NUMBER_WORDS[k]} "
            f"group{'s' if k > 1 else ''}."
        )
        return question, answer, tuple(shapes)
    if kind == "nearest":
        fact = sample_fact(scene, rng, "nearest")
        if fact is None or fact.reference is None:
            return None
        a, b = name(scene, fact.target), name(scene, fact.reference)
        held = relations(scene, fact.target, fact.reference)
        side = f"it is {RELATION_PHRASES[held[0]]} the {b}" if held else "it sits right next to it"
        question = f"Which shape is closest to the {b}, and where is it relative to it?"
        return question, f"The {a} is the closest shape to the {b}; {side}.", fact.objects
    if kind == "most":
        counts = sorted(((len(scene.indices(shape=s)), s) for s in scene.shapes()), reverse=True)
        if len(counts) < 2 or counts[0][0] == counts[1][0] or counts[0][0] < 2:
            return None
        n, shape = counts[0]
        question = "Which kind of shape appears most often in this image, and how many are there?"
        answer = f"The {shape} appears most often: there are {NUMBER_WORDS[n]} {PLURALS[shape]}."
        return question, answer, scene.indices(shape=shape)
    return None


def _conv_and_complex(scene: Scene, rng: random.Random) -> tuple[QA, QA] | None:
    conv, complex_ = conv_question(scene, rng), complex_question(scene, rng)
    return None if conv is None or complex_ is None else (conv, complex_)


def answer_id(rng: random.Random) -> str:
    """A 22-character id like shortuuid's, which LLaVA's answer files use."""
    return "".join(rng.choice(SHORTUUID_ALPHABET) for _ in range(22))


def write_llavabench(
    root: str | Path,
    *,
    seed: int,
    split: str = TEST,
    images: int = 8,
    nonsquare_prob: float = 0.1,
    progress: bool = False,
) -> dict[str, int]:
    """Write `<root>/llava-bench-in-the-wild`; returns the number of questions per category."""
    if images < 0:
        raise ValueError(f"images must be >= 0, got {images}")
    folder = Path(root) / FOLDER
    (folder / "images").mkdir(parents=True, exist_ok=True)
    questions, contexts, references, scene_rows = [], [], [], []
    for i in progress_bar(range(images), progress, "llava-bench images", images):
        rng = make_rng(seed, split, f"llavabench/{i}")
        scene, (conv, complex_) = sample_fitting(
            rng,
            _conv_and_complex,
            num_objects=(3, 6),
            num_words=(0, 2),
            nonsquare_prob=nonsquare_prob,
        )
        stem = f"{i + 1:03d}"
        image = f"{stem}.png"
        save_png(scene, folder / "images" / image)
        contexts.append({"id": stem, "image": image, "caption": caption(scene)})
        asked = []
        for category, (question, answer, objects) in zip(
            CATEGORIES, (conv, detail_question(scene, rng), complex_), strict=True
        ):
            question_id = len(questions)
            questions.append(
                {"image": image, "text": question, "category": category, "question_id": question_id}
            )
            references.append(
                {
                    "question_id": question_id,
                    "prompt": question,
                    "text": answer,
                    "answer_id": answer_id(rng),
                    "model_id": REFERENCE_MODEL,
                    "metadata": {},
                }
            )
            asked.append(
                question_row(question, answer, objects, question_id=question_id, category=category)
            )
        scene_rows.append(scene_row(image, scene, asked))
    write_jsonl(folder / "questions.jsonl", questions)
    write_jsonl(folder / "context.jsonl", contexts)
    write_jsonl(folder / "answers_gpt4.jsonl", references)
    write_jsonl(folder / SCENES_FILE, scene_rows)
    return dict.fromkeys(CATEGORIES, images)
