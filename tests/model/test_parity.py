"""Parity of our decoder and LLaVA model with transformers on the same weights (float32, CPU).

- our LLaMA decoder vs. transformers' `LlamaForCausalLM` (GQA; default and non-default RoPE theta);
- our LLaVA vs. transformers' `LlavaForConditionalGeneration` (16 and 576 visual tokens);
- the original-format and llava-hf-format checkpoints of the same weights load to the same model;
- float16 / bfloat16 loading.
"""

from __future__ import annotations

import pytest
import torch
from model_helpers import (
    OTHER_QUESTION,
    QUESTION,
    llava_from_llama,
    make_image,
    prompt_ids,
    to_hf_ids,
)
from tiny_models import HF_IMAGE_TOKEN, save_llava_hf, tiny_hf_llava
from transformers import LlamaConfig, LlamaForCausalLM

from llava.constants import IMAGE_TOKEN_INDEX
from llava.mm_utils import process_images
from llava.model.builder import load_pretrained_model

TOL = 1e-4


def tiny_llama(rope_theta: float, seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=96,
        hidden_size=64,
        intermediate_size=152,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,  # GQA
        rms_norm_eps=1e-5,
        rope_theta=rope_theta,
        max_position_embeddings=512,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():  # weights large enough that every layer shows in the logits
        for name, param in model.named_parameters():
            if "norm" in name:
                param.copy_(1 + 0.2 * torch.randn_like(param))  # norm weights matter too
            else:
                param.normal_(0, 0.08)
    return model


@pytest.mark.parametrize("rope_theta", [10000.0, 500000.0])
def test_decoder_equals_transformers_llama(rope_theta: float) -> None:
    hf = tiny_llama(rope_theta)
    ours = llava_from_llama(hf)
    assert ours.config.text.rope_theta == rope_theta  # read from transformers 5's rope_parameters
    assert ours.config.text.num_key_value_heads == 2
    ids = torch.randint(3, 96, (2, 150), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = hf(input_ids=ids).logits
        logits, state, (stats, _) = ours(ids)
    assert logits.shape == expected.shape == (2, 150, 96)
    assert (logits - expected).abs().max().item() <= TOL
    assert stats.tokens_in == [150, 150, 150]
    assert stats.visual_in == [0, 0, 0]
    assert torch.equal(state.positions[0], torch.arange(150))


def test_rope_theta_matters() -> None:
    """The comparison above can fail: the same weights under another theta give other logits."""
    ours = llava_from_llama(tiny_llama(10000.0))
    other = tiny_llama(500000.0)
    ids = torch.randint(3, 96, (1, 150), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        diff = (ours(ids)[0] - other(input_ids=ids).logits).abs().max().item()
    assert diff > 100 * TOL


def _compare_with_llava_hf(hf_model, model, processor, tokenizer, num_visual: int) -> None:
    images = [make_image(70, 42, seed=1), make_image(30, 64, seed=2)]
    pixels = process_images(images, processor, model.config)
    ids_a = prompt_ids(tokenizer, QUESTION)
    ids_b = prompt_ids(tokenizer, OTHER_QUESTION)
    assert ids_a.shape == ids_b.shape  # one batch, the image at the same index in both rows
    ids = torch.cat((ids_a, ids_b))
    assert (ids == IMAGE_TOKEN_INDEX).sum() == 2
    hf_ids = to_hf_ids(ids, num_visual, HF_IMAGE_TOKEN)
    with torch.no_grad():
        expected = hf_model(input_ids=hf_ids, pixel_values=pixels).logits
        logits, state, (stats, _) = model(ids, pixels)
    assert logits.shape == expected.shape == (2, ids.shape[1] - 1 + num_visual, 128)
    assert (logits - expected).abs().max().item() <= TOL
    assert stats.visual_in[0] == num_visual
    # batch rows are independent: row 1 alone gives the same logits
    with torch.no_grad():
        alone = model(ids[1:], pixels[1:])[0]
    assert (alone - logits[1:]).abs().max().item() <= TOL


def test_llava_equals_transformers_llava(tiny_hf_model, loaded) -> None:
    tokenizer, model, processor, _ = loaded["llava-hf"]
    _compare_with_llava_hf(tiny_hf_model, model, processor, tokenizer, 16)


def test_llava_equals_transformers_llava_576_tokens(tmp_path) -> None:
    """LLaVA-1.5's real image size: 336 px, a 24 x 24 grid, 576 visual tokens."""
    hf_model = tiny_hf_llava(grid=24, layers=2)
    folder = save_llava_hf(hf_model, tmp_path / "grid24")
    tokenizer, model, processor, _ = load_pretrained_model(
        str(folder), None, "grid24", device="cpu", torch_dtype="float32"
    )
    assert model.get_vision_tower().num_patches == 576
    _compare_with_llava_hf(hf_model, model, processor, tokenizer, 576)


def test_llava_hf_last_layer_with_cls(tmp_path) -> None:
    """`vision_feature_layer` -1 and strategy "full" (CLS kept: 17 image rows) are honoured."""
    hf_model = tiny_hf_llava()
    hf_model.config.vision_feature_layer = -1
    hf_model.config.vision_feature_select_strategy = "full"
    hf_model.config.image_seq_length = 17
    folder = save_llava_hf(hf_model, tmp_path / "full")
    tokenizer, model, processor, _ = load_pretrained_model(
        str(folder), None, "full", device="cpu", torch_dtype="float32"
    )
    assert (model.config.mm_vision_select_layer, model.config.mm_vision_select_feature) == (
        -1,
        "cls_patch",
    )
    _compare_with_llava_hf(hf_model, model, processor, tokenizer, 17)


def test_original_and_hf_formats_load_the_same_model(loaded, pixels) -> None:
    _, original, proc_original, ctx_original = loaded["llava"]
    _, hf, proc_hf, ctx_hf = loaded["llava-hf"]
    state_original, state_hf = original.state_dict(), hf.state_dict()
    assert sorted(state_original) == sorted(state_hf)
    tower = [k for k in state_original if k.startswith("model.vision_tower.vision_tower.")]
    projector = [k for k in state_original if k.startswith("model.mm_projector.")]
    assert len(tower) > 20
    assert sorted(projector) == [
        "model.mm_projector.0.bias",
        "model.mm_projector.0.weight",
        "model.mm_projector.2.bias",
        "model.mm_projector.2.weight",
    ]
    for key in state_original:
        assert torch.equal(state_original[key], state_hf[key]), key
    assert original.config.text == hf.config.text
    assert ctx_original == ctx_hf == 2048
    assert proc_original.to_dict() == proc_hf.to_dict()

    ids = prompt_ids(loaded["llava"][0])
    assert torch.equal(ids, prompt_ids(loaded["llava-hf"][0]))
    with torch.no_grad():
        assert torch.equal(original(ids, pixels)[0], hf(ids, pixels)[0])


@pytest.mark.parametrize(
    ("dtype_name", "dtype", "tol"),
    [("float16", torch.float16, 2e-2), ("bfloat16", torch.bfloat16, 1.5e-1)],
)
def test_half_precision_loads_and_runs(
    tiny_checkpoints, tiny_model, pixels, dtype_name, dtype, tol
) -> None:
    tokenizer, model, _, _ = load_pretrained_model(
        str(tiny_checkpoints["llava"]), None, "tiny", device="cpu", torch_dtype=dtype_name
    )
    assert model.dtype == dtype
    assert {p.dtype for p in model.parameters()} == {dtype}  # the CLIP tower included
    ids = prompt_ids(tokenizer)
    with torch.no_grad():
        logits = model(ids, pixels)[0]
        reference = tiny_model(ids, pixels)[0]
    assert logits.dtype == dtype
    assert torch.isfinite(logits).all()
    diff = (logits.float() - reference).abs().max().item()
    assert 0 < diff <= tol  # rounded (not silently run in float32), yet close
    tokens = model.generate(ids, images=pixels.to(dtype), do_sample=False, max_new_tokens=3)
    assert tokens.shape == (1, 3)
