"""Shared fixtures: tiny checkpoints in both formats, and the reference outputs in ../shared."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/tiny_models.py, from any test folder

from tiny_models import save_llava_hf, save_original_llava, tiny_hf_llava  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
ORACLE = SHARED / "oracle"


@pytest.fixture(scope="session")
def oracle_dir() -> Path:
    """The reference checkpoint and outputs (../shared/oracle), or a skip saying why."""
    if not (ORACLE / "llava-v1.5-tiny" / "config.json").is_file():
        pytest.skip(f"reference outputs not found at {ORACLE} (they live beside the repository)")
    return ORACLE


@pytest.fixture(scope="session")
def tiny_hf_model():
    """A 4-layer LLaVA (GQA: 4 query heads, 2 KV heads) with a 4x4 patch grid."""
    return tiny_hf_llava(layers=4, grid=4)


@pytest.fixture(scope="session")
def tiny_checkpoints(tiny_hf_model, tmp_path_factory) -> dict[str, Path]:
    """The same weights saved as llava-hf and as an original LLaVA checkpoint."""
    root = tmp_path_factory.mktemp("checkpoints")
    return {
        "llava-hf": save_llava_hf(tiny_hf_model, root / "tiny-hf"),
        "llava": save_original_llava(tiny_hf_model, root / "llava-v1.5-tiny-test"),
    }
