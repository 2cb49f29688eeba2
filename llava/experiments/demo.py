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
from dataclasses import dataclass
from pathlib import Path

import torch

from llava.eval import model_vqa_loader
from llava.experiments.budget_plot import plot
from llava.benchmarks.mme import evaluate_mme
from llava.benchmarks.pope import evaluate_pope
from llava.benchmarks.textvqa import evaluate_textvqa
from llava.synthetic import BenchmarkSizes, write_benchmarks

DEFAULT_MODEL = Path("playground/models/llava-v1.5-synthetic")
DEFAULT_DATA = Path("playground/data/eval-synthetic")
DEFAULT_OUTPUT = Path("playground/results/demo")
# Question counts: POPE 3 splits x 60, MME 4 categories x 2 x 20, TextVQA 100 (about 10
# minutes for every method on 2 CPU cores).
DEMO_SIZES = BenchmarkSizes(pope_images=30, mme_images=20, textvqa_images=50)

# label -> model_vqa_loader flags. SparseVLM at the papers' budgets uses the v1.5 presets,
# whose equivalent token counts do not depend on the question's length. The baselines get the
# same budgets through --retained-tokens (the method's parameter solved for that many equivalent
# tokens, papers' convention): FastV after layer 1 (K = 2); random and grid at FastV's schedule;
# PDrop at its own stages (after 8, 16, 24) for 192, but those keep all 576 tokens for 8 layers
# (>= 144 equivalent), so for 128 and 64 its stages end after SparseVLM's layers 2, 6, 15.
METHODS: dict[str, list[str]] = {
    "dense": [],
    "sparsevlm-192": ["--sparse", "--sparse-version", "v1.5", "--retained-tokens", "192"],
    "sparsevlm-128": ["--sparse", "--sparse-version", "v1.5", "--retained-tokens", "128"],
    "sparsevlm-64": ["--sparse", "--sparse-version", "v1.5", "--retained-tokens", "64"],
}
BUDGETS = (192, 128, 64)
BASELINES = ("fastv", "pdrop", "random", "grid")
PDROP_EARLY_STAGES = ["--pdrop-layers", "2,6,15"]  # SparseVLM's pruning layers (method.md §2)


def baseline_flags(method: str, budget: int) -> list[str]:
    flags = ["--pruning-method", method, "--retained-tokens", str(budget)]
    if method == "pdrop" and budget < 144:  # below what PDrop's default stages can reach
        flags += PDROP_EARLY_STAGES
    return flags


METHODS.update({f"{m}-{b}": baseline_flags(m, b) for m in BASELINES for b in BUDGETS})
# --methods accepts labels and these group names, comma-separated. "default" keeps the demo
# within about 10 minutes on 2 CPU cores; "all" is every method at every budget.
METHOD_GROUPS: dict[str, list[str]] = {
    "default": [
        "dense", "sparsevlm-192", "sparsevlm-128", "sparsevlm-64", "fastv-64", "pdrop-64",
        "random-64",
    ],
    "all": list(METHODS),
    "baselines": ["dense"] + [f"{m}-{b}" for m in BASELINES for b in BUDGETS],
}  # fmt: skip


def expand_methods(text: str) -> list[str]:
    """Labels and group names (comma-separated) -> labels, in order, without repeats."""
    labels: list[str] = []
    for name in filter(None, (part.strip() for part in text.split(","))):
        for label in METHOD_GROUPS.get(name, [name]):
            if label not in METHODS:
                raise ValueError(
                    f"unknown method {label!r}; available: {', '.join(METHODS)}; "
                    f"groups: {', '.join(METHOD_GROUPS)}"
                )
            if label not in labels:
                labels.append(label)
    return labels


@dataclass(frozen=True)
class Benchmark:
    name: str
    question_file: str
    image_folder: str
    score_name: str


BENCHMARKS = (
    Benchmark("pope", "pope/llava_pope_test.jsonl", "pope/val2014", "POPE F1"),
    Benchmark("MME", "MME/llava_mme.jsonl", "MME/MME_Benchmark_release_version", "MME"),
    Benchmark(
        "textvqa", "textvqa/llava_textvqa_val_v051_ocr.jsonl", "textvqa/train_images", "TextVQA"
    ),
)


def score(benchmark: Benchmark, data: Path, answers: Path) -> float:
    """POPE: mean F1 of the three splits (x100); MME: perception score of its categories;
    TextVQA: VQA accuracy (x100)."""
    if benchmark.name == "pope":
        result = evaluate_pope(data / "pope/coco", data / benchmark.question_file, answers)
        return 100 * result.mean_f1
    if benchmark.name == "MME":
        return evaluate_mme(data / benchmark.image_folder, answers).perception
    return 100 * evaluate_textvqa(data / "textvqa/TextVQA_0.5.1_val.json", answers).accuracy


def _metadata_mean(answers: Path, key: str) -> float:
    lines = answers.read_text().splitlines()
    return statistics.mean(json.loads(line)["metadata"][key] for line in lines)


def run_method(label: str, flags: list[str], args: argparse.Namespace) -> dict:
    row: dict = {"method": label}
    equivalent, equivalent_in, prefill_ms = [], [], []
    for benchmark in BENCHMARKS:
        answers = args.data / benchmark.name / "answers" / f"{args.model.name}-{label}.jsonl"
        print(f"\n== {label} on {benchmark.name}", file=sys.stderr, flush=True)
        model_vqa_loader.main([
            "--model-path", str(args.model),
            "--question-file", str(args.data / benchmark.question_file),
            "--image-folder", str(args.data / benchmark.image_folder),
            "--answers-file", str(answers),
            "--temperature", "0", "--conv-mode", "vicuna_v1", "--max_new_tokens", "8",
            "--device", args.device, *flags,
        ])  # fmt: skip
        row[benchmark.score_name] = score(benchmark, args.data, answers)
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
        help="comma-separated labels or groups (default: "
        f"{','.join(METHOD_GROUPS['default'])}; 'all': every method at 192/128/64; "
        "'baselines': dense and the baselines)",
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
        help="benchmark sizes when writing the data, e.g. '{\"pope_images\": 5}'",
    )
    args = parser.parse_args(argv)
    try:
        labels = expand_methods(args.methods)
    except ValueError as err:
        parser.error(str(err))
    if not (args.model / "config.json").is_file():
        parser.error(f"no checkpoint at {args.model} (--model)")
    if not (args.data / BENCHMARKS[0].question_file).is_file():
        sizes = BenchmarkSizes(**args.sizes) if args.sizes else DEMO_SIZES
        print(f"writing the synthetic benchmarks to {args.data}", file=sys.stderr)
        write_benchmarks(args.data, seed=0, sizes=sizes, progress=True)
    started = time.time()
    rows = [run_method(label, METHODS[label], args) for label in labels]
    header = (
        f"{args.model.name} on the synthetic benchmarks ({args.data}), "
        f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, device {args.device}, "
        f"{(time.time() - started) / 60:.1f} min"
    )
    table = markdown(rows)
    metrics = [benchmark.score_name for benchmark in BENCHMARKS]
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
