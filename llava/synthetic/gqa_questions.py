"""GQA-style questions about a scene: GQA's structural and semantic types, and its programs.

Open questions ("query": "What color is the star?", "Which shape is to the left of the red
circle?") and binary ones (verify, logical, choose, compare), each with GQA's annotations: the
structural / semantic / detailed types, the "semantic" program (select, relate, query, verify
... steps; its length is the number of reasoning steps eval.py tabulates), the full answer and
the answer's kind (`groups.global`, which eval.py's distribution metric groups by).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from llava.synthetic.facts import (
    OPPOSITE,
    RELATION_PHRASES,
    absent_kinds,
    name,
    only_of_shape,
    sample_fact,
)
from llava.synthetic.scenes import Scene
from llava.synthetic.vocab import PLURALS, SHAPES

STRUCTURAL_TYPES: tuple[str, ...] = ("query", "verify", "logical", "choose", "compare")


@dataclass(frozen=True)
class GqaQuestion:
    question: str
    answer: str  # lower case, as GQA's
    structural: str  # one of STRUCTURAL_TYPES
    semantic: str  # attr, cat, obj or rel
    detailed: str
    steps: tuple[dict[str, Any], ...]  # GQA's "semantic" program
    full_answer: str
    objects: tuple[int, ...]
    group: str | None = None  # groups.global: the kind of an open question's answer


Builder = Callable[[Scene, random.Random, bool], GqaQuestion | None]


def _step(operation: str, argument: str, *dependencies: int) -> dict[str, Any]:
    return {"operation": operation, "dependencies": list(dependencies), "argument": argument}


def _select(scene: Scene, i: int) -> dict[str, Any]:
    return _step("select", f"{scene.objects[i].shape} ({i})")


def _query_attribute(scene: Scene, rng: random.Random, _: bool) -> GqaQuestion | None:
    topic = rng.choice(("color", "shape", "word"))
    fact = sample_fact(scene, rng, topic)
    if fact is None:
        return None
    obj = scene.objects[fact.target]
    if topic == "color":
        question, full = f"What color is the {obj.shape}?", f"The {obj.shape} is {fact.answer}."
        return GqaQuestion(
            question,
            fact.answer,
            "query",
            "attr",
            "directOf",
            (_select(scene, fact.target), _step("query", "color", 0)),
            full,
            fact.objects,
            "color",
        )
    if topic == "shape":
        question = f"What shape is the {obj.color} object?"
        full = f"The {obj.color} object is a {fact.answer}."
        steps = (
            _step("select", f"object ({fact.target})"),
            _step("filter color", obj.color, 0),
            _step("query", "name", 1),
        )
        return GqaQuestion(
            question,
            fact.answer,
            "query",
            "cat",
            "categoryAttr",
            steps,
            full,
            fact.objects,
            "shape",
        )
    question = f"What word is written on the {obj.color} box?"
    full = f"The word on the {obj.color} box is {fact.answer}."
    steps = (
        _step("select", f"box ({fact.target})"),
        _step("filter color", obj.color, 0),
        _step("query", "text", 1),
    )
    return GqaQuestion(
        question, fact.answer, "query", "attr", "directOf", steps, full, fact.objects, "text"
    )


def _query_related(scene: Scene, rng: random.Random, _: bool) -> GqaQuestion | None:
    fact = sample_fact(scene, rng, "relation")
    if fact is None or fact.reference is None or fact.relation is None:
        return None
    target, reference = scene.objects[fact.target], name(scene, fact.reference)
    phrase = RELATION_PHRASES[fact.relation]
    relate = _step("relate", f"shape,{phrase},s ({fact.target})", 0)
    if rng.random() < 0.5:
        question = f"Which shape is {phrase} the {reference}?"
        answer, detailed, semantic, group = target.shape, "categoryRelS", "rel", "shape"
        query = _step("query", "name", 1)
        full = f"The shape {phrase} the {reference} is a {answer}."
    else:
        question = f"What color is the shape {phrase} the {reference}?"
        answer, detailed, semantic, group = target.color, "relAttr", "rel", "color"
        query = _step("query", "color", 1)
        full = f"The shape {phrase} the {reference} is {answer}."
    steps = (_select(scene, fact.reference), relate, query)
    return GqaQuestion(
        question, answer, "query", semantic, detailed, steps, full, fact.objects, group
    )


def _verify_exists(scene: Scene, rng: random.Random, yes: bool) -> GqaQuestion | None:
    fact = sample_fact(scene, rng, "exists")
    if fact is None:
        return None
    kind = fact.answer if yes else rng.choice(absent_kinds(scene))
    color, shape = kind.split()
    question = f"Is there a {kind} in the image?"
    full = f"Yes, there is a {kind}." if yes else f"No, there are no {color} {PLURALS[shape]}."
    steps = (
        _step("select", f"{shape} (-)"),
        _step("filter color", color, 0),
        _step("exist", "?", 1),
    )
    objects = fact.objects if yes else scene.indices(shape=shape)
    return GqaQuestion(
        question, "yes" if yes else "no", "verify", "obj", "existAttr", steps, full, objects
    )


def _verify_color(scene: Scene, rng: random.Random, yes: bool) -> GqaQuestion | None:
    fact = sample_fact(scene, rng, "color")
    if fact is None:
        return None
    shape = scene.objects[fact.target].shape
    asked = fact.answer if yes else rng.choice(fact.wrong)
    full = f"Yes, the {shape} is {asked}." if yes else f"No, the {shape} is {fact.answer}."
    steps = (_select(scene, fact.target), _step("verify color", asked, 0))
    return GqaQuestion(
        f"Is the {shape} {asked}?",
        "yes" if yes else "no",
        "verify",
        "attr",
        "verifyAttr",
        steps,
        full,
        fact.objects,
    )


def _verify_relation(scene: Scene, rng: random.Random, yes: bool) -> GqaQuestion | None:
    fact = sample_fact(scene, rng, "position")
    if fact is None or fact.reference is None:
        return None
    a, b = name(scene, fact.target), name(scene, fact.reference)
    held = RELATION_PHRASES[fact.answer]
    asked = held if yes else RELATION_PHRASES[OPPOSITE[fact.answer]]
    full = f"Yes, the {a} is {held} the {b}." if yes else f"No, the {a} is {held} the {b}."
    steps = (_select(scene, fact.reference), _step("verify rel", f"{a},{asked},o", 0))
    return GqaQuestion(
        f"Is the {a} {asked} the {b}?",
        "yes" if yes else "no",
        "verify",
        "rel",
        "relVerify",
        steps,
        full,
        fact.objects,
    )


def _logical(scene: Scene, rng: random.Random, yes: bool) -> GqaQuestion | None:
    present = list(scene.shapes())
    absent = [s for s in SHAPES if s not in present]
    both = rng.random() < 0.5  # "both ... and" or "either ... or"
    n_present = {(True, True): 2, (True, False): 1, (False, True): 1, (False, False): 0}[both, yes]
    if len(present) < n_present or len(absent) < 2 - n_present:
        return None
    shapes = rng.sample(present, n_present) + rng.sample(absent, 2 - n_present)
    rng.shuffle(shapes)
    first, second = (PLURALS[s] for s in shapes)
    missing = [PLURALS[s] for s in shapes if s in absent]
    if both:
        question = f"Are there both {first} and {second} in the image?"
        detailed, operation = "logicAnd", "and"
        full = (
            f"Yes, there are both {first} and {second}."
            if yes
            else f"No, there are no {missing[0]}."
        )
    else:
        question = f"Are there either {first} or {second} in the image?"
        detailed, operation = "logicOr", "or"
        found = [PLURALS[s] for s in shapes if s in present]
        full = (
            f"Yes, there are {found[0]}." if yes else f"No, there are neither {first} nor {second}."
        )
    steps = (
        _step("select", f"{shapes[0]} (-)"),
        _step("exist", "?", 0),
        _step("select", f"{shapes[1]} (-)"),
        _step("exist", "?", 2),
        _step(operation, "", 1, 3),
    )
    objects = tuple(i for s in shapes for i in scene.indices(shape=s))
    return GqaQuestion(
        question, "yes" if yes else "no", "logical", "obj", detailed, steps, full, objects
    )


def _choose_color(scene: Scene, rng: random.Random, _: bool) -> GqaQuestion | None:
    fact = sample_fact(scene, rng, "color")
    if fact is None:
        return None
    shape = scene.objects[fact.target].shape
    pair = [fact.answer, rng.choice(fact.wrong)]
    rng.shuffle(pair)
    steps = (_select(scene, fact.target), _step("choose color", "|".join(pair), 0))
    return GqaQuestion(
        f"Is the {shape} {pair[0]} or {pair[1]}?",
        fact.answer,
        "choose",
        "attr",
        "chooseAttr",
        steps,
        f"The {shape} is {fact.answer}.",
        fact.objects,
    )


def _choose_relation(scene: Scene, rng: random.Random, _: bool) -> GqaQuestion | None:
    fact = sample_fact(scene, rng, "position")
    if fact is None or fact.reference is None:
        return None
    a, b = name(scene, fact.target), name(scene, fact.reference)
    if fact.answer in ("left", "right"):
        question = f"Is the {a} to the left or to the right of the {b}?"
        argument = "to the left of|to the right of"
    else:
        question, argument = f"Is the {a} above or below the {b}?", "above|below"
    steps = (_select(scene, fact.target), _step("choose rel", f"{b},{argument},s", 0))
    full = f"The {a} is {RELATION_PHRASES[fact.answer]} the {b}."
    return GqaQuestion(
        question, fact.answer, "choose", "rel", "chooseRel", steps, full, fact.objects
    )


def _compare_color(scene: Scene, rng: random.Random, yes: bool) -> GqaQuestion | None:
    named = only_of_shape(scene)
    pairs = [
        (a, b)
        for a in named
        for b in named
        if a < b and (scene.objects[a].color == scene.objects[b].color) == yes
    ]
    if not pairs:
        return None
    a, b = rng.choice(pairs)
    first, second = scene.objects[a].shape, scene.objects[b].shape
    full = (
        f"Yes, both the {first} and the {second} are {scene.objects[a].color}."
        if yes
        else f"No, the {first} is {scene.objects[a].color} and the {second} is "
        f"{scene.objects[b].color}."
    )
    steps = (_select(scene, a), _select(scene, b), _step("same color", "", 0, 1))
    return GqaQuestion(
        f"Do the {first} and the {second} have the same color?",
        "yes" if yes else "no",
        "compare",
        "attr",
        "sameColor",
        steps,
        full,
        (a, b),
    )


OPEN_BUILDERS: tuple[Builder, ...] = (_query_attribute, _query_related)
BINARY_BUILDERS: tuple[Builder, ...] = (
    _verify_exists,
    _verify_color,
    _verify_relation,
    _logical,
    _choose_color,
    _choose_relation,
    _compare_color,
)


def gqa_questions(scene: Scene, rng: random.Random, n: int) -> list[GqaQuestion] | None:
    """`n` different questions, half open and half binary (an odd one either, at random);
    None if the scene cannot carry them.

    Binary verify / logical / compare questions are yes or no with equal chance (GQA's
    balanced split has both answers in every type).
    """
    n_open = n // 2 + (n % 2 == 1 and rng.random() < 0.5)
    questions: list[GqaQuestion] = []
    for k in range(n):
        builders = list(OPEN_BUILDERS if k < n_open else BINARY_BUILDERS)
        rng.shuffle(builders)
        for build in builders:
            question = build(scene, rng, rng.random() < 0.5)
            if question is not None and question.question not in {q.question for q in questions}:
                questions.append(question)
                break
        else:
            return None
    return questions
