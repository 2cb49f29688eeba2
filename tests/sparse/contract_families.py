"""The model families the method contract runs on, each a 32-layer tiny model loaded through
our builder, with images of two sizes (the second gives another visual token count):

- llava-1.5: the original format, 24 x 24 = 576 visual tokens (the papers' budgets as counts);
- llava-next: the original format, a Mistral decoder with a sliding window of 96 tokens (shorter
  than the prompt), 84-pixel crops of 6 x 6 patches, images tiled 2 x 2 and unpadded: 166 and
  178 visual tokens, image-newline rows included;
- qwen-vl: Qwen2.5-VL (windowed vision transformer, 3-D positions), 10 x 14 and 12 x 10 merged
  rows: 140 and 120 visual tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image, ImageDraw
from sparse_helpers import load_tiny, pixels

from llava.model.builder import load_pretrained_model
from llava.model.image_inputs import image_input

FAMILIES = ("llava-1.5", "llava-next", "qwen-vl")
NEXT_SIZES = {0: (150, 120), 1: (100, 170)}  # (width, height) of the image of each seed
QWEN_SIZES = {0: (392, 280), 1: (280, 336)}


@dataclass
class Family:
    name: str
    model: object
    image: Callable[[int], object]  # seed -> one image as the model takes it
    visual_tokens: int  # the seed-0 image's visual tokens
    crops: int = 1  # LLaVA-NeXT: the seed-0 image's crops (VisionZip zips each)
    crop_patches: int = 576  # LLaVA-NeXT: patches per crop

    @property
    def varies(self) -> bool:
        return self.name != "llava-1.5"


def _make_image(size: tuple[int, int], seed: int) -> Image.Image:
    """Random colour blocks of 14 pixels with a rectangle on top: every patch differs."""
    width, height = size
    generator = torch.Generator().manual_seed(seed)
    blocks = torch.randint(0, 256, (3, -(-height // 14), -(-width // 14)), generator=generator)
    cells = blocks.repeat_interleave(14, dim=1).repeat_interleave(14, dim=2)[:, :height, :width]
    image = Image.fromarray(cells.permute(1, 2, 0).to(torch.uint8).numpy())
    ImageDraw.Draw(image).rectangle([width // 4, height // 3, width // 2, height - 5], fill="red")
    return image


def llava_family(folder: Path) -> Family:
    model = load_tiny(folder, layers=32, grid=24, hidden=32, heads=2, kv_heads=1, seed=1)
    return Family("llava-1.5", model, lambda seed: pixels(model, seed)[0], 576)


def next_family(folder: Path) -> Family:
    from tiny_next import save_original_next, tiny_hf_next

    hf = tiny_hf_next(
        decoder="mistral", layers=32, window=96, tile=84, hidden=32, heads=2, kv_heads=1, seed=1
    )
    save_original_next(hf, folder)
    _, model, processor, _ = load_pretrained_model(str(folder), None, "next", device="cpu")

    def image(seed: int):
        return image_input(_make_image(NEXT_SIZES[seed], seed), processor, model.config)

    first = image(0)
    return Family("llava-next", model, image, 166, first.pixels.shape[0], 36)


def qwen_family(folder: Path) -> Family:
    from tiny_qwen import save_hf_qwen, tiny_hf_qwen

    hf = tiny_hf_qwen("qwen2_5_vl", layers=32, hidden=32, heads=2, kv_heads=1, seed=1)
    save_hf_qwen(hf, folder)
    _, model, processor, _ = load_pretrained_model(str(folder), None, "qwen", device="cpu")

    def image(seed: int):
        return image_input(_make_image(QWEN_SIZES[seed], seed), processor, model.config)

    return Family("qwen-vl", model, image, 140)
