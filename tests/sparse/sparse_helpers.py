"""Helpers shared by the pruning tests: tiny models, a spy around a pruner, hand-made probes.

Kept out of conftest.py so that test modules can import the classes by name.
"""

from __future__ import annotations

from pathlib import Path

import torch
from pruning_helpers import FunctionProbe, LayerView, Spy, SpyRun, clone_state  # noqa: F401

from llava.constants import IMAGE_TOKEN_INDEX
from llava.model.builder import load_pretrained_model
from llava.sparse.base import SYSTEM, TEXT, VISUAL, AttentionProbe, PruningRun, TokenState
from llava.sparse.sparsevlm import SparseVLMRun

# Token ids of the tiny test tokenizer's vocabulary (tests/tiny_models.py; < VOCAB - 1).
SYSTEM_IDS = [1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]  # BOS + "a chat between ..."
QUESTION_IDS = [40, 41, 42, 43, 44, 45, 46, 47, 31, 48, 49, 50, 51, 52, 53, 54, 30, 20, 31]


def load_tiny(folder: Path, **config):
    """A tiny random LLaVA saved in the original format and loaded by our builder."""
    from tiny_models import save_original_llava, tiny_hf_llava

    hf = tiny_hf_llava(**config)
    save_original_llava(hf, folder)
    _, model, _, _ = load_pretrained_model(
        str(folder), None, folder.name, device="cpu", torch_dtype="float32"
    )
    return model


def prompt_ids(question: list[int] = QUESTION_IDS) -> torch.Tensor:
    """(1, L) system tokens, the image placeholder, the question."""
    return torch.tensor([SYSTEM_IDS + [IMAGE_TOKEN_INDEX] + question])


def pixels(model, seed: int = 0) -> torch.Tensor:
    """(1, 3, S, S) random pixel values of the size the model's CLIP tower expects."""
    side = model.model.vision_tower.vision_tower.config.image_size
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(1, 3, side, side, generator=generator)


def concat_states(first: TokenState, second: TokenState) -> TokenState:
    return TokenState(
        torch.cat((first.hidden, second.hidden), dim=1),
        torch.cat((first.positions, second.positions), dim=-1),  # (1, N) or (1, 3, N)
        torch.cat((first.roles, second.roles), dim=1),
        torch.cat((first.origin, second.origin), dim=1),
        first.layout,
    )


class PromptOnlyRun(PruningRun):
    """Applies the inner method to the first part of the sequence (the prompt) only; the last
    `tail` tokens (a continuation appended as text) are carried along untouched after it."""

    def __init__(self, inner, tail: int) -> None:
        self.inner = inner
        self.tail = tail
        self.renumbers_positions = inner.renumbers_positions
        self.records = inner.records

    def before_llm(self, state, vision):
        return self.inner.before_llm(state, vision)  # the continuation is text: left alone

    def before_layer(self, layer_idx: int, state: TokenState, probe: AttentionProbe) -> TokenState:
        return self._on_prompt(self.inner.before_layer, layer_idx, state, probe)

    def after_layer(self, layer_idx: int, state: TokenState, probe: AttentionProbe) -> TokenState:
        return self._on_prompt(self.inner.after_layer, layer_idx, state, probe)

    def _on_prompt(self, hook, layer_idx: int, state: TokenState, probe) -> TokenState:
        n = state.num_tokens - self.tail
        prompt = state.select(torch.arange(n))
        rest = state.select(torch.arange(n, state.num_tokens))
        # Prompt rows never attend to the continuation (causal), so cutting its columns off
        # gives exactly the attention rows of a prompt-only pass.
        prompt_probe = FunctionProbe(
            lambda rows: probe.rows(rows)[..., :n],
            probe.positions[..., :n],
            probe.inv_freq,
            keys=probe.keys()[:, :, :n],
            output_norm=probe.output_norm,
        )
        prompt_probe.rope_axes = probe.rope_axes
        result = hook(layer_idx, prompt, prompt_probe)
        if result is prompt:
            return state
        return concat_states(result, rest)


class PromptOnly:
    def __init__(self, inner, tail: int) -> None:
        self.inner = inner
        self.tail = tail
        self.vision_request = inner.vision_request
        self.name = f"prompt-only({inner.name})"

    def describe(self) -> dict:
        return self.inner.describe()

    def start(self, state: TokenState, num_layers: int) -> PromptOnlyRun:
        prompt = state.select(torch.arange(state.num_tokens - self.tail))
        return PromptOnlyRun(self.inner.start(prompt, num_layers), self.tail)


def hand_state(system: torch.Tensor, visual: torch.Tensor, text: torch.Tensor) -> TokenState:
    """A batch-1 TokenState of the given rows: system, then visual, then text tokens."""
    hidden = torch.cat((system, visual, text))[None].float()
    n = hidden.shape[1]
    roles = torch.tensor(
        [SYSTEM] * len(system) + [VISUAL] * len(visual) + [TEXT] * len(text), dtype=torch.int8
    )[None]
    positions = torch.arange(n)[None]
    return TokenState(hidden, positions, roles, positions.clone())


class MatrixProbe(FunctionProbe):
    """A probe answering rows of a fixed (H, N, N) or (N, N) "attention" matrix, and keeping the
    rows it was asked for."""

    def __init__(self, matrix: torch.Tensor, inv_freq: torch.Tensor | None = None) -> None:
        self.matrix = matrix if matrix.dim() == 3 else matrix[None]
        positions = torch.arange(self.matrix.shape[-1])[None]
        super().__init__(lambda rows: self.matrix[:, rows][None].float(), positions, inv_freq)


def new_run(pruner, state: TokenState, num_layers: int = 32) -> SparseVLMRun:
    run = pruner.start(state, num_layers)
    assert isinstance(run, SparseVLMRun)
    return run
