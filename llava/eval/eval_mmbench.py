"""Score MMBench dev answers offline: `python -m llava.eval.eval_mmbench --annotation-file
mmbench_dev_20230712.tsv --result-file answers.jsonl [--json-out F]`, MMBench's CircularEval
with exact matching (a question counts if every rotation of its options is answered right)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a file (`python llava/eval/eval_mmbench.py`)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from llava.benchmarks.jsonl import write_json  # noqa: E402
from llava.benchmarks.mmbench import evaluate_mmbench  # noqa: E402
from llava.benchmarks.mmbench_circular import CircularResult  # noqa: E402


def format_result(result: CircularResult) -> str:
    lines = [
        f"Questions: {result.questions}, Correct in every rotation: {result.hits}, "
        f"CircularEval accuracy: {100 * result.accuracy:.2f}%"
    ]
    lines += [f"  {split}: {100 * acc:.2f}%" for split, acc in result.overall().items()]
    for attribute, title in (("l2_category", "l2-category"), ("category", "category")):
        table = result.per_group(attribute)
        if table:
            lines.append(f"Accuracy / {title}:")
            lines += [
                f"  {name}: " + ", ".join(f"{split} {100 * acc:.2f}%" for split, acc in by.items())
                for name, by in table.items()
            ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="eval_mmbench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotation-file", required=True, help="the dev TSV (with answers)")
    parser.add_argument("--result-file", required=True, help="the model's answers (JSON lines)")
    parser.add_argument("--json-out", help="also save the metrics to this JSON file")
    args = parser.parse_args(argv)
    try:
        result = evaluate_mmbench(args.annotation_file, args.result_file)
    except ValueError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 1
    for warning in result.warnings:
        print(f"{parser.prog}: warning: {warning}", file=sys.stderr)
    print(format_result(result))
    if args.json_out:
        try:
            write_json(args.json_out, result.to_dict())
        except ValueError as err:
            print(f"{parser.prog}: error: {err}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
