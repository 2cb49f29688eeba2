"""Score GQA predictions: `python -m llava.eval.eval_gqa [--tier testdev_balanced]
[--questions {tier}_questions.json] [--predictions {tier}_predictions.json] [--json-out F]`,
the metrics and printout of GQA's eval.py as LLaVA runs it (`cd gqa/data; python eval/eval.py
--tier testdev_balanced`); the predictions come from scripts/convert_gqa_for_eval.py."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a file (`python llava/eval/eval_gqa.py`)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from llava.benchmarks.gqa import TABLES, GQAResult, evaluate_gqa  # noqa: E402
from llava.benchmarks.jsonl import write_json  # noqa: E402


def format_result(result: GQAResult) -> str:
    """eval.py's printout without its advice lines (consistency and grounding not computed)."""
    lines = [
        f"Binary: {result.binary:.2f}%",
        f"Open: {result.open:.2f}%",
        f"Accuracy: {result.accuracy:.2f}%",
        f"Validity: {result.validity:.2f}%",
        f"Plausibility: {result.plausibility:.2f}%",
        f"Distribution: {result.distribution:.2f} (lower is better)",
    ]
    for name, title in TABLES:
        lines += ["", f"{title}:"]
        # eval.py prints the raw keys ("attr", "query", 3): its renaming test never fires.
        lines += [
            f"  {key}: {accuracy:.2f}% ({count} questions)"
            for key, (accuracy, count) in result.tables[name].items()
        ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="eval_gqa", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tier", default="testdev_balanced", help="default testdev_balanced")
    parser.add_argument(
        "--questions", default="{tier}_questions.json", help="questions file ({tier} is expanded)"
    )
    parser.add_argument(
        "--predictions",
        default="{tier}_predictions.json",
        help="predictions file from convert_gqa_for_eval.py ({tier} is expanded)",
    )
    parser.add_argument("--json-out", help="also save the metrics to this JSON file")
    args = parser.parse_args(argv)
    try:
        result = evaluate_gqa(
            args.questions.format(tier=args.tier), args.predictions.format(tier=args.tier)
        )
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
