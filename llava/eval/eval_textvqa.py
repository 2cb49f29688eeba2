"""Score TextVQA answers: `python -m llava.eval.eval_textvqa --annotation-file
TextVQA_0.5.1_val.json (--result-file F | --result-dir DIR) [--json-out FILE]`, with the same
options and printout as LLaVA-1.5's eval_textvqa.py (a result folder: every .jsonl in it)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a file (`python llava/eval/eval_textvqa.py`)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from llava.benchmarks.jsonl import read_jsonl, write_json  # noqa: E402
from llava.benchmarks.textvqa import load_annotations, score_answers  # noqa: E402


def result_files(result_file: str | None, result_dir: str | None) -> list[Path]:
    """The answer files to score, in LLaVA's order: the file, then the folder's sorted .jsonl."""
    files = [Path(result_file)] if result_file else []
    if result_dir:
        folder = Path(result_dir)
        if not folder.is_dir():
            raise ValueError(f"result folder not found: {folder}")
        jsonl = sorted(p for p in folder.iterdir() if p.suffix == ".jsonl")
        if not jsonl:
            raise ValueError(f"no .jsonl answer files in {folder}")
        files += jsonl
    return files


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotation-file", required=True, help="TextVQA_0.5.1_val.json")
    parser.add_argument("--result-file", help="one answers file (JSON lines)")
    parser.add_argument("--result-dir", help="score every .jsonl file in this folder")
    parser.add_argument(
        "--json-out", help="save {experiment: {samples, accuracy}} to this JSON file"
    )
    args = parser.parse_args(argv)
    if not args.result_file and not args.result_dir:
        parser.error("pass --result-file or --result-dir")
    metrics = {}
    try:
        annotations = load_annotations(args.annotation_file)
        for path in result_files(args.result_file, args.result_dir):
            result = score_answers(read_jsonl(path, "TextVQA result file"), annotations, path)
            for warning in result.warnings:
                print(f"eval_textvqa: warning: {warning}", file=sys.stderr)
            print(path.stem)  # the experiment name, as LLaVA prints it
            print(f"Samples: {result.samples}\nAccuracy: {100.0 * result.accuracy:.2f}%\n")
            metrics[path.stem] = result.to_dict()
        if args.json_out:
            write_json(args.json_out, metrics)
    except ValueError as err:
        print(f"eval_textvqa: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
