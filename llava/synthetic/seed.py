"""Synthetic SEED-Bench (v1): four-option questions in SEED's twelve dimensions.

    <root>/seed_bench/llava-seed-bench.jsonl                LLaVA's question file
    <root>/seed_bench/SEED-Bench-image/<data_id>            image questions (dimensions 1-9)
    <root>/seed_bench/SEED-Bench-video-image/<type>_v<n>.png   the middle frame of a "video"
                                                            (dimensions 10-12)
    <root>/seed_bench/SEED-Bench.json                       {"questions": [...], "question_type"}
    <root>/seed_bench/synthetic_scenes.jsonl

As in LLaVA's file: image questions first with int ids, then video questions with ids "v0",
"v1", ...; text "question\\nA. ..\\nB. ..\\nC. ..\\nD. ..\\nAnswer with the option's letter from
the given choices directly."; category the dimension's name. A "video" is one frame, as LLaVA
evaluates SEED's videos (their middle frame), so its questions are answerable from that frame:
which shapes it shows, what a shape moving sideways would reach first, the order of its words.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from itertools import pairwise, permutations
from pathlib import Path
from typing import Any

from llava.synthetic.choices import LETTERS, MultipleChoice, multiple_choice, option_lines
from llava.synthetic.facts import (
    Fact,
    absent_kinds,
    name,
    only_of_kind,
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
from llava.synthetic.vocab import NUMBER_WORDS, PLURALS

QUESTION_FILE = "llava-seed-bench.jsonl"
ANNOTATIONS = "SEED-Bench.json"
IMAGE_FOLDER, VIDEO_FOLDER = "SEED-Bench-image", "SEED-Bench-video-image"
SUFFIX = "Answer with the option's letter from the given choices directly."
# SEED-Bench v1's dimensions and ids (AILab-CVC/SEED-Bench DATASET.md).
DIMENSIONS: dict[str, int] = {
    "Scene Understanding": 1, "Instance Identity": 2, "Instance Attributes": 3,
    "Instance Location": 4, "Instances Counting": 5, "Spatial Relation": 6,
    "Instance Interaction": 7, "Visual Reasoning": 8, "Text Understanding": 9,
    "Action Recognition": 10, "Action Prediction": 11, "Procedure Understanding": 12,
}  # fmt: skip
IMAGE_DIMENSIONS = tuple(d for d, k in DIMENSIONS.items() if k <= 9)
VIDEO_DIMENSIONS = tuple(d for d, k in DIMENSIONS.items() if k >= 10)
FIRST_QUESTION_ID = 100_000
BACKGROUNDS = (
    "A plain background of one color",
    "A gradient from one color to another",
    "A checkered pattern",
    "A striped pattern",
)
RELATION_OPTIONS = {
    "left": "To the left of the {}",
    "right": "To the right of the {}",
    "above": "Above the {}",
    "below": "Below the {}",
}
PATH_MARGIN = 20  # px: the first object reached must be this much nearer than the next


def _four(
    rng: random.Random, question: str, correct: str, wrong: Any, objects: Any = ()
) -> MultipleChoice | None:
    """SEED's four options, or None when there are not three distractors."""
    choice = multiple_choice(rng, question, correct, wrong, 4, objects)
    return choice if len(choice.options) == 4 else None


def _scene_understanding(scene: Scene, rng: random.Random) -> MultipleChoice | None:
    correct = BACKGROUNDS[len(scene.background.colors) - 1]
    return _four(rng, "What kind of background does the image have?", correct, BACKGROUNDS)


def _fact_question(
    topic: str, phrase: Callable[[Scene, Fact], str], shown: Callable[[str], str] = str.capitalize
) -> Callable[[Scene, random.Random], MultipleChoice | None]:
    """A dimension asking a fact of `topic`, its question `phrase`d, its options `shown`."""

    def build(scene: Scene, rng: random.Random) -> MultipleChoice | None:
        fact = sample_fact(scene, rng, topic)
        if fact is None or len(fact.wrong) < 3:
            return None
        wrong = [shown(w) for w in fact.wrong]
        return _four(rng, phrase(scene, fact), shown(fact.answer), wrong, fact.objects)

    return build


def _count_word(value: str) -> str:
    return NUMBER_WORDS[int(value)].capitalize()


def _spatial_relation(scene: Scene, rng: random.Random) -> MultipleChoice | None:
    fact = sample_fact(scene, rng, "position")
    if fact is None or fact.reference is None:
        return None
    reference = name(scene, fact.reference)
    options = {r: text.format(reference) for r, text in RELATION_OPTIONS.items()}
    question = f"Where is the {name(scene, fact.target)} relative to the {reference}?"
    return _four(rng, question, options[fact.answer], options.values(), fact.objects)


def _visual_reasoning(scene: Scene, rng: random.Random) -> MultipleChoice | None:
    named = only_of_kind(scene)
    if not named:
        return None
    i = rng.choice(named)
    left = len(plain(scene)) - 1
    question = f"If the {name(scene, i)} were removed, how many shapes would be left in the image?"
    numbers = [NUMBER_WORDS[n].capitalize() for n in range(len(NUMBER_WORDS))]
    return _four(rng, question, numbers[left], numbers, tuple(plain(scene)))


def _action_recognition(scene: Scene, rng: random.Random) -> MultipleChoice | None:
    kinds = only_of_kind(scene)
    if len(kinds) < 2:
        return None
    shown = sorted(rng.sample(kinds, 2))
    names = [name(scene, i) for i in shown]
    absent = absent_kinds(scene)
    wrong = [f"A {a} and a {names[1]}" for a in absent] + [
        f"A {names[0]} and a {b}" for b in absent
    ]
    question = "Which shapes are shown in the video?"
    return _four(rng, question, f"A {names[0]} and a {names[1]}", wrong, tuple(shown))


def _action_prediction(scene: Scene, rng: random.Random) -> MultipleChoice | None:
    options = []
    for mover in only_of_kind(scene):
        for direction in ("left", "right"):
            y0, y1 = scene.objects[mover].bbox[1], scene.objects[mover].bbox[3]
            ahead = sorted(
                (abs(scene.objects[c].center[0] - scene.objects[mover].center[0]), c)
                for c in plain(scene)
                if direction in relations(scene, c, mover)
                and scene.objects[c].bbox[1] < y1
                and scene.objects[c].bbox[3] > y0
            )
            if ahead and ahead[0][1] in only_of_kind(scene):
                if len(ahead) == 1 or ahead[1][0] - ahead[0][0] >= PATH_MARGIN:
                    options.append((mover, direction, ahead[0][1]))
    if not options:
        return None
    mover, direction, first = rng.choice(options)
    question = (
        f"If the {name(scene, mover)} keeps moving to the {direction}, which object will it "
        "reach first?"
    )
    others = [name(scene, i).capitalize() for i in plain(scene) if i not in (mover, first)]
    wrong = others + [k.capitalize() for k in absent_kinds(scene)]
    return _four(rng, question, name(scene, first).capitalize(), wrong, (mover, first))


def _procedure_understanding(scene: Scene, rng: random.Random) -> MultipleChoice | None:
    boxes = sorted(scene.word_boxes(), key=lambda i: scene.objects[i].center[0])
    if len(boxes) < 3 or any("left" not in relations(scene, a, b) for a, b in pairwise(boxes)):
        return None
    words = [str(scene.objects[i].word) for i in boxes]
    orders = [", ".join(order) for order in permutations(words)]
    question = "In what order do the words appear in the video, from left to right?"
    return _four(rng, question, ", ".join(words), orders, tuple(boxes))


BUILDERS: dict[str, Callable[[Scene, random.Random], MultipleChoice | None]] = {
    "Scene Understanding": _scene_understanding,
    "Instance Identity": _fact_question(
        "exists", lambda s, f: "Which of the following objects appears in the image?"
    ),
    "Instance Attributes": _fact_question(
        "color", lambda s, f: f"What is the color of the {s.objects[f.target].shape}?"
    ),
    "Instance Location": _fact_question(
        "quadrant", lambda s, f: f"Where is the {name(s, f.target)} located in the image?"
    ),
    "Instances Counting": _fact_question(
        "count",
        lambda s, f: f"How many {PLURALS[s.objects[f.target].shape]} are in the image?",
        _count_word,
    ),
    "Spatial Relation": _spatial_relation,
    "Instance Interaction": _fact_question(
        "nearest", lambda s, f: f"Which object is closest to the {name(s, f.reference)}?"
    ),
    "Visual Reasoning": _visual_reasoning,
    "Text Understanding": _fact_question(
        "word",
        lambda s, f: f"What word is written on the {s.objects[f.target].color} box?",
        str,
    ),
    "Action Recognition": _action_recognition,
    "Action Prediction": _action_prediction,
    "Procedure Understanding": _procedure_understanding,
}
# Word boxes only where the dimension reads them.
NUM_WORDS = {"Text Understanding": (1, 3), "Procedure Understanding": (3, 4)}


def seed_question(
    rng: random.Random, dimension: str, nonsquare_prob: float = 0.0
) -> tuple[Scene, MultipleChoice]:
    """(scene, four-option question) of `dimension`, resampling scenes until one fits."""
    num_words = NUM_WORDS.get(dimension, (0, 0))
    num_objects = (0, 2) if dimension == "Procedure Understanding" else (3, 6)
    return sample_fitting(
        rng,
        BUILDERS[dimension],
        num_objects=num_objects,
        num_words=num_words,
        nonsquare_prob=nonsquare_prob,
    )


def write_seed(
    root: str | Path,
    *,
    seed: int,
    split: str = TEST,
    images: int = 72,
    videos: int | None = None,
    nonsquare_prob: float = 0.1,
    progress: bool = False,
) -> dict[str, int]:
    """Write `<root>/seed_bench`; returns the number of questions per dimension.

    images: image questions (dimensions 1-9 in turn); videos: video questions (10-12 in turn;
    default a third of `images`, about the real benchmark's 5,009 to 14,233).
    """
    videos = images // 3 if videos is None else videos
    if images < 0 or videos < 0:
        raise ValueError(f"images and videos must be >= 0, got {images}, {videos}")
    folder = Path(root) / "seed_bench"
    for sub in (IMAGE_FOLDER, VIDEO_FOLDER):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    rows, questions, scene_rows = [], [], []
    counts = dict.fromkeys(DIMENSIONS, 0)
    jobs = [("image", n, IMAGE_DIMENSIONS[n % 9]) for n in range(images)]
    jobs += [("video", n, VIDEO_DIMENSIONS[n % 3]) for n in range(videos)]
    for data_type, n, dimension in progress_bar(jobs, progress, "seed questions", len(jobs)):
        rng = make_rng(seed, split, f"seed/{data_type}/{n}")
        type_id = DIMENSIONS[dimension]
        if data_type == "image":
            data_id = f"{1_000_000 + n}_{rng.getrandbits(31)}.png"
            question_id: int | str = FIRST_QUESTION_ID + n
            image = f"{IMAGE_FOLDER}/{data_id}"
        else:
            data_id = f"synth_video_{n:06d}.mp4"
            question_id = f"v{n}"
            image = f"{VIDEO_FOLDER}/{type_id}_{question_id}.png"
        scene, choice = seed_question(rng, dimension, nonsquare_prob)
        save_png(scene, folder / image)
        rows.append(
            {
                "image": image,
                "text": f"{choice.question}\n{option_lines(choice.options)}\n{SUFFIX}",
                "category": dimension,
                "question_id": question_id,
            }
        )
        entry = {"answer": choice.letter}
        entry.update({f"choice_{LETTERS[k].lower()}": o for k, o in enumerate(choice.options)})
        entry.update(
            {
                "data_id": data_id,
                "data_type": data_type,
                "question": choice.question,
                "question_id": str(question_id),
                "question_type_id": type_id,
            }
        )
        if type_id in (11, 12):  # SEED's segmented videos: [start, end] of the asked part
            start = rng.randrange(0, 100)
            entry["segment"] = [start, start + rng.randrange(20, 200)]
        questions.append(entry)
        counts[dimension] += 1
        scene_rows.append(
            scene_row(
                image,
                scene,
                [
                    question_row(
                        choice.question, choice.letter, choice.objects, question_id=question_id
                    )
                ],
            )
        )
    write_jsonl(folder / QUESTION_FILE, rows)
    write_json(folder / ANNOTATIONS, {"questions": questions, "question_type": DIMENSIONS})
    write_jsonl(folder / SCENES_FILE, scene_rows)
    return counts
