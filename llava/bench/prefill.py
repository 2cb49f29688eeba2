"""Prefill benchmark: dense vs SparseVLM presets, measured side by side in one run.

    python -m llava.bench.prefill [--device cuda] [--repeats 5]

A LLaMA-shaped decoder with random weights (32 layers; on CUDA the real LLaVA-1.5-7B shape in
float16, on the CPU a narrower one that fits in seconds) prefills a LLaVA-1.5-shaped prompt:
35 system tokens, 576 visual tokens, 57 text tokens (668 in all, as the method's worked FLOPs
example). For each method it prints the median prefill time, its ratio to dense next to the
analytic FLOPs ratio, the time spent inside the method (scoring, rank, clustering: the
"scoring overhead", as a fraction of dense prefill) and the KV-cache bytes. Runs are interleaved
(dense, 192, 128, 64, dense, ...) so that machine drift hits every method alike.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from dataclasses import dataclass

import torch

from llava.generate import prefill_state
from llava.model.config import LlamaConfig, LlavaConfig
from llava.model.llava import LlavaLlamaForCausalLM
from llava.sparse.base import SYSTEM, TEXT, VISUAL, NoPruning, TokenState
from llava.sparse.budget import account
from llava.sparse.sparsevlm import V15_BUDGETS, SparseVLM, sparsevlm_v15

SYSTEM_TOKENS, VISUAL_TOKENS, TEXT_TOKENS = 35, 576, 57
CUDA_SHAPE = dict(hidden_size=4096, intermediate_size=11008, num_attention_heads=32)  # 7B
CPU_SHAPE = dict(hidden_size=1024, intermediate_size=2752, num_attention_heads=8)


class TimedMethod:
    """Wraps a method to time its `after_layer` calls (outside the model's code)."""

    def __init__(self, method, device: torch.device) -> None:
        self.method, self.device, self.seconds = method, device, 0.0
        self.name = method.name

    def start(self, state, num_layers):
        run = self.method.start(state, num_layers)
        outer = self

        class Timed:
            renumbers_positions = run.renumbers_positions
            records = run.records

            def after_layer(self, layer_idx, state, probe):
                _sync(outer.device)
                start = time.perf_counter()
                result = run.after_layer(layer_idx, state, probe)
                _sync(outer.device)
                outer.seconds += time.perf_counter() - start
                return result

        return Timed()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def random_model(device: torch.device, dtype: torch.dtype) -> LlavaLlamaForCausalLM:
    shape = CUDA_SHAPE if device.type == "cuda" else CPU_SHAPE
    text = LlamaConfig(
        vocab_size=32000,
        num_hidden_layers=32,
        num_key_value_heads=shape["num_attention_heads"],
        **shape,
    )
    config = LlavaConfig(text=text, mm_vision_tower=None, mm_hidden_size=1024)
    torch.manual_seed(0)
    with torch.device(device):
        model = LlavaLlamaForCausalLM(config).to(dtype)
    for param in model.parameters():
        torch.nn.init.normal_(param, 0.0, 0.02)
    return model.eval()


def prompt_state(model: LlavaLlamaForCausalLM) -> TokenState:
    """A LLaVA-1.5-shaped layer-0 input: word embeddings around 576 image rows."""
    generator = torch.Generator().manual_seed(1)
    n = SYSTEM_TOKENS + VISUAL_TOKENS + TEXT_TOKENS
    ids = torch.randint(3, 32000, (1, n), generator=generator).to(model.device)
    hidden = model.model.embed_tokens(ids)
    image = torch.randn(1, VISUAL_TOKENS, hidden.shape[-1], generator=generator) * 0.02
    hidden[:, SYSTEM_TOKENS : SYSTEM_TOKENS + VISUAL_TOKENS] = image.to(hidden)
    roles = torch.tensor([SYSTEM] * SYSTEM_TOKENS + [VISUAL] * VISUAL_TOKENS + [TEXT] * TEXT_TOKENS)
    positions = torch.arange(n, device=model.device)[None]
    return TokenState(hidden, positions, roles[None].to(model.device, torch.int8), positions)


@dataclass
class Measurement:
    name: str
    seconds: list[float]
    method_seconds: list[float]
    flops: float
    equivalent_tokens: float
    kv_bytes: int


def measure(model, state: TokenState, methods: dict, repeats: int) -> list[Measurement]:
    device = model.device
    results = {name: Measurement(name, [], [], 0.0, 0.0, 0) for name in methods}
    for repeat in range(repeats + 1):  # the first round warms up and is discarded
        for name, method in methods.items():
            timed = TimedMethod(method, device)
            _sync(device)
            start = time.perf_counter()
            with torch.inference_mode():
                _, cache, stats = prefill_state(model, state, timed)
            _sync(device)
            elapsed = time.perf_counter() - start
            if repeat == 0:
                continue
            result = results[name]
            result.seconds.append(elapsed)
            result.method_seconds.append(timed.seconds)
            accounting = account(stats, model.config.text)
            result.flops = accounting.prefill_flops
            result.equivalent_tokens = accounting.equivalent_tokens_output
            result.kv_bytes = cache.nbytes()
    return list(results.values())


def report(results: list[Measurement], device: torch.device, dtype: torch.dtype, model) -> str:
    dense = results[0]
    dense_time = statistics.median(dense.seconds)
    text = model.config.text
    lines = [
        f"prefill benchmark, {time.strftime('%Y-%m-%d')}, {platform.machine()} "
        f"{platform.processor() or ''} {torch.get_num_threads()} threads, device {device}, "
        f"{dtype}; decoder {text.num_hidden_layers} layers x {text.hidden_size} "
        f"(FFN {text.intermediate_size}), prompt {SYSTEM_TOKENS}+{VISUAL_TOKENS}+{TEXT_TOKENS} "
        f"tokens, median of {len(dense.seconds)} runs",
        "",
        "| method | equiv. tokens | prefill ms | time ratio | FLOPs ratio | scoring overhead "
        "(% of dense) | KV cache MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for result in results:
        seconds = statistics.median(result.seconds)
        overhead = statistics.median(result.method_seconds) / dense_time
        lines.append(
            f"| {result.name} | {result.equivalent_tokens:.1f} | {1000 * seconds:.1f} | "
            f"{seconds / dense_time:.3f} | {result.flops / dense.flops:.3f} | "
            f"{100 * overhead:.2f} | {result.kv_bytes / 2**20:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    model = random_model(device, dtype)
    methods = {"dense": NoPruning()}
    for retained in V15_BUDGETS:
        methods[f"sparsevlm-v1.5 {retained}"] = SparseVLM(sparsevlm_v15(retained))
    results = measure(model, prompt_state(model), methods, args.repeats)
    print(report(results, device, dtype, model))


if __name__ == "__main__":
    main()
