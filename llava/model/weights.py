"""Reading checkpoint weights safely (safetensors, or `.bin` with `weights_only=True`) and checking
that they fit the model, with errors that list what is wrong."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import torch
from safetensors.torch import load_file

_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
_SINGLE_FILES = ("model.safetensors", "pytorch_model.bin")
# Buffers some older checkpoints saved that the model recomputes.
_IGNORED_SUFFIXES = ("rotary_emb.inv_freq", "embeddings.position_ids")


def _load_file(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        return load_file(str(path))
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as err:
        raise ValueError(
            f"{path} holds more than tensors (arbitrary pickled objects), which we refuse to "
            "unpickle; convert it to safetensors or re-save only the tensors"
        ) from err


def weight_files(folder: str | Path) -> list[Path]:
    """The files holding a checkpoint's weights, every listed shard checked to exist."""
    folder = Path(folder)
    for index_name in _INDEXES:
        index = folder / index_name
        if index.is_file():
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            missing = [name for name in shards if not (folder / name).is_file()]
            if missing:
                raise FileNotFoundError(
                    f"{index} lists shards that are not in {folder}: {', '.join(missing)} "
                    "(download the complete checkpoint)"
                )
            return [folder / name for name in shards]
    for name in _SINGLE_FILES:
        if (folder / name).is_file():
            return [folder / name]
    raise FileNotFoundError(
        f"no weights in {folder}: expected {' or '.join(_SINGLE_FILES)}, or a sharded checkpoint "
        f"with {' or '.join(_INDEXES)}"
    )


def read_state_dict(folder: str | Path) -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = {}
    for path in weight_files(folder):
        state.update(_load_file(path))
    return state


def read_file(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    return _load_file(path)


def _listing(names: list[str], limit: int = 20) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def check_state_dict(
    loaded: dict[str, torch.Tensor],
    expected: dict[str, torch.Size],
    source: str,
    optional: dict[str, torch.Size] | None = None,
) -> dict[str, torch.Tensor]:
    """Return `loaded` without ignorable buffers; raise listing missing, unexpected and
    mis-shaped weights. `optional` weights may be present or not."""
    loaded = {k: v for k, v in loaded.items() if not k.endswith(_IGNORED_SUFFIXES)}
    missing = sorted(set(expected) - set(loaded))
    expected = {**expected, **(optional or {})}
    unexpected = sorted(set(loaded) - set(expected))
    mis_shaped = sorted(
        f"{k} {tuple(loaded[k].shape)} != {tuple(expected[k])}"
        for k in set(loaded) & set(expected)
        if loaded[k].shape != expected[k]
    )
    problems = []
    if missing:
        problems.append(f"missing weights: {_listing(missing)}")
    if unexpected:
        problems.append(f"unexpected weights: {_listing(unexpected)}")
    if mis_shaped:
        problems.append(f"shapes that do not match config.json: {_listing(mis_shaped)}")
    if problems:
        raise ValueError(f"{source} does not fit its config.json:\n  " + "\n  ".join(problems))
    return loaded
