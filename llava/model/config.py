"""Model configuration, read from a checkpoint's ``config.json`` in exactly one place.

Two checkpoint formats hold the same LLaVA-1.5 or LLaVA-NeXT model:
- the original LLaVA format (``liuhaotian/llava-v1.5-7b``, ``llava-v1.6-vicuna-7b``,
  ``llava-v1.6-mistral-7b``): flat decoder fields plus ``mm_*`` keys, the CLIP tower referenced
  by ``mm_vision_tower``, LLaVA-NeXT's anyres settings (``image_aspect_ratio: anyres``, grid
  pinpoints, ``mm_patch_merge_type: spatial_unpad``);
- the llava-hf format (``llava-hf/llava-1.5-7b-hf``, ``llava-hf/llava-v1.6-*-hf``,
  transformers' ``LlavaForConditionalGeneration`` / ``LlavaNextForConditionalGeneration``):
  nested ``text_config`` / ``vision_config``, the tower's weights included.
Qwen2-VL / Qwen2.5-VL checkpoints (``model_type`` qwen2_vl / qwen2_5_vl) are transformers'.
The format is decided from the file's contents, never from the folder's name.
"""

from __future__ import annotations

import ast
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from llava.model.anyres import AnyresConfig

CheckpointFormat = Literal["llava", "llava-hf", "qwen-vl", "llama"]


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
    bos_token_id: int | None = 1
    eos_token_id: int = 2
    qkv_bias: bool = False  # Qwen2: biases on the query, key and value projections
    o_bias: bool = False
    sliding_window: int | None = None  # Mistral: a token sees at most this many (itself included)
    mrope_section: tuple[int, ...] | None = None  # Qwen-VL: RoPE frequencies per (t, h, w) axis

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
    anyres: AnyresConfig | None = None  # LLaVA-NeXT: image_aspect_ratio "anyres"
    image_token_id: int | None = None  # llava-hf: the image placeholder's id in the vocabulary

    @property
    def family(self) -> str:
        return "llava-next" if self.anyres is not None else "llava-1.5"


@dataclass(frozen=True)
class QwenVLConfig:
    """Qwen2-VL / Qwen2.5-VL (transformers' `Qwen2VLForConditionalGeneration` /
    `Qwen2_5_VLForConditionalGeneration`): a Qwen2 decoder with multimodal RoPE and a vision
    transformer whose patch merger projects 2 x 2 patches into one decoder row."""

    text: LlamaConfig
    version: str  # "qwen2_vl" or "qwen2_5_vl"
    vision_config: dict[str, Any]
    image_token_id: int  # <|image_pad|>
    spatial_merge_size: int = 2
    context_len: int = 32768
    family: str = "qwen-vl"


def read_config_json(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: --model-path must be a checkpoint folder with a config.json "
            "(original LLaVA, llava-hf or Qwen-VL format)"
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
    if raw.get("model_type") in QWEN_VL_TYPES:
        return "qwen-vl"
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
        f"{where}: not a LLaVA-1.5 / LLaVA-NeXT / Qwen-VL checkpoint (expected mm_* keys of the "
        "original LLaVA format, text_config/vision_config of llava-hf, or model_type "
        f"qwen2_vl / qwen2_5_vl); model_type={raw.get('model_type')!r}, "
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


# Decoders that are LLaMA's architecture with a few switches (transformers' model_type values;
# LLaVA's own "llava_mistral" is a Mistral decoder).
MISTRAL_TYPES = ("mistral", "llava_mistral")
QWEN2_TYPES = ("qwen2", "qwen2_vl", "qwen2_5_vl", "qwen2_vl_text", "qwen2_5_vl_text")
QWEN_VL_TYPES = ("qwen2_vl", "qwen2_5_vl")
MISTRAL_DEFAULT_WINDOW = 4096  # transformers' MistralConfig default when the key is absent


def _rope(raw: dict[str, Any]) -> tuple[float, tuple[int, ...] | None]:
    """RoPE theta and, for Qwen-VL's multimodal RoPE, the frequencies of each (t, h, w) axis."""
    parameters = _field(raw, "rope_parameters", dict, {})  # transformers 5
    scaling = _field(raw, "rope_scaling", dict, {})  # older saves
    theta = _positive(raw, "rope_theta", float, None)
    if theta is None:  # transformers 5 nests it under rope_parameters
        theta = _positive(parameters, "rope_theta", float, 10000.0)
    rope_type = parameters.get("rope_type") or scaling.get("rope_type") or scaling.get("type")
    section = parameters.get("mrope_section") or scaling.get("mrope_section")
    if rope_type not in ("default", "mrope", None):
        raise ValueError(f"RoPE scaling {rope_type!r} is not supported (only plain RoPE)")
    return float(theta), tuple(section) if section else None


def _sliding_window(raw: dict[str, Any], model_type: str) -> int | None:
    if model_type in MISTRAL_TYPES:
        return (
            _positive(raw, "sliding_window", default=None)
            if "sliding_window" in raw
            else (MISTRAL_DEFAULT_WINDOW)
        )
    if raw.get("use_sliding_window"):
        raise ValueError(
            "use_sliding_window: true (sliding attention in some layers only) is not supported"
        )
    return None


def _eos(raw: dict[str, Any]) -> int:
    """The decoder's end-of-sequence id (the first, where a list names several: generation
    stops at any of the checkpoint's generation_config ids, see `llava.model.generation`)."""
    eos = raw.get("eos_token_id")
    if isinstance(eos, list) and eos:
        eos = eos[0]
    return _field({"eos_token_id": eos}, "eos_token_id", int, 2)


def llama_config_from_dict(raw: dict[str, Any], model_type: str | None = None) -> LlamaConfig:
    """A LLaMA-architecture decoder: LLaMA / Vicuna, Mistral (sliding window) or Qwen2 (biased
    query/key/value projections, multimodal RoPE in Qwen-VL)."""
    model_type = model_type or raw.get("model_type", "llama")
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
    head_dim = _positive(raw, "head_dim", default=None)
    if head_dim is not None and head_dim * heads != hidden:
        raise ValueError(
            f"head_dim {head_dim} x {heads} heads != hidden_size {hidden}: "
            "decoders whose heads do not split the hidden size evenly are not supported"
        )
    rope_theta, mrope_section = _rope(raw)
    attention_bias = _field(raw, "attention_bias", bool, False)  # LLaMA: all four projections
    qwen2 = model_type in QWEN2_TYPES
    return LlamaConfig(
        vocab_size=_positive(raw, "vocab_size"),
        hidden_size=hidden,
        intermediate_size=_positive(raw, "intermediate_size"),
        num_hidden_layers=_positive(raw, "num_hidden_layers"),
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        rms_norm_eps=_positive(raw, "rms_norm_eps", float, 1e-6),
        rope_theta=rope_theta,
        max_position_embeddings=_positive(raw, "max_position_embeddings", default=4096),
        tie_word_embeddings=_field(raw, "tie_word_embeddings", bool, False),
        bos_token_id=_field(raw, "bos_token_id", int, 1),
        eos_token_id=_eos(raw),
        qkv_bias=qwen2 or attention_bias,
        o_bias=attention_bias and not qwen2,
        sliding_window=_sliding_window(raw, model_type),
        mrope_section=mrope_section,
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


def complete_sub_config(sub: dict[str, Any], default_type: str) -> dict[str, Any]:
    """A nested config as transformers reads it: llava-hf's hub configs list only what differs
    from the defaults of the sub-model's config class (`model_type`), which fill the rest."""
    from transformers import AutoConfig

    model_type = sub.get("model_type", default_type)
    fields = {k: v for k, v in sub.items() if k != "model_type"}
    return {**AutoConfig.for_model(model_type, **fields).to_dict(), **sub}


def _original_decoder_type(raw: dict[str, Any]) -> str:
    """LLaVA's own model types: "llava" / "llava_llama" are LLaMA, "llava_mistral" Mistral."""
    if raw.get("model_type") == "llava_mistral" or "LlavaMistralForCausalLM" in (
        raw.get("architectures") or []
    ):
        return "llava_mistral"
    return "llama"


def _original_anyres(raw: dict[str, Any]) -> AnyresConfig | None:
    """LLaVA-NeXT in LLaVA's format: image_aspect_ratio "anyres", "spatial_unpad" merging, grid
    pinpoints as (width, height) pairs (a list, or its Python text as some configs hold it)."""
    if raw.get("image_aspect_ratio") != "anyres":
        return None
    merge = raw.get("mm_patch_merge_type", "flat")
    if merge != "spatial_unpad":
        raise ValueError(
            f"mm_patch_merge_type {merge!r} with anyres images is not supported (spatial_unpad)"
        )
    pinpoints = raw.get("image_grid_pinpoints")
    if isinstance(pinpoints, str):
        pinpoints = ast.literal_eval(pinpoints)  # as LLaVA reads it: literals only
    if not pinpoints:
        raise ValueError("image_aspect_ratio anyres needs image_grid_pinpoints")
    return AnyresConfig(tuple((int(w), int(h)) for w, h in pinpoints), unpad_rounding=False)


def _hf_anyres(raw: dict[str, Any]) -> AnyresConfig | None:
    """llava-hf's LLaVA-NeXT: pinpoints are (height, width) pairs; unpadding rounds."""
    if raw.get("model_type") != "llava_next":
        return None
    pinpoints = raw.get("image_grid_pinpoints") or [[336, 672], [672, 336], [672, 672],
                                                    [1008, 336], [336, 1008]]  # fmt: skip
    return AnyresConfig(tuple((int(w), int(h)) for h, w in pinpoints), unpad_rounding=True)


def _llava_config(raw: dict[str, Any], fmt: CheckpointFormat) -> LlavaConfig:
    if fmt == "llava":
        anyres = _original_anyres(raw)
        return LlavaConfig(
            text=llama_config_from_dict(raw, _original_decoder_type(raw)),
            mm_vision_tower=_field(raw, "mm_vision_tower", str, None),
            mm_hidden_size=_positive(raw, "mm_hidden_size"),
            mm_projector_type=_field(raw, "mm_projector_type", str, "linear"),
            mm_vision_select_layer=_field(raw, "mm_vision_select_layer", int, -2),
            mm_vision_select_feature=_field(raw, "mm_vision_select_feature", str, "patch"),
            image_aspect_ratio=_field(raw, "image_aspect_ratio", str, "square"),
            mm_use_im_start_end=_field(raw, "mm_use_im_start_end", bool, False),
            mm_use_im_patch_token=_field(raw, "mm_use_im_patch_token", bool, False),
            context_len=_positive(raw, "max_sequence_length", default=2048),
            anyres=anyres,
        )
    if fmt == "llava-hf":
        vision = _field(raw, "vision_config", dict)
        text = _field(raw, "text_config", dict)
        layer = raw.get("vision_feature_layer", -2)
        if not isinstance(layer, int):
            raise ValueError("vision_feature_layer as a list of layers is not supported")
        if raw.get("projector_hidden_act", "gelu") != "gelu":
            raise ValueError(f"projector_hidden_act {raw['projector_hidden_act']!r} not supported")
        if not raw.get("multimodal_projector_bias", True):
            raise ValueError("multimodal_projector_bias false is not supported")
        strategy = raw.get("vision_feature_select_strategy", "default")
        anyres = _hf_anyres(raw)
        return LlavaConfig(
            text=llama_config_from_dict(complete_sub_config(text, "llama")),
            mm_vision_tower=None,
            mm_hidden_size=_positive(vision, "hidden_size"),
            mm_projector_type="mlp2x_gelu",
            mm_vision_select_layer=layer,
            mm_vision_select_feature="patch" if strategy == "default" else "cls_patch",
            # LLaVA-1.5 was trained and evaluated on padded square images
            image_aspect_ratio="anyres" if anyres else "pad",
            vision_config=vision,
            context_len=_positive(text, "max_sequence_length", default=2048),
            anyres=anyres,
            image_token_id=raw.get("image_token_index", raw.get("image_token_id")),
        )
    raise ValueError(f"a {fmt!r} checkpoint has no vision side; it can only be a --model-base")


def qwen_config_from_dict(raw: dict[str, Any], where: str | Path = "config.json") -> QwenVLConfig:
    """Both layouts: transformers 5 nests the decoder's fields under text_config, the hub's
    Qwen checkpoints keep them at the top level (with `rope_scaling` holding mrope_section)."""
    try:
        text = {**raw, **(raw.get("text_config") or {})}
        text["tie_word_embeddings"] = raw.get(
            "tie_word_embeddings", text.get("tie_word_embeddings", False)
        )
        config = llama_config_from_dict(text, raw["model_type"])
        vision = raw["vision_config"]
    except KeyError as err:
        raise ValueError(f"{where} has no {err.args[0]!r} field, which Qwen-VL needs") from err
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from err
    if config.mrope_section is None:
        raise ValueError(f"{where}: a Qwen-VL config without mrope_section (rope_scaling)")
    return QwenVLConfig(
        text=config,
        version=raw["model_type"],
        vision_config=vision,
        image_token_id=raw.get("image_token_id", 151655),
        spatial_merge_size=vision.get("spatial_merge_size", 2),
        context_len=text.get("max_position_embeddings", 32768),
    )
