"""The command line every answer generator shares: LLaVA's flags, chunks and torchrun, resume,
the progress bar and the run's summary.

Each entry point (model_vqa_loader, model_vqa, model_vqa_science, model_vqa_mmbench) builds
its parser with `answering_parser`, adds its own flags, and hands `run_answering` a reader of
its question file. The reader returns the file's rows, each with the questions it asks; chunks
(`--num-chunks/--chunk-idx`, or one shard per torchrun rank) are slices of rows, as LLaVA's.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from statistics import mean
from typing import TYPE_CHECKING

import torch

from llava.conversation import get_conv_template
from llava.eval.answers import AnswerLock, check_output
from llava.eval.batching import padding_overhead
from llava.eval.generation_args import check_generation_args
from llava.eval.pruning_args import add_pruning_args
from llava.eval.questions import Question, check_images, get_chunk

if TYPE_CHECKING:
    from llava.eval.runner import AnswerStats

# args -> the question file's rows, each a list of the questions it asks.
RowReader = Callable[[argparse.Namespace], list[list[Question]]]


def answering_parser(
    prog: str,
    description: str,
    *,
    question_file: str = "tables/question.jsonl",
    max_new_tokens: int = 128,
) -> argparse.ArgumentParser:
    """LLaVA's flags of every answer generator, plus device, dtype, seed and pruning."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--model-path", required=True)
    parser.add_argument("--model-base", default=None)
    parser.add_argument("--image-folder", default="")
    parser.add_argument("--question-file", default=question_file)
    parser.add_argument("--answers-file", default="answer.jsonl")
    parser.add_argument(
        "--conv-mode",
        default=None,
        help="LLaVA's conversation template (vicuna_v1, mistral_instruct, ...). Default: "
        "llava_v1 for original LLaVA checkpoints, the checkpoint's own chat template for "
        "llava-hf and Qwen-VL ones",
    )
    parser.add_argument("--num-chunks", type=int, default=1)
    parser.add_argument("--chunk-idx", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=0.2)
    parser.add_argument("--top_p", type=float, default=None)
    parser.add_argument("--num_beams", type=int, default=1)
    parser.add_argument(
        "--top_k", type=int, default=None, help="sampling: keep the k most likely tokens "
        "(default: the checkpoint's generation_config.json, else no limit)",
    )  # fmt: skip
    parser.add_argument(
        "--repetition_penalty", type=float, default=None, help="transformers' repetition "
        "penalty, greedy decoding included (default: the checkpoint's generation_config.json, "
        "e.g. Qwen2.5-VL's 1.05, else 1: none)",
    )  # fmt: skip
    parser.add_argument(
        "--max_new_tokens",
        type=int,
        default=max_new_tokens,
        help=f"longest answer in tokens (default {max_new_tokens}, as LLaVA's entry point)",
    )
    parser.add_argument(
        "--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)"
    )
    parser.add_argument(
        "--dtype",
        default="auto",
        choices=["auto", "float32", "float16", "bfloat16"],
        help="auto: float16 on GPUs, float32 on the CPU",
    )
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (temperature > 0)")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=1,
        help="questions answered together (default 1); each is pruned by its own decisions and "
        "gets the answer it gets alone; prompts of similar length are batched together",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads (default: torch's, one per core; on a machine shared with other jobs "
        "use fewer: more threads than free cores make torch many times slower)",
    )
    parser.add_argument(
        "--truncate-long-prompts",
        action="store_true",
        help="cut a question that does not fit the model's positions with its answer, instead of "
        "refusing it (each cut is recorded in the answer's metadata)",
    )
    parser.add_argument(
        "--allow-outside-images",
        action="store_true",
        help="let image paths leave --image-folder (absolute paths, '..'); refused by default",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="start --answers-file over instead of resuming it (it is refused when it was written "
        "by another run: another model, question file or settings)",
    )
    add_pruning_args(parser)
    return parser


def _torchrun_rank() -> tuple[int, int, int]:
    """(rank, world size, local rank) when launched by torchrun, else (0, 1, 0)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, 0
    return int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0"))


def _flatten(rows: Sequence[list[Question]]) -> list[Question]:
    return [question for row in rows for question in row]


def summary(stats: Sequence[AnswerStats], resumed: int, batch_size: int = 1) -> str:
    """The run's means: token accounting over the answers with an image, times over all."""
    if not stats:
        return f"nothing to do: all {resumed} answers were already written"
    lines = [f"answered {len(stats)} questions" + (f" ({resumed} resumed)" if resumed else "")]
    text_only = sum(not s.has_image for s in stats)
    if text_only:
        lines.append(f"{text_only} text-only prompts: no visual token, so no pruning")
    acc = [s.accounting for s in stats if s.has_image]
    prefill = "prefill: "
    if acc:
        flops = mean(a.prefill_flops for a in acc)
        dense = mean(a.dense_prefill_flops for a in acc)
        lines += [
            f"visual tokens per image: {mean(a.visual_tokens for a in acc):.1f}",
            "equivalent visual tokens (mean over layers): "
            f"{mean(a.equivalent_tokens_output for a in acc):.2f} counted after pruning "
            f"(papers), {mean(a.equivalent_tokens_input for a in acc):.2f} entering each layer",
        ]
        over = ", prompts with an image" if text_only else ""
        prefill += f"{flops / 1e12:.4f} TFLOPs analytic ({flops / dense:.3f} of dense{over}), "
    lines += [
        prefill + f"{1000 * mean(s.prefill_seconds for s in stats):.1f} ms measured",
        f"decode: {mean(s.new_tokens for s in stats):.1f} new tokens, "
        f"{1000 * mean(s.decode_seconds for s in stats):.1f} ms",
    ]
    if batch_size > 1:
        padded = sum(s.padded_tokens for s in stats)
        useful = sum(s.useful_tokens for s in stats)
        overhead = 100 * padding_overhead(padded, useful)
        lines.append(
            f"batches of {batch_size}: prefill padding {overhead:.1f}% of the useful tokens "
            "(summed over layers); times per answer are shares of their batch's"
        )
    return "\n".join(lines)


def run_answering(
    args: argparse.Namespace, read_rows: RowReader, prompt_config: dict | None = None
) -> None:
    """Answer the question file's chunk (or torchrun shard) into --answers-file, resuming.

    `prompt_config` holds the generator's prompt settings that the answers' `prompt` does not
    show (MMBench's --lang): they join the run's settings, which a resumed file must match.
    """
    # Bad flags, templates and output paths fail before the model loads.
    check_generation_args(args)
    if args.conv_mode is not None:
        get_conv_template(args.conv_mode)
    if args.batch_size < 1 or (args.threads is not None and args.threads < 1):
        raise ValueError("--batch-size and --threads must be at least 1")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    rank, world, local_rank = _torchrun_rank()
    answers_file = Path(args.answers_file).expanduser()
    check_output(answers_file)
    num_chunks, chunk_idx = args.num_chunks, args.chunk_idx
    rows = read_rows(args)
    if world > 1 and (num_chunks, chunk_idx) != (1, 0):
        raise ValueError("--num-chunks/--chunk-idx do not combine with torchrun (it shards)")
    if world > 1:  # one shard per rank; rank 0 merges them at the end
        num_chunks, chunk_idx = world, rank
    questions = _flatten(get_chunk(rows, num_chunks, chunk_idx))
    check_images(questions)
    if world > 1:
        answers_file = answers_file.with_name(f"{answers_file.stem}.rank{rank}of{world}.jsonl")
    # Imported here: loading models pulls in transformers, which --help does not need.
    from llava.eval.answer_run import answer_with_model

    with AnswerLock(answers_file):
        stats, done = answer_with_model(
            args, rows, questions, answers_file, prompt_config, (rank, world, local_rank)
        )
    if stats is not None:
        print(summary(stats, done, args.batch_size))


def run_cli(prog: str, args: argparse.Namespace, run: Callable[[argparse.Namespace], None]) -> None:
    """Run an entry point; bad input ends it with `prog: error: ...` and status 1."""
    try:
        run(args)
    except (ValueError, FileNotFoundError) as err:
        sys.exit(f"{prog}: error: {err}")
    except KeyboardInterrupt:
        sys.exit(f"\n{prog}: interrupted; the answers written so far are kept, rerun the same "
                 "command to resume")  # fmt: skip
