"""CLI: write the synthetic benchmarks in LLaVA's layout.

python -m llava.synthetic --root playground/data/eval --seed 0
python -m llava.synthetic --root playground/data/eval --benchmarks gqa,sqa --gqa-images 10
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import fields

from llava.synthetic.seeding import TEST, TRAIN
from llava.synthetic.suite import SYNTHETIC_BENCHMARKS, BenchmarkSizes, write_benchmarks

HELP = {
    "pope_images": "POPE images",
    "pope_pairs": "yes/no pairs per POPE image",
    "mme_images": "images per MME category",
    "textvqa_images": "TextVQA images",
    "textvqa_questions_per_image": "TextVQA questions per image (1-4)",
    "gqa_images": "GQA images (3 questions each)",
    "sqa_images": "ScienceQA problems with an image (plus half as many text-only ones)",
    "mmbench_images": "MMBench questions (one image each, plus their circular copies)",
    "mmbench_cn_images": "MMBench-CN questions",
    "vqav2_images": "VQAv2 test-dev images (3 questions each; plus half as many test-only)",
    "vizwiz_images": "VizWiz images (one question each)",
    "seed_images": "SEED-Bench image questions (plus a third as many video-frame ones)",
    "mmvet_images": "MM-Vet images (1-2 questions each)",
    "llavabench_images": "LLaVA-Bench images (3 questions each)",
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    defaults = BenchmarkSizes()
    parser = argparse.ArgumentParser(
        prog="python -m llava.synthetic",
        description="Write synthetic stand-ins of LLaVA-1.5's benchmarks (their formats, "
        "LLaVA's layout).",
    )
    parser.add_argument("--root", default="playground/data/eval", help="LLaVA's eval data folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--split",
        default=TEST,
        help=f"random-stream split; benchmarks use {TEST!r}, training uses {TRAIN!r}",
    )
    parser.add_argument(
        "--benchmarks",
        default="all",
        help=f"comma-separated, from {','.join(SYNTHETIC_BENCHMARKS)} (default: all)",
    )
    for field in fields(BenchmarkSizes):
        if field.name in HELP:
            flag = "--" + field.name.replace("_", "-")
            default = getattr(defaults, field.name)
            parser.add_argument(flag, type=int, default=default, help=HELP[field.name])
    parser.add_argument(
        "--nonsquare-prob",
        type=float,
        default=defaults.nonsquare_prob,
        help="share of non-square images (exercises LLaVA's pad-to-square)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if not args.split or "/" in args.split:
        parser.error(f"--split must be a non-empty name without '/', got {args.split!r}")
    if args.benchmarks == "all":
        args.benchmarks = list(SYNTHETIC_BENCHMARKS)
    else:
        args.benchmarks = [b.strip() for b in args.benchmarks.split(",") if b.strip()]
        unknown = [b for b in args.benchmarks if b not in SYNTHETIC_BENCHMARKS]
        if unknown or not args.benchmarks:
            parser.error(
                f"--benchmarks: unknown {', '.join(unknown) or '(none given)'}; "
                f"choose from {','.join(SYNTHETIC_BENCHMARKS)} or 'all'"
            )
    try:
        args.sizes = BenchmarkSizes(
            **{f.name: getattr(args, f.name) for f in fields(BenchmarkSizes)}
        )
    except ValueError as error:
        parser.error(str(error))
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.split == TRAIN:
        print(f"warning: split {TRAIN!r} is the training stream; benchmarks should use {TEST!r}")
    start = time.perf_counter()
    counts = write_benchmarks(
        args.root,
        seed=args.seed,
        split=args.split,
        sizes=args.sizes,
        benchmarks=args.benchmarks,
        progress=not args.no_progress,
    )
    elapsed = time.perf_counter() - start
    print(f"synthetic benchmarks (seed {args.seed}, split {args.split!r}) in {args.root}:")
    for benchmark, per_category in counts.items():
        detail = ", ".join(f"{name} {n}" for name, n in per_category.items())
        print(f"  {benchmark}: {sum(per_category.values())} questions ({detail})")
    print(f"done in {elapsed:.1f}s")


if __name__ == "__main__":
    main()
