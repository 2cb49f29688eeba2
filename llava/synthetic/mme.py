"""MME-style perception questions: per image one yes and one no question, four categories.

Mirrors MME's coarse-grained perception categories with the synthetic vocabulary:
  existence  "Is there a star in this image?"                  (a shape present / absent)
  count      "Are there three stars in the image?"             (the true count / one off)
  color      "Is there a red star in the image?"               (its colour / a colour no star has)
  position   "Is the red star on the left of the blue circle in the image?"  (true / opposite)
"""

from __future__ import annotations

import random

from llava.synthetic.questions import NO, QA, YES
from llava.synthetic.scenes import Kind, Scene, sample_kind, sample_scene
from llava.synthetic.vocab import COLOR_NAMES, NUMBER_WORDS, PLURALS, SHAPES

MME_CATEGORIES: tuple[str, ...] = ("existence", "count", "position", "color")
OPPOSITE = {
    "on the left of": "on the right of",
    "on the right of": "on the left of",
    "above": "below",
    "below": "above",
}


class UnsupportedScene(ValueError):
    """The scene cannot carry a yes and a no question of the asked category."""


def count_question(shape: str, n: int) -> str:
    if n == 1:
        return f"Is there one {shape} in the image?"
    return f"Are there {NUMBER_WORDS[n]} {PLURALS[shape]} in the image?"


def relations(scene: Scene, a: int, b: int) -> list[str]:
    """The spatial relations that hold without doubt between objects a and b (disjoint spans)."""
    ax0, ay0, ax1, ay1 = scene.objects[a].bbox
    bx0, by0, bx1, by1 = scene.objects[b].bbox
    held = []
    if ax1 <= bx0:
        held.append("on the left of")
    if ax0 >= bx1:
        held.append("on the right of")
    if ay1 <= by0:
        held.append("above")
    if ay0 >= by1:
        held.append("below")
    return held


def mme_questions(scene: Scene, rng: random.Random, category: str) -> tuple[QA, QA]:
    """(yes question, no question) of `category` about `scene`; raises UnsupportedScene."""
    plain = [i for i, o in enumerate(scene.objects) if o.shape in SHAPES]
    present = scene.shapes()
    if category == "existence":
        absent = [s for s in SHAPES if s not in present]
        if not present or not absent:
            raise UnsupportedScene("existence needs a shape present and a shape absent")
        shape, missing = rng.choice(present), rng.choice(absent)
        return (
            QA(f"Is there a {shape} in this image?", YES, scene.indices(shape=shape)),
            QA(f"Is there a {missing} in this image?", NO, ()),
        )
    if category == "count":
        if not present:
            raise UnsupportedScene("count needs a shape")
        shape = rng.choice(present)
        objects = scene.indices(shape=shape)
        n = len(objects)
        if n >= len(NUMBER_WORDS):
            raise UnsupportedScene(f"at most {len(NUMBER_WORDS) - 1} objects of a shape")
        wrong = [m for m in (n - 1, n + 1) if 1 <= m < len(NUMBER_WORDS)]
        return (
            QA(count_question(shape, n), YES, objects),
            QA(count_question(shape, rng.choice(wrong)), NO, objects),
        )
    if category == "color":
        if not plain:
            raise UnsupportedScene("color needs a shape")
        obj = scene.objects[rng.choice(plain)]
        same_shape = scene.indices(shape=obj.shape)
        taken = {scene.objects[i].color for i in same_shape}
        other = rng.choice([c for c in COLOR_NAMES if c not in taken])
        return (
            QA(
                f"Is there a {obj.color} {obj.shape} in the image?",
                YES,
                scene.indices(color=obj.color, shape=obj.shape),
            ),
            QA(f"Is there a {other} {obj.shape} in the image?", NO, same_shape),
        )
    if category == "position":
        unique = [
            i
            for i in plain
            if len(scene.indices(color=scene.objects[i].color, shape=scene.objects[i].shape)) == 1
        ]
        options = [
            (a, b, r) for a in unique for b in unique if a != b for r in relations(scene, a, b)
        ]
        if not options:
            raise UnsupportedScene("position needs two uniquely named objects")
        a, b, relation = rng.choice(options)
        name_a, name_b = scene.objects[a].name, scene.objects[b].name
        return (
            QA(f"Is the {name_a} {relation} the {name_b} in the image?", YES, (a, b)),
            QA(f"Is the {name_a} {OPPOSITE[relation]} the {name_b} in the image?", NO, (a, b)),
        )
    raise ValueError(f"unknown MME category {category!r}; expected one of {MME_CATEGORIES}")


def sample_mme_scene(rng: random.Random, category: str, *, nonsquare_prob: float = 0.0) -> Scene:
    """A scene that supports `category` (count scenes repeat one or two shapes 1-4 times)."""
    if category not in MME_CATEGORIES:
        raise ValueError(f"unknown MME category {category!r}; expected one of {MME_CATEGORIES}")
    while True:
        if category == "count":
            kinds: list[Kind] = []
            for shape in rng.sample(SHAPES, rng.choice((1, 2))):
                n = rng.choices((1, 2, 3, 4), weights=(1, 2, 2, 1.5))[0]
                kinds += [(rng.choice(COLOR_NAMES), shape) for _ in range(n)]
            scene = sample_scene(
                rng, kinds=kinds, num_objects=(0, 0), nonsquare_prob=nonsquare_prob
            )
        elif category == "position":
            kinds, wanted = [], rng.choice((2, 3, 4))
            while len(kinds) < wanted:
                kind = sample_kind(rng)
                if kind not in kinds:
                    kinds.append(kind)
            scene = sample_scene(
                rng, kinds=kinds, num_objects=(0, 0), nonsquare_prob=nonsquare_prob
            )
        else:
            scene = sample_scene(rng, num_objects=(2, 5), nonsquare_prob=nonsquare_prob)
        try:
            mme_questions(scene, random.Random(0), category)
        except UnsupportedScene:
            continue
        return scene
