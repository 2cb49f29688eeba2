"""Question generators: every answer checked against the scene by independent logic."""

from __future__ import annotations

import random
import re

import pytest

from llava.synthetic.examples import BENCHMARKS, CATEGORIES, sample_example
from llava.synthetic.mme import MME_CATEGORIES, UnsupportedScene, mme_questions, sample_mme_scene
from llava.synthetic.pope import POPE_SPLITS, pope_negatives, pope_questions, sample_pope_scene
from llava.synthetic.questions import INSTRUCTION, OCR_PREFIX
from llava.synthetic.scenes import KINDS, Background, Scene, SceneObject
from llava.synthetic.stats import ObjectStats
from llava.synthetic.textvqa import (
    NUM_HUMAN_ANSWERS,
    human_answers,
    ocr_tokens,
    sample_textvqa_scene,
    textvqa_questions,
)
from llava.synthetic.vocab import NUMBER_WORDS, PLURALS, SHAPES

POPE_RE = re.compile(r"^Is there a (\w+) (\w+) in the image\?$")
BG = Background(("gray",))


def _pope_kind(question: str) -> tuple[str, str]:
    match = POPE_RE.match(question)
    assert match, question
    return (match[1], match[2])


@pytest.mark.parametrize("seed", range(15))
def test_pope_questions_follow_pope(seed):
    rng = random.Random(seed)
    scenes = [sample_pope_scene(rng, pairs=3) for _ in range(10)]
    stats = ObjectStats.from_scenes(scenes)
    scene = scenes[0]
    present = set(scene.kinds())
    per_split = pope_questions(scene, random.Random(seed), stats, pairs=3)
    assert list(per_split) == list(POPE_SPLITS)
    positives = [qa.question for qa in per_split["random"][::2]]
    for split, qas in per_split.items():
        assert [qa.answer for qa in qas] == ["yes", "no"] * 3
        assert [qa.question for qa in qas[::2]] == positives  # shared across splits
        assert len({qa.question for qa in qas}) == 6
        for qa in qas:
            kind = _pope_kind(qa.question)
            assert (kind in present) == (qa.answer == "yes")
            if qa.answer == "yes":
                assert qa.objects and all(scene.objects[i].kind == kind for i in qa.objects)
        negatives = [_pope_kind(qa.question) for qa in qas[1::2]]
        absent = [k for k in KINDS if k not in present]
        if split == "popular":
            # no absent kind is more frequent than a chosen one
            floor = min(stats.count(k) for k in negatives)
            assert all(stats.count(k) <= floor for k in absent if k not in negatives)
        if split == "adversarial":
            for kind in negatives:  # shares its colour or shape with something present
                assert any(kind[0] == p[0] or kind[1] == p[1] for p in present)


def test_adversarial_prefers_swapped_attributes():
    scene = Scene(
        (336, 336),
        BG,
        (
            SceneObject("red", "circle", (10, 10, 40, 40)),
            SceneObject("blue", "square", (100, 100, 130, 130)),
        ),
    )
    qas = pope_negatives(scene, random.Random(0), ObjectStats.prior(), "adversarial", 2)
    assert sorted(_pope_kind(qa.question) for qa in qas) == [("blue", "circle"), ("red", "square")]
    assert all(set(qa.objects) == {0, 1} for qa in qas)  # both look-alikes are the evidence
    with pytest.raises(ValueError, match="unknown POPE split"):
        pope_negatives(scene, random.Random(0), ObjectStats.prior(), "easy", 1)


def test_prior_statistics_rank_the_heaviest_kinds_first():
    stats = ObjectStats.prior()
    ranked = sorted(KINDS, key=lambda k: -stats.count(k))
    assert ranked[0] == KINDS[0] and sum(stats.frequency.values()) == pytest.approx(1.0)


def _check_mme(scene: Scene, category: str, question: str, answer: str) -> None:
    truth: bool
    if category == "existence":
        match = re.fullmatch(r"Is there a (\w+) in this image\?", question)
        assert match and match[1] in SHAPES
        truth = any(o.shape == match[1] for o in scene.objects)
    elif category == "count":
        match = re.fullmatch(r"Is there one (\w+) in the image\?", question)
        if match:
            shape, n = match[1], 1
        else:
            match = re.fullmatch(r"Are there (\w+) (\w+) in the image\?", question)
            assert match and match[1] != "one"
            plural_to_shape = {p: s for s, p in PLURALS.items()}
            shape, n = plural_to_shape[match[2]], NUMBER_WORDS.index(match[1])
        truth = sum(o.shape == shape for o in scene.objects) == n
    elif category == "color":
        match = re.fullmatch(r"Is there a (\w+) (\w+) in the image\?", question)
        assert match
        truth = any(o.kind == (match[1], match[2]) for o in scene.objects)
    else:
        match = re.fullmatch(
            r"Is the (\w+ \w+) (on the left of|on the right of|above|below) the (\w+ \w+) in "
            r"the image\?",
            question,
        )
        assert match
        (a,) = [o for o in scene.objects if o.name == match[1]]
        (b,) = [o for o in scene.objects if o.name == match[3]]
        truth = {
            "on the left of": a.bbox[2] <= b.bbox[0],
            "on the right of": a.bbox[0] >= b.bbox[2],
            "above": a.bbox[3] <= b.bbox[1],
            "below": a.bbox[1] >= b.bbox[3],
        }[match[2]]
    assert truth == (answer == "yes"), (category, question, answer)


@pytest.mark.parametrize("category", MME_CATEGORIES)
def test_mme_pairs_are_one_yes_one_no_and_true(category):
    counts = set()
    for seed in range(25):
        rng = random.Random(seed)
        scene = sample_mme_scene(rng, category)
        yes, no = mme_questions(scene, rng, category)
        assert (yes.answer, no.answer) == ("yes", "no") and yes.question != no.question
        assert (yes.reply, no.reply) == ("Yes", "No")
        _check_mme(scene, category, yes.question, "yes")
        _check_mme(scene, category, no.question, "no")
        if category == "count":
            counts.add(len(yes.objects))
    if category == "count":
        assert counts >= {1, 2, 3}, counts


def test_mme_rejects_scenes_it_cannot_ask_about():
    empty = Scene((336, 336), BG, ())
    for category in MME_CATEGORIES:
        with pytest.raises(UnsupportedScene):
            mme_questions(empty, random.Random(0), category)
    with pytest.raises(ValueError, match="unknown MME category"):
        mme_questions(empty, random.Random(0), "OCR")


@pytest.mark.parametrize("seed", range(20))
def test_textvqa_questions_name_one_box_and_answer_its_word(seed):
    rng = random.Random(seed)
    scene = sample_textvqa_scene(rng, num_words=(2, 4))
    ocr = ocr_tokens(scene)
    assert sorted(ocr) == sorted(o.word for o in scene.objects if o.word)
    qas = textvqa_questions(scene, rng, 2)
    assert len({qa.question for qa in qas}) == 2
    for qa in qas:
        color = re.search(r"the (\w+) box", qa.question)[1]
        (box,) = [o for o in scene.objects if o.word and o.color == color]
        assert qa.answer == box.word and qa.objects == (scene.objects.index(box),)
        answers = human_answers(rng, qa.answer, ocr)
        assert len(answers) == NUM_HUMAN_ANSWERS
        assert sum(a.lower() == qa.answer for a in answers) >= 8


def test_ocr_tokens_are_in_reading_order():
    objects = (
        SceneObject("red", "box", (200, 10, 240, 38), "cat"),
        SceneObject("blue", "box", (20, 14, 60, 42), "dog"),
        SceneObject("green", "box", (20, 200, 60, 228), "sun"),
    )
    assert ocr_tokens(Scene((336, 336), BG, objects)) == ["dog", "cat", "sun"]


@pytest.mark.parametrize("bench", BENCHMARKS)
def test_training_examples_match_benchmark_formats(bench):
    rng = random.Random(1)
    for category in CATEGORIES[bench]:
        example = sample_example(rng, bench, category)
        assert example.image.size == example.scene.size
        assert example.prompt.endswith("\n" + INSTRUCTION)
        assert (example.benchmark, example.category) == (bench, category)
        lines = example.prompt.split("\n")
        if bench == "textvqa":
            assert len(lines) == 3 and lines[1].startswith(OCR_PREFIX)
            assert example.answer in lines[1]
        else:
            assert len(lines) == 2 and example.answer in ("Yes", "No")
    drawn = {sample_example(rng).benchmark for _ in range(12)}
    assert drawn == set(BENCHMARKS)
    with pytest.raises(ValueError):
        sample_example(rng, "gqa")
