"""Score ScienceQA answers: `python llava/eval/eval_science_qa.py --base-dir DIR --result-file F
[--output-file F] [--output-result F] [--split test]`, with the options, printout and output files
of LLaVA-1.5's eval_science_qa.py (--base-dir holds pid_splits.json and problems.json)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a file (`python llava/eval/eval_science_qa.py`)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from llava.benchmarks.jsonl import output_file  # noqa: E402
from llava.benchmarks.scienceqa import ScienceQAResult, evaluate_science_qa  # noqa: E402


def format_result(result: ScienceQAResult) -> str:
    img = result.img_accuracy
    img_text = f"{img:.2f}%" if img is not None else "n/a (no question with an image)"
    return (
        f"Total: {result.total}, Correct: {result.correct}, Accuracy: {result.accuracy:.2f}%, "
        f"IMG-Accuracy: {img_text}"
    )


def _write_json(path: str, document: dict) -> None:
    with output_file(path) as f:
        json.dump(document, f, indent=2)  # as LLaVA writes both files


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="eval_science_qa", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-dir", required=True, help="has pid_splits.json, problems.json")
    parser.add_argument("--result-file", required=True, help="the model's answers (JSON lines)")
    parser.add_argument("--output-file", help="write the per-question analyses here (one JSON)")
    parser.add_argument("--output-result", help="write acc, counts and per-pid results here")
    parser.add_argument("--split", default="test", help="split of pid_splits.json (default test)")
    args = parser.parse_args(argv)
    try:
        result = evaluate_science_qa(args.base_dir, args.result_file, args.split)
    except ValueError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 1
    for warning in result.warnings:
        print(f"{parser.prog}: warning: {warning}", file=sys.stderr)
    print(format_result(result))
    try:
        if args.output_file:
            _write_json(args.output_file, result.output_file())
        if args.output_result:
            _write_json(args.output_result, result.output_result())
    except ValueError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
