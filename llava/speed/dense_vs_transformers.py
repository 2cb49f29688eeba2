"""Our dense decoder against transformers' `LlamaForCausalLM` on the same weights, in one process.

    python -m llava.speed.dense_vs_transformers [--shape bench] [--repeats 5] [--threads 1]

Dense is the denominator of every speed ratio this project reports, so it must not be slow:
both models get the same random weights (ours loads transformers' state dict), the same
668-token prompt (LLaVA-1.5's length) and the same greedy decoding with a KV cache; runs are
interleaved and the medians compared. transformers runs with its SDPA attention, as ours does.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import transformers
from transformers import LlamaConfig as HFLlamaConfig
from transformers import LlamaForCausalLM

from llava.generate import GenerationOptions, generate
from llava.model.config import LlavaConfig, llama_config_from_dict
from llava.model.llava import LlavaLlamaForCausalLM
from llava.speed.workload import (
    SHAPES,
    SYSTEM_TOKENS,
    TEXT_TOKENS,
    VISUAL_TOKENS,
    default_shape,
    machine_line,
    sync,
)

PROMPT = SYSTEM_TOKENS + VISUAL_TOKENS + TEXT_TOKENS


def models(shape: str, device: torch.device, dtype: torch.dtype):
    dims = SHAPES[shape]
    config = HFLlamaConfig(
        vocab_size=32000, num_hidden_layers=32, num_key_value_heads=dims["num_attention_heads"],
        max_position_embeddings=4096, **dims,
    )  # fmt: skip
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    theirs = LlamaForCausalLM(config).to(device, dtype).eval()
    text = llama_config_from_dict(config.to_dict())
    ours = LlavaLlamaForCausalLM(LlavaConfig(text=text, mm_vision_tower=None, mm_hidden_size=8))
    missing = ours.load_state_dict(theirs.state_dict(), strict=False).missing_keys
    assert all(key.startswith("model.mm_projector.") for key in missing), missing
    return ours.to(device, dtype).eval(), theirs


@torch.inference_mode()
def time_theirs(model, ids: torch.Tensor, steps: int) -> tuple[float, float]:
    device = ids.device
    sync(device)
    start = time.perf_counter()
    out = model(input_ids=ids, use_cache=True)
    sync(device)
    prefill = time.perf_counter() - start
    cache, token = out.cache, out.logits[:, -1].argmax(-1, keepdim=True)
    start = time.perf_counter()
    for _ in range(steps):
        out = model(input_ids=token, cache=cache, use_cache=True)
        cache, token = out.cache, out.logits[:, -1].argmax(-1, keepdim=True)
    sync(device)
    return prefill, time.perf_counter() - start


def time_ours(model, ids: torch.Tensor, steps: int) -> tuple[float, float]:
    # No EOS can stop it early: greedy decoding over random weights, `steps` new tokens after
    # the prefill's (as transformers' loop above).
    out = generate(model, ids, None, None, GenerationOptions(max_new_tokens=steps + 1))
    return out.prefill_seconds, out.decode_seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m llava.speed.dense_vs_transformers", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--shape", choices=sorted(SHAPES), default=None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--decode-steps", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    shape = args.shape or default_shape(device)
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    ours, theirs = models(shape, device, dtype)
    ids = torch.randint(3, 32000, (1, PROMPT), generator=torch.Generator().manual_seed(1))
    ids = ids.to(device)
    time_ours(ours, ids, 2), time_theirs(theirs, ids, 2)  # warm-up
    runs = {"ours": [], "transformers": []}
    for _ in range(args.repeats):
        runs["ours"].append(time_ours(ours, ids, args.decode_steps))
        runs["transformers"].append(time_theirs(theirs, ids, args.decode_steps))
    median = {
        name: (statistics.median(p for p, _ in times), statistics.median(d for _, d in times))
        for name, times in runs.items()
    }
    print(
        f"Dense decoder vs transformers {transformers.__version__}, "
        f"{time.strftime('%Y-%m-%d')}; {machine_line(device, dtype)}; decoder {shape}: 32 layers "
        f"x {SHAPES[shape]['hidden_size']}; prompt {PROMPT} tokens, "
        f"{args.decode_steps} decoded; medians of {args.repeats} interleaved runs\n"
    )
    print("| | prefill ms | decode ms/token |\n|---|---|---|")
    for name, (prefill, decode) in median.items():
        print(f"| {name} | {1000 * prefill:.1f} | {1000 * decode / args.decode_steps:.2f} |")
    (ours_p, ours_d), (hf_p, hf_d) = median["ours"], median["transformers"]
    print(f"| ours / transformers | {ours_p / hf_p:.3f} | {ours_d / hf_d:.3f} |")


if __name__ == "__main__":
    main()
