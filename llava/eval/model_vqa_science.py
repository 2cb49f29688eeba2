"""Answer ScienceQA: `python -m llava.eval.model_vqa_science --question-file
llava_test_CQM-A.json --image-folder images/test --single-pred-prompt ...`.

LLaVA's model_vqa_science: a JSON array in LLaVA's conversation format; items with an image are
asked "<image>\\n" + question (the image padded in its own mode, then converted), items without
one as a text-only prompt, which no pruning method touches (its answer's metadata says
"pruning": "none: text-only prompt"). `--single-pred-prompt` appends "Answer with the option's
letter from the given choices directly."; the answer's `prompt` is what the model was asked,
"<image>\\n" included. Answers are at most 1024 new tokens, as LLaVA's. Every flag of
model_vqa_loader works here too: pruning, resume, chunks, torchrun.
"""

from __future__ import annotations

import argparse

from llava.eval.answer_cli import answering_parser, run_answering, run_cli
from llava.eval.science_questions import read_science_questions

PROG = "model_vqa_science"
# haotian-liu/LLaVA c121f0432da27facab705978f83c4ada465e46fd, llava/eval/model_vqa_science.py
MAX_NEW_TOKENS = 1024


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = answering_parser(
        f"python -m llava.eval.{PROG}",
        __doc__.split("\n")[0],
        question_file="tables/question.json",
        max_new_tokens=MAX_NEW_TOKENS,
    )
    parser.add_argument(
        "--single-pred-prompt",
        action="store_true",
        help="ask for the option's letter only (LLaVA-1.5's sqa.sh passes it)",
    )
    parser.add_argument(
        "--answer-prompter",
        action="store_true",
        help="accepted for LLaVA's command lines; it has no effect, as in LLaVA-1.5",
    )
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> None:
    run_answering(
        args,
        lambda a: read_science_questions(
            a.question_file, a.image_folder, a.single_pred_prompt, a.allow_outside_images
        ),
    )


def main(argv: list[str] | None = None) -> None:
    run_cli(PROG, parse_args(argv), run)


if __name__ == "__main__":
    main()
