"""Stage B's projector alignment and the colour-and-shape lookup head it starts."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from llava.synthetic import COLORS, WORDS
from llava.train.data import LOOKUP_HEAD, SHAPE_IDS, WORD_LAYERS, Grounding
from llava.train.objectives import GroundingRecorder, ProjectorAlignment
from llava.train.train_demo import build_model, init_lookup_heads


@pytest.fixture(scope="module")
def words():
    generator = torch.Generator().manual_seed(0)
    rows = torch.randn(len(COLORS) + len(SHAPE_IDS) + len(WORDS), 64, generator=generator)
    rows = 0.02 * rows
    colours, rest = rows[: len(COLORS)], rows[len(COLORS) :]
    return colours, rest[: len(SHAPE_IDS)], rest[len(SHAPE_IDS) :]


def _patches(words, shapes_shift: int = 0):
    """One image: the first 56 patches show each colour-and-shape pair once, the rest nothing;
    the projected rows are their objects' embedding sums, shapes shifted by `shapes_shift`."""
    colours, shapes, _ = words
    colour = torch.full((1, 576), -1)
    shape = torch.full((1, 576), -1)
    pairs = [(c, s) for c in range(len(colours)) for s in range(len(shapes))]
    for patch, (c, s) in enumerate(pairs):
        colour[0, patch], shape[0, patch] = c, s
    projected = torch.zeros(1, 576, 64)
    on_object = colour >= 0
    shifted = (shape[on_object] + shapes_shift) % len(shapes)
    projected[on_object] = colours[colour[on_object]] + shapes[shifted]
    batch = {"colour": colour, "shape": shape, "word": torch.full((1, 576), -1)}
    return projected, batch


def test_alignment_prefers_each_patchs_own_colour_and_shape(words) -> None:
    alignment = ProjectorAlignment(*words)
    own, batch = _patches(words)
    other_shape, _ = _patches(words, shapes_shift=1)
    assert alignment.loss(own, batch) < alignment.loss(other_shape, batch) - 1.0


@torch.no_grad()
def test_the_lookup_head_starts_matching_a_question_to_its_own_patches(words) -> None:
    """Sequence: 56 patch rows, one per colour-and-shape pair, 10 positions apart (spanning
    the image's 576 positions), then a query row holding one pair. At the start of training the
    lookup head already attends most to the query's own pair, in every WORD_LAYERS layer."""
    colours, shapes, _ = words
    torch.manual_seed(0)
    model = build_model(vocab_size=100)
    init_lookup_heads(model, colours, shapes)
    pairs = [(c, s) for c in range(len(colours)) for s in range(len(shapes))]
    rows = torch.stack([colours[c] + shapes[s] for c, s in pairs])
    positions = torch.tensor([[35 + 10 * i for i in range(len(pairs))] + [650]])
    cos, sin = model.model.rotary(positions, torch.float32)
    for layer in WORD_LAYERS:
        attention = model.model.layers[layer].self_attn
        for asked in range(0, len(pairs), 5):
            x = torch.cat((rows, rows[asked : asked + 1]))[None]
            x = x * x.pow(2).mean(-1, keepdim=True).rsqrt()  # as RMSNorm gives it
            _, keys = attention(x, cos, sin, None)
            last = torch.tensor([len(pairs)])
            weights = attention.attention_rows(x, cos, sin, keys, last)[0, LOOKUP_HEAD, 0]
            others = torch.cat((weights[:asked], weights[asked + 1 : len(pairs)]))
            assert float(weights[asked]) > 5 * float(others.max())


def test_a_target_on_one_head_is_scored_on_that_head_alone() -> None:
    """Head 0 on the target column, head 1 elsewhere: met on head 0, half met on average."""
    sample = SimpleNamespace(grounding=[Grounding(row=4, columns=[1], layers=(2,), head=0)])
    recorder = GroundingRecorder([sample])
    attention = torch.zeros(1, 2, 1, 5)
    attention[0, 0, 0, 1] = attention[0, 1, 0, 3] = 1.0
    recorder.attention[2] = attention
    assert float(recorder.loss([sample])) == pytest.approx(0.0, abs=1e-4)
    sample.grounding = [Grounding(row=4, columns=[1], layers=(2,))]
    assert float(recorder.loss([sample])) == pytest.approx(math.log(2), abs=1e-4)
