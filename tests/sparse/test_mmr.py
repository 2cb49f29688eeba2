"""The project's text-guided MMR selection, by hand."""

from __future__ import annotations

import torch

from llava.sparse.mmr import select


def test_relevance_first_then_diversity():
    """Token 0 is the most relevant; token 1, nearly as relevant, repeats it (same direction);
    token 2, less relevant, points elsewhere: with lambda 0.5 the second pick is token 2
    (0.5 * 0.6 - 0 beats token 1's 0.475 - 0.5 and token 3's 0.05 + 0.1)."""
    relevance = torch.tensor([1.0, 0.95, 0.6, 0.1])
    hidden = torch.tensor([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0], [-0.2, 1.0]])
    assert select(relevance, hidden, 2, 0.5).tolist() == [0, 2]
    # Relevance alone (lambda 1) is top-k by relevance; diversity alone ignores it after the
    # first pick: the least similar direction (token 3, cosine -0.2) comes next.
    assert select(relevance, hidden, 2, 1.0).tolist() == [0, 1]
    assert select(relevance, hidden, 2, 0.0).tolist() == [0, 3]
