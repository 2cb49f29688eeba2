"""Write the EvalAI upload of a VizWiz run, as LLaVA's script of the same name:
`python scripts/convert_vizwiz_for_submission.py --annotation-file llava_test.jsonl
--result-file answers/CKPT.jsonl --result-upload-file answers_upload/CKPT.json` (the
"annotation file" is LLaVA's question file). Every question must be answered once."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a file from the repository root: find `llava`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llava.benchmarks.jsonl import read_jsonl  # noqa: E402
from llava.benchmarks.vizwiz import (  # noqa: E402
    convert_for_submission,
    read_questions,
    upload_text,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotation-file", required=True, help="the question file (JSON lines)")
    parser.add_argument("--result-file", required=True, help="the model's answers (JSON lines)")
    parser.add_argument("--result-upload-file", required=True, help="the upload to write")
    args = parser.parse_args(argv)
    try:
        answers = read_jsonl(args.result_file, "VizWiz answers file")
        questions = read_questions(args.annotation_file)
        upload = convert_for_submission(answers, args.result_file, questions)
    except ValueError as err:
        parser.exit(1, f"{parser.prog}: error: {err}\n")
    # LLaVA's summary line (unreadable lines are refused here, so error_line is always 0)
    print(f"total results: {len(answers)}, total split: {len(questions)}, error_line: 0")
    dst = Path(args.result_upload_file)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(upload_text(upload), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
