"""Fixtures for the baseline tests: one thread, seeded, and a tiny 32-layer LLaVA with 576
visual tokens (the papers' budgets are solved on 32 layers), built once per session."""

from __future__ import annotations

import pytest
import torch
from baseline_helpers import load_tiny, save_tiny


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def llava32_folder(tmp_path_factory):
    """32 layers (hidden 32, 2 heads over 1 KV head), 24 x 24 = 576 visual tokens, saved in the
    original LLaVA format."""
    folder = tmp_path_factory.mktemp("baselines") / "llava-baselines-32"
    return save_tiny(folder, layers=32, grid=24, hidden=32, heads=2, kv_heads=1, seed=4)


@pytest.fixture(scope="session")
def llava32(llava32_folder):
    return load_tiny(llava32_folder)
