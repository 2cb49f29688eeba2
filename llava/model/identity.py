"""What identifies a checkpoint's weights, so that a resumed answers file is only ever completed
by the model that began it (two folders of the same name are not the same model).

A folder downloaded from the Hugging Face hub is identified by its revision (the commit of its
`snapshots/<commit>` folder). Any other folder by a digest of its files that determine answers
(weights, config, tokenizer): their names, sizes and SHA-256 contents. Hashing a 7B checkpoint
reads 14 GB once; the per-file hashes are cached beside the files (or, in a read-only folder,
under ~/.cache/llava) keyed by size and modification time, so later runs only stat them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

CACHE_NAME = ".llava-digest.json"
_HUB_SNAPSHOT = re.compile(r"/snapshots/([0-9a-f]{40})(/|$)")
# Files whose bytes decide a model's answers; anything else in the folder (README, answers,
# training logs) may change freely.
_SUFFIXES = (".safetensors", ".bin", ".json", ".model", ".txt", ".tiktoken")
_SKIPPED = {CACHE_NAME, "trainer_state.json", "training_args.bin"}
_CHUNK = 1 << 24


def checkpoint_identity(folder: str | Path) -> str:
    """ "hub:<commit>" for a hub snapshot, else "sha256:<digest>" of the answer-deciding files
    (subfolders included: LLaVA checkpoints may carry their vision tower)."""
    folder = Path(folder).resolve()
    match = _HUB_SNAPSHOT.search(folder.as_posix())
    if match:
        return f"hub:{match.group(1)}"
    files = sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and path.suffix in _SUFFIXES and path.name not in _SKIPPED
    )
    cache = _load_cache(folder)
    digest = hashlib.sha256()
    changed = False
    for path in files:
        stat = path.stat()
        name = path.relative_to(folder).as_posix()
        key = f"{name}:{stat.st_size}:{stat.st_mtime_ns}"
        if key not in cache:
            cache[key] = _file_sha256(path)
            changed = True
        digest.update(f"{name}\0{stat.st_size}\0{cache[key]}\n".encode())
    if changed:
        _save_cache(folder, cache)
    return f"sha256:{digest.hexdigest()}"


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _cache_paths(folder: Path) -> list[Path]:
    """Beside the files, then the user's cache (for read-only folders)."""
    home = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "llava" / "digests"
    name = hashlib.sha1(folder.as_posix().encode()).hexdigest() + ".json"
    return [folder / CACHE_NAME, home / name]


def _load_cache(folder: Path) -> dict[str, str]:
    for path in _cache_paths(folder):
        try:
            cache = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(cache, dict):
            return cache
    return {}


def _save_cache(folder: Path, cache: dict[str, str]) -> None:
    for path in _cache_paths(folder):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(cache, indent=1, sort_keys=True) + "\n")
            return
        except OSError:
            continue  # a read-only folder: the next place
