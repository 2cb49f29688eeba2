"""Named, reproducible random streams.

Every image and every question list gets its own stream derived from (seed, split, name) with
SHA-256, never Python's salted hash(). Two consequences: the same seed gives byte-identical
files on every run, and the "train" split never shares a stream with the "test" split the
benchmarks are written from, so training never sees a benchmark image.
"""

from __future__ import annotations

import hashlib
import random

TRAIN = "train"
TEST = "test"  # the split the benchmark files are written from


def derive_seed(seed: int, split: str, name: str) -> int:
    """A 64-bit seed for the stream `name` of `split` under the master `seed`."""
    if not split or "/" in split:
        raise ValueError(f"split must be a non-empty name without '/', got {split!r}")
    digest = hashlib.sha256(f"{int(seed)}/{split}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def make_rng(seed: int, split: str, name: str) -> random.Random:
    """A `random.Random` for the stream `name` of `split` (see `derive_seed`)."""
    return random.Random(derive_seed(seed, split, name))
