"""Prefill benchmark: dense vs SparseVLM at its v1.5 presets, measured side by side in one run.

    python -m llava.speed.prefill [--device cuda] [--repeats 5] [--threads 1]

The efficiency report's measurement (`llava.speed.efficiency`) restricted to the prefill and to
SparseVLM: for each preset, the median prefill time and its ratio to dense next to the analytic
FLOPs ratio, the time spent inside the method (scoring, rank, clustering: the "scoring
overhead", as a fraction of dense prefill) and the KV-cache bytes after prefill. Runs are
interleaved (dense, 192, 128, 64, dense, ...) so that machine drift hits every method alike.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from llava.speed.efficiency import Row, run
from llava.speed.workload import (
    SHAPES,
    SYSTEM_TOKENS,
    TEXT_TOKENS,
    VISUAL_TOKENS,
    default_shape,
    machine_line,
    random_model,
)

METHODS = ["dense", "sparsevlm-192", "sparsevlm-128", "sparsevlm-64"]  # v1.5 presets


def report(rows: list[Row], model, device: torch.device, shape: str) -> str:
    dense = rows[0]
    dense_time = statistics.median(dense.prefill_s)
    text = model.config.text
    lines = [
        f"Prefill benchmark, {time.strftime('%Y-%m-%d')}; {machine_line(device, model.dtype)}; "
        f"decoder {shape}: "
        f"{text.num_hidden_layers} layers x {text.hidden_size} (FFN {text.intermediate_size}); "
        f"prompt {SYSTEM_TOKENS} + {VISUAL_TOKENS} visual + {TEXT_TOKENS} tokens; median of "
        f"{len(dense.prefill_s)} interleaved runs",
        "",
        "| method | equiv. tokens | prefill ms | time ratio | FLOPs ratio | scoring overhead "
        "(% of dense prefill) | KV cache MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        seconds = statistics.median(row.prefill_s)
        overhead = statistics.median(row.scoring_s) / dense_time
        lines.append(
            f"| {row.method} | {row.equivalent_tokens_output:.1f} | {1000 * seconds:.1f} | "
            f"{seconds / dense_time:.3f} | {row.prefill_flops / dense.prefill_flops:.3f} | "
            f"{100 * overhead:.2f} | {row.kv_bytes / 2**20:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m llava.speed.prefill", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    parser.add_argument("--shape", choices=sorted(SHAPES), default=None)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    shape = args.shape or default_shape(device)
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    model = random_model(device, dtype, shape)
    rows = run(model, METHODS, args.repeats, decode_steps=0)
    print(report(rows, model, device, shape))


if __name__ == "__main__":
    main()
