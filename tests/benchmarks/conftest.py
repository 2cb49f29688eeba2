"""Fixtures shared by the scorer tests (fixtures only: no imports between test modules)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# Real LLaVA data, outside the repo (absent from a user's clone): tests using it skip.
SHARED_LLAVA = REPO_ROOT.parent / "shared" / "benchmarks" / "llava"
LLAVA_SUITE = REPO_ROOT.parent / "shared" / "benchmarks" / "llava-suite"
SUITE_FIXTURES = REPO_ROOT / "tests" / "data" / "suite"


@pytest.fixture
def write_jsonl() -> Callable[[Path, Iterable[dict]], Path]:
    def write(path: Path, records: Iterable[dict]) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        return path

    return write


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def shared_llava() -> Path:
    if not SHARED_LLAVA.is_dir():
        pytest.skip(f"real LLaVA benchmark files not found at {SHARED_LLAVA} (only on dev hosts)")
    return SHARED_LLAVA


@pytest.fixture
def llava_suite() -> Path:
    """LLaVA's released suite files (eval.zip answers, uploads, reviews, grades), or a skip."""
    if not LLAVA_SUITE.is_dir():
        pytest.skip(f"real LLaVA suite files not found at {LLAVA_SUITE} (only on dev hosts)")
    return LLAVA_SUITE


@pytest.fixture
def suite_fixtures() -> Path:
    """tests/data/suite: inputs and the official code's outputs on them (see the READMEs)."""
    return SUITE_FIXTURES


@pytest.fixture
def judge_env(monkeypatch: pytest.MonkeyPatch) -> Callable:
    """Point the judge's environment at a stub judge (judge_stub.StubJudge): no retry waits,
    `attempts` tries per request, no OPENAI_* fallbacks."""

    def point_at(stub, attempts: int = 1) -> None:
        for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "LLAVA_JUDGE_MODEL"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("LLAVA_JUDGE_BASE_URL", stub.base_url)
        monkeypatch.setenv("LLAVA_JUDGE_API_KEY", "test-key")
        monkeypatch.setenv("LLAVA_JUDGE_MAX_ATTEMPTS", str(attempts))
        monkeypatch.setenv("LLAVA_JUDGE_BACKOFF", "0")

    return point_at
