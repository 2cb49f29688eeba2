"""Answer free-form questions (MM-Vet, LLaVA-Bench): `python -m llava.eval.model_vqa ...`.

LLaVA's model_vqa: the same JSON-lines question files, prompt and answer format as
model_vqa_loader, with longer answers (at most 1024 new tokens, as LLaVA's; `--max_new_tokens`
changes it). Every flag of model_vqa_loader works here too: pruning, resume, chunks, torchrun.
"""

from __future__ import annotations

import argparse

from llava.eval.answer_cli import answering_parser, run_answering, run_cli
from llava.eval.questions import read_questions

PROG = "model_vqa"
# haotian-liu/LLaVA c121f0432da27facab705978f83c4ada465e46fd, llava/eval/model_vqa.py
MAX_NEW_TOKENS = 1024


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = answering_parser(
        f"python -m llava.eval.{PROG}", __doc__.split("\n")[0], max_new_tokens=MAX_NEW_TOKENS
    )
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> None:
    run_answering(
        args, lambda a: read_questions(a.question_file, a.image_folder, a.allow_outside_images)
    )


def main(argv: list[str] | None = None) -> None:
    run_cli(PROG, parse_args(argv), run)


if __name__ == "__main__":
    main()
