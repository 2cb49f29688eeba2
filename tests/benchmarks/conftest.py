"""Fixtures shared by the scorer tests (fixtures only: no imports between test modules)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# Real LLaVA data, outside the repo (absent from a user's clone): tests using it skip.
SHARED_LLAVA = REPO_ROOT.parent / "shared" / "benchmarks" / "llava"
# Real files of the rest of LLaVA-1.5's suite (question files, released answers, uploads,
# reviews, grades).
SHARED_SUITE = REPO_ROOT.parent / "shared" / "benchmarks" / "llava-suite"
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
def shared_suite() -> Path:
    if not SHARED_SUITE.is_dir():
        pytest.skip(f"real LLaVA suite files not found at {SHARED_SUITE} (only on dev hosts)")
    return SHARED_SUITE


@pytest.fixture
def official_cases() -> Callable[[str], list[dict]]:
    """The cases of a tests/data/suite/<name>_official.json.gz fixture (see its README)."""

    def load(name: str) -> list[dict]:
        with gzip.open(SUITE_FIXTURES / f"{name}_official.json.gz", "rt", encoding="utf-8") as f:
            return json.load(f)["cases"]

    return load


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
