"""Tiny random LLaVA-1.5 checkpoints built in-process (no hub, no network), in both formats.

One transformers `LlavaForConditionalGeneration` with fixed random weights is the source of
truth; `save_llava_hf` writes it as llava-hf does, `save_original_llava` writes the very same
weights the way LLaVA's checkpoints are laid out (`liuhaotian/llava-v1.5-7b` config keys, a
local CLIP folder, sharded `.bin` weights). Tokenizers are built with the `tokenizers` library.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import (
    CLIPImageProcessorPil,
    CLIPVisionConfig,
    LlamaConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
)

WORDS = (
    "a chat between curious user and an artificial intelligence assistant . the gives helpful ,"
    " detailed polite answers to 's questions user : assistant human is there dog in image ?"
    " answer question using single word or phrase yes no what color red blue green circle"
    " square how many of this picture describe reference ocr token"
).split()
SPECIAL = ("<unk>", "<s>", "</s>")
VOCAB = 128  # >= tokenizer size; the extra rows are never produced by the tokenizer
HF_IMAGE_TOKEN = VOCAB - 1  # llava-hf's placeholder id (inside the vocabulary, as in llava-hf)


def tiny_configs(
    layers: int = 4, grid: int = 4, hidden: int = 64, heads: int = 4, kv_heads: int = 2
) -> LlavaConfig:
    """grid x grid visual tokens (patch 14); grid 24 gives LLaVA-1.5's 576."""
    vision = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=3,
        num_attention_heads=4,
        image_size=14 * grid,
        patch_size=14,
        projection_dim=32,
        hidden_act="quick_gelu",
    )
    text = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=hidden,
        intermediate_size=2 * hidden + 24,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        max_position_embeddings=2048,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    return LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=HF_IMAGE_TOKEN,
        image_seq_length=grid * grid,
        vision_feature_layer=-2,
        vision_feature_select_strategy="default",
    )


def tiny_hf_llava(seed: int = 0, **config) -> LlavaForConditionalGeneration:
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(tiny_configs(**config)).eval()
    with torch.no_grad():  # larger-than-default weights so that layers matter in the logits
        for name, param in model.named_parameters():
            if "norm" not in name and param.dim() > 1:
                param.normal_(0, 0.08)
    return model


def build_tokenizer() -> Tokenizer:
    vocab = {token: i for i, token in enumerate(SPECIAL + tuple(dict.fromkeys(WORDS)))}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()]
    )
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", 1)]
    )
    return tokenizer


def save_tokenizer(folder: Path) -> None:
    tokenizer = build_tokenizer()
    tokenizer.save(str(folder / "tokenizer.json"))
    special = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
    (folder / "special_tokens_map.json").write_text(json.dumps(special))


def _processor(size: int) -> CLIPImageProcessorPil:
    return CLIPImageProcessorPil(
        size={"shortest_edge": size}, crop_size={"height": size, "width": size}
    )


def save_llava_hf(model: LlavaForConditionalGeneration, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    _processor(model.config.vision_config.image_size).save_pretrained(folder)
    save_tokenizer(folder)
    return folder


def original_state_dict(model: LlavaForConditionalGeneration) -> dict[str, torch.Tensor]:
    """The decoder and projector weights under LLaVA's names (the tower is saved apart)."""
    renames = {
        "model.language_model.": "model.",
        "model.multi_modal_projector.linear_1.": "model.mm_projector.0.",
        "model.multi_modal_projector.linear_2.": "model.mm_projector.2.",
        "lm_head.": "lm_head.",
    }
    state = {}
    for key, value in model.state_dict().items():
        for old, new in renames.items():
            if key.startswith(old):
                state[new + key[len(old) :]] = value.clone()
    return state


def save_original_llava(
    model: LlavaForConditionalGeneration, folder: Path, shards: int = 2, tower_name: str = "clip"
) -> Path:
    """LLaVA-1.5's own layout: flat config with mm_* keys, sharded .bin weights, and the CLIP
    tower in a local folder named by `mm_vision_tower` (relative to the checkpoint)."""
    folder.mkdir(parents=True, exist_ok=True)
    text, vision = model.config.text_config, model.config.vision_config
    config = {
        "_name_or_path": folder.name,
        "architectures": ["LlavaLlamaForCausalLM"],
        "model_type": "llava",
        "bos_token_id": 1,
        "eos_token_id": 2,
        "pad_token_id": 0,
        "hidden_act": "silu",
        "hidden_size": text.hidden_size,
        "intermediate_size": text.intermediate_size,
        "num_hidden_layers": text.num_hidden_layers,
        "num_attention_heads": text.num_attention_heads,
        "num_key_value_heads": text.num_key_value_heads,
        "rms_norm_eps": text.rms_norm_eps,
        "max_position_embeddings": text.max_position_embeddings,
        "vocab_size": text.vocab_size,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "image_aspect_ratio": "pad",
        "mm_hidden_size": vision.hidden_size,
        "mm_projector_type": "mlp2x_gelu",
        "mm_use_im_patch_token": False,
        "mm_use_im_start_end": False,
        "mm_vision_select_feature": "patch",
        "mm_vision_select_layer": -2,
        "mm_vision_tower": tower_name,
        "use_mm_proj": True,
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    state = original_state_dict(model)
    names = sorted(state)
    weight_map = {}
    for shard in range(shards):
        file = f"pytorch_model-{shard + 1:05d}-of-{shards:05d}.bin"
        part = {k: state[k] for k in names[shard::shards]}
        torch.save(part, folder / file)
        weight_map.update(dict.fromkeys(part, file))
    index = {"metadata": {}, "weight_map": weight_map}
    (folder / "pytorch_model.bin.index.json").write_text(json.dumps(index, indent=2))
    tower = folder / tower_name
    model.model.vision_tower.save_pretrained(tower)
    _processor(vision.image_size).save_pretrained(tower)
    save_tokenizer(folder)
    return folder
