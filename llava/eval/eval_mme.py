"""Score MME answers: `python -m llava.eval.eval_mme --mme-dir .../MME_Benchmark_release_version
--answers-file F [--experiment NAME] [--output-dir DIR] [--json-out FILE]`.

Prints acc, acc+ and score per category, the perception and cognition totals and their sum,
and writes the files MME's own `eval_tool/calculation.py --results_dir DIR` reads (as LLaVA's
convert_answer_to_mme.py does). By default DIR is `eval_tool/answers/<experiment>` next to
the MME folder (LLaVA's layout: MME/{MME_Benchmark_release_version, eval_tool, answers}).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a file (`python llava/eval/eval_mme.py`)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from llava.benchmarks.jsonl import write_json  # noqa: E402
from llava.benchmarks.mme import (  # noqa: E402
    COGNITION,
    PERCEPTION,
    MMEResult,
    load_records,
    score_records,
    write_eval_tool_answers,
)


def default_output_dir(mme_dir: str | Path, experiment: str) -> Path:
    return Path(mme_dir).resolve().parent / "eval_tool" / "answers" / experiment


def format_result(result: MMEResult) -> str:
    lines = [f"{'category':<24}{'acc':>8}{'acc+':>8}{'score':>10}"]
    for r in result.categories.values():
        lines.append(f"{r.category:<24}{100 * r.acc:>8.2f}{100 * r.acc_plus:>8.2f}{r.score:>10.2f}")
    lines += [
        f"Perception ({len(PERCEPTION)} categories, max 2000): {result.perception:.2f}",
        f"Cognition ({len(COGNITION)} categories, max 800): {result.cognition:.2f}",
        f"Perception + Cognition: {result.total:.2f}",
    ]
    if result.missing_categories:
        lines.append(
            "Warning: no answers for "
            + ", ".join(result.missing_categories)
            + "; the totals cover only the categories above"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mme-dir", required=True, help="MME_Benchmark_release_version folder")
    parser.add_argument("--answers-file", required=True, help="the model's answers (JSON lines)")
    parser.add_argument(
        "--experiment",
        help="name of the eval_tool answer folder (default: the answers file name without .jsonl)",
    )
    parser.add_argument(
        "--output-dir",
        help="where to write <category>.txt for calculation.py "
        "(default: <mme-dir>/../eval_tool/answers/<experiment>)",
    )
    parser.add_argument("--json-out", help="also save the metrics to this JSON file")
    args = parser.parse_args(argv)
    experiment = args.experiment or Path(args.answers_file).stem
    output_dir = Path(args.output_dir or default_output_dir(args.mme_dir, experiment))
    try:
        records = load_records(args.mme_dir, args.answers_file)
        result = score_records(records, args.answers_file)
    except ValueError as err:
        print(f"eval_mme: error: {err}", file=sys.stderr)
        return 1
    for warning in result.warnings:
        print(f"eval_mme: warning: {warning}", file=sys.stderr)
    print(format_result(result))
    try:
        written = write_eval_tool_answers(records, output_dir)
    except OSError as err:
        print(
            f"eval_mme: error: cannot write the eval_tool files ({err}); pass --output-dir",
            file=sys.stderr,
        )
        return 1
    print(f"Wrote {len(written)} eval_tool answer files to {output_dir}")
    if args.json_out:
        try:
            write_json(args.json_out, result.to_dict())
        except ValueError as err:
            print(f"eval_mme: error: {err}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
