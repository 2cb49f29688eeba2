"""Writing the demo model in the original LLaVA-1.5 checkpoint format."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import CLIPImageProcessorPil, CLIPVisionConfig

from llava.model.llava import LlavaLlamaForCausalLM

TOWER_FOLDER = "clip-vit-synthetic-patch14-336"  # the checkpoint's mm_vision_tower


def save_checkpoint(
    model: LlavaLlamaForCausalLM,
    folder: Path,
    tokenizer_file: Path,
    processor: CLIPImageProcessorPil,
    vision: CLIPVisionConfig,
) -> None:
    """The original LLaVA-1.5 layout: config.json with mm_* keys, model.safetensors (decoder and
    projector, float16), the tower in a folder named by mm_vision_tower, tokenizer.model."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    text = model.config.text
    state = {
        k: v.detach().to(torch.float16).contiguous()
        for k, v in model.state_dict().items()
        if not k.startswith("model.vision_tower.")
    }
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    config = {
        "_name_or_path": folder.name,
        "architectures": ["LlavaLlamaForCausalLM"],
        "model_type": "llava",
        "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0,
        "hidden_act": "silu",
        "hidden_size": text.hidden_size,
        "intermediate_size": text.intermediate_size,
        "num_hidden_layers": text.num_hidden_layers,
        "num_attention_heads": text.num_attention_heads,
        "num_key_value_heads": text.num_key_value_heads,
        "max_position_embeddings": text.max_position_embeddings,
        "rms_norm_eps": text.rms_norm_eps,
        "rope_theta": text.rope_theta,
        "vocab_size": text.vocab_size,
        "tie_word_embeddings": False,
        "torch_dtype": "float16",
        "image_aspect_ratio": "pad",
        "mm_hidden_size": model.config.mm_hidden_size,
        "mm_projector_type": "mlp2x_gelu",
        "mm_use_im_patch_token": False,
        "mm_use_im_start_end": False,
        "mm_vision_select_feature": "patch",
        "mm_vision_select_layer": -2,
        "mm_vision_tower": TOWER_FOLDER,
        "tokenizer_model_max_length": 2048,
        "use_cache": True,
    }  # fmt: skip
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    tower = model.model.vision_tower.vision_tower
    tower.to(torch.float16).save_pretrained(folder / TOWER_FOLDER)
    tower.to(torch.float32)
    processor.save_pretrained(folder / TOWER_FOLDER)
    (folder / "tokenizer.model").write_bytes(tokenizer_file.read_bytes())
    tokenizer_config = {"add_bos_token": True, "add_eos_token": False, "legacy": False,
                        "model_max_length": 2048, "padding_side": "right",
                        "tokenizer_class": "LlamaTokenizer"}  # fmt: skip
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2) + "\n")
    special = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<unk>"}
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n")
