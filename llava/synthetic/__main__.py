"""CLI: write the synthetic benchmarks in LLaVA's layout.

python -m llava.synthetic --root playground/data/eval --seed 0
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from llava.synthetic.seeding import TEST, TRAIN
from llava.synthetic.write import BenchmarkSizes, write_benchmarks


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    defaults = BenchmarkSizes()
    parser = argparse.ArgumentParser(
        prog="python -m llava.synthetic",
        description="Write synthetic POPE / MME / TextVQA benchmarks (LLaVA formats and layout).",
    )
    parser.add_argument("--root", default="playground/data/eval", help="LLaVA's eval data folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--split",
        default=TEST,
        help=f"random-stream split; benchmarks use {TEST!r}, training uses {TRAIN!r}",
    )
    parser.add_argument("--pope-images", type=int, default=defaults.pope_images)
    parser.add_argument(
        "--pope-pairs", type=int, default=defaults.pope_pairs, help="yes/no pairs per image"
    )
    parser.add_argument(
        "--mme-images", type=int, default=defaults.mme_images, help="images per MME category"
    )
    parser.add_argument("--textvqa-images", type=int, default=defaults.textvqa_images)
    parser.add_argument(
        "--textvqa-questions-per-image", type=int, default=defaults.textvqa_questions_per_image
    )
    parser.add_argument(
        "--nonsquare-prob",
        type=float,
        default=defaults.nonsquare_prob,
        help="share of non-square images (exercises LLaVA's pad-to-square)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.split == TRAIN:
        print(f"warning: split {TRAIN!r} is the training stream; benchmarks should use {TEST!r}")
    sizes = BenchmarkSizes(
        pope_images=args.pope_images,
        pope_pairs=args.pope_pairs,
        mme_images=args.mme_images,
        textvqa_images=args.textvqa_images,
        textvqa_questions_per_image=args.textvqa_questions_per_image,
        nonsquare_prob=args.nonsquare_prob,
    )
    start = time.perf_counter()
    counts = write_benchmarks(
        args.root, seed=args.seed, split=args.split, sizes=sizes, progress=not args.no_progress
    )
    elapsed = time.perf_counter() - start
    print(f"synthetic benchmarks (seed {args.seed}, split {args.split!r}) in {args.root}:")
    for benchmark, per_category in counts.items():
        detail = ", ".join(f"{name} {n}" for name, n in per_category.items())
        print(f"  {benchmark}: {sum(per_category.values())} questions ({detail})")
    print(f"done in {elapsed:.1f}s")


if __name__ == "__main__":
    main()
