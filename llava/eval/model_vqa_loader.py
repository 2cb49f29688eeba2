"""Answer a LLaVA question file: `python -m llava.eval.model_vqa_loader --model-path ... --sparse`.

GQA, VQAv2, VizWiz, SEED, TextVQA, POPE and MME: JSON lines with question_id, image and text;
the image is opened as RGB, the prompt is "<image>\\n" + text, answers are at most 128 tokens.
LLaVA's flags and answer format; plus `--device`, `--dtype`, `--seed` and the pruning flags
(`--sparse --scale S --bias B`, `--sparse-version`, `--pruning-method`, `--retained-tokens`,
`--pruning-layers`). Rerunning with an existing answers file resumes where it stopped. Several
GPUs: LLaVA's `--num-chunks N --chunk-idx i` (one process per GPU, chunk files concatenated in
order), or `torchrun --nproc-per-node N -m llava.eval.model_vqa_loader ...` (shards by rank;
rank 0 merges the shards into --answers-file).
"""

from __future__ import annotations

import argparse

from llava.eval.answer_cli import answering_parser, run_answering, run_cli
from llava.eval.questions import read_questions

PROG = "model_vqa_loader"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = answering_parser(f"python -m llava.eval.{PROG}", __doc__.split("\n")[0])
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> None:
    run_answering(
        args, lambda a: read_questions(a.question_file, a.image_folder, a.allow_outside_images)
    )


def main(argv: list[str] | None = None) -> None:
    run_cli(PROG, parse_args(argv), run)


if __name__ == "__main__":
    main()
