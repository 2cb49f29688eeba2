"""Grouping questions into batches of similar prompt lengths."""

from __future__ import annotations

import pytest

from llava.eval.batching import bucketed_batches, padding_overhead


def test_windows_in_order_batches_sorted_by_length():
    lengths = [30, 10, 20, 40, 15, 25, 35, 5]
    windows = bucketed_batches(lengths, batch_size=2, window=4)
    assert windows == [[[1, 2], [0, 3]], [[7, 4], [5, 6]]]
    # Every question once; windows cover consecutive questions.
    flat = [i for window in windows for batch in window for i in batch]
    assert sorted(flat) == list(range(8))


def test_defaults_and_errors():
    windows = bucketed_batches(list(range(20)), batch_size=4)  # one window of 8 batches
    assert len(windows) == 1 and [len(b) for b in windows[0]] == [4] * 5
    with pytest.raises(ValueError, match="--batch-size must be >= 1"):
        bucketed_batches([1], 0)
    assert padding_overhead(5, 100) == 0.05 and padding_overhead(0, 0) == 0.0
