"""Scenes: vocabulary sanity, placement constraints, determinism, rendering."""

from __future__ import annotations

import random

import numpy as np
import pytest

from llava.synthetic.fonts import text_size
from llava.synthetic.render import object_mask, render
from llava.synthetic.scenes import (
    EDGE_MARGIN,
    KINDS,
    Background,
    Scene,
    SceneObject,
    boxes_apart,
    sample_scene,
    scene_from_dict,
    scene_to_dict,
    word_box_size,
)
from llava.synthetic.vocab import (
    BACKGROUNDS,
    COLOR_NAMES,
    COLOR_WEIGHTS,
    COLORS,
    NUMBER_WORDS,
    PLURALS,
    SHAPE_WEIGHTS,
    SHAPES,
    WORD_FONT_SIZE,
    WORD_SHAPE,
    WORDS,
)


def test_vocabulary_is_small_regular_and_unambiguous():
    assert 6 <= len(COLORS) <= 10 and 4 <= len(SHAPES) <= 8 and 20 <= len(WORDS) <= 40
    assert len(COLOR_WEIGHTS) == len(COLORS) and len(SHAPE_WEIGHTS) == len(SHAPES)
    assert set(PLURALS) == set(SHAPES)
    vocab = [*COLORS, *SHAPES, *WORDS, WORD_SHAPE, *NUMBER_WORDS]
    assert len(vocab) == len(set(vocab)), "a word is both a colour/shape/number and a text word"
    for word in vocab:
        assert word.isalpha() and word.islower()
    # POPE's template says "a {object}": no colour or shape may need "an".
    assert not [w for w in [*COLORS, *SHAPES] if w[0] in "aeiou"]
    assert len(KINDS) == len(COLORS) * len(SHAPES)


def test_object_colours_stand_out_from_every_background():
    for color in COLORS.values():
        for background in BACKGROUNDS.values():
            assert np.linalg.norm(np.subtract(color, background)) >= 80


def test_every_word_fits_a_box_of_at_most_four_patches():
    for word in WORDS:
        width, height = word_box_size(random.Random(0), word)
        assert 28 <= width <= 56 and 28 <= height <= 42
        assert text_size(word, WORD_FONT_SIZE)[0] < width


@pytest.mark.parametrize("seed", range(40))
def test_sampled_objects_are_inside_apart_and_in_size_range(seed):
    rng = random.Random(seed)
    scene = sample_scene(rng, num_objects=(3, 8), num_words=(0, 3), nonsquare_prob=0.3)
    width, height = scene.size
    assert max(scene.size) == 336 and min(scene.size) >= 224
    plain = [o for o in scene.objects if o.shape in SHAPES]
    words = [o for o in scene.objects if o.shape == WORD_SHAPE]
    assert 3 <= len(plain) <= 8 and len(words) <= 3
    for obj in scene.objects:
        x0, y0, x1, y1 = obj.bbox
        assert EDGE_MARGIN <= x0 < x1 <= width - EDGE_MARGIN
        assert EDGE_MARGIN <= y0 < y1 <= height - EDGE_MARGIN
        assert obj.color in COLORS
    for obj in plain:
        assert obj.width == obj.height and 28 <= obj.width <= 56 and obj.word is None
    assert len({o.color for o in words}) == len(words) == len({o.word for o in words})
    for i, a in enumerate(scene.objects):
        for b in scene.objects[i + 1 :]:
            assert boxes_apart(a.bbox, b.bbox, 6)
            assert not (object_mask(a, scene.size) & object_mask(b, scene.size)).any()


def test_forced_kinds_are_present():
    kinds = [("red", "circle"), ("red", "circle"), ("blue", "star")]
    scene = sample_scene(random.Random(3), kinds=kinds, num_objects=(0, 0))
    assert sorted(o.kind for o in scene.objects) == sorted(kinds)
    with pytest.raises(ValueError, match="unknown kind"):
        sample_scene(random.Random(3), kinds=[("orange", "circle")])


def test_sampling_and_rendering_are_deterministic():
    a = sample_scene(random.Random(7), num_words=(1, 3))
    b = sample_scene(random.Random(7), num_words=(1, 3))
    assert a == b
    assert np.array_equal(np.asarray(render(a)), np.asarray(render(b)))
    assert sample_scene(random.Random(8), num_words=(1, 3)) != a


def test_scene_round_trips_through_dict():
    scene = sample_scene(random.Random(11), num_words=(2, 2), nonsquare_prob=1.0)
    assert scene_from_dict(scene_to_dict(scene)) == scene


def test_render_paints_each_object_in_its_colour():
    objects = (
        SceneObject("red", "circle", (20, 20, 60, 60)),
        SceneObject("yellow", "triangle", (100, 40, 140, 80)),
        SceneObject("blue", WORD_SHAPE, (200, 200, 250, 228), "cat"),
    )
    scene = Scene((336, 336), Background(("gray",), noise=12, noise_seed=5), objects)
    pixels = np.asarray(render(scene))
    assert pixels.shape == (336, 336, 3)
    for obj in objects[:2]:
        mask = object_mask(obj, scene.size)
        assert (pixels[mask] == COLORS[obj.color]).all()
    box = pixels[200:228, 200:250].reshape(-1, 3)
    # the word is written in white on the blue box
    assert (box == COLORS["blue"]).all(axis=1).mean() > 0.6
    assert (box.min(axis=1) > 200).any()
    background = pixels[~np.any([object_mask(o, scene.size) for o in objects], axis=0)]
    assert np.abs(background.astype(int) - 128).max() <= 12


def test_color_names_and_canonical_order():
    assert COLOR_NAMES == tuple(COLORS)
    assert KINDS[0] == (COLOR_NAMES[0], SHAPES[0])
