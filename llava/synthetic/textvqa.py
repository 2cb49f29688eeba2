"""TextVQA-style reading questions: words written on coloured boxes.

"What word is written on the red box?" The OCR line of LLaVA's prompt lists every word in the
image in reading order, so the model knows the candidates but must look at the right box to
pick one. Ground truth has ten "human" answers per question like TextVQA: mostly the word,
some capitalised, and now and then a stray answer (another word, "unanswerable"), never enough
to keep the right word below TextVQA's full-credit threshold of 3 matching humans.
"""

from __future__ import annotations

import random

from llava.synthetic.questions import QA
from llava.synthetic.scenes import Scene, sample_scene

TEXTVQA_TEMPLATES: tuple[str, ...] = (
    "What word is written on the {color} box?",
    "What is written on the {color} box?",
    "What does the {color} box say?",
)
NUM_HUMAN_ANSWERS = 10
UNANSWERABLE = "unanswerable"
SAME_LINE_PX = 14  # half a word box: closer centres are on the same line of text


def ocr_tokens(scene: Scene) -> list[str]:
    """The words in the image in reading order: lines top to bottom, each left to right.

    A word joins the current line when its centre is within SAME_LINE_PX (vertically) of the
    line's first word.
    """
    objects = scene.objects
    lines: list[list[int]] = []
    for i in sorted(scene.word_boxes(), key=lambda i: (objects[i].center[1], i)):
        if lines and objects[i].center[1] - objects[lines[-1][0]].center[1] < SAME_LINE_PX:
            lines[-1].append(i)
        else:
            lines.append([i])
    return [
        str(objects[i].word)
        for line in lines
        for i in sorted(line, key=lambda i: (objects[i].center[0], i))
    ]


def textvqa_questions(scene: Scene, rng: random.Random, n: int = 1) -> list[QA]:
    """`n` questions about `n` different word boxes (so the questions differ)."""
    boxes = list(scene.word_boxes())
    if len(boxes) < n:
        raise ValueError(f"scene has {len(boxes)} word boxes, {n} questions asked")
    questions = []
    for i in rng.sample(boxes, n):
        obj = scene.objects[i]
        template = rng.choice(TEXTVQA_TEMPLATES)
        questions.append(QA(template.format(color=obj.color), str(obj.word), (i,)))
    return questions


def human_answers(rng: random.Random, answer: str, ocr: list[str]) -> list[str]:
    """Ten TextVQA-style human answers for a question whose answer is `answer`."""
    strays = [w for w in ocr if w != answer] + [UNANSWERABLE]
    num_strays = rng.choices((0, 1, 2), weights=(6, 3, 1))[0]
    answers = [rng.choice(strays) for _ in range(num_strays)]
    variants = (answer, answer.capitalize(), answer.upper())
    answers += rng.choices(variants, weights=(8, 1.5, 0.5), k=NUM_HUMAN_ANSWERS - num_strays)
    rng.shuffle(answers)
    return answers


def sample_textvqa_scene(
    rng: random.Random,
    *,
    num_words: tuple[int, int] = (2, 4),
    num_objects: tuple[int, int] = (0, 3),
    nonsquare_prob: float = 0.0,
) -> Scene:
    """A scene with 2-4 word boxes of distinct colours and words, plus a few plain shapes."""
    return sample_scene(
        rng, num_objects=num_objects, num_words=num_words, nonsquare_prob=nonsquare_prob
    )
