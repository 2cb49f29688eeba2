"""The benchmarks: one module each, with its scoring rules and a `BENCHMARK` registry entry.

`benchmarks()` lists them in the order tables show them; adding a benchmark is one module here
plus its name in `BENCHMARK_MODULES`. Modules are imported on first use, so scorer CLIs stay
quick to start.
"""

from __future__ import annotations

from importlib import import_module

from llava.benchmarks.registry import Benchmark, Score

# The order of LLaVA-1.5's results table (VQAv2, GQA, VizWiz, SQA, TextVQA, POPE, MME, MMBench,
# MMBench-CN, SEED, LLaVA-Bench, MM-Vet), with the three the project started with first.
BENCHMARK_MODULES = (
    "pope", "mme", "textvqa", "vqav2", "gqa", "vizwiz", "scienceqa", "mmbench", "mmbench_cn",
    "seed", "llavabench", "mmvet",
)  # fmt: skip

__all__ = ["BENCHMARK_MODULES", "Benchmark", "Score", "benchmarks", "get_benchmark"]


def benchmarks() -> dict[str, Benchmark]:
    """Every registered benchmark, by name, in table order."""
    entries = [import_module(f"llava.benchmarks.{name}").BENCHMARK for name in BENCHMARK_MODULES]
    return {entry.name: entry for entry in entries}


def get_benchmark(name: str) -> Benchmark:
    registered = benchmarks()
    if name not in registered:
        raise ValueError(f"unknown benchmark {name!r}; registered: {', '.join(registered)}")
    return registered[name]
