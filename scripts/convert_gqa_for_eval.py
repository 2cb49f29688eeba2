"""Convert LLaVA's GQA answers for GQA's eval.py: `python scripts/convert_gqa_for_eval.py
--src merge.jsonl --dst testdev_balanced_predictions.json` (LLaVA's flags and output bytes)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # find `llava` from the repo root

from llava.benchmarks.gqa import convert_answers, read_answers, write_predictions  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="convert_gqa_for_eval", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--src", required=True, help="the model's answers (merge.jsonl)")
    parser.add_argument("--dst", required=True, help="predictions file to write")
    args = parser.parse_args(argv)
    try:
        write_predictions(convert_answers(read_answers(args.src)), args.dst)
    except ValueError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
