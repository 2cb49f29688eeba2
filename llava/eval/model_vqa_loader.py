"""Answer a LLaVA question file: `python -m llava.eval.model_vqa_loader --model-path ... --sparse`.

LLaVA's flags and answer format; plus `--device`, `--dtype`, `--seed` and the pruning flags
(`--sparse --scale S --bias B`, `--sparse-version`, `--retained-tokens`, `--pruning-layers`).
Rerunning with an existing answers file resumes where it stopped. Several GPUs: LLaVA's
`--num-chunks N --chunk-idx i` (one process per GPU, chunk files concatenated in order), or
`torchrun --nproc-per-node N -m llava.eval.model_vqa_loader ...` (shards by rank; rank 0
merges the shards into --answers-file).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from statistics import mean

import torch
from tqdm import tqdm

from llava.eval.answers import AnswerWriter, merge_answer_files, resume_answers
from llava.eval.pruning_args import add_pruning_args, pruner_from_args
from llava.eval.questions import get_chunk, read_questions
from llava.eval.runner import AnswerStats, RunSettings, answer_questions, check_images
from llava.generate import generation_options
from llava.mm_utils import get_model_name_from_path
from llava.model.builder import default_device, load_pretrained_model


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m llava.eval.model_vqa_loader", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--model-path", required=True)
    parser.add_argument("--model-base", default=None)
    parser.add_argument("--image-folder", default="")
    parser.add_argument("--question-file", default="tables/question.jsonl")
    parser.add_argument("--answers-file", default="answer.jsonl")
    parser.add_argument("--conv-mode", default="llava_v1")
    parser.add_argument("--num-chunks", type=int, default=1)
    parser.add_argument("--chunk-idx", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=0.2)
    parser.add_argument("--top_p", type=float, default=None)
    parser.add_argument("--num_beams", type=int, default=1)
    parser.add_argument("--max_new_tokens", type=int, default=128)
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
    add_pruning_args(parser)
    return parser.parse_args(argv)


def _torchrun_rank() -> tuple[int, int, int]:
    """(rank, world size, local rank) when launched by torchrun, else (0, 1, 0)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, 0
    return int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0"))


def _summary(stats: list[AnswerStats], resumed: int) -> str:
    if not stats:
        return f"nothing to do: all {resumed} answers were already written"
    acc = [s.accounting for s in stats]
    flops = mean(a.prefill_flops for a in acc)
    dense = mean(a.dense_prefill_flops for a in acc)
    return "\n".join(
        [
            f"answered {len(stats)} questions" + (f" ({resumed} resumed)" if resumed else ""),
            f"visual tokens per image: {mean(a.visual_tokens for a in acc):.1f}",
            "equivalent visual tokens (mean over layers): "
            f"{mean(a.equivalent_tokens_output for a in acc):.2f} counted after pruning "
            f"(papers), {mean(a.equivalent_tokens_input for a in acc):.2f} entering each layer",
            f"prefill: {flops / 1e12:.4f} TFLOPs analytic ({flops / dense:.3f} of dense), "
            f"{1000 * mean(s.prefill_seconds for s in stats):.1f} ms measured",
            f"decode: {mean(s.new_tokens for s in stats):.1f} new tokens, "
            f"{1000 * mean(s.decode_seconds for s in stats):.1f} ms",
        ]
    )


def run(args: argparse.Namespace) -> None:
    rank, world, local_rank = _torchrun_rank()
    answers_file = Path(args.answers_file).expanduser()
    num_chunks, chunk_idx = args.num_chunks, args.chunk_idx
    question_file = Path(args.question_file).expanduser()
    image_folder = Path(args.image_folder).expanduser()
    all_questions = read_questions(question_file)
    if world > 1 and (num_chunks, chunk_idx) != (1, 0):
        raise ValueError("--num-chunks/--chunk-idx do not combine with torchrun (it shards)")
    if world > 1:  # one shard per rank; rank 0 merges them at the end
        num_chunks, chunk_idx = world, rank
    questions = get_chunk(all_questions, num_chunks, chunk_idx)
    check_images(image_folder, questions, question_file)

    device = args.device
    if device is None:
        device = (
            f"cuda:{local_rank}" if world > 1 and torch.cuda.is_available() else default_device()
        )
    model_id = get_model_name_from_path(args.model_path)
    tokenizer, model, image_processor, _ = load_pretrained_model(
        args.model_path, args.model_base, model_id, device=device, torch_dtype=args.dtype
    )
    pruner = pruner_from_args(args, model)
    options = generation_options(
        do_sample=args.temperature > 0,
        temperature=args.temperature,
        top_p=args.top_p,
        num_beams=args.num_beams,
        max_new_tokens=args.max_new_tokens,
    )
    settings = RunSettings(args.conv_mode, options, args.seed)
    run_config = {
        "model_id": model_id,
        "conv_mode": args.conv_mode,
        "temperature": args.temperature,
        "top_p": args.top_p,
        "max_new_tokens": args.max_new_tokens,
        "seed": args.seed,
        "pruning": pruner.describe(),
    }
    if world > 1:
        # A job merged earlier left no shards: its merged file, if complete, is the result.
        merged = answers_file.is_file() and resume_answers(
            answers_file, all_questions, run_config
        ) == len(all_questions)
        if merged:
            print(f"nothing to do: {answers_file} already holds all {len(all_questions)} answers")
            return
        answers_file = answers_file.with_name(f"{answers_file.stem}.rank{rank}of{world}.jsonl")
    done = resume_answers(answers_file, questions, run_config)
    stats = []
    with (
        AnswerWriter(answers_file) as writer,
        tqdm(
            total=len(questions),
            initial=done,
            desc=f"{pruner.name} {question_file.name}",
            position=rank,
            file=sys.stderr,
            dynamic_ncols=True,
        ) as progress,
    ):
        answers = answer_questions(
            model,
            tokenizer,
            image_processor,
            questions,
            question_file,
            image_folder,
            pruner,
            settings,
            writer,
            model_id,
            run_config,
            first=done,
        )
        for answer_stats in answers:
            stats.append(answer_stats)
            progress.update()
    print(_summary(stats, done))
    if world > 1:
        _merge_ranks(Path(args.answers_file).expanduser(), answers_file, rank, world)


def _merge_ranks(final: Path, shard: Path, rank: int, world: int) -> None:
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo")  # only a barrier: gloo works with or without GPUs
    dist.barrier()
    if rank == 0:
        shards = [shard.with_name(f"{final.stem}.rank{r}of{world}.jsonl") for r in range(world)]
        merge_answer_files(shards, final)
        for part in shards:
            part.unlink()
        print(f"merged {world} shards into {final}")
    dist.barrier()
    dist.destroy_process_group()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        run(args)
    except (ValueError, FileNotFoundError) as err:
        sys.exit(f"model_vqa_loader: error: {err}")


if __name__ == "__main__":
    main()
