"""Score POPE answers: `python -m llava.eval.eval_pope --annotation-dir DIR --question-file F
--result-file F [--json-out FILE]` (same options and printout as LLaVA-1.5's eval_pope.py, plus
the mean F1 over the splits, which is the number papers quote)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a file (`python llava/eval/eval_pope.py`): find `llava`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from llava.benchmarks.jsonl import write_json  # noqa: E402
from llava.benchmarks.pope import PopeResult, evaluate_pope  # noqa: E402


def format_result(result: PopeResult) -> str:
    lines = []
    for split, r in result.splits.items():
        lines += [
            f"Category: {split}, # samples: {r.samples}",
            "TP\tFP\tTN\tFN\t",
            f"{r.tp}\t{r.fp}\t{r.tn}\t{r.fn}",
            f"Accuracy: {r.accuracy}",
            f"Precision: {r.precision}",
            f"Recall: {r.recall}",
            f"F1 score: {r.f1}",
            f"Yes ratio: {r.yes_ratio}",
            f"{r.f1:.3f}, {r.accuracy:.3f}, {r.precision:.3f}, {r.recall:.3f}, {r.yes_ratio:.3f}",
            "====================================",
        ]
    lines.append(
        f"Mean F1 over {len(result.splits)} splits ({', '.join(result.splits)}): "
        f"{result.mean_f1:.4f}"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--annotation-dir",
        required=True,
        help="folder with coco_pope_{adversarial,popular,random}.json",
    )
    parser.add_argument("--question-file", required=True, help="llava_pope_test.jsonl")
    parser.add_argument("--result-file", required=True, help="the model's answers (JSON lines)")
    parser.add_argument("--json-out", help="also save the metrics to this JSON file")
    args = parser.parse_args(argv)
    try:
        result = evaluate_pope(args.annotation_dir, args.question_file, args.result_file)
        for warning in result.warnings:
            print(f"eval_pope: warning: {warning}", file=sys.stderr)
        print(format_result(result))
        if args.json_out:
            write_json(args.json_out, result.to_dict())
    except ValueError as err:
        print(f"eval_pope: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
