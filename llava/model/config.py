"""Model configuration, read from a checkpoint's ``config.json`` in exactly one place.

Two checkpoint formats hold the same LLaVA-1.5 model:
- the original LLaVA format (``liuhaotian/llava-v1.5-7b``): flat LLaMA fields plus ``mm_*`` keys,
  the CLIP tower referenced by ``mm_vision_tower`` (not stored in the checkpoint);
- the llava-hf format (``llava-hf/llava-1.5-7b-hf``, transformers'
  ``LlavaForConditionalGeneration``): nested ``text_config`` / ``vision_config``, the tower's
  weights included.
The format is decided from the file's contents, never from the folder's name.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

CheckpointFormat = Literal["llava", "llava-hf", "llama"]


@dataclass(frozen=True)
class LlamaConfig:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    max_position_embeddings: int = 4096
    tie_word_embeddings: bool = False
    bos_token_id: int = 1
    eos_token_id: int = 2

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


@dataclass(frozen=True)
class LlavaConfig:
    text: LlamaConfig
    mm_vision_tower: str | None  # hub id or folder (original format); None for llava-hf
    mm_hidden_size: int
    mm_projector_type: str = "mlp2x_gelu"
    mm_vision_select_layer: int = -2
    mm_vision_select_feature: str = "patch"  # "patch" drops CLS, "cls_patch" keeps it
    image_aspect_ratio: str = "pad"
    mm_use_im_start_end: bool = False
    mm_use_im_patch_token: bool = False
    vision_config: dict[str, Any] | None = None  # llava-hf only: the CLIP vision config
    context_len: int = 2048  # LLaVA reports `max_sequence_length` when present, else 2048


def read_config_json(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: --model-path must be a checkpoint folder with a config.json "
            "(original LLaVA or llava-hf format)"
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not UTF-8 text ({err.reason} at byte {err.start})") from err
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(raw, dict):
        kind = {list: "an array", str: "a string", type(None): "null"}.get(type(raw), "a number")
        raise ValueError(
            f"{path} holds {kind}, not a JSON object of model settings; "
            "--model-path must be a checkpoint folder (download its config.json again)"
        )
    return raw


def detect_format(raw: dict[str, Any], where: str | Path = "config.json") -> CheckpointFormat:
    """Which checkpoint format a parsed config.json describes."""
    architectures = raw.get("architectures") or []
    if "text_config" in raw and "vision_config" in raw:
        return "llava-hf"
    if (
        "mm_vision_tower" in raw
        or "mm_hidden_size" in raw
        or "LlavaLlamaForCausalLM" in architectures
    ):
        return "llava"
    if raw.get("model_type") == "llama" or "LlamaForCausalLM" in architectures:
        return "llama"
    raise ValueError(
        f"{where}: not a LLaVA-1.5 checkpoint (expected mm_* keys of the original LLaVA format, "
        f"or text_config/vision_config of llava-hf); model_type={raw.get('model_type')!r}, "
        f"architectures={architectures}"
    )


_REQUIRED = object()
_KIND_NAMES = {int: "an integer", float: "a finite number", str: "a string", bool: "a boolean",
               dict: "an object"}  # fmt: skip


def _field(raw: dict[str, Any], key: str, kind: type, default: Any = _REQUIRED) -> Any:
    """`raw[key]` checked to be a `kind` (int: not a bool; float: a finite int or float);
    absent or null gives `default`, or a KeyError if the field is required."""
    value = raw.get(key)
    if value is None:
        if default is _REQUIRED:
            raise KeyError(key)
        return default
    if kind is int:
        valid = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        valid = (
            isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        )
    else:
        valid = isinstance(value, kind)
    if not valid:
        raise ValueError(f"{key} must be {_KIND_NAMES[kind]}, got {value!r}")
    return value


def _positive(raw: dict[str, Any], key: str, kind: type = int, default: Any = _REQUIRED) -> Any:
    value = _field(raw, key, kind, default)
    if value is not None and value <= 0:
        raise ValueError(f"{key} must be positive, got {value!r}")
    return value


def llama_config_from_dict(raw: dict[str, Any]) -> LlamaConfig:
    if raw.get("hidden_act", "silu") != "silu":
        raise ValueError(f"hidden_act {raw['hidden_act']!r} is not supported (LLaMA uses silu)")
    hidden = _positive(raw, "hidden_size")
    heads = _positive(raw, "num_attention_heads")
    kv_heads = _positive(raw, "num_key_value_heads", default=heads)
    if hidden % heads:
        raise ValueError(f"hidden_size {hidden} is not a multiple of num_attention_heads {heads}")
    if heads % kv_heads:
        raise ValueError(
            f"num_attention_heads {heads} is not a multiple of num_key_value_heads {kv_heads}"
        )
    rope_parameters = _field(raw, "rope_parameters", dict, {})
    rope_scaling = _field(raw, "rope_scaling", dict, {})
    rope_theta = _positive(raw, "rope_theta", float, None)
    if rope_theta is None:  # transformers 5 nests it under rope_parameters
        rope_theta = _positive(rope_parameters, "rope_theta", float, 10000.0)
    rope_type = rope_scaling.get("rope_type", rope_scaling.get("type", "default"))
    rope_type = rope_parameters.get("rope_type", rope_type)
    if rope_type not in ("default", None):
        raise ValueError(f"RoPE scaling {rope_type!r} is not supported (only plain RoPE)")
    return LlamaConfig(
        vocab_size=_positive(raw, "vocab_size"),
        hidden_size=hidden,
        intermediate_size=_positive(raw, "intermediate_size"),
        num_hidden_layers=_positive(raw, "num_hidden_layers"),
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        rms_norm_eps=_positive(raw, "rms_norm_eps", float, 1e-6),
        rope_theta=float(rope_theta),
        max_position_embeddings=_positive(raw, "max_position_embeddings", default=4096),
        tie_word_embeddings=_field(raw, "tie_word_embeddings", bool, False),
        bos_token_id=_field(raw, "bos_token_id", int, 1),
        eos_token_id=_field(raw, "eos_token_id", int, 2),
    )


def llava_config_from_dict(
    raw: dict[str, Any], fmt: CheckpointFormat, where: str | Path = "config.json"
) -> LlavaConfig:
    try:
        return _llava_config(raw, fmt)
    except KeyError as err:
        raise ValueError(
            f"{where} has no {err.args[0]!r} field, which a {fmt} checkpoint needs"
        ) from err
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from err


def _llava_config(raw: dict[str, Any], fmt: CheckpointFormat) -> LlavaConfig:
    if fmt == "llava":
        return LlavaConfig(
            text=llama_config_from_dict(raw),
            mm_vision_tower=_field(raw, "mm_vision_tower", str, None),
            mm_hidden_size=_positive(raw, "mm_hidden_size"),
            mm_projector_type=_field(raw, "mm_projector_type", str, "linear"),
            mm_vision_select_layer=_field(raw, "mm_vision_select_layer", int, -2),
            mm_vision_select_feature=_field(raw, "mm_vision_select_feature", str, "patch"),
            image_aspect_ratio=_field(raw, "image_aspect_ratio", str, "square"),
            mm_use_im_start_end=_field(raw, "mm_use_im_start_end", bool, False),
            mm_use_im_patch_token=_field(raw, "mm_use_im_patch_token", bool, False),
            context_len=_positive(raw, "max_sequence_length", default=2048),
        )
    if fmt == "llava-hf":
        vision = _field(raw, "vision_config", dict)
        text = _field(raw, "text_config", dict)
        layer = raw.get("vision_feature_layer", -2)
        if not isinstance(layer, int):
            raise ValueError("vision_feature_layer as a list of layers is not supported")
        if raw.get("projector_hidden_act", "gelu") != "gelu":
            raise ValueError(f"projector_hidden_act {raw['projector_hidden_act']!r} not supported")
        strategy = raw.get("vision_feature_select_strategy", "default")
        return LlavaConfig(
            text=llama_config_from_dict(text),
            mm_vision_tower=None,
            mm_hidden_size=_positive(vision, "hidden_size"),
            mm_projector_type="mlp2x_gelu",
            mm_vision_select_layer=layer,
            mm_vision_select_feature="patch" if strategy == "default" else "cls_patch",
            image_aspect_ratio="pad",  # how LLaVA-1.5 was trained and evaluated
            vision_config=vision,
            context_len=_positive(text, "max_sequence_length", default=2048),
        )
    raise ValueError(f"a {fmt!r} checkpoint has no vision side; it can only be a --model-base")
