"""Helpers for the model tests (plain functions; fixtures live in conftest.py).

Named `model_helpers` rather than `helpers` so that it cannot clash with another test folder's
module of the same name on `sys.path` (pytest's default "prepend" import mode).
"""

from __future__ import annotations

import torch
from PIL import Image, ImageDraw
from transformers import LlamaForCausalLM

from llava.constants import IMAGE_TOKEN_INDEX
from llava.eval.runner import build_prompt
from llava.mm_utils import tokenizer_image_token
from llava.model.config import LlavaConfig, llama_config_from_dict
from llava.model.llava import LlavaLlamaForCausalLM
from llava.sparse.base import VISUAL, PruningRun, TokenState

QUESTION = "is there a dog in the image ?\nanswer the question using a single word or phrase ."
# As many tokens as QUESTION, so that both prompts fit one batch.
OTHER_QUESTION = (
    "how many red circle is there in this picture ?\nanswer the question using a single word ."
)


def to_hf_ids(input_ids: torch.Tensor, num_visual: int, hf_image_token: int) -> torch.Tensor:
    """Our ids (one IMAGE_TOKEN_INDEX per row) -> llava-hf ids (its placeholder, num_visual
    times), which is how LlavaForConditionalGeneration expects the image."""
    rows = []
    for row in input_ids.tolist():
        out = []
        for token in row:
            out += [hf_image_token] * num_visual if token == IMAGE_TOKEN_INDEX else [token]
        rows.append(out)
    return torch.tensor(rows)


def make_image(width: int, height: int, seed: int = 0) -> Image.Image:
    """A non-trivial RGB image: a seeded colour gradient with a rectangle and an ellipse."""
    gen = torch.Generator().manual_seed(seed)
    base = torch.randint(0, 256, (3,), generator=gen).tolist()
    image = Image.new("RGB", (width, height), tuple(base))
    draw = ImageDraw.Draw(image)
    for i in range(width):
        draw.line([(i, 0), (i, height // 3)], fill=((base[0] + 3 * i) % 256, base[1], 40))
    draw.rectangle([width // 8, height // 2, width // 3, height - 2], fill=(200, 30, 30))
    draw.ellipse([width // 2, height // 4, width - 3, height - 4], fill=(20, 180, 60))
    return image


def prompt_ids(tokenizer, question: str = QUESTION, conv_mode: str = "vicuna_v1") -> torch.Tensor:
    """(1, L) ids of LLaVA's eval prompt for `question`, the image placeholder included."""
    prompt = build_prompt(question, conv_mode)
    return tokenizer_image_token(prompt, tokenizer, IMAGE_TOKEN_INDEX, return_tensors="pt")[None]


def llava_from_llama(hf: LlamaForCausalLM) -> LlavaLlamaForCausalLM:
    """Our model (text side only) holding the weights of a transformers LlamaForCausalLM."""
    text = llama_config_from_dict(hf.config.to_dict())
    config = LlavaConfig(text=text, mm_vision_tower=None, mm_hidden_size=8)
    model = LlavaLlamaForCausalLM(config).eval()
    result = model.load_state_dict(hf.state_dict(), strict=False)
    assert not result.unexpected_keys, result.unexpected_keys
    assert all(k.startswith("model.mm_projector.") for k in result.missing_keys), result
    return model


class _DropVisualRun(PruningRun):
    def __init__(self, layer: int, keep_every: int, renumber: bool) -> None:
        super().__init__()
        self.layer, self.keep_every = layer, keep_every
        self.renumbers_positions = renumber

    def after_layer(self, layer_idx: int, state: TokenState, probe) -> TokenState:
        if layer_idx != self.layer:
            return state
        roles = state.roles[0]
        visual_rank = torch.cumsum(roles == VISUAL, dim=0) - 1
        keep = (roles != VISUAL) | (visual_rank % self.keep_every == 0)
        return state.select(keep.nonzero().squeeze(1))


class DropVisual:
    """A toy method: after `layer`, keep every `keep_every`-th visual token. Whatever it sees
    after the image (prompt text, or generated tokens in a full recomputation) is kept, so a
    full forward over prompt + generated tokens is the reference for cached decoding."""

    name = "drop-visual"
    vision_request = None

    def __init__(self, layer: int, keep_every: int = 3, renumber: bool = True) -> None:
        self.layer, self.keep_every, self.renumber = layer, keep_every, renumber

    def describe(self) -> dict:
        return {"method": self.name, "layer": self.layer}

    def start(self, state: TokenState, num_layers: int) -> _DropVisualRun:
        return _DropVisualRun(self.layer, self.keep_every, self.renumber)
