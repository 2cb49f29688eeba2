"""`load_pretrained_model()`, with LLaVA's signature and return value, for every checkpoint format
(decided from config.json, never from the folder's name).

- original LLaVA (`liuhaotian/llava-v1.5-7b`, `llava-v1.6-vicuna-7b`, `llava-v1.6-mistral-7b`):
  decoder + projector (+ image newline) weights in the folder, the CLIP tower from
  `mm_vision_tower` (a folder, resolved against the checkpoint folder first, or a hub id already
  in the local cache), overridden by a fine-tuned copy in the checkpoint (LLaVA-NeXT); with
  `model_base`, a projector-only checkpoint (`mm_projector.bin`) on top of the base LLM's weights;
- llava-hf (`LlavaForConditionalGeneration`, `LlavaNextForConditionalGeneration`): everything in
  the folder, keys renamed to LLaVA's;
- Qwen2-VL / Qwen2.5-VL (transformers' `Qwen2VLForConditionalGeneration`,
  `Qwen2_5_VLForConditionalGeneration`): `llava.model.qwen_vl`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import (
    CLIPImageProcessorPil,
    CLIPVisionConfig,
    CLIPVisionModel,
    LlavaNextImageProcessorPil,
)

from llava.model.config import (
    LlavaConfig,
    detect_format,
    llava_config_from_dict,
    qwen_config_from_dict,
    read_config_json,
)
from llava.model.llava import LlavaLlamaForCausalLM
from llava.model.qwen_vl import QwenVLForCausalLM, qwen_keys, vision_transformer
from llava.model.tokenizer import load_tokenizer
from llava.model.vision import CLIPVisionTower
from llava.model.weights import check_finite, check_state_dict, read_file, read_state_dict

_TOWER_PREFIX = "model.vision_tower.vision_tower."

# llava-hf key -> LLaVA key (transformers 5.x names first, then older saves).
_HF_RENAMES = [
    (r"^model\.language_model\.", "model."),
    (r"^model\.vision_tower\.", _TOWER_PREFIX),
    (r"^model\.multi_modal_projector\.linear_1\.", "model.mm_projector.0."),
    (r"^model\.multi_modal_projector\.linear_2\.", "model.mm_projector.2."),
    (r"^language_model\.model\.", "model."),
    (r"^language_model\.lm_head\.", "lm_head."),
    (r"^vision_tower\.", _TOWER_PREFIX),
    (r"^multi_modal_projector\.linear_1\.", "model.mm_projector.0."),
    (r"^multi_modal_projector\.linear_2\.", "model.mm_projector.2."),
    (r"^image_newline$", "model.image_newline"),
]


def hf_to_llava_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    renamed = {}
    for key, value in state.items():
        for pattern, replacement in _HF_RENAMES:
            new_key, count = re.subn(pattern, replacement, key)
            if count:
                key = new_key
                break
        renamed[key] = value
    return renamed


def match_tower_keys(
    state: dict[str, torch.Tensor], expected: dict[str, torch.Size]
) -> dict[str, torch.Tensor]:
    """CLIP weights are saved with or without a `vision_model.` level (hub files and older
    transformers have it, transformers 5 modules do not): use the tower's own naming."""
    nested = any(k.startswith(_TOWER_PREFIX + "vision_model.") for k in expected)
    matched = {}
    for key, value in state.items():
        if key.startswith(_TOWER_PREFIX):
            rest = key[len(_TOWER_PREFIX) :].removeprefix("vision_model.")
            key = _TOWER_PREFIX + ("vision_model." if nested else "") + rest
        matched[key] = value
    return matched


def resolve_model_path(model_path: str, flag: str = "--model-path") -> Path:
    """A local folder as is; otherwise a hub id, downloaded or taken from the local cache, as
    LLaVA's scripts pass `liuhaotian/llava-v1.5-7b`."""
    path = Path(model_path).expanduser()
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id=model_path))
    except Exception as err:  # noqa: BLE001 - any hub failure means: not available here
        raise FileNotFoundError(
            f"{flag} {model_path}: not a local folder, and not available from the Hugging Face "
            f"hub or its local cache ({type(err).__name__}); download the checkpoint and pass "
            "its folder"
        ) from err


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_dtype(dtype: str | torch.dtype | None, device: str) -> torch.dtype:
    """float16 on GPUs (as LLaVA), float32 on the CPU (float16 matmuls there are slow)."""
    if dtype is None or dtype == "auto":
        return torch.float16 if str(device).startswith("cuda") else torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    names = {
        "float32": torch.float32,
        "fp32": torch.float32,
        "float16": torch.float16,
        "fp16": torch.float16,
        "bfloat16": torch.bfloat16,
        "bf16": torch.bfloat16,
    }
    if dtype not in names:
        raise ValueError(f"unknown dtype {dtype!r}; use float32, float16 or bfloat16")
    return names[dtype]


def _tower_folder(model_path: Path, tower: str) -> str:
    for candidate in (model_path / tower, Path(tower).expanduser()):
        if (candidate / "config.json").is_file():
            return str(candidate)
    return tower  # a hub id: transformers looks in the local cache


def _load_tower(config: LlavaConfig, model_path: Path) -> tuple[CLIPVisionModel, object]:
    if config.vision_config is not None:  # llava-hf: weights come with the checkpoint
        # LLaVA-NeXT's processor tiles the image itself; LLaVA-1.5's is CLIP's
        processor = LlavaNextImageProcessorPil if config.anyres else CLIPImageProcessorPil
        try:
            # Built on the CPU (not meta): CLIP computes buffers such as position_ids at init.
            clip = CLIPVisionModel(CLIPVisionConfig(**config.vision_config))
            return clip, processor.from_pretrained(str(model_path))
        except Exception as err:  # noqa: BLE001 - transformers fails in many ways on bad files
            raise ValueError(
                f"{model_path}: the vision side (vision_config in config.json, "
                f"preprocessor_config.json) cannot be built ({_first_sentence(err)})"
            ) from err
    if not config.mm_vision_tower:
        raise ValueError(f"{model_path}/config.json has no mm_vision_tower")
    folder = _tower_folder(model_path, config.mm_vision_tower)
    try:
        clip = CLIPVisionModel.from_pretrained(folder, dtype=torch.float32)
        processor = CLIPImageProcessorPil.from_pretrained(folder)
    except Exception as err:  # noqa: BLE001 - transformers fails in many ways on bad files
        if Path(folder).is_dir():
            raise ValueError(
                f"vision tower folder {folder} (mm_vision_tower in {model_path}/config.json) "
                f"cannot be loaded ({_first_sentence(err)}); download it again"
            ) from err
        if not isinstance(err, OSError):
            raise
        raise FileNotFoundError(
            f"vision tower {config.mm_vision_tower!r} (mm_vision_tower in "
            f"{model_path}/config.json) is neither a folder next to the checkpoint nor a model "
            "in the local Hugging Face cache; download it or point mm_vision_tower at a folder"
        ) from err
    return clip, processor


@dataclass(frozen=True)
class Geometry:
    """What a pruning method's settings are checked against: the decoder's depth, the model
    family and, for LLaVA-1.5, the visual tokens per image (None where each image has its own)."""

    num_layers: int
    visual_tokens: int | None
    family: str


def checkpoint_geometry(model_path: str) -> Geometry | None:
    """The geometry read from the checkpoint's config files alone, in a second rather than after
    the weights. None when those files are not at hand or not sound: the loader then reports
    what is wrong, and the settings are checked on the loaded model."""
    try:
        path = resolve_model_path(model_path)
        raw = read_config_json(path)
        fmt = detect_format(raw, path / "config.json")
        if fmt == "qwen-vl":
            qwen = qwen_config_from_dict(raw, path / "config.json")
            return Geometry(qwen.text.num_hidden_layers, None, qwen.family)
        config = llava_config_from_dict(raw, fmt, path / "config.json")
        layers = config.text.num_hidden_layers
        if config.family != "llava-1.5":
            return Geometry(layers, None, config.family)
        if config.vision_config is not None:
            vision = CLIPVisionConfig(**config.vision_config)
        else:
            vision = CLIPVisionConfig.from_pretrained(_tower_folder(path, config.mm_vision_tower))
    except (OSError, ValueError, TypeError):
        return None
    return Geometry(layers, (vision.image_size // vision.patch_size) ** 2, config.family)


def _first_sentence(err: Exception) -> str:
    return f"{type(err).__name__}: " + str(err).split(". ")[0][:200]


def _read_weights(model_path: Path, model_base: str | None, fmt: str) -> dict[str, torch.Tensor]:
    if (model_path / "adapter_config.json").is_file():
        raise ValueError(
            f"{model_path} is a LoRA checkpoint; merge it into its base first "
            "(LLaVA's scripts/merge_lora_weights.py) and load the merged folder"
        )
    if model_base is None:
        state = read_state_dict(model_path)
        return hf_to_llava_keys(state) if fmt == "llava-hf" else state
    # A projector-only checkpoint: the LLM from model_base, the projector from model_path.
    state = read_state_dict(model_base)
    projector = read_file(model_path / "mm_projector.bin")
    # LLaVA saves these as "model.mm_projector.*" (sometimes without the "model." prefix).
    state.update(
        {
            re.sub(r"^(model\.)?mm_projector\.", "model.mm_projector.", k): v
            for k, v in projector.items()
        }
    )
    return state


def load_pretrained_model(
    model_path: str,
    model_base: str | None = None,
    model_name: str | None = None,
    load_8bit: bool = False,
    load_4bit: bool = False,
    device_map: str | dict | None = "auto",
    device: str | None = None,
    use_flash_attn: bool = False,
    torch_dtype: str | torch.dtype | None = None,
    **kwargs,
):
    """Returns `(tokenizer, model, image_processor, context_len)` as LLaVA's loader does.

    `model_name` is accepted for compatibility; unlike LLaVA, nothing depends on it.
    `use_flash_attn` is accepted too: attention always runs through SDPA, which picks the
    fused kernel (flash or memory-efficient) the device supports.
    """
    if load_8bit or load_4bit:
        raise ValueError("8-bit / 4-bit loading is not supported; use --dtype float16 or bfloat16")
    unknown = set(kwargs) - {"dtype"}
    if unknown:
        raise TypeError(f"load_pretrained_model() got unexpected arguments {sorted(unknown)}")
    device = device or default_device()
    dtype = resolve_dtype(kwargs.get("dtype", torch_dtype), device)
    path = resolve_model_path(model_path)
    if model_base is not None:
        model_base = str(resolve_model_path(model_base, "--model-base"))
    raw = read_config_json(path)
    fmt = detect_format(raw, path / "config.json")
    if fmt == "qwen-vl":
        if model_base is not None:
            raise ValueError("--model-base does not apply to Qwen-VL checkpoints")
        tokenizer = load_tokenizer(path)
        model, image_processor, context_len, state = _load_qwen_vl(path, raw, dtype)
        model = _place(model, device, device_map)
        check_finite(model.state_dict(), state, str(path))
        return tokenizer, model, image_processor, context_len
    config = llava_config_from_dict(raw, fmt, path / "config.json")
    if config.mm_use_im_start_end or config.mm_use_im_patch_token:
        raise ValueError(
            "mm_use_im_start_end / mm_use_im_patch_token checkpoints are not supported"
        )

    # The tokenizer first: a broken tokenizer file fails in a second, not after the weights.
    tokenizer = load_tokenizer(path if _has_tokenizer(path) or not model_base else model_base)
    clip, image_processor = _load_tower(config, path)
    tower = CLIPVisionTower(clip, config.mm_vision_select_layer, config.mm_vision_select_feature)
    with torch.device("meta"):
        model = LlavaLlamaForCausalLM(config)
    model.model.vision_tower = tower

    state = _read_weights(path, model_base, fmt)
    expected = {k: v.shape for k, v in model.state_dict().items()}
    optional = {}
    if fmt == "llava":
        # The tower comes from mm_vision_tower; a fine-tuned checkpoint may carry a copy.
        optional = {k: v for k, v in expected.items() if k.startswith(_TOWER_PREFIX)}
        expected = {k: v for k, v in expected.items() if k not in optional}
    if config.text.tie_word_embeddings and "lm_head.weight" not in state:
        state["lm_head.weight"] = state.get("model.embed_tokens.weight")
    source = f"{path}" + (f" with base {model_base}" if model_base else "")
    state = check_state_dict(match_tower_keys(state, expected), expected, source, optional)
    model.load_state_dict(state, strict=False, assign=True)
    model = model.to(dtype).eval()
    model = _place(model, device, device_map)
    # After placement, so that the scan runs on the GPU when there is one.
    check_finite(model.state_dict(), state, source)

    return tokenizer, model, image_processor, config.context_len


def _load_qwen_vl(path: Path, raw: dict, dtype: torch.dtype):
    """A transformers Qwen2-VL / Qwen2.5-VL checkpoint: our decoder, their vision transformer,
    the checkpoint's PIL image processor."""
    from transformers import Qwen2VLImageProcessorPil

    config = qwen_config_from_dict(raw, path / "config.json")
    visual = vision_transformer(config)
    with torch.device("meta"):
        model = QwenVLForCausalLM(config)
    model.model.visual = visual
    state = qwen_keys(read_state_dict(path))
    if config.text.tie_word_embeddings and "lm_head.weight" not in state:
        state["lm_head.weight"] = state.get("model.embed_tokens.weight")
    expected = {k: v.shape for k, v in model.state_dict().items()}
    state = check_state_dict(state, expected, str(path))
    model.load_state_dict(state, strict=False, assign=True)
    processor = Qwen2VLImageProcessorPil.from_pretrained(str(path))
    return model.to(dtype).eval(), processor, config.context_len, state


def _has_tokenizer(folder: Path) -> bool:
    return (folder / "tokenizer.model").is_file() or (folder / "tokenizer.json").is_file()


def _place(model, device: str, device_map):
    """One device, or layers spread over several GPUs with accelerate (`device_map="auto"`)."""
    multi_gpu = str(device) == "cuda" and torch.cuda.device_count() > 1
    if device_map == "auto" and multi_gpu:
        from accelerate import dispatch_model, infer_auto_device_map

        plan = infer_auto_device_map(
            model,
            no_split_module_classes=[
                "DecoderLayer",
                "CLIPEncoderLayer",
                "Qwen2VLVisionBlock",
                "Qwen2_5_VLVisionBlock",
            ],
            dtype=model.dtype,
        )
        return dispatch_model(model, plan)
    if isinstance(device_map, dict) and device_map and set(device_map) != {""}:
        from accelerate import dispatch_model

        return dispatch_model(model, device_map)
    return model.to(device)
