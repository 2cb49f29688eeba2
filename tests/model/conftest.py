"""Fixtures for the model tests: the shared tiny checkpoints loaded once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import huggingface_hub.constants
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))  # model_helpers, from any rootdir

from model_helpers import make_image  # noqa: E402

from llava.mm_utils import process_images  # noqa: E402
from llava.model.builder import load_pretrained_model  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def _offline():
    """Never reach for the hub: a tower id that is not cached must fail at once, not retry."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
        yield


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """The models are tiny: on a shared 2-core machine a second BLAS thread only adds
    contention (a 10x slowdown was seen). Restored after each module."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def loaded(tiny_checkpoints):
    """format -> (tokenizer, model, image_processor, context_len), float32 on the CPU.

    Shared read-only: a test that changes weights works on a copy.
    """
    return {
        fmt: load_pretrained_model(str(path), None, path.name, device="cpu", torch_dtype="float32")
        for fmt, path in tiny_checkpoints.items()
    }


@pytest.fixture(scope="session")
def tiny_model(loaded):
    """Our model from the original-format tiny checkpoint (4 layers, GQA 4/2, 16 visual)."""
    return loaded["llava"][1]


@pytest.fixture(scope="session")
def tiny_tokenizer(loaded):
    return loaded["llava"][0]


@pytest.fixture(scope="session")
def pixels(loaded) -> torch.Tensor:
    """(1, 3, 56, 56) pixel values of a non-square image, padded as LLaVA-1.5 does."""
    _, model, processor, _ = loaded["llava"]
    return process_images([make_image(70, 42)], processor, model.config)
