"""Tiny models for the pruning tests, built once per session (seconds, CPU, float32)."""

from __future__ import annotations

import pytest
import torch
from sparse_helpers import load_tiny


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One intra-op thread: these tiny models are faster so on a shared machine (2 threads
    contending with other processes run several times slower), and we leave a core free."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    with torch.inference_mode():
        yield


@pytest.fixture(scope="session")
def small_gqa_model(tmp_path_factory):
    """4 layers, 4 query heads over 2 KV heads, 4 x 4 = 16 visual tokens."""
    return load_tiny(tmp_path_factory.mktemp("small-gqa") / "llava-small-gqa", layers=4, grid=4)


@pytest.fixture(scope="session")
def small_mha_model(tmp_path_factory):
    """3 layers, 4 heads, no grouping, 16 visual tokens."""
    folder = tmp_path_factory.mktemp("small-mha") / "llava-small-mha"
    return load_tiny(folder, layers=3, grid=4, kv_heads=4)


@pytest.fixture(scope="session")
def contract_model(tmp_path_factory):
    """32 layers like LLaVA-1.5-7B (GQA), 24 x 24 = 576 visual tokens: every method runs with its
    published layers and the papers' budgets."""
    folder = tmp_path_factory.mktemp("contract") / "llava-contract"
    return load_tiny(folder, layers=32, grid=24, hidden=32, heads=2, kv_heads=1, seed=1)


@pytest.fixture(scope="session")
def deep_model(tmp_path_factory):
    """40 layers like LLaVA-1.5-13B (v1.5 hard-coded 32 in the reference), 576 visual tokens."""
    folder = tmp_path_factory.mktemp("deep") / "llava-deep"
    return load_tiny(folder, layers=40, grid=24, hidden=32, heads=2, kv_heads=1, seed=2)
