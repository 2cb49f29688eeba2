"""Training data for the shipped demo model: fresh synthetic scenes, several questions each.

One image, several questions: the 576 image rows are the expensive part of a sequence, so each
training sequence is a multi-turn `vicuna_v1` conversation about one image (the first turn is
exactly what evaluation asks). Targets, per sequence:
- the answer tokens of every turn (the reply and its "</s>");
- per patch, the colour, shape and word of the object under it (for the vision tower);
- attention targets for the first question ("grounding", see `_grounding`);
- what that question's last token must know: the colour and shape asked (`asked`), and whether
  the image holds such an object (`found`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch

from llava.constants import IGNORE_INDEX, IMAGE_TOKEN_INDEX
from llava.conversation import get_conv_template
from llava.mm_utils import process_images, tokenizer_image_token
from llava.synthetic import (
    COLORS,
    NO_OBJECT,
    PLURALS,
    SHAPES,
    WORD_SHAPE,
    WORDS,
    ObjectStats,
    Scene,
    mme_questions,
    ocr_tokens,
    patch_owners,
    pope_positives,
    render,
    sample_mme_scene,
    sample_pope_scene,
    sample_scene,
    sample_textvqa_scene,
    short_answer_prompt,
    textvqa_prompt,
    textvqa_questions,
)
from llava.synthetic.mme import MME_CATEGORIES, UnsupportedScene
from llava.synthetic.pope import pope_question
from llava.synthetic.scenes import KINDS, Kind

COLOR_IDS = {name: i for i, name in enumerate(COLORS)}
SHAPE_IDS = {name: i for i, name in enumerate((*SHAPES, WORD_SHAPE))}
WORD_IDS = {word: i for i, word in enumerate(WORDS)}
PRIOR = ObjectStats.prior()


PREVIOUS_LAYERS = (0, 1)  # a shape word after a colour word reads it: "red circle"
WORD_LAYERS = (2, 6)  # SparseVLM's first scoring layers: question words look up the image
ROUTING_LAYERS = (7, 8)  # the last token gathers what the question's words found
ANSWER_LAYERS = (9, 10)  # and, for a question without "colour shape", looks itself
ASKED_LAYER = 9  # by then the last token must know the colour and shape the question names
FOUND_LAYER = 11  # and whether the image holds such an object
LOOKUP_HEAD = 0  # the head of WORD_LAYERS that looks up "colour shape" (see `_grounding`)


@dataclass(frozen=True)
class Grounding:
    """Where one token should put its attention (sequence indices after the image splice)."""

    row: int
    columns: list[int]
    layers: tuple[int, ...]
    head: int | None = None  # one head's attention, or (None) the heads' average


@dataclass
class Sample:
    pixels: torch.Tensor  # (3, 336, 336)
    input_ids: list[int]  # with IMAGE_TOKEN_INDEX where the image rows go
    labels: list[int]  # IGNORE_INDEX except on answer tokens; aligned with input_ids
    patch_colour: torch.Tensor  # (576,) colour id, -1 for no object
    patch_shape: torch.Tensor  # (576,)
    patch_word: torch.Tensor  # (576,)
    grounding: list[Grounding]
    # The first question's last token (sequence index after the splice) and the colour and
    # shape it names (ids, -1 if none): what that token must know before looking at the image.
    asked: tuple[int, int, int]
    found: int  # 1 if the image holds an object the first question names, 0 if not, -1 if n/a
    # The shape word of "colour shape", which looks the named object up in WORD_LAYERS and must
    # know `found` after them (sequence index after the splice); -1 for other questions.
    lookup_row: int


def _pope(scene: Scene, rng: random.Random) -> list[tuple[str, str]]:
    n = min(2, len(scene.kinds()))
    qas = pope_positives(scene, rng, n)
    turns = [(short_answer_prompt(qa.question), qa.reply) for qa in qas]
    return turns + [
        (short_answer_prompt(pope_question(kind)), "No") for kind in _negative_kinds(scene, rng, n)
    ]


def _negative_kinds(scene: Scene, rng: random.Random, n: int) -> list[Kind]:
    """`n` distinct absent kinds, each drawn with its frequency, as present kinds are asked.

    Not POPE's own negatives: its "popular" ones are always the same few frequent kinds, so a
    model trained on them answers from the kind asked ("blue circle?" -> "No") instead of
    looking. Drawn with the kinds' frequencies, absent kinds are asked as often as present
    ones, and the question alone says nothing about the answer. Half of them share a colour or
    a shape with a present object (POPE's adversarial idea), so that both must be checked.
    """
    present = scene.kinds()
    absent = [k for k in KINDS if k not in present]
    lookalike = [k for k in absent if any(k[0] == p[0] or k[1] == p[1] for p in present)]
    chosen: list[Kind] = []
    for _ in range(n):
        pool = [k for k in (lookalike if rng.random() < 0.5 else absent) if k not in chosen]
        pool = pool or [k for k in absent if k not in chosen]
        chosen.append(rng.choices(pool, weights=[PRIOR.count(k) for k in pool])[0])
    return chosen


def _mme(scene: Scene, rng: random.Random, first: str) -> list[tuple[str, str]]:
    pairs = []
    for category in [first] + rng.sample(MME_CATEGORIES, 2):
        try:
            pairs += [
                (short_answer_prompt(qa.question), qa.reply)
                for qa in mme_questions(scene, rng, category)
            ]
        except UnsupportedScene:
            continue
    return pairs


def _textvqa(scene: Scene, rng: random.Random) -> list[tuple[str, str]]:
    ocr = ocr_tokens(scene)
    qas = textvqa_questions(scene, rng, min(2, len(scene.word_boxes())))
    turns = [(textvqa_prompt(qa.question, ocr), qa.reply) for qa in qas]
    return turns + (_pope(scene, rng) if scene.kinds() else [])


def sample_conversation(rng: random.Random, easy: bool) -> tuple[Scene, list[tuple[str, str]]]:
    """A scene and its (question text, reply) turns. `easy`: a few large shapes, existence
    questions only (the start of the curriculum)."""
    if easy:
        scene = sample_scene(rng, num_objects=(2, 4), size_px=(40, 64))
        turns = _pope(scene, rng)
        rng.shuffle(turns)
        return scene, turns
    kind = rng.choices(("pope", "mme", "textvqa"), weights=(0.4, 0.35, 0.25))[0]
    if kind == "pope":
        scene = sample_pope_scene(rng, pairs=2, nonsquare_prob=0.1)
        turns = _pope(scene, rng)
    elif kind == "mme":
        category = rng.choice(MME_CATEGORIES)
        scene = sample_mme_scene(rng, category, nonsquare_prob=0.1)
        turns = _mme(scene, rng, category)
    else:
        scene = sample_textvqa_scene(rng, nonsquare_prob=0.1)
        turns = _textvqa(scene, rng)
    rng.shuffle(turns)  # any question may come first (question functions list "yes" first)
    return scene, turns[:6]


def patch_targets(scene: Scene, owners: np.ndarray) -> tuple[np.ndarray, ...]:
    colour, shape, word = (np.full(owners.shape, NO_OBJECT) for _ in range(3))
    for i, obj in enumerate(scene.objects):
        here = owners == i
        colour[here] = COLOR_IDS[obj.color]
        shape[here] = SHAPE_IDS[obj.shape]
        if obj.word is not None:
            word[here] = WORD_IDS[obj.word]
    return colour, shape, word


def _question_words(tokenizer, token_ids: list[int]) -> list[str]:
    """One lower-case word per token, plurals made singular ("circles" -> "circle")."""
    singular = {p: s for s, p in PLURALS.items()}
    words = [tokenizer.decode([t]).strip().lower() for t in token_ids]
    return [singular.get(w, w) for w in words]


def _named(scene: Scene, words: list[str]) -> tuple[dict[int, list[int]], list[int]]:
    """For question words (lower case, singular): per colour / shape word, the objects with that
    attribute; and the objects the question names: "red star" -> red stars, "star" -> stars."""
    per_word, named = {}, []
    for i, word in enumerate(words):
        if word in COLORS:
            per_word[i] = [k for k, o in enumerate(scene.objects) if o.color == word]
            if i + 1 < len(words) and words[i + 1] in SHAPE_IDS:
                continue  # the shape word that follows names the object
            named += per_word[i]
        elif word in SHAPE_IDS:
            per_word[i] = [k for k, o in enumerate(scene.objects) if o.shape == word]
            colour = words[i - 1] if i and words[i - 1] in COLORS else None
            named += [k for k in per_word[i] if colour in (None, scene.objects[k].color)]
    return per_word, named


def _spliced(position: int, num_visual: int) -> int:
    """input_ids index (after the image placeholder) -> index in the spliced sequence."""
    return position + num_visual - 1


def _conjunction(words: list[str], per_word: dict[int, list[int]]) -> int | None:
    """The index of the shape word in "colour shape" ("red circle"), if the question has one."""
    return next((i for i in per_word if i and words[i] in SHAPES and words[i - 1] in COLORS), None)


def _grounding(
    words: list[str],
    per_word: dict[int, list[int]],
    named: list[int],
    start: int,
    owners: np.ndarray,
    conjunction: int | None,
) -> list[Grounding]:
    """Attention targets for the first question, whose `words` begin at input_ids[start] right
    after the image (its last token is the one the reply is predicted from), in the spliced
    sequence's coordinates; `per_word` and `named` as `_named` gives them, `conjunction` as
    `_conjunction` does.

    - "A red circle" is looked up by its shape word, in one step: it reads the colour word
      before it (PREVIOUS_LAYERS), then attends to the red circles' patches, or to BOS (an
      attention sink) when there are none, in WORD_LAYERS, where SparseVLM scores: text-guided
      scoring keeps what the question names. One query can match both attributes against the
      patches once they tell shapes apart: the sink's score sits between one and two matches.
      That target is on one head (LOOKUP_HEAD): on the heads' average it is met as well by one
      head always on the sink and another always on the patches, which tells nothing.
    - Other colour and shape words look at the objects with that colour / shape there.
    - The last token then gathers what those words found (ROUTING_LAYERS: the shape word of
      "colour shape", else all of them), and, without "colour shape", looks the named objects
      up itself in ANSWER_LAYERS (or BOS if there are none). Both come after SparseVLM's first
      prunings, so the answer depends on which visual tokens survive them.
    """
    image_at = start - 1

    def columns(objects: list[int]) -> list[int]:
        return (image_at + np.flatnonzero(np.isin(owners, objects))).tolist()

    def row(position: int) -> int:
        return _spliced(position, owners.size)

    targets = [
        Grounding(row(start + i), columns(objects), WORD_LAYERS)
        for i, objects in per_word.items()
        if columns(objects) and i != conjunction
    ]
    answer = row(start + len(words) - 1)
    if conjunction is not None:
        shape_row = row(start + conjunction)
        targets += [
            Grounding(shape_row, [shape_row - 1], PREVIOUS_LAYERS),
            Grounding(shape_row, columns(named) or [0], WORD_LAYERS, LOOKUP_HEAD),
            Grounding(answer, [shape_row], ROUTING_LAYERS),
        ]
        return targets
    if per_word:
        targets.append(Grounding(answer, [row(start + i) for i in per_word], ROUTING_LAYERS))
    return targets + [Grounding(answer, columns(named) or [0], ANSWER_LAYERS)]


def build_sample(
    scene: Scene, turns: list[tuple[str, str]], tokenizer, image_processor, model_config
) -> Sample:
    conv = get_conv_template("vicuna_v1")
    conv.append_message(conv.roles[0], "<image>\n" + turns[0][0])
    spans = []  # (token index where the reply starts, where it ends) per turn
    for turn, (question, reply) in enumerate(turns):
        if turn:
            conv.append_message(conv.roles[0], question)
        conv.append_message(conv.roles[1], None)
        reply_start = len(tokenizer_image_token(conv.get_prompt(), tokenizer))
        conv.messages[-1][1] = reply
        reply_end = len(tokenizer_image_token(conv.get_prompt(), tokenizer))
        spans.append((reply_start, reply_end))
    input_ids = tokenizer_image_token(conv.get_prompt(), tokenizer)
    labels = [IGNORE_INDEX] * len(input_ids)
    for start, end in spans:
        labels[start:end] = input_ids[start:end]
    owners = patch_owners(scene).reshape(-1)
    colour, shape, word = patch_targets(scene, owners)
    start, end = input_ids.index(IMAGE_TOKEN_INDEX) + 1, spans[0][0]  # the first question
    words = _question_words(tokenizer, input_ids[start:end])
    per_word, named = _named(scene, words)
    conjunction = _conjunction(words, per_word)
    return Sample(
        pixels=process_images([render(scene)], image_processor, model_config)[0],
        input_ids=input_ids,
        labels=labels,
        patch_colour=torch.from_numpy(colour),
        patch_shape=torch.from_numpy(shape),
        patch_word=torch.from_numpy(word),
        grounding=_grounding(words, per_word, named, start, owners, conjunction),
        asked=(_spliced(end - 1, owners.size), *_asked(words)),
        found=int(bool(named)) if per_word else -1,
        lookup_row=-1 if conjunction is None else _spliced(start + conjunction, owners.size),
    )


def _asked(words: list[str]) -> tuple[int, int]:
    """The colour and shape ids a question's words name (-1 if none)."""
    colour = next((COLOR_IDS[w] for w in words if w in COLOR_IDS), -1)
    shape = next((SHAPE_IDS[w] for w in words if w in SHAPE_IDS), -1)
    return colour, shape
