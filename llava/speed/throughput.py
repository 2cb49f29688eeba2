"""Throughput: questions and tokens per second at several batch sizes, dense and pruned.

    python -m llava.speed.throughput [--batch-sizes 1,4,8,16] [--methods default]
                                     [--questions 32] [--workloads pope,decode] [--threads 1]

The efficiency report's model and prompt shape (`llava.speed.workload`), with `--questions`
prompts whose question parts differ in length like POPE's (20-30 tokens after the image), grouped
into batches of similar length as the answer generators group them (`llava.eval.batching`).
Two workloads: "pope" (prefill plus 1-3 answer tokens) and "decode" (32 answer tokens). For each
method at 64 tokens and each batch size: questions/s, new tokens/s, the ratio to batch 1,
padding overhead (padded / useful token-layers in prefill) and peak memory (measured on CUDA; on
the CPU the KV cache plus the widest layer's activations, estimated). Settings are interleaved
across rounds so that drift hits all alike. On a 2-core CPU the absolute figures mean little;
the ratios are the point.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field

import torch

from llava.eval.batching import bucketed_batches, padding_overhead
from llava.eval.pruning_args import add_pruning_args, pruner_from_args
from llava.experiments.method_grid import expand_methods, method_grid
from llava.generate import GenerationOptions, generate
from llava.speed.efficiency import activation_bytes
from llava.speed.workload import (
    SHAPES,
    default_shape,
    machine_line,
    prompt_inputs,
    random_model,
    sync,
)

WORKLOADS = {"pope": 3, "decode": 32}  # answer tokens
DEFAULT_METHODS = "default"  # dense and every method at 64 tokens


@dataclass
class Cell:
    method: str
    workload: str
    batch_size: int
    seconds: list[float] = field(default_factory=list)
    new_tokens: int = 0
    padded: int = 0
    useful: int = 0
    peak_bytes: int = 0


def questions(model, count: int) -> tuple[list[torch.Tensor], torch.Tensor]:
    """`count` prompts around one image each, their question parts 20-30 tokens long."""
    ids, pixels = prompt_inputs(model)
    generator = torch.Generator().manual_seed(2)
    prompts = []
    for _ in range(count):
        extra = int(torch.randint(-37, -27, (1,), generator=generator))  # 57 -> 20..29 tokens
        prompts.append(ids[0, :extra])
    return prompts, pixels[0]


def run_cell(model, pruner, prompts, image, cell: Cell, answer_tokens: int) -> None:
    device = model.device
    options = GenerationOptions(max_new_tokens=answer_tokens)
    lengths = [len(p) for p in prompts]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    sync(device)
    start = time.perf_counter()
    new_tokens = padded = useful = peak = 0
    for window in bucketed_batches(lengths, cell.batch_size):
        for batch in window:
            out = generate(
                model, [prompts[i] for i in batch], [image] * len(batch), pruner, options
            )
            new_tokens += out.tokens.numel()
            padded += out.padded_tokens
            useful += out.useful_tokens
            width = max(out.prompt_tokens)
            text = model.config.text
            estimate = out.kv_cache_bytes + activation_bytes(
                len(batch) * width, text, model.dtype.itemsize
            )
            peak = max(peak, estimate)
    sync(device)
    cell.seconds.append(time.perf_counter() - start)
    cell.new_tokens, cell.padded, cell.useful = new_tokens, padded, useful
    cell.peak_bytes = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else peak


def measure(model, labels, batch_sizes, workloads, count, repeats, progress=None) -> list[Cell]:
    parser = argparse.ArgumentParser()
    add_pruning_args(parser)
    grid = method_grid()
    pruners = {label: pruner_from_args(parser.parse_args(grid[label]), model) for label in labels}
    prompts, image = questions(model, count)
    cells = [
        Cell(label, workload, size)
        for workload in workloads
        for label in labels
        for size in batch_sizes
    ]
    run_cell(model, pruners[labels[0]], prompts[:2], image, Cell("warm-up", "pope", 2), 2)
    for repeat in range(repeats):
        for cell in cells:
            progress(
                f"round {repeat + 1}/{repeats}: {cell.workload} {cell.method} b{cell.batch_size}"
            )
            run_cell(model, pruners[cell.method], prompts, image, cell, WORKLOADS[cell.workload])
    return cells


def table(cells: list[Cell], count: int) -> str:
    lines = [
        "| workload | method | batch | questions/s | new tokens/s | x batch 1 | padding % | "
        "peak memory MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    base = {
        (c.workload, c.method): statistics.median(c.seconds) for c in cells if c.batch_size == 1
    }
    for cell in cells:
        seconds = statistics.median(cell.seconds)
        one = base.get((cell.workload, cell.method))
        ratio = f"{one / seconds:.2f}" if one else "-"
        lines.append(
            f"| {cell.workload} | {cell.method} | {cell.batch_size} | {count / seconds:.2f} | "
            f"{cell.new_tokens / seconds:.1f} | {ratio} | "
            f"{100 * padding_overhead(cell.padded, cell.useful):.1f} | "
            f"{cell.peak_bytes / 2**20:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m llava.speed.throughput", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-sizes", default="1,4,8,16")
    parser.add_argument("--methods", default=DEFAULT_METHODS, help="demo labels or groups")
    parser.add_argument("--questions", type=int, default=32)
    parser.add_argument("--workloads", default="pope,decode", help=f"of {sorted(WORKLOADS)}")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved rounds")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    parser.add_argument("--shape", choices=sorted(SHAPES), default=None)
    args = parser.parse_args(argv)
    try:
        labels = expand_methods(args.methods)
        sizes = [int(size) for size in args.batch_sizes.split(",")]
        workloads = [w for w in args.workloads.split(",") if w]
        unknown = sorted(set(workloads) - set(WORKLOADS))
        if unknown or not workloads:
            raise ValueError(f"--workloads: unknown {unknown}; use {sorted(WORKLOADS)}")
        if min(sizes) < 1 or args.questions < 1:
            raise ValueError("--batch-sizes and --questions must be >= 1")
    except ValueError as err:
        parser.error(str(err))
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    shape = args.shape or default_shape(device)
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    model = random_model(device, dtype, shape)
    started = time.time()
    cells = measure(
        model, labels, sizes, workloads, args.questions, args.repeats,
        progress=lambda message: print(message, file=sys.stderr, flush=True),
    )  # fmt: skip
    text = model.config.text
    print(
        f"Throughput, {time.strftime('%Y-%m-%d %H:%M')}; {machine_line(device, dtype)}; "
        f"decoder {shape}: {text.num_hidden_layers} layers "
        f"x {text.hidden_size}; {args.questions} questions per cell, batches bucketed by prompt "
        f"length; {args.repeats} round(s), {(time.time() - started) / 60:.1f} min\n"
    )
    print(table(cells, args.questions))


if __name__ == "__main__":
    main()
