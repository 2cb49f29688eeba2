"""What the benchmarks run: a LLaMA-shaped decoder with random weights on a LLaVA-1.5-shaped
prompt, and a wrapper that times a method's own work.

The prompt is 35 system tokens, 576 visual tokens and 57 text tokens (668 in all, the method's
worked FLOPs example). Shapes: on CUDA LLaVA-1.5-7B's decoder in float16; on the CPU a 32-layer
decoder 1024 wide (seconds per prefill); `tiny`, 64 wide, for tests.
"""

from __future__ import annotations

import time

import torch

from llava.model.config import LlamaConfig, LlavaConfig
from llava.model.llava import LlavaLlamaForCausalLM
from llava.sparse.base import SYSTEM, TEXT, VISUAL, TokenState

SYSTEM_TOKENS, VISUAL_TOKENS, TEXT_TOKENS = 35, 576, 57
SHAPES = {
    "7b": dict(hidden_size=4096, intermediate_size=11008, num_attention_heads=32),
    "bench": dict(hidden_size=1024, intermediate_size=2752, num_attention_heads=8),
    "tiny": dict(hidden_size=64, intermediate_size=172, num_attention_heads=4),
}


def default_shape(device: torch.device) -> str:
    return "7b" if device.type == "cuda" else "bench"


def random_model(device: torch.device, dtype: torch.dtype, shape: str) -> LlavaLlamaForCausalLM:
    dims = SHAPES[shape]
    text = LlamaConfig(
        vocab_size=32000,
        num_hidden_layers=32,
        num_key_value_heads=dims["num_attention_heads"],
        **dims,
    )
    torch.manual_seed(0)
    with torch.device(device):
        model = LlavaLlamaForCausalLM(LlavaConfig(text, None, mm_hidden_size=1024)).to(dtype)
    for param in model.parameters():
        torch.nn.init.normal_(param, 0.0, 0.02)
    return model.eval()


def prompt_state(model: LlavaLlamaForCausalLM) -> TokenState:
    """A LLaVA-1.5-shaped layer-0 input: word embeddings around 576 image rows."""
    generator = torch.Generator().manual_seed(1)
    n = SYSTEM_TOKENS + VISUAL_TOKENS + TEXT_TOKENS
    ids = torch.randint(3, 32000, (1, n), generator=generator).to(model.device)
    with torch.no_grad():
        hidden = model.model.embed_tokens(ids)
    image = torch.randn(1, VISUAL_TOKENS, hidden.shape[-1], generator=generator) * 0.02
    hidden[:, SYSTEM_TOKENS : SYSTEM_TOKENS + VISUAL_TOKENS] = image.to(hidden)
    roles = torch.tensor([SYSTEM] * SYSTEM_TOKENS + [VISUAL] * VISUAL_TOKENS + [TEXT] * TEXT_TOKENS)
    positions = torch.arange(n, device=model.device)[None]
    return TokenState(hidden, positions, roles[None].to(model.device, torch.int8), positions)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class TimedMethod:
    """Wraps a method to time its `after_layer` calls (outside the model's code): the scoring,
    rank and clustering a method adds to the prefill."""

    def __init__(self, method, device: torch.device) -> None:
        self.method, self.device, self.seconds = method, device, 0.0
        self.name = method.name

    def describe(self) -> dict:
        return self.method.describe()

    def start(self, state: TokenState, num_layers: int):
        run = self.method.start(state, num_layers)
        outer = self

        class Timed:
            renumbers_positions = run.renumbers_positions
            records = run.records

            def after_layer(self, layer_idx, state, probe):
                sync(outer.device)
                start = time.perf_counter()
                result = run.after_layer(layer_idx, state, probe)
                sync(outer.device)
                outer.seconds += time.perf_counter() - start
                return result

        return Timed()
