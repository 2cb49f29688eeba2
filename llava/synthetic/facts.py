"""What a scene shows without ambiguity, as facts every benchmark can phrase in its own style.

A `Fact` says what is asked about (`target`, and `reference` for relations), the true value
(`answer`, canonical lower-case English) and the false values of the same kind (`wrong`: the
distractors of a multiple-choice question, the subject of a "no" question). Every fact is
unambiguous by construction: "the circle" is asked about only when the scene has one circle,
"the shape to the left of the red star" only when exactly one shape is to its left and every
other one clearly is not.

Topics and their answers:
  color     the colour of the only object of its shape         "red"
  shape     the shape of the only object of its colour         "circle"
  word      the word written on the box of a colour            "cat"
  count     how many objects of a shape (1-7)                  "3"
  relation  the object to one side of a uniquely named one     "red circle"
  position  where one object is relative to another           "left" (of the reference)
  exists    which (colour, shape) is present                   "red circle"
  side      which half of the image an object is in           "left" / "right"
  quadrant  which quarter of the image an object is in        "top left"
  nearest   the object closest to a uniquely named one        "blue star"
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from llava.synthetic.scenes import KINDS, Scene, sample_scene
from llava.synthetic.vocab import COLOR_NAMES, NUMBER_WORDS, SHAPES, WORDS

TOPICS: tuple[str, ...] = (
    "color", "shape", "word", "count", "relation", "position", "exists", "side", "quadrant",
    "nearest",
)  # fmt: skip
RELATIONS: tuple[str, ...] = ("left", "right", "above", "below")
OPPOSITE: dict[str, str] = {"left": "right", "right": "left", "above": "below", "below": "above"}
RELATION_PHRASES: dict[str, str] = {
    "left": "to the left of", "right": "to the right of", "above": "above", "below": "below",
}  # fmt: skip
QUADRANTS: tuple[str, ...] = ("top left", "top right", "bottom left", "bottom right")
MAX_COUNT = len(NUMBER_WORDS) - 1  # counts are asked up to "seven"
SIDE_MARGIN = (
    0.12  # an object's centre this share of the width (height) off the middle is "on a side"
)
NEAREST_RATIO = 1.5  # the nearest object must be this much closer than the second nearest


T = TypeVar("T")


@dataclass(frozen=True)
class Fact:
    topic: str  # one of TOPICS
    target: int  # the object asked about (count: one object of the counted shape)
    answer: str  # the true value, canonical lower-case English
    wrong: tuple[str, ...]  # false values of the same kind, in a fixed order
    objects: tuple[int, ...]  # the objects the answer rests on
    reference: int | None = None  # relation / position / nearest: the object measured from
    relation: str | None = None  # relation: one of RELATIONS


def plain(scene: Scene) -> list[int]:
    """Indices of the plain shapes (not word boxes)."""
    return [i for i, o in enumerate(scene.objects) if o.shape in SHAPES]


def only_of_shape(scene: Scene) -> list[int]:
    """Plain objects that are the only one of their shape: "the circle" names them."""
    return [i for i in plain(scene) if len(scene.indices(shape=scene.objects[i].shape)) == 1]


def only_of_color(scene: Scene) -> list[int]:
    """Plain objects whose colour no other object (word boxes included) has."""
    return [i for i in plain(scene) if len(scene.indices(color=scene.objects[i].color)) == 1]


def only_of_kind(scene: Scene) -> list[int]:
    """Plain objects whose (colour, shape) is unique: "the red circle" names them."""
    return [i for i in plain(scene) if len(scene.indices(**_kind(scene, i))) == 1]


def name(scene: Scene, i: int) -> str:
    """ "red circle", "blue box"."""
    return scene.objects[i].name


def relations(scene: Scene, a: int, b: int) -> tuple[str, ...]:
    """The RELATIONS that hold without doubt from a to b (their spans do not overlap)."""
    ax0, ay0, ax1, ay1 = scene.objects[a].bbox
    bx0, by0, bx1, by1 = scene.objects[b].bbox
    held = {"left": ax1 <= bx0, "right": ax0 >= bx1, "above": ay1 <= by0, "below": ay0 >= by1}
    return tuple(r for r in RELATIONS if held[r])


def clearly_not(scene: Scene, a: int, b: int, relation: str) -> bool:
    """True if a's centre is not even past b's near edge in the direction of `relation`."""
    cx, cy = scene.objects[a].center
    bx0, by0, bx1, by1 = scene.objects[b].bbox
    return {"left": cx >= bx0, "right": cx <= bx1, "above": cy >= by0, "below": cy <= by1}[relation]


def sole_related(scene: Scene, b: int, relation: str, candidates: list[int]) -> int | None:
    """The one candidate in `relation` to b when all the others clearly are not, else None."""
    others = [c for c in candidates if c != b]
    held = [c for c in others if relation in relations(scene, c, b)]
    if len(held) != 1:
        return None
    if all(clearly_not(scene, c, b, relation) for c in others if c != held[0]):
        return held[0]
    return None


def side(scene: Scene, i: int) -> str | None:
    """ "left" / "right" when the object's centre is clearly off the vertical midline."""
    offset = scene.objects[i].center[0] / scene.size[0] - 0.5
    return None if abs(offset) < SIDE_MARGIN else ("left" if offset < 0 else "right")


def level(scene: Scene, i: int) -> str | None:
    """ "top" / "bottom" when the object's centre is clearly off the horizontal midline."""
    offset = scene.objects[i].center[1] / scene.size[1] - 0.5
    return None if abs(offset) < SIDE_MARGIN else ("top" if offset < 0 else "bottom")


def distance(scene: Scene, a: int, b: int) -> float:
    (ax, ay), (bx, by) = scene.objects[a].center, scene.objects[b].center
    return math.hypot(ax - bx, ay - by)


def absent_kinds(scene: Scene) -> list[str]:
    """Names of the (colour, shape) kinds no plain object has, in canonical order."""
    present = set(scene.kinds())
    return [f"{c} {s}" for c, s in KINDS if (c, s) not in present]


def sample_fitting(
    rng: random.Random, build: Callable[[Scene, random.Random], T | None], **scene_args: Any
) -> tuple[Scene, T]:
    """A scene (`sample_scene(rng, **scene_args)`) and what `build` makes of it, resampling
    scenes from the same stream until `build` makes something."""
    while True:
        scene = sample_scene(rng, **scene_args)
        built = build(scene, rng)
        if built is not None:
            return scene, built


def sample_fact(scene: Scene, rng: random.Random, topic: str) -> Fact | None:
    """A random fact of `topic` about `scene`, or None if the scene has none."""
    if topic not in _SAMPLERS:
        raise ValueError(f"unknown topic {topic!r}; expected one of {TOPICS}")
    return _SAMPLERS[topic](scene, rng)


def _kind(scene: Scene, i: int) -> dict[str, str]:
    return {"color": scene.objects[i].color, "shape": scene.objects[i].shape}


def _others(values: tuple[str, ...] | list[str], answer: str) -> tuple[str, ...]:
    return tuple(v for v in values if v != answer)


def _color(scene: Scene, rng: random.Random) -> Fact | None:
    candidates = only_of_shape(scene)
    if not candidates:
        return None
    i = rng.choice(candidates)
    color = scene.objects[i].color
    return Fact("color", i, color, _others(COLOR_NAMES, color), (i,))


def _shape(scene: Scene, rng: random.Random) -> Fact | None:
    candidates = only_of_color(scene)
    if not candidates:
        return None
    i = rng.choice(candidates)
    shape = scene.objects[i].shape
    return Fact("shape", i, shape, _others(SHAPES, shape), (i,))


def _word(scene: Scene, rng: random.Random) -> Fact | None:
    boxes = scene.word_boxes()
    if not boxes:
        return None
    i = rng.choice(boxes)
    word = str(scene.objects[i].word)
    shown = [str(scene.objects[j].word) for j in boxes if j != i]  # the likeliest confusions
    wrong = tuple(shown) + tuple(w for w in WORDS if w != word and w not in shown)
    return Fact("word", i, word, wrong, (i,))


def _count(scene: Scene, rng: random.Random) -> Fact | None:
    shapes = [s for s in scene.shapes() if s in SHAPES]
    if not shapes:
        return None
    shape = rng.choice(shapes)
    objects = scene.indices(shape=shape)
    if len(objects) > MAX_COUNT:
        return None
    n = str(len(objects))
    return Fact("count", objects[0], n, _others(tuple(str(k) for k in range(1, 8)), n), objects)


def _relation(scene: Scene, rng: random.Random) -> Fact | None:
    shapes = plain(scene)
    options = []
    for b in only_of_kind(scene):
        for relation in RELATIONS:
            a = sole_related(scene, b, relation, shapes)
            if a is not None and a in only_of_kind(scene):
                options.append((a, b, relation))
    if not options:
        return None
    a, b, relation = rng.choice(options)
    # Wrong: the other present objects (clearly not in the relation), then absent kinds.
    present = [name(scene, i) for i in shapes if i not in (a, b)]
    wrong = tuple(dict.fromkeys(present)) + tuple(absent_kinds(scene))
    return Fact("relation", a, name(scene, a), wrong, (a, b), reference=b, relation=relation)


def _position(scene: Scene, rng: random.Random) -> Fact | None:
    named = only_of_kind(scene)
    pairs = [(a, b) for a in named for b in named if a != b and _one_relation(scene, a, b)]
    if not pairs:
        return None
    a, b = rng.choice(pairs)
    relation = relations(scene, a, b)[0]
    return Fact("position", a, relation, _others(RELATIONS, relation), (a, b), reference=b)


def _one_relation(scene: Scene, a: int, b: int) -> bool:
    """Exactly one relation holds from a to b and every other one clearly does not."""
    held = relations(scene, a, b)
    return len(held) == 1 and all(clearly_not(scene, a, b, r) for r in RELATIONS if r != held[0])


def _exists(scene: Scene, rng: random.Random) -> Fact | None:
    present = scene.kinds()
    if not present:
        return None
    color, shape = rng.choice(present)
    objects = scene.indices(color=color, shape=shape)
    return Fact("exists", objects[0], f"{color} {shape}", tuple(absent_kinds(scene)), objects)


def _side(scene: Scene, rng: random.Random) -> Fact | None:
    candidates = [i for i in only_of_kind(scene) if side(scene, i) is not None]
    if not candidates:
        return None
    i = rng.choice(candidates)
    answer = str(side(scene, i))
    return Fact("side", i, answer, (OPPOSITE[answer],), (i,))


def _quadrant(scene: Scene, rng: random.Random) -> Fact | None:
    candidates = [
        i for i in only_of_kind(scene) if side(scene, i) is not None and level(scene, i) is not None
    ]
    if not candidates:
        return None
    i = rng.choice(candidates)
    answer = f"{level(scene, i)} {side(scene, i)}"
    return Fact("quadrant", i, answer, _others(QUADRANTS, answer), (i,))


def _nearest(scene: Scene, rng: random.Random) -> Fact | None:
    named = only_of_kind(scene)
    options = []
    for b in named:
        others = sorted((distance(scene, b, c), c) for c in plain(scene) if c != b)
        if len(others) >= 2 and others[0][1] in named:
            if others[1][0] >= NEAREST_RATIO * others[0][0]:
                options.append((others[0][1], b))
    if not options:
        return None
    a, b = rng.choice(options)
    present = [name(scene, i) for i in plain(scene) if i not in (a, b)]
    wrong = tuple(dict.fromkeys(present)) + tuple(absent_kinds(scene))
    return Fact("nearest", a, name(scene, a), wrong, (a, b), reference=b)


_SAMPLERS: dict[str, Callable[[Scene, random.Random], Fact | None]] = {
    "color": _color,
    "shape": _shape,
    "word": _word,
    "count": _count,
    "relation": _relation,
    "position": _position,
    "exists": _exists,
    "side": _side,
    "quadrant": _quadrant,
    "nearest": _nearest,
}
