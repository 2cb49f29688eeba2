"""Tiny random Qwen2-VL / Qwen2.5-VL checkpoints built in-process (transformers 5 classes, saved
with `save_pretrained`), with a word-level tokenizer holding Qwen's special tokens, a chat
template of Qwen's shape and a PIL image processor.

Vision: 14-pixel patches merged 2 x 2, so an image of 28k x 28m pixels gives k x m decoder rows;
Qwen2.5-VL's windows are 56 pixels (2 x 2 merged rows), every other block attending fully.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tiny_models import WORDS
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
from transformers import (
    PreTrainedTokenizerFast,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2VLConfig,
    Qwen2VLForConditionalGeneration,
    Qwen2VLImageProcessorPil,
)

QWEN_SPECIAL = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
    "<|image_pad|>", "<|video_pad|>",
)  # fmt: skip
QWEN_VOCAB = 128
# Qwen's template (one image, then the text, per user message) reduced to what a test needs.
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}"
    "<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% endif %}"
)
MIN_PIXELS, MAX_PIXELS = 28 * 28 * 2, 28 * 28 * 256


def qwen_vocab() -> dict[str, int]:
    words = tuple(dict.fromkeys(("system", "user", "you", "are", "a", "helpful", "assistant",
                                 "\n", *WORDS)))  # fmt: skip
    return {token: i for i, token in enumerate(QWEN_SPECIAL + words)}


def token_id(token: str) -> int:
    return qwen_vocab()[token]


def tiny_qwen_config(
    version: str = "qwen2_5_vl", layers: int = 3, tie: bool = True, hidden: int = 64,
    heads: int = 4, kv_heads: int = 2,
):  # fmt: skip
    """Heads of 16 dimensions (mrope_section 2 + 3 + 3 = 8 frequencies), whatever the width."""
    text = dict(
        vocab_size=QWEN_VOCAB, hidden_size=hidden, intermediate_size=2 * hidden + 24,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
        rms_norm_eps=1e-6,
        max_position_embeddings=4096, rope_theta=1e6,
        rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]},
        bos_token_id=None, eos_token_id=token_id("<|im_end|>"),
    )  # fmt: skip
    ids = dict(
        image_token_id=token_id("<|image_pad|>"), video_token_id=token_id("<|video_pad|>"),
        vision_start_token_id=token_id("<|vision_start|>"),
        vision_end_token_id=token_id("<|vision_end|>"), tie_word_embeddings=tie,
    )  # fmt: skip
    if version == "qwen2_vl":
        vision = dict(depth=2, embed_dim=32, hidden_size=hidden, num_heads=2, mlp_ratio=2)
        return Qwen2VLConfig(text_config=text, vision_config=vision, **ids)
    vision = dict(
        depth=2, hidden_size=32, intermediate_size=48, num_heads=2, out_hidden_size=hidden,
        window_size=56, fullatt_block_indexes=[1],
    )  # fmt: skip
    return Qwen2_5_VLConfig(text_config=text, vision_config=vision, **ids)


def tiny_hf_qwen(version: str = "qwen2_5_vl", seed: int = 0, **config):
    torch.manual_seed(seed)
    model_class = (
        Qwen2VLForConditionalGeneration if version == "qwen2_vl"
        else Qwen2_5_VLForConditionalGeneration
    )  # fmt: skip
    model = model_class(tiny_qwen_config(version, **config)).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" not in name and param.dim() > 1:
                param.normal_(0, 0.08)
            elif name.endswith(".bias") and "language_model" in name:
                param.normal_(0, 0.3)  # the query/key/value biases must matter
    return model


def qwen_processor() -> Qwen2VLImageProcessorPil:
    return Qwen2VLImageProcessorPil(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)


def save_qwen_tokenizer(folder: Path) -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.WordLevel(qwen_vocab(), unk_token="<|endoftext|>"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split("\n", "isolated"), pre_tokenizers.WhitespaceSplit(),
         pre_tokenizers.Punctuation()]
    )  # fmt: skip
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=list(QWEN_SPECIAL[1:]),
        chat_template=CHAT_TEMPLATE,
    )
    fast.save_pretrained(folder)
    return fast


def save_hf_qwen(model, folder: Path, generation: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if generation is not None:
        for key, value in generation.items():
            setattr(model.generation_config, key, value)
    model.save_pretrained(folder)
    qwen_processor().save_pretrained(folder)
    save_qwen_tokenizer(folder)
    (folder / "chat_template.json").write_text(json.dumps({"chat_template": CHAT_TEMPLATE}))
    return folder
