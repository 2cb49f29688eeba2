"""Efficiency report: every pruning method at 192 / 128 / 64 equivalent tokens against dense.

    python -m llava.speed.efficiency [--device cuda] [--repeats 3] [--output DIR]
                                     [--methods budgets] [--decode-steps 32] [--threads 1]
                                     [--shape bench|tiny]

The model and prompt are `llava.speed.workload`'s: a LLaMA-shaped decoder with random weights,
32 layers (CUDA: LLaVA-1.5-7B's shape in float16; CPU: 1024 wide in float32; `--shape tiny`:
64 wide, for tests), prompt 35 system + 576 visual + 57 text tokens.
Methods are built from the demo's flags (`llava.experiments.method_grid`), i.e. through the same
`pruner_from_args` path as the evaluations, budgets solved by `--retained-tokens`.

For each method, measured in interleaved rounds (dense, sparsevlm-192, ..., dense, ...) so that
machine drift hits all alike, medians over the rounds:
- prefill latency (the method's own scoring time included, and reported apart);
- decode latency per token: `--decode-steps` greedy steps after the prefill, over the ragged
  cache the prefill left;
- KV-cache bytes after the prefill;
- peak memory. CUDA: measured, `torch.cuda.max_memory_allocated` during prefill + decode, minus
  what was allocated before (weights and prompt). CPU: estimated, not measured (neither
  tracemalloc nor the process's max RSS sees a per-method peak in one process): KV-cache bytes
  at the end of decoding plus the activations of the widest layer, layer 0, which every method
  runs on the whole prompt: n * max(2d + 3m, 4d + 2 d_kv) values (the MLP's residual, normed
  input, gate, up and product; or attention's input, normed input, q, k, v and output);
- analytic prefill FLOPs (`llava.sparse.budget.account`) and decode FLOPs per token
  (4 d^2 + 3 d m + 2 d L per layer of cache length L);
- realised equivalent tokens, both conventions.
Writes `efficiency.md` and `efficiency.json` to --output. Seeds are fixed (model, prompt, random
pruning), so a rerun gives the same tokens, FLOPs and bytes, and timing ratios within noise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from llava.eval.pruning_args import add_pruning_args, pruner_from_args
from llava.experiments.method_grid import expand_methods, method_grid
from llava.generate import decode_one_token, prefill
from llava.model.config import LlamaConfig
from llava.sparse.budget import account
from llava.speed.workload import (
    SHAPES,
    SYSTEM_TOKENS,
    TEXT_TOKENS,
    VISUAL_TOKENS,
    TimedMethod,
    default_shape,
    prompt_inputs,
    random_model,
    sync,
)

DEFAULT_OUTPUT = Path("playground/results/efficiency")


@dataclass
class Row:
    method: str
    flags: list[str]
    pruning: dict
    prefill_s: list[float] = field(default_factory=list)
    scoring_s: list[float] = field(default_factory=list)
    decode_s_per_token: list[float] = field(default_factory=list)
    peak_bytes: list[int] = field(default_factory=list)
    kv_bytes: int = 0
    prefill_flops: float = 0.0
    decode_flops_per_token: float = 0.0
    equivalent_tokens_output: float = 0.0
    equivalent_tokens_input: float = 0.0


def activation_bytes(tokens: int, config: LlamaConfig, element_size: int) -> int:
    d, m = config.hidden_size, config.intermediate_size
    kv = config.num_key_value_heads * config.head_dim
    return tokens * max(2 * d + 3 * m, 4 * d + 2 * kv) * element_size


def decode_flops(cache_lengths: list[int], config: LlamaConfig) -> float:
    d, m = config.hidden_size, config.intermediate_size
    return float(sum(4 * d * d + 3 * d * m + 2 * d * length for length in cache_lengths))


def build_methods(labels: list[str], model) -> dict[str, tuple[list[str], object]]:
    parser = argparse.ArgumentParser()
    add_pruning_args(parser)
    grid = method_grid()
    return {label: (grid[label], pruner_from_args(parser.parse_args(grid[label]), model))
            for label in labels}  # fmt: skip


def measure_once(model, inputs, method, row: Row, decode_steps: int) -> None:
    device = model.device
    timed = TimedMethod(method, device)
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
    sync(device)
    start = time.perf_counter()
    logits, cache, (stats,) = prefill(model, *inputs, timed)
    sync(device)
    row.prefill_s.append(time.perf_counter() - start)
    row.scoring_s.append(timed.seconds)
    row.kv_bytes = cache.nbytes()
    lengths = cache.lengths()
    token = logits.argmax(dim=-1)
    sync(device)
    start = time.perf_counter()
    for _ in range(decode_steps):
        token = decode_one_token(model, token, cache).argmax(dim=-1)
    sync(device)
    row.decode_s_per_token.append((time.perf_counter() - start) / max(decode_steps, 1))
    config = model.config.text
    if cuda:
        row.peak_bytes.append(torch.cuda.max_memory_allocated(device) - before)
    else:
        widest = activation_bytes(stats.tokens_in[0], config, model.dtype.itemsize)
        row.peak_bytes.append(cache.nbytes() + widest)
    accounting = account(stats, config)
    row.prefill_flops = accounting.prefill_flops
    row.decode_flops_per_token = decode_flops(lengths, config)
    row.equivalent_tokens_output = accounting.equivalent_tokens_output
    row.equivalent_tokens_input = accounting.equivalent_tokens_input


def run(model, labels: list[str], repeats: int, decode_steps: int, progress=None) -> list[Row]:
    methods = build_methods(labels, model)
    rows = {label: Row(label, flags, m.describe()) for label, (flags, m) in methods.items()}
    inputs = prompt_inputs(model)
    warm = Row("warm-up", [], {})
    measure_once(model, inputs, methods[labels[0]][1], warm, min(decode_steps, 2))
    for repeat in range(repeats):
        for label, (_, method) in methods.items():
            if progress:
                progress(f"round {repeat + 1}/{repeats}: {label}")
            measure_once(model, inputs, method, rows[label], decode_steps)
    return list(rows.values())


def header(args, model, device: torch.device, dtype: torch.dtype, shape: str) -> dict:
    text = model.config.text
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "device": str(device)
        + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""),
        "dtype": str(dtype).removeprefix("torch."),
        "shape": f"{shape}: {text.num_hidden_layers} layers x {text.hidden_size} "
        f"(FFN {text.intermediate_size}, {text.num_attention_heads} heads)",
        "prompt": f"{SYSTEM_TOKENS} system + {VISUAL_TOKENS} visual + {TEXT_TOKENS} text tokens",
        "rounds": args.repeats,
        "decode_steps": args.decode_steps,
        "memory": "measured: torch.cuda.max_memory_allocated above the weights and prompt"
        if device.type == "cuda"
        else "estimated: KV cache after decoding + layer 0's activations (not measured)",
    }


def markdown(info: dict, rows: list[Row]) -> str:
    dense = next((row for row in rows if row.method == "dense"), rows[0])
    med = statistics.median
    lines = [
        f"Efficiency report, {info['date']}; {info['machine']}, {info['cpu_count']} CPUs, "
        f"{info['threads']} threads, torch {info['torch']}, device {info['device']}, "
        f"{info['dtype']}; decoder {info['shape']}; prompt {info['prompt']}; medians of "
        f"{info['rounds']} interleaved rounds; decode {info['decode_steps']} steps; memory "
        f"{info['memory']}.",
        "",
        "| method | equiv. tokens (output / input) | prefill ms | x dense | scoring % of dense "
        "prefill | decode ms/token | x dense | prefill TFLOPs | x dense | decode MFLOPs/token "
        "| KV cache MB | peak memory MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        prefill, decode = med(row.prefill_s), med(row.decode_s_per_token)
        lines.append(
            f"| {row.method} | {row.equivalent_tokens_output:.1f} / "
            f"{row.equivalent_tokens_input:.1f} | {1000 * prefill:.1f} | "
            f"{prefill / med(dense.prefill_s):.3f} | "
            f"{100 * med(row.scoring_s) / med(dense.prefill_s):.2f} | {1000 * decode:.2f} | "
            f"{decode / med(dense.decode_s_per_token):.3f} | {row.prefill_flops / 1e12:.4f} | "
            f"{row.prefill_flops / dense.prefill_flops:.3f} | "
            f"{row.decode_flops_per_token / 1e6:.1f} | {row.kv_bytes / 2**20:.2f} | "
            f"{med(row.peak_bytes) / 2**20:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m llava.speed.efficiency", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--decode-steps", type=int, default=32)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads (default 1: with more threads than free cores, as on a shared "
        "machine, thread waits swamp the work and the time ratios stop meaning anything)",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--methods",
        default="budgets",
        help="demo labels or groups, comma-separated (default budgets: every method at "
        "192/128/64 with its published layers; all: every variant too)",
    )
    parser.add_argument(
        "--shape",
        choices=sorted(SHAPES),
        default=None,
        help="decoder width: 7b (default on CUDA), bench (default on the CPU: 1024 wide), "
        "tiny (64 wide, for tests)",
    )
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.decode_steps < 0:
        parser.error("--repeats must be >= 1 and --decode-steps >= 0")
    try:
        labels = expand_methods(args.methods)
    except ValueError as err:
        parser.error(str(err))
    if "dense" in labels:  # the reference every ratio is taken against: measured first
        labels.remove("dense")
    labels.insert(0, "dense")
    device = torch.device(args.device)
    if args.threads < 1:
        parser.error("--threads must be >= 1")
    torch.set_num_threads(args.threads)
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    shape = args.shape or default_shape(device)
    model = random_model(device, dtype, shape)
    info = header(args, model, device, dtype, shape)
    rows = run(model, labels, args.repeats, args.decode_steps, lambda m: print(m, file=sys.stderr))
    table = markdown(info, rows)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "efficiency.md").write_text(table + "\n")
    (args.output / "efficiency.json").write_text(
        json.dumps({"header": info, "rows": [asdict(row) for row in rows]}, indent=2)
    )
    print(f"{table}\n\nsaved to {args.output}/efficiency.{{md,json}}")


if __name__ == "__main__":
    main()
