"""The demo model's training: its grounding targets, and a few steps of every stage end to end."""

from __future__ import annotations

import json
import random

import pytest
import torch

from llava.constants import IMAGE_TOKEN_INDEX
from llava.model.builder import load_pretrained_model
from llava.model.tokenizer import SentencePieceTokenizer
from llava.synthetic import patch_owners, sample_scene
from llava.train import train_demo
from llava.train.data import (
    ANSWER_LAYERS,
    PREVIOUS_LAYERS,
    ROUTING_LAYERS,
    SHAPE_IDS,
    WORD_LAYERS,
    build_sample,
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Three steps of each stage: the script runs and writes a loadable LLaVA checkpoint."""
    torch.set_num_threads(1)
    output = tmp_path_factory.mktemp("demo-model")
    schedule = train_demo.Schedule(
        tower_steps=3, align_steps=3, qa_steps=3, batch=1, eval_every=3, heldout_per_benchmark=1
    )
    train_demo.train(output, seed=0, schedule=schedule)
    return output


def test_training_writes_a_loadable_checkpoint_and_a_log(trained) -> None:
    tokenizer, model, _, _ = load_pretrained_model(str(trained), None, trained.name, device="cpu")
    assert model.config.text.num_hidden_layers == 32
    assert model.get_vision_tower().num_patches == 576
    stages = [json.loads(line)["stage"] for line in (trained / "training/log.jsonl").open()]
    assert {"tower", "align", "qa", "heldout"} <= set(stages)


def test_a_run_can_start_from_an_earlier_runs_vision_tower(trained, tmp_path) -> None:
    schedule = train_demo.Schedule(
        tower_steps=3, align_steps=2, qa_steps=1, batch=1, eval_every=1, heldout_per_benchmark=1
    )
    train_demo.train(tmp_path, seed=1, schedule=schedule, tower_from=trained)
    assert (tmp_path / "tokenizer.model").read_bytes() == (trained / "tokenizer.model").read_bytes()
    _, earlier, _, _ = load_pretrained_model(str(trained), None, trained.name, device="cpu")
    _, later, _, _ = load_pretrained_model(str(tmp_path), None, tmp_path.name, device="cpu")
    towers = earlier.get_vision_tower().state_dict(), later.get_vision_tower().state_dict()
    assert all(torch.equal(towers[0][name], towers[1][name]) for name in towers[0])
    stages = [json.loads(line)["stage"] for line in (tmp_path / "training/log.jsonl").open()]
    assert "tower" not in stages and {"align", "qa"} <= set(stages)


def _first_turn(trained, scene, question: str):
    tokenizer = SentencePieceTokenizer(trained / "tokenizer.model")
    _, model, processor, _ = load_pretrained_model(str(trained), None, trained.name, device="cpu")
    sample = build_sample(scene, [(question, "Yes")], tokenizer, processor, model.config)
    return tokenizer, sample


def _targets(sample, layers):
    return [g for g in sample.grounding if g.layers == layers]


def _token_at(sample, row: int, tokenizer) -> str:
    """The text token at a spliced-sequence row (rows after the image shift by 575)."""
    return tokenizer.decode([sample.input_ids[row - len(sample.patch_colour) + 1]]).strip()


def test_a_colour_and_shape_question_is_looked_up_by_its_shape_word(trained) -> None:
    scene = sample_scene(random.Random(3), num_objects=(3, 3))
    colour, shape = scene.objects[0].kind
    tokenizer, present = _first_turn(trained, scene, f"Is there a {colour} {shape}?")
    assert _token_at(present, present.lookup_row, tokenizer) == shape and present.found == 1
    (previous,) = [g for g in _targets(present, PREVIOUS_LAYERS) if g.row == present.lookup_row]
    assert [_token_at(present, row, tokenizer) for row in previous.columns] == [colour]
    (lookup,) = [g for g in _targets(present, WORD_LAYERS) if g.row == present.lookup_row]
    image_at = present.input_ids.index(IMAGE_TOKEN_INDEX)
    named = set(scene.indices(color=colour, shape=shape))
    owners = patch_owners(scene).reshape(-1)
    assert lookup.columns and {int(owners[row - image_at]) for row in lookup.columns} == named
    (route,) = _targets(present, ROUTING_LAYERS)
    assert route.columns == [present.lookup_row] and not _targets(present, ANSWER_LAYERS)

    absent_colour = next(c for c in ("red", "blue", "green", "yellow", "white")
                         if (c, shape) not in scene.kinds())  # fmt: skip
    _, absent = _first_turn(trained, scene, f"Is there a {absent_colour} {shape}?")
    (lookup,) = [g for g in _targets(absent, WORD_LAYERS) if g.row == absent.lookup_row]
    assert lookup.columns == [0] and absent.found == 0  # BOS, the attention sink


def test_a_shape_question_looks_up_the_objects_patches(trained) -> None:
    scene = sample_scene(random.Random(3), num_objects=(3, 3))
    shape = scene.objects[0].shape
    _, sample = _first_turn(trained, scene, f"Is there a {shape}?")
    (lookup,) = _targets(sample, ANSWER_LAYERS)
    image_at = sample.input_ids.index(IMAGE_TOKEN_INDEX)
    patches = [row - image_at for row in lookup.columns]
    assert patches and all(int(sample.patch_shape[p]) == SHAPE_IDS[shape] for p in patches)
    assert sample.asked[2] >= 0 and sample.asked[1] == -1  # a shape asked, no colour
    assert sample.lookup_row == -1
