"""LLaVA-NeXT against transformers' `LlavaNextForConditionalGeneration` on the same weights
(float32, CPU), through our loader, for images whose grids need unpadding (wide, tall), none
(square), odd grids (3 x 1 tiles) and ties between grids; the original LLaVA format of the same
weights; a Mistral decoder with a sliding window.
"""

from __future__ import annotations

import pytest
import torch
from model_helpers import make_image, prompt_ids, to_hf_ids
from tiny_models import HF_IMAGE_TOKEN
from tiny_next import next_processor, save_hf_next, save_original_next, tiny_hf_next

from llava.model.anyres import best_resolution, tile_grid
from llava.model.builder import load_pretrained_model
from llava.model.image_inputs import image_input, visual_token_count
from llava.sparse.base import VISUAL

TOL = 1e-4
# (width, height) -> tile rows and columns as transformers picks them (pinpoints / 8, tiles of
# 3 x 3 features), and the feature rows and columns left after unpadding, worked out by hand:
# fitted into its canvas the image spans int(side * scale) features of the grid's other side,
# the rest split as padding (spare // 2 on each side).
SIZES = {
    (90, 60): (2, 2, 4, 6),  # 84 x 84 canvas, fitted 84 x 56: int(60 * 6 / 90) = 4 of 6 rows
    (60, 90): (2, 2, 6, 4),  # the transpose: 4 of 6 columns
    (100, 40): (1, 3, 3, 7),  # 126 x 42: int(100 * 3 / 40) = 7, pad 1: columns 1..7 of 9
    (40, 100): (3, 1, 7, 3),  # 42 x 126: an odd grid, rows 1..7 of 9
    (90, 90): (2, 2, 6, 6),  # square: nothing to unpad
    (30, 30): (1, 2, 3, 4),  # 84 x 42 and 42 x 84 tie; 3 of 6 columns, pad 1: columns 1..4
}


@pytest.fixture(scope="module")
def next_models(tmp_path_factory):
    hf = tiny_hf_next()
    root = tmp_path_factory.mktemp("next")
    loaded = {}
    for fmt, save in (("llava-hf", save_hf_next), ("llava", save_original_next)):
        folder = save(hf, root / f"llava-next-tiny-{fmt}")
        loaded[fmt] = load_pretrained_model(str(folder), None, fmt, device="cpu", dtype="float32")
    return hf, loaded


def hf_logits(hf, ids, image, processor, num_visual):
    inputs = processor([image], return_tensors="pt")
    hf_ids = to_hf_ids(ids, num_visual, HF_IMAGE_TOKEN)
    with torch.no_grad():
        return hf(
            input_ids=hf_ids, pixel_values=inputs["pixel_values"], image_sizes=inputs["image_sizes"]
        ).logits


@pytest.mark.parametrize("size", list(SIZES))
def test_llava_hf_next_equals_transformers(next_models, size) -> None:
    hf, loaded = next_models
    tokenizer, model, processor, _ = loaded["llava-hf"]
    image = make_image(*size, seed=sum(size))
    prepared = image_input(image, processor, model.config)
    tile_rows, tile_columns, rows, columns = SIZES[size]
    assert prepared.pixels.shape[0] == 1 + tile_rows * tile_columns
    ids = prompt_ids(tokenizer)
    with torch.no_grad():
        logits, state, (stats,) = model(ids, [prepared])
    # the whole image's 3 x 3, then the unpadded grid with one image-newline row per row
    assert stats.image_tokens == 9 + rows * (columns + 1)
    assert visual_token_count(image, processor, model) == stats.image_tokens  # from its size
    expected = hf_logits(hf, ids, image, processor, stats.image_tokens)  # checks the count too
    assert logits.shape == expected.shape
    assert (logits - expected).abs().max().item() <= TOL


@pytest.mark.parametrize("size", [(90, 60), (40, 100)])
def test_the_layout_places_every_row(next_models, size) -> None:
    _, loaded = next_models
    tokenizer, model, processor, _ = loaded["llava-hf"]
    prepared = image_input(make_image(*size), processor, model.config)
    ((state, _),) = model.prepare_samples(prompt_ids(tokenizer), [prepared])
    layout, (_, _, rows, columns) = state.layout, SIZES[size]
    assert layout.grids == ((3, 3), (rows, columns + 1))
    assert layout.cells.shape == (state.num_visual, 3)
    assert int(layout.separator.sum()) == rows  # one image-newline row per grid row
    newline_rows = layout.cells[layout.separator]
    assert newline_rows[:, 2].tolist() == [columns] * rows  # the last column of each row
    visual = (state.roles[0] == VISUAL).nonzero().squeeze(1)
    newline = state.hidden[0, visual[layout.separator]]
    torch.testing.assert_close(newline, model.model.image_newline.expand_as(newline))


def test_tie_break_follows_each_format() -> None:
    """The same pinpoint list read as (height, width) (transformers) and (width, height)
    (LLaVA): a small square image fits two grids equally well and each takes its list's first."""
    pinpoints = [[42, 84], [84, 42], [84, 84]]
    as_llava = tuple((w, h) for w, h in pinpoints)
    as_hf = tuple((w, h) for h, w in pinpoints)
    assert best_resolution((30, 30), as_llava) == (42, 84)  # tall: 2 x 1 tiles
    assert best_resolution((30, 30), as_hf) == (84, 42)  # wide: 1 x 2 tiles
    assert best_resolution((100, 40), as_llava) == best_resolution((100, 40), as_hf)


@pytest.mark.parametrize("size", [(100, 40), (40, 100), (90, 90), (130, 45)])
def test_original_format_equals_llava_hf(next_models, size) -> None:
    """LLaVA's own preprocessing (PIL) of the original checkpoint gives transformers' pixels,
    and the loaded model (its fine-tuned tower from the checkpoint, not the folder's base
    tower) the same logits."""
    _, loaded = next_models
    tok_o, original, proc_o, _ = loaded["llava"]
    tok_h, hf_format, proc_h, _ = loaded["llava-hf"]
    image = make_image(*size, seed=3)
    ours = image_input(image, proc_o, original.config)
    theirs = image_input(image, proc_h, hf_format.config)
    grid = tile_grid(size, original.config.anyres, 42)
    assert grid == tile_grid(size, hf_format.config.anyres, 42)
    torch.testing.assert_close(ours.pixels, theirs.pixels, atol=1e-5, rtol=0)
    ids = prompt_ids(tok_o)
    with torch.no_grad():
        a = original(ids, [ours])[0]
        b = hf_format(ids, [theirs])[0]
    assert (a - b).abs().max().item() <= TOL


def test_mistral_next_with_a_sliding_window_equals_transformers(tmp_path) -> None:
    hf = tiny_hf_next(decoder="mistral", window=20, seed=1)
    for fmt, save in (("llava-hf", save_hf_next), ("llava", save_original_next)):
        folder = save(hf, tmp_path / f"mistral-{fmt}")
        tokenizer, model, processor, _ = load_pretrained_model(
            str(folder), None, fmt, device="cpu", dtype="float32"
        )
        assert model.config.text.sliding_window == 20
        image = make_image(90, 60, seed=5)
        ids = prompt_ids(tokenizer)
        with torch.no_grad():
            logits, _, (stats,) = model(ids, [image_input(image, processor, model.config)])
        hf_processor = processor if fmt == "llava-hf" else next_processor()
        expected = hf_logits(hf, ids, image, hf_processor, stats.image_tokens)
        assert (logits - expected).abs().max().item() <= TOL
