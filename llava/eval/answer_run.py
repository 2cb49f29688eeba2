"""The expensive half of an answer generator's run: the model loaded, the run's identity and
settings built, the answers file resumed, and what is left answered (`llava.eval.answer_cli` is
the cheap half: flags, question file, images and output checked first).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from llava.eval.answers import AnswerWriter, merge_answer_files, resume_answers
from llava.eval.pruning_args import pruner_for, pruner_from_args
from llava.eval.runner import AnswerStats, RunSettings, answer_questions
from llava.generate import generation_options
from llava.mm_utils import get_model_name_from_path
from llava.model.builder import (
    checkpoint_geometry,
    default_device,
    load_pretrained_model,
    resolve_dtype,
    resolve_model_path,
)
from llava.model.generation_config import generation_settings
from llava.model.identity import checkpoint_identity
from llava.model.prompting import prompts_for


def run_identity(args: argparse.Namespace, device: str) -> dict:
    """What decides the answers besides the prompt and pruning settings: the weights (not the
    folder's name), the base model, dtype, device kind, image folder and question file."""
    model_path = resolve_model_path(args.model_path)
    identity = {
        "model": checkpoint_identity(model_path),
        "model_base": None,
        "dtype": str(resolve_dtype(args.dtype, device)).removeprefix("torch."),
        "device": torch.device(device).type,
        "question_file": _file_digest(Path(args.question_file).expanduser()),
        "image_folder": str(Path(args.image_folder).expanduser().resolve()),
    }
    if args.model_base:
        identity["model_base"] = checkpoint_identity(
            resolve_model_path(args.model_base, "--model-base")
        )
    return identity


def _file_digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def answer_with_model(
    args, rows, questions, answers_file, prompt_config, ranks
) -> tuple[list[AnswerStats] | None, int]:
    """Load the model, build the method, resume the answers file and answer what is left.
    Returns the new answers' stats and how many were resumed (None: a merged torchrun job
    was already complete)."""
    rank, world, local_rank = ranks
    question_file = Path(args.question_file).expanduser()
    device = args.device
    if device is None:
        device = (
            f"cuda:{local_rank}" if world > 1 and torch.cuda.is_available() else default_device()
        )
    model_id = get_model_name_from_path(args.model_path)
    identity = run_identity(args, device)
    geometry = checkpoint_geometry(args.model_path)
    if geometry is not None:  # the pruning settings, checked before the weights load
        pruner_for(args, geometry.num_layers, geometry.visual_tokens, geometry.family)
    tokenizer, model, image_processor, _ = load_pretrained_model(
        args.model_path, args.model_base, model_id, device=device, torch_dtype=args.dtype
    )
    folder = resolve_model_path(args.model_path)
    pruner = pruner_from_args(args, model)
    prompts = prompts_for(model, folder, tokenizer, args.conv_mode)
    # LLaVA's call passes these; the checkpoint's generation_config.json (and the two flags
    # that override it) decide the rest, as transformers' generate would
    flags = {
        "do_sample": args.temperature > 0,
        "temperature": args.temperature,
        "top_p": args.top_p,
        "num_beams": args.num_beams,
        "max_new_tokens": args.max_new_tokens,
        "top_k": getattr(args, "top_k", None),
        "repetition_penalty": getattr(args, "repetition_penalty", None),
    }
    generation, generation_record = generation_settings(folder, flags)
    options = generation_options(**generation)
    settings = RunSettings(
        prompts,
        options,
        args.seed,
        batch_size=args.batch_size,
        context=model.config.text.max_position_embeddings,
        truncate_long_prompts=args.truncate_long_prompts,
    )
    run_config = {
        "model_id": model_id,
        **identity,
        **prompts.describe(),
        "temperature": args.temperature,
        "top_p": args.top_p,
        "max_new_tokens": args.max_new_tokens,
        "seed": args.seed,
        **(prompt_config or {}),
        "generation": generation_record,
        "pruning": pruner.describe(),
    }
    if world > 1:
        # A job merged earlier left no shards: its merged file, if complete, is the result.
        everything = [question for row in rows for question in row]
        final = Path(args.answers_file).expanduser()
        merged = final.is_file() and resume_answers(final, everything, run_config) == len(
            everything
        )
        if merged:
            print(f"nothing to do: {final} already holds all {len(everything)} answers")
            return None, len(everything)
    if args.overwrite:
        answers_file.unlink(missing_ok=True)
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
            image_processor,
            questions,
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
    if world > 1:
        _merge_ranks(Path(args.answers_file).expanduser(), answers_file, rank, world)
    return stats, done


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
