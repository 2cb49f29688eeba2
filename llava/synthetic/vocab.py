"""The closed vocabulary of the synthetic benchmarks.

Kept small and regular on purpose: a tiny model with a small tokenizer is trained on it, so
every colour and shape is one lower-case word, no colour or shape starts with a vowel (POPE's
template is "Is there a {object} ...", never "an"), and the TextVQA words are short nouns that
are not colour or shape words.

Order matters: tuples here are the canonical orders every sampler and ranking breaks ties on,
which is what makes the generator deterministic.
"""

from __future__ import annotations

RGB = tuple[int, int, int]

# Object colours: saturated or extreme, so they stand out on the muted backgrounds below.
COLORS: dict[str, RGB] = {
    "red": (220, 30, 30),
    "blue": (30, 80, 230),
    "green": (30, 170, 60),
    "yellow": (245, 215, 20),
    "white": (250, 250, 250),
    "black": (15, 15, 15),
    "purple": (140, 40, 185),
    "pink": (250, 120, 190),
}
COLOR_NAMES: tuple[str, ...] = tuple(COLORS)

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "diamond", "cross")
PLURALS: dict[str, str] = {
    "circle": "circles",
    "square": "squares",
    "triangle": "triangles",
    "star": "stars",
    "diamond": "diamonds",
    "cross": "crosses",
}

# Sampling weights: deliberately unequal so that POPE's "popular" split (the most frequent
# objects of the dataset) differs from its "random" split.
COLOR_WEIGHTS: tuple[float, ...] = (1.6, 1.45, 1.3, 1.15, 1.0, 0.9, 0.8, 0.7)
SHAPE_WEIGHTS: tuple[float, ...] = (1.5, 1.3, 1.15, 1.0, 0.85, 0.7)

# The shape a TextVQA word is written on: a filled rectangle sized to its word. It is not one
# of SHAPES, so POPE and MME never ask about it.
WORD_SHAPE = "box"

WORDS: tuple[str, ...] = (
    "bank", "bar", "bike", "bird", "book", "bus", "cafe", "cake", "car", "cat", "city", "dog",
    "door", "exit", "farm", "fire", "fish", "food", "gas", "gold", "hotel", "king", "lamp",
    "milk", "park", "pizza", "rain", "road", "shop", "stop", "sun", "taxi", "tea", "train",
    "tree", "zoo",
)  # fmt: skip
WORD_FONT_SIZE = 18  # PIL's built-in scalable font; lower-case letters are ~9-13 px tall

NUMBER_WORDS: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six", "seven")

# Background palette: muted mid-tones, each at least 80 (RGB distance) from every object colour.
BACKGROUNDS: dict[str, RGB] = {
    "gray": (128, 128, 128),
    "slate": (100, 115, 130),
    "olive": (120, 120, 85),
    "tan": (165, 145, 115),
    "teal": (80, 125, 120),
    "mauve": (140, 110, 125),
    "sage": (130, 150, 125),
    "umber": (120, 95, 80),
}
BACKGROUND_NAMES: tuple[str, ...] = tuple(BACKGROUNDS)

# The image side the CLIP tower sees and its patch grid (ViT-L/14-336: 24 x 24 patches of 14 px).
IMAGE_SIDE = 336
PATCH_SIZE = 14
GRID = IMAGE_SIDE // PATCH_SIZE
