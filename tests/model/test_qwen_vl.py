"""Qwen2.5-VL and Qwen2-VL against transformers' `Qwen2_5_VLForConditionalGeneration` /
`Qwen2VLForConditionalGeneration` on the same weights (float32, CPU), loaded through our
builder: logits for images of several sizes and aspect ratios (grids of 2 x 3 to 5 x 3 merged
rows, Qwen2.5-VL's windows padded), and cached decoding at the right 3-D positions."""

from __future__ import annotations

import pytest
import torch
from model_helpers import make_image
from tiny_qwen import save_hf_qwen, tiny_hf_qwen, token_id

from llava.constants import IMAGE_TOKEN_INDEX
from llava.generate import decode_one_token, prefill
from llava.model.builder import load_pretrained_model
from llava.model.image_inputs import image_input
from llava.model.qwen_vl import QwenImage
from llava.sparse.base import NoPruning

TOL = 1e-4
# (width, height) in pixels -> merged rows x columns (the processor keeps multiples of 28)
SIZES = {(84, 56): (2, 3), (84, 140): (5, 3), (84, 84): (3, 3), (168, 56): (2, 6)}


@pytest.fixture(scope="module", params=["qwen2_5_vl", "qwen2_vl"])
def qwen(request, tmp_path_factory):
    hf = tiny_hf_qwen(request.param)
    folder = save_hf_qwen(hf, tmp_path_factory.mktemp("qwen") / request.param)
    return hf, load_pretrained_model(str(folder), None, "qwen", device="cpu", dtype="float32")


def prompt(tokenizer, question: str = "is there a dog in the image ?") -> torch.Tensor:
    before = tokenizer("<|im_start|>user\n<|vision_start|>").input_ids
    after = tokenizer(f"<|vision_end|>{question}<|im_end|>\n<|im_start|>assistant\n").input_ids
    return torch.tensor([before + [IMAGE_TOKEN_INDEX] + after])


def hf_inputs(ids: torch.Tensor, image: QwenImage, num_rows: int) -> dict:
    pad = token_id("<|image_pad|>")
    expanded = []
    for token in ids[0].tolist():
        expanded += [pad] * num_rows if token == IMAGE_TOKEN_INDEX else [token]
    input_ids = torch.tensor([expanded])
    return {
        "input_ids": input_ids,
        "pixel_values": image.pixels,
        "image_grid_thw": torch.tensor([image.grid]),
        "mm_token_type_ids": (input_ids == pad).int(),
    }


@pytest.mark.parametrize("size", list(SIZES))
def test_logits_equal_transformers(qwen, size) -> None:
    hf, (tokenizer, model, processor, _) = qwen
    image = image_input(make_image(*size, seed=size[0]), processor, model.config)
    rows, columns = SIZES[size]
    assert image.grid == (1, 2 * rows, 2 * columns)
    ids = prompt(tokenizer)
    with torch.no_grad():
        logits, state, (stats,) = model(ids, [image])
        expected = hf(**hf_inputs(ids, image, rows * columns)).logits
    assert stats.image_tokens == rows * columns
    assert state.positions.shape == (1, 3, ids.shape[1] - 1 + rows * columns)
    assert (logits - expected).abs().max().item() <= TOL


def test_positions_are_qwens(qwen) -> None:
    """A 2 x 3 grid after 5 prompt tokens: rows at (5, 5 + i, 5 + j), the text after at 5 + 3."""
    _, (tokenizer, model, processor, _) = qwen
    image = image_input(make_image(84, 56), processor, model.config)
    ids = prompt(tokenizer)
    at = int((ids[0] == IMAGE_TOKEN_INDEX).nonzero())
    ((state, _),) = model.prepare_samples(ids, [image])
    positions = state.positions[0]
    assert positions[:, :at].tolist() == [list(range(at))] * 3
    image_part = positions[:, at : at + 6].T.tolist()
    assert image_part == [[at, at + i, at + j] for i in range(2) for j in range(3)]
    assert positions[:, at + 6].tolist() == [at + 3] * 3


def test_cached_decoding_equals_transformers_over_the_whole_sequence(qwen) -> None:
    """Prefill, then 4 decoded tokens (each at one past the largest position): every step's
    logits equal transformers' forward over prompt + those tokens (its own 3-D numbering)."""
    hf, (tokenizer, model, processor, _) = qwen
    image = image_input(make_image(84, 140, seed=9), processor, model.config)
    ids = prompt(tokenizer)
    continuation = torch.tensor([[token_id("yes"), token_id("a"), token_id("red"), 7]])
    with torch.no_grad():
        logits, cache, _ = prefill(model, ids, [image], NoPruning())
        steps = [logits[0]]
        for t in range(3):
            steps.append(decode_one_token(model, continuation[:, t], cache)[0])
        inputs = hf_inputs(torch.cat((ids, continuation[:, :3]), dim=1), image, 15)
        expected = hf(**inputs).logits[0, -4:]
    torch.testing.assert_close(torch.stack(steps), expected, atol=TOL, rtol=0)


def test_text_only_prompts_count_up_on_every_axis(qwen) -> None:
    hf, (tokenizer, model, _, _) = qwen
    ids = torch.tensor([tokenizer("<|im_start|>user\nwhat color ?<|im_end|>\n").input_ids])
    with torch.no_grad():
        logits, state, _ = model(ids)
        expected = hf(input_ids=ids).logits
    assert state.positions[0].tolist() == [list(range(ids.shape[1]))] * 3
    assert (logits - expected).abs().max().item() <= TOL
