"""Answer MMBench or MMBench-CN: `python -m llava.eval.model_vqa_mmbench --question-file
mmbench_dev_20230712.tsv --single-pred-prompt [--lang cn] [--all-rounds] ...`.

LLaVA's model_vqa_mmbench: the TSV's rows with their base64 images (padded in their own mode,
then converted), the prompt "<image>\\n" + hint + question + "A. ..." lines, and with
`--single-pred-prompt` the instruction to answer with the letter (in Chinese with `--lang cn`).
`--all-rounds` asks each row once per option, rotating the option texts; LLaVA's scripts do not
use it, because the dev TSVs already hold the rotations. Answers record `round_id`, the prompt
body, `options` and `option_char`, and are at most 1024 new tokens, as LLaVA's. `--image-folder`
is accepted and unused, as in LLaVA. Every flag of model_vqa_loader works here too: pruning,
resume (by position: --all-rounds repeats question ids), chunks of rows, torchrun.
"""

from __future__ import annotations

import argparse

from llava.benchmarks.mmbench import SUFFIXES
from llava.eval.answer_cli import answering_parser, run_answering, run_cli
from llava.eval.mmbench_questions import read_mmbench_questions

PROG = "model_vqa_mmbench"
# haotian-liu/LLaVA c121f0432da27facab705978f83c4ada465e46fd, llava/eval/model_vqa_mmbench.py
MAX_NEW_TOKENS = 1024


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = answering_parser(
        f"python -m llava.eval.{PROG}", __doc__.split("\n")[0], max_new_tokens=MAX_NEW_TOKENS
    )
    parser.add_argument(
        "--all-rounds", action="store_true", help="ask each row once per option, rotating them"
    )
    parser.add_argument(
        "--single-pred-prompt",
        action="store_true",
        help="ask for the option's letter only (LLaVA-1.5's mmbench scripts pass it)",
    )
    parser.add_argument(
        "--lang", default="en", choices=list(SUFFIXES), help="the instruction's language"
    )
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> None:
    def read(a: argparse.Namespace):
        return read_mmbench_questions(
            a.question_file,
            lang=a.lang,
            single_pred_prompt=a.single_pred_prompt,
            all_rounds=a.all_rounds,
        )

    # The answers' prompt is the body alone: the instruction's language is a setting of its own.
    prompt_config = {"lang": args.lang, "single_pred_prompt": args.single_pred_prompt}
    run_answering(args, read, prompt_config)


def main(argv: list[str] | None = None) -> None:
    run_cli(PROG, parse_args(argv), run)


if __name__ == "__main__":
    main()
