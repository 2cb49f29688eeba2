"""Scene facts are true and unambiguous; multiple-choice options have exactly one true answer."""

from __future__ import annotations

import math
import random

import pytest

from llava.synthetic.choices import LETTERS, multiple_choice, option_lines
from llava.synthetic.facts import TOPICS, sample_fact, sample_fitting
from llava.synthetic.mmbench import rotations
from llava.synthetic.scenes import KINDS, Scene, sample_scene
from llava.synthetic.seeding import make_rng
from llava.synthetic.vocab import COLOR_NAMES, SHAPES


def _scenes(n: int = 150) -> list[tuple[Scene, random.Random]]:
    out = []
    for i in range(n):
        rng = make_rng(7, "test", f"facts/{i}")
        out.append((sample_scene(rng, num_objects=(2, 7), num_words=(0, 3)), rng))
    return out


def _strictly(a, b, relation: str) -> bool:
    """a's box entirely on `relation`'s side of b's box."""
    return {
        "left": a.bbox[2] <= b.bbox[0], "right": a.bbox[0] >= b.bbox[2],
        "above": a.bbox[3] <= b.bbox[1], "below": a.bbox[1] >= b.bbox[3],
    }[relation]  # fmt: skip


def _check_fact(scene: Scene, topic: str, fact) -> None:
    objects, target = scene.objects, scene.objects[fact.target]
    plain = [o for o in objects if o.shape in SHAPES]
    assert fact.answer not in fact.wrong and fact.topic == topic
    if topic == "color":
        assert [o.color for o in objects if o.shape == target.shape] == [fact.answer]
        assert set(fact.wrong) == set(COLOR_NAMES) - {fact.answer}
    elif topic == "shape":
        assert [o.shape for o in objects if o.color == target.color] == [fact.answer]
    elif topic == "word":
        assert target.word == fact.answer and target.shape == "box"
    elif topic == "count":
        assert int(fact.answer) == sum(o.shape == target.shape for o in objects) >= 1
    elif topic in ("relation", "position", "nearest"):
        reference = objects[fact.reference]
        assert sum(o.kind == reference.kind for o in objects) == 1
        if topic == "relation":
            assert _strictly(target, reference, fact.relation)
            assert fact.answer == target.name and sum(o.kind == target.kind for o in objects) == 1
            others = [o for o in plain if o not in (target, reference)]
            axis = 0 if fact.relation in ("left", "right") else 1
            sign = 1 if fact.relation in ("left", "above") else -1
            near_edge = reference.bbox[axis] if sign == 1 else reference.bbox[axis + 2]
            assert all(sign * (o.center[axis] - near_edge) >= 0 for o in others)
        elif topic == "position":
            held = [
                r for r in ("left", "right", "above", "below") if _strictly(target, reference, r)
            ]
            assert held == [fact.answer]
        else:
            distances = sorted(
                math.dist(o.center, reference.center) for o in plain if o is not reference
            )
            assert math.dist(target.center, reference.center) == distances[0]
            assert distances[1] >= 1.5 * distances[0]
    elif topic == "exists":
        present = {f"{c} {s}" for c, s in scene.kinds()}
        assert fact.answer in present and not present & set(fact.wrong)
        assert set(fact.wrong) | present == {f"{c} {s}" for c, s in KINDS}
    elif topic in ("side", "quadrant"):
        x = target.center[0] / scene.size[0]
        y = target.center[1] / scene.size[1]
        assert fact.answer.endswith("left" if x < 0.5 else "right")
        assert abs(x - 0.5) >= 0.12
        if topic == "quadrant":
            assert fact.answer.startswith("top" if y < 0.5 else "bottom") and abs(y - 0.5) >= 0.12
    assert fact.target in fact.objects


def test_every_topic_is_true_and_unambiguous():
    found = dict.fromkeys(TOPICS, 0)
    for scene, rng in _scenes():
        for topic in TOPICS:
            fact = sample_fact(scene, rng, topic)
            if fact is not None:
                _check_fact(scene, topic, fact)
                found[topic] += 1
    assert all(n >= 10 for n in found.values()), found  # every topic is exercised


def test_unknown_topic():
    scene, rng = _scenes(1)[0]
    with pytest.raises(ValueError, match="unknown topic"):
        sample_fact(scene, rng, "texture")


def test_sample_fitting_resamples_until_the_builder_fits():
    calls = []

    def needs_a_word(scene, rng):
        calls.append(scene)
        return scene.word_boxes() or None

    scene, boxes = sample_fitting(make_rng(0, "test", "fit"), needs_a_word, num_words=(0, 1))
    assert boxes and scene is calls[-1] and all(not s.word_boxes() for s in calls[:-1])
    again = sample_fitting(make_rng(0, "test", "fit"), needs_a_word, num_words=(0, 1))
    assert again[0] == scene


def test_multiple_choice():
    rng = random.Random(3)
    for n in (2, 3, 4, 5):
        choice = multiple_choice(
            rng, "Q?", "red", ["blue", "red", "green", "blue", "pink", "white"], n
        )
        assert len(choice.options) == n == len(set(choice.options))
        assert choice.options.count("red") == 1 and choice.answer_text == "red"
        assert choice.letter == LETTERS[choice.options.index("red")]
    capped = multiple_choice(rng, "Q?", "yes", ["yes", "no"], 4)
    assert sorted(capped.options) == ["no", "yes"]
    assert option_lines(("a", "b")) == "A. a\nB. b"
    with pytest.raises(ValueError, match="n_options"):
        multiple_choice(rng, "Q?", "a", ["b"], 6)
    with pytest.raises(ValueError, match="no distractor"):
        multiple_choice(rng, "Q?", "a", ["a"], 2)


def test_mmbench_rotations_follow_the_answer():
    choice = multiple_choice(random.Random(1), "Q?", "c", ["a", "b", "d"], 4)
    rotated = rotations(choice)
    assert rotated[0] == (choice.options, choice.answer) and len(rotated) == 4
    for k, (options, answer) in enumerate(rotated):
        assert sorted(options) == sorted(choice.options) and options[answer] == "c"
        assert options[k % 4] == choice.options[0]  # option 0 moves to position k
