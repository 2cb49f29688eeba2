"""VizWiz accuracy by the official rules on a split with public answers, or a check of an upload.

Accuracy: `python -m llava.eval.eval_vizwiz --annotation-file val.json (--question-file
llava_val.jsonl --result-file ANSWERS.jsonl | --upload-file CKPT.json) [--json-out FILE]`. A
LLaVA answers file goes through LLaVA's upload conversion first (the question file gives each
answer's image), as on the server; an upload file is scored as it is.

Upload check: `python -m llava.eval.eval_vizwiz --upload-file answers_upload/CKPT.json
--question-file llava_test.jsonl` says whether EvalAI will take the file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a file (`python llava/eval/eval_vizwiz.py`)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from llava.benchmarks.jsonl import read_json  # noqa: E402
from llava.benchmarks.vizwiz import (  # noqa: E402
    VizWizResult,
    evaluate_answers,
    evaluate_upload,
    read_questions,
    read_upload,
)


def format_result(result: VizWizResult) -> str:
    lines = [f"Overall Accuracy is: {result.overall:.02f}", ""]
    lines.append("Per Answer Type Accuracy is the following:")
    lines += [f"{name} : {value:.02f}" for name, value in result.per_answer_type.items()]
    return "\n".join(lines)


def check(upload_file: str, question_file: str) -> int:
    images = [question["image"] for question in read_questions(question_file)]
    upload = read_upload(read_json(upload_file, "VizWiz upload file"), images, upload_file)
    answered = sum(1 for answer in upload.values() if answer)
    print(
        f"{upload_file}: a valid EvalAI upload, {len(images)} questions, {answered} with a "
        "non-empty answer"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="eval_vizwiz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotation-file", help="VizWiz val-format annotations (public answers)")
    parser.add_argument("--question-file", help="the LLaVA question file (JSON lines)")
    parser.add_argument("--result-file", help="the model's answers (LLaVA JSON lines)")
    parser.add_argument("--upload-file", help="an EvalAI upload (JSON array)")
    parser.add_argument("--json-out", help="also save the accuracies to this JSON file")
    args = parser.parse_args(argv)
    try:
        if not args.annotation_file:
            if not (args.upload_file and args.question_file) or args.result_file:
                parser.error(
                    "pass --annotation-file to score, or --upload-file with --question-file "
                    "to check an upload"
                )
            return check(args.upload_file, args.question_file)
        if args.result_file and args.question_file and not args.upload_file:
            result = evaluate_answers(args.annotation_file, args.question_file, args.result_file)
        elif args.upload_file and not (args.result_file or args.question_file):
            result = evaluate_upload(args.annotation_file, args.upload_file)
        else:
            parser.error(
                "with --annotation-file pass --question-file and --result-file, or "
                "--upload-file alone"
            )
    except ValueError as err:
        parser.exit(1, f"{parser.prog}: error: {err}\n")
    print(format_result(result))
    for warning in result.warnings:
        print(f"Warning: {warning}", file=sys.stderr)
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
