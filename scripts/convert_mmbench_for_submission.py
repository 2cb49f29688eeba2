"""Write MMBench answers as the server's .xlsx: `python scripts/convert_mmbench_for_submission.py
--annotation-file TSV --result-dir DIR --upload-dir DIR --experiment NAME` (LLaVA's flags; reads
DIR/NAME.jsonl, writes UPLOAD_DIR/NAME.xlsx, creating the folder)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # find `llava` from the repo root

from llava.benchmarks.mmbench import convert_for_submission  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="convert_mmbench_for_submission", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--annotation-file", required=True, help="the MMBench TSV")
    parser.add_argument("--result-dir", required=True, help="folder of <experiment>.jsonl")
    parser.add_argument("--upload-dir", required=True, help="folder for <experiment>.xlsx")
    parser.add_argument("--experiment", required=True, help="answers file name without .jsonl")
    args = parser.parse_args(argv)
    try:
        convert_for_submission(
            args.annotation_file,
            Path(args.result_dir) / f"{args.experiment}.jsonl",
            Path(args.upload_dir) / f"{args.experiment}.xlsx",
        )
    except ValueError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
