"""Scenes: a background and a few small, non-overlapping objects, sampled from a seeded rng.

A scene is pure data (frozen dataclasses, JSON-able with `scene_to_dict`); `render.render`
turns it into pixels and `patches.patch_owners` into per-patch targets. Objects are small on
purpose (28-56 px, i.e. 2-4 CLIP patches of 14 px on a 336 x 336 image): answers then depend
on a handful of the 576 visual tokens, which is what makes pruning matter.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llava.synthetic.fonts import text_size
from llava.synthetic.vocab import (
    BACKGROUND_NAMES,
    COLOR_NAMES,
    COLOR_WEIGHTS,
    IMAGE_SIDE,
    SHAPE_WEIGHTS,
    SHAPES,
    WORD_FONT_SIZE,
    WORD_SHAPE,
    WORDS,
)

Kind = tuple[str, str]  # (colour, shape), e.g. ("red", "circle")
BBox = tuple[int, int, int, int]  # (x0, y0, x1, y1) in pixels, x1 and y1 exclusive

# Every (colour, shape) pair in canonical order: rankings break ties on this order.
KINDS: tuple[Kind, ...] = tuple((c, s) for c in COLOR_NAMES for s in SHAPES)

GRADIENT_DIRECTIONS = ("horizontal", "vertical", "diagonal")
NONSQUARE_SHORT_SIDES = (224, 252, 280)  # long side stays 336: LLaVA's padding keeps the scale
EDGE_MARGIN = 4  # px between any object and the image border


@dataclass(frozen=True)
class SceneObject:
    color: str  # a key of vocab.COLORS
    shape: str  # one of vocab.SHAPES, or vocab.WORD_SHAPE for a word box
    bbox: BBox
    word: str | None = None  # the word written on a WORD_SHAPE box

    @property
    def kind(self) -> Kind:
        return (self.color, self.shape)

    @property
    def name(self) -> str:
        """How questions refer to it: "red circle", "blue box"."""
        return f"{self.color} {self.shape}"

    @property
    def width(self) -> int:
        return self.bbox[2] - self.bbox[0]

    @property
    def height(self) -> int:
        return self.bbox[3] - self.bbox[1]

    @property
    def center(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.bbox
        return ((x0 + x1) / 2, (y0 + y1) / 2)


@dataclass(frozen=True)
class Background:
    colors: tuple[str, ...]  # one name of vocab.BACKGROUNDS (solid) or two (gradient)
    direction: str = "none"  # for gradients: one of GRADIENT_DIRECTIONS
    noise: int = 0  # amplitude of uniform grey-level noise added per pixel
    noise_seed: int = 0


@dataclass(frozen=True)
class Scene:
    size: tuple[int, int]  # (width, height) in pixels
    background: Background
    objects: tuple[SceneObject, ...]

    def kinds(self) -> tuple[Kind, ...]:
        """The distinct (colour, shape) kinds of the plain shapes (no word boxes), in order."""
        present = {o.kind for o in self.objects if o.shape in SHAPES}
        return tuple(k for k in KINDS if k in present)

    def shapes(self) -> tuple[str, ...]:
        """The distinct plain shapes present, canonical order."""
        present = {o.shape for o in self.objects}
        return tuple(s for s in SHAPES if s in present)

    def indices(self, *, color: str | None = None, shape: str | None = None) -> tuple[int, ...]:
        """Indices of the objects matching `color` and/or `shape`."""
        return tuple(
            i
            for i, o in enumerate(self.objects)
            if (color is None or o.color == color) and (shape is None or o.shape == shape)
        )

    def word_boxes(self) -> tuple[int, ...]:
        return tuple(i for i, o in enumerate(self.objects) if o.word is not None)


def sample_kind(rng: random.Random) -> Kind:
    """A (colour, shape) drawn with the vocabulary's unequal weights."""
    color = rng.choices(COLOR_NAMES, weights=COLOR_WEIGHTS)[0]
    shape = rng.choices(SHAPES, weights=SHAPE_WEIGHTS)[0]
    return (color, shape)


def sample_background(rng: random.Random) -> Background:
    first = rng.choice(BACKGROUND_NAMES)
    noise = rng.choice((0, 0, 4, 8, 12))
    noise_seed = rng.getrandbits(32)
    if rng.random() < 0.4:
        return Background((first,), "none", noise, noise_seed)
    second = rng.choice([b for b in BACKGROUND_NAMES if b != first])
    return Background((first, second), rng.choice(GRADIENT_DIRECTIONS), noise, noise_seed)


def sample_image_size(rng: random.Random, nonsquare_prob: float) -> tuple[int, int]:
    if rng.random() >= nonsquare_prob:
        return (IMAGE_SIDE, IMAGE_SIDE)
    short = rng.choice(NONSQUARE_SHORT_SIDES)
    return (IMAGE_SIDE, short) if rng.random() < 0.5 else (short, IMAGE_SIDE)


def word_box_size(rng: random.Random, word: str) -> tuple[int, int]:
    """A box a little larger than the word: 2 patches tall, at most 4 patches wide for WORDS."""
    width, height = text_size(word, WORD_FONT_SIZE)
    return (max(28, width + 2 * rng.randint(5, 6)), max(28, height + 2 * rng.randint(5, 7)))


def sample_scene(
    rng: random.Random,
    *,
    num_objects: tuple[int, int] = (3, 6),
    size_px: tuple[int, int] = (28, 56),
    num_words: tuple[int, int] = (0, 0),
    kinds: Sequence[Kind] = (),
    nonsquare_prob: float = 0.0,
    gap: int = 6,
) -> Scene:
    """Sample a scene: background, plain shapes and (optionally) word boxes, none overlapping.

    num_objects: inclusive range of the number of plain shapes (raised to len(kinds) if lower).
    size_px: inclusive range of a plain shape's side in pixels (its bbox is square).
    num_words: inclusive range of the number of word boxes; their colours and words are
        distinct within the scene, so "the red box" always names one box.
    kinds: (colour, shape) pairs that must appear; the remaining shapes are drawn at random.
    nonsquare_prob: probability of a non-square image (long side 336, exercising LLaVA's
        pad-to-square without rescaling the objects).
    gap: minimum distance in pixels between two objects' bounding boxes.
    """
    lo, hi = num_objects
    if not 0 <= lo <= hi or not 0 < size_px[0] <= size_px[1] or not 0 <= num_words[0]:
        raise ValueError(f"bad ranges: num_objects={num_objects}, size_px={size_px}")
    if num_words[1] > len(COLOR_NAMES):
        raise ValueError(f"at most {len(COLOR_NAMES)} word boxes (one per colour)")
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; kinds are (colour, shape) from vocab")
    size = sample_image_size(rng, nonsquare_prob)
    background = sample_background(rng)

    n = max(rng.randint(lo, hi), len(kinds))
    plain = list(kinds) + [sample_kind(rng) for _ in range(n - len(kinds))]
    specs: list[tuple[str, str, int, int, str | None]] = []
    for color, shape in plain:
        side = rng.randint(*size_px)
        specs.append((color, shape, side, side, None))
    n_words = rng.randint(*num_words)
    word_colors = rng.sample(COLOR_NAMES, n_words)
    for color, word in zip(word_colors, rng.sample(WORDS, n_words), strict=True):
        width, height = word_box_size(rng, word)
        specs.append((color, WORD_SHAPE, width, height, word))
    rng.shuffle(specs)

    boxes = place_boxes(rng, [(w, h) for _, _, w, h, _ in specs], size, gap=gap)
    objects = tuple(
        SceneObject(color, shape, box, word)
        for (color, shape, _, _, word), box in zip(specs, boxes, strict=True)
    )
    return Scene(size, background, objects)


def place_boxes(
    rng: random.Random,
    sizes: Sequence[tuple[int, int]],
    image_size: tuple[int, int],
    *,
    gap: int = 6,
    tries_per_box: int = 200,
    restarts: int = 50,
) -> list[BBox]:
    """Random non-overlapping positions (at least `gap` px apart) inside the image.

    Boxes are placed largest first by rejection sampling; a dead end restarts the layout.
    """
    width, height = image_size
    order = sorted(range(len(sizes)), key=lambda i: (-sizes[i][0] * sizes[i][1], i))
    for _ in range(restarts):
        placed: dict[int, BBox] = {}
        for i in order:
            w, h = sizes[i]
            if w + 2 * EDGE_MARGIN > width or h + 2 * EDGE_MARGIN > height:
                raise ValueError(f"object of {w}x{h} px does not fit a {width}x{height} image")
            for _ in range(tries_per_box):
                x0 = rng.randint(EDGE_MARGIN, width - EDGE_MARGIN - w)
                y0 = rng.randint(EDGE_MARGIN, height - EDGE_MARGIN - h)
                box = (x0, y0, x0 + w, y0 + h)
                if all(boxes_apart(box, other, gap) for other in placed.values()):
                    placed[i] = box
                    break
            else:
                break
        if len(placed) == len(sizes):
            return [placed[i] for i in range(len(sizes))]
    raise ValueError(f"could not place {len(sizes)} objects in a {width}x{height} image")


def boxes_apart(a: BBox, b: BBox, gap: int) -> bool:
    """True if the boxes are at least `gap` px apart along x or along y."""
    return a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1] or b[3] + gap <= a[1]


def scene_to_dict(scene: Scene) -> dict[str, Any]:
    """A JSON-able description of `scene` (inverse: `scene_from_dict`)."""
    bg = scene.background
    return {
        "size": list(scene.size),
        "background": {
            "colors": list(bg.colors),
            "direction": bg.direction,
            "noise": bg.noise,
            "noise_seed": bg.noise_seed,
        },
        "objects": [
            {"color": o.color, "shape": o.shape, "bbox": list(o.bbox), "word": o.word}
            for o in scene.objects
        ],
    }


def scene_from_dict(data: dict[str, Any]) -> Scene:
    bg = data["background"]
    return Scene(
        size=(int(data["size"][0]), int(data["size"][1])),
        background=Background(
            tuple(bg["colors"]), bg["direction"], int(bg["noise"]), int(bg["noise_seed"])
        ),
        objects=tuple(
            SceneObject(o["color"], o["shape"], tuple(int(v) for v in o["bbox"]), o["word"])
            for o in data["objects"]
        ),
    )
