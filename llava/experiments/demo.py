"""The main job: the shipped small LLaVA on the synthetic benchmarks, dense vs every pruning
method.

    python -m llava.experiments.demo            (what `bash scripts/demo.sh` runs)

Writes the synthetic benchmarks (LLaVA's layout, under playground/data/eval-synthetic) if they
are not there, answers them with each benchmark's LLaVA entry point for every method, scores the
answers with the real scorers, and prints one table: score per benchmark, equivalent visual
tokens (both conventions) and prefill time; with several models (`--models A,B,C`, e.g. one
recipe trained with three seeds), mean ± standard deviation and each method's rank on every
model. Also saved as markdown, JSON and a plot. Answers files are kept and reused: an
interrupted run resumes.
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

from llava.benchmarks import Benchmark, benchmarks, get_benchmark
from llava.experiments.budget_plot import plot
from llava.experiments.demo_report import Result, rank_table, rows_of, score_table
from llava.experiments.method_grid import expand_methods, method_grid

MODELS = Path("playground/models")
DEFAULT_MODEL = MODELS / "llava-v1.5-synthetic"  # training seed 0
DEFAULT_DATA = Path("playground/data/eval-synthetic")
DEFAULT_OUTPUT = Path("playground/results/demo")
# Each benchmark's synthetic stand-in at its registered size: POPE 3 splits x 60 questions,
# MME 4 categories x 2 x 20, TextVQA 100 (one method on all three: about a minute on a CPU core).
DEMO_BENCHMARKS = ("pope", "mme", "textvqa")
ANSWER_TOKENS = 8  # every demo answer is a word or two


def _answers_in(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.is_file() else 0


def _metadata_mean(answers: Path, key: str) -> float | None:
    """Mean of a metadata field over the answers with an image (ScienceQA's text-only
    questions have no visual token to count); None if there are none."""
    metadata = [json.loads(line)["metadata"] for line in answers.read_text().splitlines()]
    values = [m[key] for m in metadata if m["visual_tokens"]]
    return statistics.mean(values) if values else None


def run_method(label: str, model: Path, benchmarks: list[Benchmark], args) -> tuple[Result, int]:
    """One method on one model over the benchmarks; also how many of its answers were new."""
    scores: dict[str, float | None] = {}
    equivalent, equivalent_in, prefill_ms, written = [], [], [], 0
    for benchmark in benchmarks:
        answers = benchmark.answers_file(args.data, f"{model.name}-{label}")
        before = _answers_in(answers)
        print(f"\n== {model.name}: {label} on {benchmark.name}", file=sys.stderr, flush=True)
        import_module(benchmark.answering).main([
            "--model-path", str(model),
            "--question-file", str(args.data / benchmark.question_file),
            "--image-folder", str(args.data / benchmark.image_folder),
            "--answers-file", str(answers),
            "--temperature", "0", "--conv-mode", "vicuna_v1",
            "--max_new_tokens", str(ANSWER_TOKENS), "--device", args.device,
            *benchmark.answering_flags, *method_grid()[label],
        ])  # fmt: skip
        written += _answers_in(answers) - before
        score = benchmark.score(args.data, answers) if benchmark.score else None
        scores[benchmark.metric] = None if score is None else score.value
        for values, key in (
            (equivalent, "equivalent_tokens_output"),
            (equivalent_in, "equivalent_tokens_input"),
            (prefill_ms, "prefill_ms"),
        ):
            mean = _metadata_mean(answers, key)
            if mean is not None:
                values.append(mean)
    result = Result(
        label, model.name, scores, statistics.mean(equivalent), statistics.mean(equivalent_in),
        statistics.mean(prefill_ms),
    )  # fmt: skip
    return result, written


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m llava.experiments.demo", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--models",
        default=str(DEFAULT_MODEL),
        help="comma-separated checkpoint folders, e.g. the same recipe trained with several "
        "seeds: mean, spread and ranks over them (default: the shipped model, training seed 0)",
    )
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
        "--benchmarks",
        default="default",
        help=f"comma-separated benchmark names, default ({','.join(DEMO_BENCHMARKS)}) or all",
    )
    parser.add_argument("--device", default=None, help="default: cuda if present, else cpu")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads (default 1: on a shared machine more threads than free cores make "
        "torch many times slower, and the small model gains little from more)",
    )
    parser.add_argument(
        "--sizes",
        type=json.loads,
        default=None,
        help="images per benchmark when writing the data, e.g. '{\"pope\": 5}'",
    )
    args = parser.parse_args(argv)
    try:
        args.labels = expand_methods(args.methods)
        names = args.benchmarks.split(",")
        if names == ["default"]:
            names = list(DEMO_BENCHMARKS)
        elif names == ["all"]:
            names = list(benchmarks())
        args.benchmark_list = [get_benchmark(name) for name in names]
    except ValueError as err:
        parser.error(str(err))
    models = [Path(m) for m in args.models.split(",")]
    args.model_list = [m for m in models if (m / "config.json").is_file()]
    missing = [str(m) for m in models if m not in args.model_list]
    if missing:
        parser.error(f"no checkpoint at {', '.join(missing)} (--models)")
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        run(args)
    except KeyboardInterrupt:
        sys.exit("\ninterrupted: the answers written so far are kept; rerun to resume")


def run(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    for benchmark in args.benchmark_list:
        if not (args.data / benchmark.question_file).is_file():
            images = (args.sizes or {}).get(benchmark.name, benchmark.synthetic_images)
            print(f"writing the synthetic {benchmark.name} to {args.data}", file=sys.stderr)
            benchmark.write_synthetic(args.data, seed=0, images=images, progress=True)
    started = time.time()
    results, written = [], 0
    for model in args.model_list:
        for label in args.labels:
            result, new = run_method(label, model, args.benchmark_list, args)
            results.append(result)
            written += new
    total = sum(
        _answers_in(b.answers_file(args.data, f"{r.model}-{r.label}"))
        for r in results
        for b in args.benchmark_list
    )
    metrics = [benchmark.metric for benchmark in args.benchmark_list]
    rows = rows_of(results, args.labels, metrics)
    models = [model.name for model in args.model_list]
    header = (
        f"{', '.join(models)} on the synthetic benchmarks ({args.data}); "
        f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, device {args.device}, "
        f"{args.threads} thread(s); {written} answers written in {(time.time() - started) / 60:.1f}"
        " min" + (f", {total - written} reused from earlier runs" if written < total else "")
    )
    tables = [score_table(rows, metrics)]
    if len(models) > 1:
        tables.append("Rank of each method among those at the same budget, per model:\n\n"
                      + rank_table(rows, metrics, models))  # fmt: skip
    text = "\n\n".join(tables)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "results.md").write_text(f"{header}\n\n{text}\n")
    (args.output / "results.json").write_text(
        json.dumps(
            {
                "header": header,
                "metrics": metrics,
                "models": models,
                "results": [vars(result) for result in results],
            },
            indent=2,
        )  # fmt: skip
    )
    plot(rows, metrics, args.output / "accuracy_vs_tokens.png")
    print(
        f"\n{header}\n\n{text}\n\nsaved to {args.output}/: results.md, results.json, "
        "accuracy_vs_tokens.png"
    )


if __name__ == "__main__":
    main()
