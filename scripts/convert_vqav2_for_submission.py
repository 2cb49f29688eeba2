"""Write the EvalAI upload of a VQAv2 run, as LLaVA's script of the same name:
`python scripts/convert_vqav2_for_submission.py --split SPLIT --ckpt CKPT [--dir DIR]` reads
DIR/answers/SPLIT/CKPT/merge.jsonl and writes DIR/answers_upload/SPLIT/CKPT.json with one entry
per question of DIR/llava_vqav2_mscoco_test2015.jsonl. Unlike LLaVA's, it refuses an answers
file that misses questions of DIR/SPLIT.jsonl, repeats or adds any."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a file from the repository root: find `llava`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llava.benchmarks.jsonl import read_jsonl  # noqa: E402
from llava.benchmarks.vqav2 import (  # noqa: E402
    TEST_QUESTION_FILE,
    convert_for_submission,
    read_questions,
    upload_text,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default="./playground/data/eval/vqav2", help="the vqav2 folder")
    parser.add_argument("--ckpt", required=True, help="the run's name (answers/SPLIT/CKPT/)")
    parser.add_argument("--split", required=True, help="e.g. llava_vqav2_mscoco_test-dev2015")
    args = parser.parse_args(argv)
    folder = Path(args.dir)
    src = folder / "answers" / args.split / args.ckpt / "merge.jsonl"
    dst = folder / "answers_upload" / args.split / f"{args.ckpt}.json"
    try:
        answers = read_jsonl(src, "VQAv2 answers file")
        test_questions = read_questions(folder / TEST_QUESTION_FILE, "test2015 question file")
        split_questions = read_questions(folder / f"{args.split}.jsonl", "split question file")
        upload = convert_for_submission(answers, src, test_questions, split_questions)
    except ValueError as err:
        parser.exit(1, f"{parser.prog}: error: {err}\n")
    # LLaVA's summary line (unreadable lines are refused here, so error_line is always 0)
    print(f"total results: {len(answers)}, total split: {len(test_questions)}, error_line: 0")
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(upload_text(upload), encoding="utf-8")
    print(f"Wrote {dst} ({len(upload)} answers, {len(answers)} from this run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
