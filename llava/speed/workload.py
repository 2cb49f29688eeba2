"""What the benchmarks run: a LLaVA-shaped model with random weights on a LLaVA-1.5-shaped
prompt, and a wrapper that times a method's own work.

The prompt is 35 system tokens, 576 visual tokens and 57 text tokens (668 in all, the method's
worked FLOPs example). Shapes: on CUDA LLaVA-1.5-7B's decoder in float16; on the CPU a 32-layer
decoder 1024 wide (seconds per prefill); `tiny`, 64 wide, for tests. The vision tower is a CLIP
ViT at 336 px with 14-px patches (576 patches), small on every shape: its cost is the same for
every method, and pre-LLM methods need one to select from.
"""

from __future__ import annotations

import platform
import time

import torch
from transformers import CLIPVisionConfig, CLIPVisionModel

from llava.constants import IMAGE_TOKEN_INDEX
from llava.model.config import LlamaConfig, LlavaConfig
from llava.model.llava import LlavaLlamaForCausalLM
from llava.model.vision import CLIPVisionTower
from llava.sparse.base import PruningRun, TokenState

SYSTEM_TOKENS, VISUAL_TOKENS, TEXT_TOKENS = 35, 576, 57
SHAPES = {
    "7b": dict(hidden_size=4096, intermediate_size=11008, num_attention_heads=32),
    "bench": dict(hidden_size=1024, intermediate_size=2752, num_attention_heads=8),
    "tiny": dict(hidden_size=64, intermediate_size=172, num_attention_heads=4),
}


def machine_line(device: torch.device, dtype: torch.dtype) -> str:
    """Where a benchmark ran, for its report's first line: "x86_64, 1 threads, torch 2.13.0+cpu,
    device cpu, float32"."""
    return (
        f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
        f"device {device}, {str(dtype).removeprefix('torch.')}"
    )


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
    vision = CLIPVisionConfig(
        hidden_size=128, intermediate_size=512, num_hidden_layers=4, num_attention_heads=4,
        image_size=336, patch_size=14,
    )  # fmt: skip
    torch.manual_seed(0)
    tower = CLIPVisionTower(CLIPVisionModel(vision), -2, "patch")
    config = LlavaConfig(text, None, mm_hidden_size=vision.hidden_size)
    with torch.device(device):
        model = LlavaLlamaForCausalLM(config, tower.to(device)).to(dtype)
    for param in model.parameters():
        torch.nn.init.normal_(param, 0.0, 0.02)
    return model.eval()


def prompt_inputs(model: LlavaLlamaForCausalLM) -> tuple[torch.Tensor, torch.Tensor]:
    """A LLaVA-1.5-shaped prompt: (1, 35 + 1 + 57) ids around the image placeholder, and one
    random image (1, 3, 336, 336)."""
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(3, 32000, (1, SYSTEM_TOKENS + 1 + TEXT_TOKENS), generator=generator)
    ids[0, SYSTEM_TOKENS] = IMAGE_TOKEN_INDEX
    pixels = torch.randn(1, 3, 336, 336, generator=generator)
    return ids.to(model.device), pixels.to(model.device, model.dtype)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class TimedMethod:
    """Wraps a method to time its hooks (outside the model's code): the scoring, rank,
    clustering and selection a method adds to the prefill."""

    def __init__(self, method, device: torch.device) -> None:
        self.method, self.device, self.seconds = method, device, 0.0
        self.name = method.name
        self.vision_request = method.vision_request

    def describe(self) -> dict:
        return self.method.describe()

    def start(self, state: TokenState, num_layers: int) -> PruningRun:
        return _TimedRun(self, self.method.start(state, num_layers))

    def timed(self, call, *args):
        sync(self.device)
        start = time.perf_counter()
        result = call(*args)
        sync(self.device)
        self.seconds += time.perf_counter() - start
        return result


class _TimedRun(PruningRun):
    def __init__(self, timer: TimedMethod, run: PruningRun) -> None:
        self.timer, self.run = timer, run
        self.renumbers_positions = run.renumbers_positions
        self.records = run.records

    def before_llm(self, state, vision):
        return self.timer.timed(self.run.before_llm, state, vision)

    def before_layer(self, layer_idx, state, probe):
        return self.timer.timed(self.run.before_layer, layer_idx, state, probe)

    def after_layer(self, layer_idx, state, probe):
        return self.timer.timed(self.run.after_layer, layer_idx, state, probe)
