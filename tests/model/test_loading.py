"""`load_pretrained_model`: format detection from config.json, both formats and their variants
(sharded / single file, .bin / .safetensors, projector-only on a base LLM, older llava-hf keys),
and clear errors for broken or unsupported checkpoints."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import huggingface_hub.constants
import pytest
import torch
from model_helpers import prompt_ids
from safetensors.torch import load_file, save_file

from llava.model.builder import load_pretrained_model
from llava.model.config import detect_format
from llava.model.weights import read_state_dict

SHARDS = ("pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin")


def load(path, base=None, **kwargs):
    kwargs.setdefault("torch_dtype", "float32")
    return load_pretrained_model(str(path), base, Path(path).name, device="cpu", **kwargs)


def logits_of(model, tokenizer, pixels) -> torch.Tensor:
    with torch.no_grad():
        return model(prompt_ids(tokenizer), pixels)[0]


@pytest.fixture(scope="session")
def reference_logits(loaded, pixels) -> torch.Tensor:
    tokenizer, model, _, _ = loaded["llava"]
    return logits_of(model, tokenizer, pixels)


@pytest.fixture
def original_copy(tiny_checkpoints, tmp_path) -> Path:
    """A private copy of the original-format tiny checkpoint."""
    return Path(shutil.copytree(tiny_checkpoints["llava"], tmp_path / "llava-copy"))


def edit_config(folder: Path, **changes) -> None:
    config = json.loads((folder / "config.json").read_text())
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config))


def as_single_file(folder: Path, state: dict | None = None, name="pytorch_model.bin") -> dict:
    """Replace the sharded weights by one file holding `state` (default: the same weights)."""
    full = read_state_dict(folder)
    for file in (*SHARDS, "pytorch_model.bin.index.json"):
        (folder / file).unlink()
    state = full if state is None else state
    if name.endswith(".safetensors"):
        save_file(state, str(folder / name))
    else:
        torch.save(state, folder / name)
    return full


# --- format detection -------------------------------------------------------------------------


def test_detect_format_from_contents() -> None:
    # llava-hf and older original checkpoints both say model_type "llava"
    assert detect_format({"model_type": "llava", "text_config": {}, "vision_config": {}}) == (
        "llava-hf"
    )
    assert detect_format({"model_type": "llava", "mm_vision_tower": "x"}) == "llava"
    assert detect_format({"model_type": "llava_llama", "mm_hidden_size": 1024}) == "llava"
    assert detect_format({"architectures": ["LlavaLlamaForCausalLM"]}) == "llava"
    assert detect_format({"model_type": "llama"}) == "llama"
    assert detect_format({"model_type": "llava_next", "text_config": {}, "vision_config": {}}) == (
        "llava-hf"
    )
    for qwen in ("qwen2_vl", "qwen2_5_vl"):
        assert detect_format({"model_type": qwen, "vision_config": {}}) == "qwen-vl"
    with pytest.raises(ValueError, match=r"x/config.json: not a LLaVA-1.5 .*checkpoint.*'bert'"):
        detect_format({"model_type": "bert"}, "x/config.json")


def test_folder_name_does_not_decide(tiny_checkpoints, tmp_path, pixels, reference_logits) -> None:
    """LLaVA's loader looks for "llava" in the folder name; ours reads config.json."""
    hf = shutil.copytree(tiny_checkpoints["llava-hf"], tmp_path / "llava-something")
    original = shutil.copytree(tiny_checkpoints["llava"], tmp_path / "plain-name")
    for folder in (hf, original):
        tokenizer, model, _, _ = load(folder)
        assert torch.equal(logits_of(model, tokenizer, pixels), reference_logits), folder


def test_llama_folder_is_only_a_base(tmp_path, llama_base) -> None:
    with pytest.raises(ValueError, match="can only be a --model-base"):
        load(llama_base)


# --- variants of the original format ----------------------------------------------------------


def test_single_safetensors_file(original_copy, pixels, reference_logits) -> None:
    as_single_file(original_copy, name="model.safetensors")
    assert sorted(p.name for p in original_copy.glob("*.safetensors")) == ["model.safetensors"]
    assert not list(original_copy.glob("*.bin"))
    tokenizer, model, _, _ = load(original_copy)
    assert torch.equal(logits_of(model, tokenizer, pixels), reference_logits)


def test_llava_hf_layouts(tiny_checkpoints, tiny_hf_model, tmp_path, pixels, reference_logits):
    """Both key layouts of llava-hf: what transformers 5.x writes to disk (`language_model.model.*`,
    `language_model.lm_head.*`, `vision_tower.*`, `multi_modal_projector.*`, the shared fixture)
    and its in-memory names (`model.language_model.*`, `model.vision_tower.*`, ..., `lm_head.*`)."""
    on_disk = load_file(str(tiny_checkpoints["llava-hf"] / "model.safetensors"))
    assert any(k.startswith("language_model.lm_head.") for k in on_disk)
    folder = Path(shutil.copytree(tiny_checkpoints["llava-hf"], tmp_path / "in-memory-names"))
    in_memory = {k: v.contiguous() for k, v in tiny_hf_model.state_dict().items()}
    assert any(k.startswith("model.language_model.") for k in in_memory)
    save_file(in_memory, str(folder / "model.safetensors"))
    tokenizer, model, _, _ = load(folder)
    assert torch.equal(logits_of(model, tokenizer, pixels), reference_logits)


def _with_vision_model_segment(state: dict, prefix: str) -> dict:
    return {
        (prefix + "vision_model." + k[len(prefix) :] if k.startswith(prefix) else k): v
        for k, v in state.items()
    }


@pytest.mark.parametrize("prefix", ["vision_tower.", "model.vision_tower."])
def test_llava_hf_hub_tower_keys(tiny_checkpoints, tmp_path, pixels, reference_logits, prefix):
    folder = Path(shutil.copytree(tiny_checkpoints["llava-hf"], tmp_path / "llava-1.5-hf-hub"))
    state = load_file(str(folder / "model.safetensors"))
    if prefix == "model.vision_tower.":
        state = {
            ("model." + k if k.startswith("vision_tower.") else k): v for k, v in state.items()
        }
    save_file(_with_vision_model_segment(state, prefix), str(folder / "model.safetensors"))
    tokenizer, model, _, _ = load(folder)
    assert torch.equal(logits_of(model, tokenizer, pixels), reference_logits)


def test_original_with_a_tower_copy(original_copy, pixels, reference_logits) -> None:
    state = read_state_dict(original_copy)
    tower = load_file(str(original_copy / "clip" / "model.safetensors"))
    state.update({"model.vision_tower.vision_tower.vision_model." + k: v for k, v in tower.items()})
    as_single_file(original_copy, state)
    tokenizer, model, _, _ = load(original_copy)
    assert torch.equal(logits_of(model, tokenizer, pixels), reference_logits)


@pytest.fixture
def llama_base(tiny_checkpoints, tmp_path) -> Path:
    """A base LLM folder (as vicuna-7b-v1.5): LLaMA config and weights, no projector."""
    original = tiny_checkpoints["llava"]
    base = tmp_path / "vicuna-tiny"
    base.mkdir()
    config = json.loads((original / "config.json").read_text())
    config = {k: v for k, v in config.items() if not k.startswith(("mm_", "use_mm", "image_"))}
    config.update(model_type="llama", architectures=["LlamaForCausalLM"])
    (base / "config.json").write_text(json.dumps(config))
    state = read_state_dict(original)
    llm = {k: v for k, v in state.items() if not k.startswith("model.mm_projector.")}
    save_file(llm, str(base / "model.safetensors"))
    for file in ("tokenizer.json", "special_tokens_map.json"):
        shutil.copy(original / file, base / file)
    return base


@pytest.mark.parametrize("prefix", ["model.", ""])
def test_projector_only_checkpoint_on_a_base(
    tiny_checkpoints, tmp_path, llama_base, pixels, reference_logits, prefix
) -> None:
    """LLaVA's pretraining output: config.json + mm_projector.bin, with --model-base."""
    original = tiny_checkpoints["llava"]
    folder = tmp_path / "llava-tiny-pretrain"
    folder.mkdir()
    shutil.copy(original / "config.json", folder / "config.json")
    edit_config(folder, mm_vision_tower=str(original / "clip"))
    state = read_state_dict(original)
    projector = {
        prefix + k.removeprefix("model."): v
        for k, v in state.items()
        if k.startswith("model.mm_projector.")
    }
    assert len(projector) == 4
    torch.save(projector, folder / "mm_projector.bin")
    tokenizer, model, _, _ = load(folder, str(llama_base))
    assert torch.equal(logits_of(model, tokenizer, pixels), reference_logits)


def test_projector_only_without_its_file(tiny_checkpoints, tmp_path, llama_base) -> None:
    folder = tmp_path / "no-projector"
    folder.mkdir()
    shutil.copy(tiny_checkpoints["llava"] / "config.json", folder / "config.json")
    edit_config(folder, mm_vision_tower=str(tiny_checkpoints["llava"] / "clip"))
    with pytest.raises(FileNotFoundError, match="mm_projector.bin not found"):
        load(folder, str(llama_base))


def test_tied_embeddings(original_copy) -> None:
    full = read_state_dict(original_copy)
    as_single_file(original_copy, {k: v for k, v in full.items() if k != "lm_head.weight"})
    edit_config(original_copy, tie_word_embeddings=True)
    _, model, _, _ = load(original_copy)
    assert torch.equal(model.lm_head.weight, full["model.embed_tokens.weight"])


# --- errors -----------------------------------------------------------------------------------


def test_missing_config(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=r"config.json not found.*--model-path"):
        load(tmp_path)


def test_config_not_json(original_copy) -> None:
    (original_copy / "config.json").write_text("{oops")
    with pytest.raises(ValueError, match=r"config.json is not valid JSON"):
        load(original_copy)


def test_config_missing_a_field(original_copy) -> None:
    config = json.loads((original_copy / "config.json").read_text())
    del config["hidden_size"]
    (original_copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"config.json.*hidden_size"):
        load(original_copy)


def test_missing_shard_is_named(original_copy) -> None:
    (original_copy / SHARDS[1]).unlink()
    with pytest.raises(FileNotFoundError, match=SHARDS[1]) as err:
        load(original_copy)
    assert SHARDS[0] not in str(err.value)


def test_no_weight_files(original_copy) -> None:
    for file in (*SHARDS, "pytorch_model.bin.index.json"):
        (original_copy / file).unlink()
    with pytest.raises(FileNotFoundError, match="no weights in"):
        load(original_copy)


def test_unknown_projector_type(original_copy) -> None:
    edit_config(original_copy, mm_projector_type="qformer")
    with pytest.raises(ValueError, match="unknown mm_projector_type 'qformer'"):
        load(original_copy)


def test_weights_that_do_not_fit_are_listed(original_copy) -> None:
    state = read_state_dict(original_copy)
    del state["model.layers.1.mlp.up_proj.weight"]
    state["model.layers.9.mlp.up_proj.weight"] = torch.zeros(3)
    state["model.norm.weight"] = torch.ones(65)
    as_single_file(original_copy, state)
    with pytest.raises(ValueError, match="does not fit its config.json") as err:
        load(original_copy)
    message = str(err.value)
    assert "missing weights: model.layers.1.mlp.up_proj.weight" in message
    assert "unexpected weights: model.layers.9.mlp.up_proj.weight" in message
    assert "model.norm.weight (65,) != (64,)" in message


def test_lora_folder_refused(original_copy) -> None:
    (original_copy / "adapter_config.json").write_text("{}")
    with pytest.raises(ValueError, match="LoRA checkpoint; merge it"):
        load(original_copy)


def test_vision_tower_pointing_nowhere(original_copy, monkeypatch) -> None:
    edit_config(original_copy, mm_vision_tower=str(original_copy / "no-such-tower"))
    with pytest.raises(FileNotFoundError, match="vision tower .*no-such-tower.*mm_vision_tower"):
        load(original_copy)
    # a hub id that is not in the local cache (offline, so no network wait)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    edit_config(original_copy, mm_vision_tower="nobody/clip-vit-nowhere-336")
    with pytest.raises(FileNotFoundError, match="clip-vit-nowhere-336"):
        load(original_copy)


class _Payload:
    """Unpickling this object touches a file: what `weights_only=False` would allow."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _pickle_payload(folder: Path) -> Path:
    marker = folder.parent / "unpickled-marker"
    state = read_state_dict(folder)
    state["model.norm.weight"] = {"tensor": state["model.norm.weight"], "x": _Payload(marker)}
    as_single_file(folder, state)
    return marker


def test_bin_with_pickled_objects_is_refused(original_copy) -> None:
    marker = _pickle_payload(original_copy)
    with pytest.raises(ValueError, match="pytorch_model.bin") as error:
        load(original_copy)
    assert isinstance(error.value.__cause__, pickle.UnpicklingError)
    assert not marker.exists()


def test_unsupported_options(original_copy) -> None:
    with pytest.raises(ValueError, match="8-bit / 4-bit loading is not supported"):
        load(original_copy, load_8bit=True)
    with pytest.raises(TypeError, match="unexpected arguments"):
        load(original_copy, attn_implementation="eager")
    with pytest.raises(ValueError, match="unknown dtype 'float8'"):
        load(original_copy, torch_dtype="float8")
    edit_config(original_copy, mm_use_im_start_end=True)
    with pytest.raises(ValueError, match="mm_use_im_start_end"):
        load(original_copy)
    edit_config(original_copy, mm_use_im_start_end=False, rope_scaling={"type": "linear"})
    with pytest.raises(ValueError, match="RoPE scaling 'linear' is not supported"):
        load(original_copy)
