"""DART's selection step by step on hand-made keys and hidden states."""

from __future__ import annotations

import torch

from llava.sparse.dart import DARTConfig, select_tokens, solve_tokens
from llava.sparse.registry import ModelShape


def test_pivots_by_key_norm_then_the_least_similar_tokens():
    """Sequence: 2 system tokens, 6 visual (2..7), 2 text (8, 9). One image pivot and one text
    pivot (the largest L1 key norms: visual 5, text 9), one token each (tokens // pivots = 1):
    each pivot takes the visual token least similar (cosine) to itself among those not yet
    taken. Token 2 (at 225 degrees) is the least similar to both pivots (0 and 90 degrees), so
    the order matters: the reference walks the Python set {5, 9}, which CPython iterates as
    9, 5; the text pivot takes 2, then the image pivot its next least similar, 3 (120 degrees),
    where the other order would have kept 4 (330 degrees)."""
    keys = torch.zeros(10, 2)
    keys[2:8, 0] = torch.tensor([1.0, 2.0, 1.5, 9.0, 0.5, 3.0])  # visual 5 has the largest norm
    keys[8:10, 0] = torch.tensor([1.0, 4.0])  # text 9
    degrees = torch.tensor([225.0, 120.0, 330.0, 0.0, 60.0, 30.0, 45.0, 90.0])  # tokens 2..9
    angles = torch.deg2rad(degrees)
    hidden = torch.zeros(10, 2)
    hidden[2:10] = torch.stack((angles.cos(), angles.sin()), dim=1)
    config = DARTConfig(k=2, tokens=2, pivot_image=1, pivot_text=1)
    assert list({5, 9}) == [9, 5]
    kept = select_tokens(hidden, keys, torch.arange(2, 8), torch.tensor([8, 9]), config)
    assert kept == [2, 3, 5]
    assert config.kept(6) == 1 + 2 * 1 == len(kept)


def test_kept_count_and_budget_solving():
    config = DARTConfig(tokens=128)
    assert config.per_pivot == 16 and config.kept(576) == 4 + 8 * 16
    shape = ModelShape(32, 576)
    # 192 equivalent tokens: (576 + 31 n) / 32 = 192 -> n = 179.6; n = 4 + 8m -> m = 22: 180.
    assert solve_tokens(192, DARTConfig(), shape) == 176
