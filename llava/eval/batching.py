"""Grouping questions into batches whose prompts have similar lengths.

Samples of a batch are right-padded to its longest prompt, so mixing a 600-token prompt with a
40-token one wastes most of the short row. Questions are taken in windows of a few batches, in
question order; within a window they are sorted by prompt length and cut into batches. Answers
are still written in question order, one window at a time, so an interrupted run loses at most
one window and resumes exactly where the answers file ends.
"""

from __future__ import annotations

from collections.abc import Sequence

BATCHES_PER_WINDOW = 8


def bucketed_batches(
    lengths: Sequence[int], batch_size: int, window: int | None = None
) -> list[list[list[int]]]:
    """Windows of batches of question indices: windows in question order, each covering
    `window` consecutive questions (default: BATCHES_PER_WINDOW batches), its questions sorted
    by length (ties in question order) and cut into batches of `batch_size`."""
    if batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {batch_size}")
    if batch_size == 1:  # nothing to pad: question order, each answer written at once
        return [[[i] for i in range(len(lengths))]]
    window = window or batch_size * BATCHES_PER_WINDOW
    windows = []
    for start in range(0, len(lengths), window):
        indices = sorted(range(start, min(start + window, len(lengths))), key=lambda i: lengths[i])
        windows.append([indices[i : i + batch_size] for i in range(0, len(indices), batch_size)])
    return windows


def padding_overhead(padded: int, useful: int) -> float:
    """Padded token-layers per useful token-layer (0 when nothing was padded)."""
    return padded / useful if useful else 0.0
