"""Turn MM-Vet answers into the MM-Vet evaluator's results file, as LLaVA's script of the same
name: `python scripts/convert_mmvet_for_eval.py --src answers/CKPT.jsonl --dst results/CKPT.json`
writes {"v1_<question_id>": text} in answer order."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a file from the repository root: find `llava`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llava.benchmarks.jsonl import read_jsonl  # noqa: E402
from llava.benchmarks.mmvet import convert_for_eval, results_text  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", required=True, help="the model's answers (JSON lines)")
    parser.add_argument("--dst", required=True, help="the results file to write (JSON)")
    args = parser.parse_args(argv)
    try:
        results = convert_for_eval(read_jsonl(args.src, "MM-Vet answers file"), args.src)
    except ValueError as err:
        parser.exit(1, f"{parser.prog}: error: {err}\n")
    Path(args.dst).parent.mkdir(parents=True, exist_ok=True)
    Path(args.dst).write_text(results_text(results), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
