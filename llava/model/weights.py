"""Reading checkpoint weights safely (safetensors, or `.bin` with `weights_only=True`) and checking
that they fit the model, with errors that list what is wrong."""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
_SINGLE_FILES = ("model.safetensors", "pytorch_model.bin")
# Buffers some older checkpoints saved that the model recomputes.
_IGNORED_SUFFIXES = ("rotary_emb.inv_freq", "embeddings.position_ids")


def _load_file(path: Path) -> dict[str, torch.Tensor]:
    """A weight file's tensors by name; a damaged file is a ValueError naming it."""
    try:
        size = path.stat().st_size
    except OSError as err:
        raise ValueError(f"{path} cannot be read ({err.strerror})") from err
    if size == 0:
        raise ValueError(
            f"{path} is empty (0 bytes): an interrupted download or copy; download it again"
        )
    state = _load_safetensors(path) if path.suffix == ".safetensors" else _load_torch(path)
    if not isinstance(state, dict):
        raise ValueError(
            f"{path} holds a {type(state).__name__}, not tensors by name: not a weight file"
        )
    others = [str(k) for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if others:
        raise ValueError(f"{path}: entries that are not tensors: {_listing(others)}")
    return state


def _damaged(path: Path, err: Exception, kind: str) -> ValueError:
    reason = str(err).split(". ")[0][:160]  # torch's messages run to paragraphs
    return ValueError(
        f"{path} is truncated or not a {kind} file ({type(err).__name__}: {reason}); "
        "download it again (compare its size with the source)"
    )


def _load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise _damaged(path, err, "safetensors") from err


def _load_torch(path: Path) -> dict[str, torch.Tensor]:
    # Files written by torch.save since 1.6 are zip archives and can be memory-mapped; older
    # ones cannot. A truncated zip has lost its central directory and is not one either.
    try:
        return torch.load(
            path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path)
        )
    except pickle.UnpicklingError as err:
        # weights_only refuses a pickled object by naming its global; any other failure of
        # the restricted unpickler (an unknown opcode, ...) means damaged bytes.
        if not any(what in str(err) for what in ("Unsupported global", "Unsupported class")):
            raise _damaged(path, err, "PyTorch weights") from err
        raise ValueError(
            f"{path} holds more than tensors (arbitrary pickled objects), which we refuse to "
            "unpickle; convert it to safetensors or re-save only the tensors"
        ) from err
    except Exception as err:  # noqa: BLE001 - a damaged file fails in many ways (EOF, keys, zip)
        raise _damaged(path, err, "PyTorch weights") from err


def weight_files(folder: str | Path) -> list[Path]:
    """The files holding a checkpoint's weights, every listed shard checked to exist."""
    folder = Path(folder)
    for index_name in _INDEXES:
        index = folder / index_name
        if index.is_file():
            shards = _shard_names(index)
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


def _shard_names(index: Path) -> list[str]:
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map")
    except (ValueError, AttributeError) as err:  # bad JSON or encoding; not a JSON object
        raise ValueError(
            f"{index} is not a JSON object ({err}); download it again with the checkpoint"
        ) from err
    if not isinstance(weight_map, dict) or not all(
        isinstance(name, str) for name in weight_map.values()
    ):
        raise ValueError(
            f"{index} has no weight_map of tensor name -> file name; download it again"
        )
    return sorted(set(weight_map.values()))


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


def non_finite_tensors(state: dict[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors holding a NaN or an infinity (meta tensors, which
    hold no values, are skipped)."""
    return [
        name
        for name, tensor in state.items()
        if tensor.is_floating_point()
        and tensor.device.type != "meta"
        and not bool(torch.isfinite(tensor).all())
    ]


def check_finite(
    loaded: dict[str, torch.Tensor], read: dict[str, torch.Tensor], source: str
) -> None:
    """Refuse a model whose weights hold NaN or infinities (every answer would be empty or
    garbage), telling a broken file from a dtype the values overflow. `loaded` is the model's
    state dict as it will run, `read` the tensors as read from the files."""
    broken = non_finite_tensors(loaded)
    if not broken:
        return
    name = broken[0]
    tensor = loaded[name]
    count = tensor.numel() - int(torch.isfinite(tensor).sum())
    where = f"{source}: weight {name} has {count} NaN or infinite values of {tensor.numel()}"
    if len(broken) > 1:
        where += f" (and {len(broken) - 1} more weights: {_listing(broken[1:], 5)})"
    original = read.get(name)
    if original is not None and bool(torch.isfinite(original).all()):
        raise ValueError(
            f"{where} after conversion to {tensor.dtype}, though the file's "
            f"{original.dtype} values are finite: they overflow {tensor.dtype}; load with "
            "--dtype float32 or bfloat16"
        )
    raise ValueError(
        f"{where}: the checkpoint is broken (an interrupted save or a diverged training run); "
        "download or export it again"
    )
