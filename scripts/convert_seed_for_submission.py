"""Score SEED-Bench answers and write the upload file:
`python scripts/convert_seed_for_submission.py --annotation-file SEED-Bench.json --result-file
merge.jsonl --result-upload-file F` (LLaVA's flags, printout and upload file)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # find `llava` from the repo root

from llava.benchmarks.seed import (  # noqa: E402
    SeedResult,
    load_annotation,
    read_answers,
    score_seed,
    upload_records,
    write_upload,
)


def format_result(result: SeedResult) -> str:
    lines = [
        f"{result.type_names[type_id]}: {correct / count * 100:.2f}%"
        for type_id, (correct, count) in result.all.per_type.items()
    ]
    lines.append(f"Total accuracy: {result.all.accuracy:.2f}%")
    for data_type in ("image", "video"):
        accuracy = getattr(result, data_type).accuracy
        shown = f"{accuracy:.2f}%" if accuracy is not None else f"n/a (no {data_type} questions)"
        lines.append(f"{data_type} accuracy: {shown}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="convert_seed_for_submission", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--annotation-file", required=True, help="SEED-Bench.json")
    parser.add_argument("--result-file", required=True, help="the model's answers (merge.jsonl)")
    parser.add_argument("--result-upload-file", required=True, help="upload file to write")
    args = parser.parse_args(argv)
    try:
        annotation = load_annotation(args.annotation_file)
        texts, warnings = read_answers(annotation, args.result_file)
        result = score_seed(annotation, texts, warnings)
        records = upload_records(annotation, texts)
        for warning in result.warnings:
            print(f"{parser.prog}: warning: {warning}", file=sys.stderr)
        print(format_result(result))
        write_upload(records, args.result_upload_file)
    except ValueError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
