"""POPE-style object probing: "Is there a {colour} {shape} in the image?".

As in POPE (Li et al., 2023, github.com/AoiDragon/POPE): every image gets the same positive
questions in all three splits and split-specific negatives, yes and no alternating, so every
split is half yes / half no:
  random       any absent object;
  popular      the absent objects most frequent in the dataset;
  adversarial  the absent objects most confusable with the present ones: here, those sharing
               the colour or the shape of the most present objects (a red square when a red
               circle and a blue square are present), then those co-occurring most with them.
"""

from __future__ import annotations

import random

from llava.synthetic.questions import NO, QA, YES
from llava.synthetic.scenes import KINDS, Kind, Scene, sample_scene
from llava.synthetic.stats import ObjectStats
from llava.synthetic.vocab import SHAPES

# LLaVA's llava_pope_test.jsonl: splits in this order, question ids offset per split.
POPE_SPLITS: tuple[str, ...] = ("adversarial", "random", "popular")
POPE_ID_OFFSETS: dict[str, int] = {"adversarial": 0, "random": 10_000_000, "popular": 20_000_000}


def pope_question(kind: Kind) -> str:
    color, shape = kind
    return f"Is there a {color} {shape} in the image?"


def lookalikes(scene: Scene, kind: Kind) -> tuple[int, ...]:
    """Indices of the plain objects sharing `kind`'s colour or shape (the evidence for a no)."""
    color, shape = kind
    return tuple(
        i
        for i, o in enumerate(scene.objects)
        if o.shape in SHAPES and (o.color == color or o.shape == shape)
    )


def pope_positives(scene: Scene, rng: random.Random, n: int) -> list[QA]:
    """`n` yes-questions about distinct kinds present in `scene`."""
    present = scene.kinds()
    if len(present) < n:
        raise ValueError(f"scene has {len(present)} distinct objects, {n} positives asked")
    return [
        QA(pope_question(kind), YES, scene.indices(color=kind[0], shape=kind[1]))
        for kind in rng.sample(present, n)
    ]


def pope_negatives(
    scene: Scene, rng: random.Random, stats: ObjectStats, split: str, n: int
) -> list[QA]:
    """`n` no-questions about distinct absent kinds, chosen as the POPE `split` defines."""
    present = scene.kinds()
    absent = [k for k in KINDS if k not in present]
    rng.shuffle(absent)  # random tie-breaking for the stable sorts below
    if split == "random":
        chosen = absent[:n]
    elif split == "popular":
        chosen = sorted(absent, key=lambda k: -stats.count(k))[:n]
    elif split == "adversarial":

        def confusion(kind: Kind) -> tuple[int, float]:
            shared = sum(1 for p in present if p[0] == kind[0] or p[1] == kind[1])
            return (-shared, -sum(stats.cooccur(kind, p) for p in present))

        chosen = sorted(absent, key=confusion)[:n]
    else:
        raise ValueError(f"unknown POPE split {split!r}; expected one of {POPE_SPLITS}")
    if len(chosen) < n:
        raise ValueError(f"only {len(chosen)} absent objects, {n} negatives asked")
    return [QA(pope_question(kind), NO, lookalikes(scene, kind)) for kind in chosen]


def pope_questions(
    scene: Scene,
    rng: random.Random,
    stats: ObjectStats,
    *,
    pairs: int = 2,
    splits: tuple[str, ...] = POPE_SPLITS,
) -> dict[str, list[QA]]:
    """Per split, `pairs` yes/no pairs alternating yes, no, yes, no (positives shared)."""
    positives = pope_positives(scene, rng, pairs)
    result = {}
    for split in splits:
        negatives = pope_negatives(scene, rng, stats, split, pairs)
        result[split] = [qa for pair in zip(positives, negatives, strict=True) for qa in pair]
    return result


def sample_pope_scene(
    rng: random.Random, *, pairs: int = 2, nonsquare_prob: float = 0.0, max_objects: int = 7
) -> Scene:
    """A scene with at least `pairs` distinct objects (several shapes, colours, sizes)."""
    while True:
        scene = sample_scene(
            rng, num_objects=(max(3, pairs), max(max_objects, pairs)), nonsquare_prob=nonsquare_prob
        )
        if len(scene.kinds()) >= pairs:
            return scene
