"""Fixtures of the synthetic-benchmark tests: one small copy of every new stand-in."""

from __future__ import annotations

from pathlib import Path

import pytest

from llava.synthetic.suite import BenchmarkSizes, write_benchmarks

REPO_ROOT = Path(__file__).resolve().parents[2]
# Real LLaVA-1.5 suite files, outside the repo (absent from a user's clone): tests using them skip.
SHARED_SUITE = REPO_ROOT.parent / "shared" / "benchmarks" / "llava-suite"
NEW_BENCHMARKS = (
    "gqa", "sqa", "mmbench", "mmbench_cn", "vqav2", "vizwiz", "seed", "mmvet", "llavabench",
)  # fmt: skip
# Small, yet every category appears: SEED's 9 image and 3 video dimensions, MMBench's 5.
SMALL = BenchmarkSizes(
    gqa_images=5, sqa_images=6, mmbench_images=10, mmbench_cn_images=10, vqav2_images=4,
    vizwiz_images=12, seed_images=9, mmvet_images=6, llavabench_images=2, nonsquare_prob=0.3,
)  # fmt: skip


def _write_small_suite(root: Path, seed: int = 0, split: str = "test") -> dict:
    return write_benchmarks(root, seed=seed, split=split, sizes=SMALL, benchmarks=NEW_BENCHMARKS)


@pytest.fixture(scope="session")
def write_suite():
    """Writes the small copy of the new stand-ins: (root, seed=0, split="test") -> counts."""
    return _write_small_suite


@pytest.fixture(scope="session")
def suite(tmp_path_factory) -> tuple[Path, dict]:
    """(root, question counts) of the new stand-ins written once with seed 0."""
    root = tmp_path_factory.mktemp("suite")
    return root, _write_small_suite(root)


@pytest.fixture(scope="session")
def suite_root(suite) -> Path:
    return suite[0]


@pytest.fixture
def shared_suite() -> Path:
    if not SHARED_SUITE.is_dir():
        pytest.skip(f"real LLaVA suite files not found at {SHARED_SUITE} (only on dev hosts)")
    return SHARED_SUITE
