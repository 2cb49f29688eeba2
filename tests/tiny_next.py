"""Tiny random LLaVA-NeXT checkpoints built in-process, in llava-hf's format and in LLaVA's.

The source of truth is a transformers `LlavaNextForConditionalGeneration` with fixed random
weights: a 3 x 3 patch CLIP tower (42-pixel crops, so tiles of 42 pixels) and grid pinpoints
that are LLaVA-NeXT's scaled by 42 / 336. `save_original_next` writes the same weights as
LLaVA's v1.6 checkpoints are laid out (the fine-tuned tower inside the checkpoint, the base
tower in the folder `mm_vision_tower` names, here deliberately different weights).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tiny_models import HF_IMAGE_TOKEN, VOCAB, original_state_dict, save_tokenizer
from transformers import (
    CLIPImageProcessorPil,
    CLIPVisionConfig,
    CLIPVisionModel,
    LlamaConfig,
    LlavaNextConfig,
    LlavaNextForConditionalGeneration,
    LlavaNextImageProcessorPil,
    MistralConfig,
)

TILE = 42  # pixels per crop: 3 x 3 patches of 14


def pinpoints(tile: int = TILE) -> list[list[int]]:
    """LLaVA-NeXT's [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]] scaled to
    `tile`-pixel crops (336 -> tile)."""
    return [[tile * h, tile * w] for h, w in ((1, 2), (2, 1), (2, 2), (3, 1), (1, 3))]


PINPOINTS = pinpoints()


def tiny_next_config(
    decoder: str = "llama", layers: int = 3, window: int | None = None, tile: int = TILE,
    hidden: int = 64, heads: int = 4, kv_heads: int = 2,
):  # fmt: skip
    vision = CLIPVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
        image_size=tile, patch_size=14, projection_dim=32, hidden_act="quick_gelu",
    )  # fmt: skip
    common = dict(
        vocab_size=VOCAB, hidden_size=hidden, intermediate_size=2 * hidden + 24,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
        rms_norm_eps=1e-5, max_position_embeddings=2048, bos_token_id=1, eos_token_id=2,
        pad_token_id=0,
    )  # fmt: skip
    if decoder == "mistral":
        text = MistralConfig(**common, sliding_window=window, rope_theta=1e6)
    else:
        text = LlamaConfig(**common, rope_theta=10000.0)
    return LlavaNextConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=HF_IMAGE_TOKEN,
        image_grid_pinpoints=pinpoints(tile),
        vision_feature_layer=-2,
        vision_feature_select_strategy="default",
    )


def tiny_hf_next(seed: int = 0, **config) -> LlavaNextForConditionalGeneration:
    torch.manual_seed(seed)
    model = LlavaNextForConditionalGeneration(tiny_next_config(**config)).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" not in name and param.dim() > 1:
                param.normal_(0, 0.08)
        model.model.image_newline.normal_(0, 0.5)
    return model


def next_processor(tile: int = TILE) -> LlavaNextImageProcessorPil:
    return LlavaNextImageProcessorPil(
        size={"shortest_edge": tile},
        crop_size={"height": tile, "width": tile},
        image_grid_pinpoints=pinpoints(tile),
    )


def save_hf_next(model: LlavaNextForConditionalGeneration, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    next_processor(model.config.vision_config.image_size).save_pretrained(folder)
    save_tokenizer(folder)
    return folder


def save_original_next(
    model: LlavaNextForConditionalGeneration, folder: Path, tower_name: str = "clip"
) -> Path:
    """LLaVA v1.6's layout: flat config (anyres, spatial_unpad, pinpoints as LLaVA reads them:
    the same list, (width, height) pairs), one weight file with the decoder, projector, image
    newline and the fine-tuned tower; a base CLIP (other weights) in `tower_name`."""
    folder.mkdir(parents=True, exist_ok=True)
    text, vision = model.config.text_config, model.config.vision_config
    mistral, tile = text.model_type == "mistral", vision.image_size
    config = {
        "architectures": ["LlavaMistralForCausalLM" if mistral else "LlavaLlamaForCausalLM"],
        "model_type": "llava_mistral" if mistral else "llava_llama",
        "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0, "hidden_act": "silu",
        "hidden_size": text.hidden_size, "intermediate_size": text.intermediate_size,
        "num_hidden_layers": text.num_hidden_layers,
        "num_attention_heads": text.num_attention_heads,
        "num_key_value_heads": text.num_key_value_heads, "rms_norm_eps": text.rms_norm_eps,
        "rope_theta": text.rope_parameters["rope_theta"],
        "max_position_embeddings": text.max_position_embeddings, "vocab_size": text.vocab_size,
        "tie_word_embeddings": False, "image_aspect_ratio": "anyres",
        "image_grid_pinpoints": pinpoints(tile), "mm_patch_merge_type": "spatial_unpad",
        "mm_hidden_size": vision.hidden_size, "mm_projector_type": "mlp2x_gelu",
        "mm_use_im_patch_token": False, "mm_use_im_start_end": False,
        "mm_vision_select_feature": "patch", "mm_vision_select_layer": -2,
        "mm_vision_tower": tower_name, "unfreeze_mm_vision_tower": True,
    }  # fmt: skip
    if mistral:
        config["sliding_window"] = text.sliding_window
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    state = original_state_dict(model)
    state["model.image_newline"] = model.model.image_newline.detach().clone()
    for key, value in model.model.vision_tower.state_dict().items():
        state["model.vision_tower.vision_tower." + key] = value.clone()
    torch.save(state, folder / "pytorch_model.bin")
    torch.manual_seed(123)  # the base tower: not the weights the checkpoint was fine-tuned to
    CLIPVisionModel(vision).save_pretrained(folder / tower_name)
    CLIPImageProcessorPil(
        size={"shortest_edge": tile}, crop_size={"height": tile, "width": tile}
    ).save_pretrained(folder / tower_name)
    save_tokenizer(folder)
    return folder


# llava-hf's LLaVA-NeXT templates render the image as "<image>\n" before the text of the user's
# turn; this one has the Vicuna checkpoints' shape ("USER: ... ASSISTANT:").
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}"
    "{{ message['role'].upper() + ': '}}{% endif %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ content['text'] + ' '}}{% endfor %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)


def save_chat_tokenizer(folder: Path) -> None:
    """The tiny word-level tokenizer with llava-hf's "<image>" special token (at the model's
    image token id) and the chat template, saved as transformers saves a fast tokenizer."""
    from tiny_models import build_tokenizer
    from tokenizers import AddedToken
    from transformers import PreTrainedTokenizerFast

    tokenizer = build_tokenizer()
    vocab = tokenizer.get_vocab()
    vocab["<image>"] = HF_IMAGE_TOKEN
    rebuilt = type(tokenizer.model)(vocab, unk_token="<unk>")
    tokenizer.model = rebuilt
    tokenizer.add_special_tokens([AddedToken("<image>", special=True, normalized=False)])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
        chat_template=CHAT_TEMPLATE,
    )  # fmt: skip
    fast.save_pretrained(folder)
