"""Helpers for the baseline tests: hand-built token states and probes, a tiny 32-layer LLaVA,
argument parsing, and a spy recording what each layer ran with."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from pruning_helpers import FunctionProbe

from llava.constants import IMAGE_TOKEN_INDEX
from llava.eval.pruning_args import add_pruning_args
from llava.model.builder import load_pretrained_model
from llava.sparse.base import SYSTEM, TEXT, VISUAL, TokenState

# Token ids of the tiny tokenizer (tests/tiny_models.py): BOS + a system prompt, a question.
SYSTEM_IDS = [1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
QUESTION_IDS = [40, 41, 42, 43, 44, 45, 46, 47, 31, 48, 49, 50, 51, 52, 53, 54, 30, 20, 31]


def save_tiny(folder: Path, **config) -> Path:
    """A tiny random LLaVA (tests/tiny_models.py) saved in the original LLaVA format."""
    from tiny_models import save_original_llava, tiny_hf_llava

    return save_original_llava(tiny_hf_llava(**config), folder)


def load_tiny(folder: Path):
    _, model, _, _ = load_pretrained_model(
        str(folder), None, folder.name, device="cpu", torch_dtype="float32"
    )
    return model


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_pruning_args(parser)
    return parser.parse_args(argv)


def prompt_ids() -> torch.Tensor:
    return torch.tensor([SYSTEM_IDS + [IMAGE_TOKEN_INDEX] + QUESTION_IDS])


def pixels(model, seed: int = 0) -> torch.Tensor:
    side = model.model.vision_tower.vision_tower.config.image_size
    return torch.randn(1, 3, side, side, generator=torch.Generator().manual_seed(seed))


def hand_state(system: int, visual: int, text: int, width: int = 4) -> TokenState:
    """Batch-1 state [system][visual][text]; hidden row i is filled with i (easy to trace)."""
    n = system + visual + text
    hidden = torch.arange(n, dtype=torch.float32)[None, :, None].expand(1, n, width).clone()
    roles = torch.tensor([SYSTEM] * system + [VISUAL] * visual + [TEXT] * text, dtype=torch.int8)
    positions = torch.arange(n)[None]
    return TokenState(hidden, positions, roles[None], positions.clone())


class RowProbe(FunctionProbe):
    """Answers any query row with the given (H, N) attention rows; remembers what was asked."""

    def __init__(self, rows: torch.Tensor) -> None:
        self.fixed = rows
        super().__init__(
            lambda asked: self.fixed[None, :, None, :].expand(1, -1, len(asked), -1).float(),
            torch.arange(rows.shape[-1])[None],
        )


def uniform_probe(state: TokenState, heads: int = 2) -> RowProbe:
    n = state.num_tokens
    return RowProbe(torch.full((heads, n), 1.0 / n))


def drive(run, state: TokenState, num_layers: int, probe_for=uniform_probe) -> list[TokenState]:
    """Call `after_layer` for layers 0..num_layers-1 as the decoder loop does; the states after
    each layer."""
    states = []
    for layer in range(num_layers):
        state = run.after_layer(layer, state, probe_for(state))
        states.append(state)
    return states
