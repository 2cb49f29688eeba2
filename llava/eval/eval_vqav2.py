"""VQAv2 accuracy by the official rules on a split with public answers, or a check of an upload.

Accuracy: `python -m llava.eval.eval_vqav2 --annotation-file v2_mscoco_val2014_annotations.json
--question-file v2_OpenEnded_mscoco_val2014_questions.json (--result-file merge.jsonl |
--upload-file CKPT.json) [--json-out FILE]`. A LLaVA answers file (--result-file) goes through
LLaVA's upload conversion first, as on the server; an upload file is scored as it is. Prints as
the official evaluation's demo does.

Upload check: `python -m llava.eval.eval_vqav2 --upload-file answers_upload/SPLIT/CKPT.json
--test-questions llava_vqav2_mscoco_test2015.jsonl` says whether EvalAI will take the file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a file (`python llava/eval/eval_vqav2.py`)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from llava.benchmarks.jsonl import read_json  # noqa: E402
from llava.benchmarks.vqav2 import (  # noqa: E402
    VQAv2Result,
    check_upload,
    evaluate_answers,
    evaluate_upload,
    read_questions,
)


def format_result(result: VQAv2Result) -> str:
    lines = [f"Overall Accuracy is: {result.overall:.02f}", ""]
    lines.append("Per Question Type Accuracy is the following:")
    lines += [f"{name} : {value:.02f}" for name, value in result.per_question_type.items()]
    lines += ["", "Per Answer Type Accuracy is the following:"]
    lines += [f"{name} : {value:.02f}" for name, value in result.per_answer_type.items()]
    return "\n".join(lines)


def check(upload_file: str, test_question_file: str) -> int:
    test_questions = read_questions(test_question_file, "test2015 question file")
    answered = check_upload(
        read_json(upload_file, "VQAv2 upload file"), test_questions, upload_file
    )
    print(
        f"{upload_file}: a valid EvalAI upload, {len(test_questions)} questions, {answered} "
        "with a non-empty answer"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="eval_vqav2", description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotation-file", help="official-format annotations (public answers)")
    parser.add_argument("--question-file", help="the official-format questions of that split")
    parser.add_argument("--result-file", help="the model's answers (LLaVA JSON lines)")
    parser.add_argument("--upload-file", help="an EvalAI upload (JSON array)")
    parser.add_argument(
        "--test-questions",
        help="llava_vqav2_mscoco_test2015.jsonl: check that --upload-file is a valid upload",
    )
    parser.add_argument("--json-out", help="also save the accuracies to this JSON file")
    args = parser.parse_args(argv)
    try:
        if args.test_questions:
            if not args.upload_file or args.annotation_file or args.result_file:
                parser.error("--test-questions goes with --upload-file alone")
            return check(args.upload_file, args.test_questions)
        if not (args.annotation_file and args.question_file):
            parser.error("pass --annotation-file and --question-file (or --test-questions)")
        if bool(args.result_file) == bool(args.upload_file):
            parser.error("pass one of --result-file and --upload-file")
        if args.result_file:
            result = evaluate_answers(args.annotation_file, args.question_file, args.result_file)
        else:
            result = evaluate_upload(args.annotation_file, args.question_file, args.upload_file)
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
