"""Summarize LLaVA-Bench reviews, as LLaVA's script of the same name:
`python llava/eval/summarize_gpt_review.py -f reviews/CKPT.jsonl [...]`, or `-d DIR` for the
review files of a folder, with LLaVA's `--select`, `--version` and `--ignore`.

For each file: its name, then per group ("all", then each category) the relative score
(LLaVA-Bench's number), 10 x the reference's mean score and 10 x the model's.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a file (`python llava/eval/summarize_gpt_review.py`)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from llava.benchmarks.jsonl import read_jsonl  # noqa: E402
from llava.benchmarks.llavabench import summarize  # noqa: E402


def review_files(directory: str | None, files: Sequence[str]) -> list[str]:
    """The files to summarize, as LLaVA picks them: the given files, else the folder's .jsonl
    files named gpt4_text_* / reviews_* / review_* (all of them in a folder named *review*)."""
    if files:
        return list(files)
    if directory is None or not os.path.isdir(directory):
        raise ValueError(f"review folder not found: {directory} (pass -f FILE or -d DIR)")
    prefixes = ("gpt4_text", "reviews_", "review_")
    return [
        name
        for name in os.listdir(directory)
        if name.endswith(".jsonl") and (name.startswith(prefixes) or "review" in directory)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="summarize_gpt_review", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("-d", "--dir", default=None)
    parser.add_argument("-v", "--version", default=None)
    parser.add_argument("-s", "--select", nargs="*", default=None)
    parser.add_argument("-f", "--files", nargs="*", default=[])
    parser.add_argument("-i", "--ignore", nargs="*", default=[], type=int)
    args = parser.parse_args(argv)
    try:
        for review_file in sorted(review_files(args.dir, args.files)):
            config = os.path.basename(review_file).replace("gpt4_text_", "").replace(".jsonl", "")
            if args.select is not None and any(x not in config for x in args.select):
                continue
            version = "0613" if "0613" in config else "0314"
            if args.version is not None and args.version != version:
                continue
            path = os.path.join(args.dir, review_file) if args.dir is not None else review_file
            summary = summarize(read_jsonl(path, "review file"), args.ignore)
            print(config)
            for name, (relative, reference, model) in summary.items():
                print(name, relative, reference, model)
            print("=================================")
    except ValueError as err:
        print(f"summarize_gpt_review: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
