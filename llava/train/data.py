"""Training data for the shipped demo model: fresh synthetic scenes, several questions each.

One image, several questions: the 576 image rows are the expensive part of a sequence, so each
training sequence is a multi-turn `vicuna_v1` conversation about one image (the first turn is
exactly what evaluation asks). Targets, per sequence:
- the answer tokens of every turn (the reply and its "</s>");
- per patch, the colour, shape and word of the object under it (for the vision tower);
- for the first question's colour / shape words, the patches of the objects with that colour /
  shape ("grounding": where the word's token should look).
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
    pope_negatives,
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
from llava.synthetic.pope import POPE_SPLITS

COLOR_IDS = {name: i for i, name in enumerate(COLORS)}
SHAPE_IDS = {name: i for i, name in enumerate((*SHAPES, WORD_SHAPE))}
WORD_IDS = {word: i for i, word in enumerate(WORDS)}
PRIOR = ObjectStats.prior()


@dataclass
class Sample:
    pixels: torch.Tensor  # (3, 336, 336)
    input_ids: list[int]  # with IMAGE_TOKEN_INDEX where the image rows go
    labels: list[int]  # IGNORE_INDEX except on answer tokens; aligned with input_ids
    patch_colour: torch.Tensor  # (576,) colour id, -1 for no object
    patch_shape: torch.Tensor  # (576,)
    patch_word: torch.Tensor  # (576,)
    grounding: list[tuple[int, list[int]]]  # (index in input_ids, patches it should look at)


def _pope(scene: Scene, rng: random.Random) -> list[tuple[str, str]]:
    n = min(2, len(scene.kinds()))
    qas = pope_positives(scene, rng, n)
    qas += pope_negatives(scene, rng, PRIOR, rng.choice(POPE_SPLITS), n)
    return [(short_answer_prompt(qa.question), qa.reply) for qa in qas]


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


def _patch_targets(scene: Scene) -> tuple[np.ndarray, ...]:
    owners = patch_owners(scene).reshape(-1)
    colour, shape, word = (np.full(owners.shape, NO_OBJECT) for _ in range(3))
    for i, obj in enumerate(scene.objects):
        here = owners == i
        colour[here] = COLOR_IDS[obj.color]
        shape[here] = SHAPE_IDS[obj.shape]
        if obj.word is not None:
            word[here] = WORD_IDS[obj.word]
    return colour, shape, word


def _grounding(
    scene: Scene, tokenizer, input_ids: list[int], start: int, end: int, owners: np.ndarray
) -> list[tuple[int, list[int]]]:
    """Colour and shape words of input_ids[start:end] -> patches of the objects they name."""
    plural = {p: s for s, p in PLURALS.items()}
    targets = []
    for position in range(start, end):
        word = tokenizer.decode([input_ids[position]]).strip().lower()
        word = plural.get(word, word)
        if word in COLORS:
            named = [i for i, o in enumerate(scene.objects) if o.color == word]
        elif word in SHAPE_IDS:
            named = [i for i, o in enumerate(scene.objects) if o.shape == word]
        else:
            continue
        patches = np.flatnonzero(np.isin(owners, named)).tolist()
        if patches:
            targets.append((position, patches))
    return targets


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
    image_at = input_ids.index(IMAGE_TOKEN_INDEX)
    first_question_end = spans[0][0]
    colour, shape, word = _patch_targets(scene)
    owners = patch_owners(scene).reshape(-1)
    return Sample(
        pixels=process_images([render(scene)], image_processor, model_config)[0],
        input_ids=input_ids,
        labels=labels,
        patch_colour=torch.from_numpy(colour),
        patch_shape=torch.from_numpy(shape),
        patch_word=torch.from_numpy(word),
        grounding=_grounding(scene, tokenizer, input_ids, image_at + 1, first_question_end, owners),
    )
