"""Fixtures for the tests of scripts/v1_5/eval: a tiny synthetic data root with every benchmark,
the environment pointing the scripts at it and the tiny checkpoint, and fake-interpreter runs."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest
from script_helpers import fake_python, run_script, script_env, split_calls

from llava.synthetic.suite import SYNTHETIC_BENCHMARKS, BenchmarkSizes, write_benchmarks

SIZES = BenchmarkSizes(  # 6 POPE, 8 MME, 2 TextVQA questions; a few of every other benchmark
    pope_images=1, pope_pairs=1, mme_images=1, textvqa_images=2, textvqa_questions_per_image=1,
    gqa_images=1, sqa_images=2, mmbench_images=2, mmbench_cn_images=2, vqav2_images=1,
    vizwiz_images=2, seed_images=3, mmvet_images=1, llavabench_images=1,
)  # fmt: skip


@pytest.fixture(scope="session")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("eval_scripts") / "playground" / "data" / "eval"
    write_benchmarks(root, seed=0, sizes=SIZES, benchmarks=SYNTHETIC_BENCHMARKS)
    return root


@pytest.fixture(scope="session")
def tiny_env(tiny_checkpoints, data_root) -> dict[str, str]:
    return script_env(MODEL_PATH=str(tiny_checkpoints["llava"]), DATA_ROOT=str(data_root))


@pytest.fixture(scope="session")
def fake(tmp_path_factory, data_root):
    """Run a script with PYTHON = a recorder, on a copy of the data root without images or
    answers: returns (result, generator calls, other calls, the copy's root)."""
    folder = tmp_path_factory.mktemp("fake")
    python = fake_python(folder / "python")
    counter = itertools.count()

    def run(script: str, *args: str, **env: str):
        number = next(counter)
        log = folder / f"calls{number}.jsonl"
        root = data_root.parent / f"fake{number}"
        shutil.copytree(data_root, root, ignore=shutil.ignore_patterns("*.png", "answers"))
        values = {"DATA_ROOT": str(root), "PYTHON": str(python), "FAKE_LOG": str(log), **env}
        result = run_script(script, *args, env=script_env(**values), cwd=folder)
        return (result, *split_calls(log), root)

    return run
