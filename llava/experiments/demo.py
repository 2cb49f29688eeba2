"""The main job: the shipped small LLaVA on the synthetic MME / POPE / TextVQA, dense vs pruned.

    python -m llava.experiments.demo            (what `bash scripts/demo.sh` runs)

Writes the synthetic benchmarks (LLaVA's layout, under playground/data/eval-synthetic) if they
are not there, answers them with `model_vqa_loader` for every method, scores the answers with
the real scorers, and prints one table: score per benchmark, equivalent visual tokens (both
conventions) and prefill time; also saved as markdown and JSON. Answers files are kept and
reused: an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from importlib import import_module
from pathlib import Path

import torch

from llava.benchmarks import get_benchmark
from llava.experiments.budget_plot import plot
from llava.experiments.method_grid import expand_methods, method_grid

DEFAULT_MODEL = Path("playground/models/llava-v1.5-synthetic")
DEFAULT_DATA = Path("playground/data/eval-synthetic")
DEFAULT_OUTPUT = Path("playground/results/demo")

# Each benchmark's synthetic stand-in at its registered size: POPE 3 splits x 60 questions,
# MME 4 categories x 2 x 20, TextVQA 100 (about 10 minutes for every method on 2 CPU cores).
DEMO_BENCHMARKS = ("pope", "mme", "textvqa")


def _metadata_mean(answers: Path, key: str) -> float:
    lines = answers.read_text().splitlines()
    return statistics.mean(json.loads(line)["metadata"][key] for line in lines)


def run_method(label: str, flags: list[str], args: argparse.Namespace) -> dict:
    row: dict = {"method": label}
    equivalent, equivalent_in, prefill_ms = [], [], []
    for benchmark in args.benchmarks:
        answers = benchmark.answers_file(args.data, f"{args.model.name}-{label}")
        print(f"\n== {label} on {benchmark.name}", file=sys.stderr, flush=True)
        import_module(benchmark.answering).main([
            "--model-path", str(args.model),
            "--question-file", str(args.data / benchmark.question_file),
            "--image-folder", str(args.data / benchmark.image_folder),
            "--answers-file", str(answers),
            "--temperature", "0", "--conv-mode", "vicuna_v1", "--max_new_tokens", "8",
            "--device", args.device, *benchmark.answering_flags, *flags,
        ])  # fmt: skip
        row[benchmark.metric] = benchmark.score(args.data, answers).value
        equivalent.append(_metadata_mean(answers, "equivalent_tokens_output"))
        equivalent_in.append(_metadata_mean(answers, "equivalent_tokens_input"))
        prefill_ms.append(_metadata_mean(answers, "prefill_ms"))
    row["equivalent tokens"] = statistics.mean(equivalent)
    row["equivalent tokens (input)"] = statistics.mean(equivalent_in)
    row["prefill ms"] = statistics.mean(prefill_ms)
    return row


def markdown(rows: list[dict]) -> str:
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [f"{v:.1f}" if isinstance(v, float) else str(v) for v in row.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--methods",
        default="default",
        help="comma-separated labels (method-budget[-variant], e.g. fastv-64-k3) or groups: "
        "default (dense and every method at 64 tokens), budgets (every method at 192/128/64), "
        "all (every scoring-layer variant too)",
    )
    parser.add_argument(
        "--device",
        default="cuda" if torch.cuda.is_available() else "cpu",
        help="default: cuda if present, else cpu",
    )
    parser.add_argument(
        "--sizes",
        type=json.loads,
        default=None,
        help="images per benchmark when writing the data, e.g. '{\"pope\": 5}'",
    )
    args = parser.parse_args(argv)
    try:
        labels = expand_methods(args.methods)
    except ValueError as err:
        parser.error(str(err))
    if not (args.model / "config.json").is_file():
        parser.error(f"no checkpoint at {args.model} (--model)")
    args.benchmarks = [get_benchmark(name) for name in DEMO_BENCHMARKS]
    for benchmark in args.benchmarks:
        if not (args.data / benchmark.question_file).is_file():
            images = (args.sizes or {}).get(benchmark.name, benchmark.synthetic_images)
            print(f"writing the synthetic {benchmark.name} to {args.data}", file=sys.stderr)
            benchmark.write_synthetic(args.data, seed=0, images=images, progress=True)
    started = time.time()
    rows = [run_method(label, method_grid()[label], args) for label in labels]
    header = (
        f"{args.model.name} on the synthetic benchmarks ({args.data}), "
        f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, device {args.device}, "
        f"{(time.time() - started) / 60:.1f} min"
    )
    table = markdown(rows)
    metrics = [benchmark.metric for benchmark in args.benchmarks]
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "results.md").write_text(f"{header}\n\n{table}\n")
    (args.output / "results.json").write_text(
        json.dumps({"header": header, "metrics": metrics, "rows": rows}, indent=2)
    )
    plot(rows, metrics, args.output / "accuracy_vs_tokens.png")
    print(
        f"\n{header}\n\n{table}\n\nsaved to {args.output}/: results.md, results.json, "
        "accuracy_vs_tokens.png"
    )


if __name__ == "__main__":
    main()
