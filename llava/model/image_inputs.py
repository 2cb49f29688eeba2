"""One image as a model takes it, whatever the family: what `generate` and `prepare_samples`
expect for a prompt's image.

- LLaVA-1.5: a (3, S, S) pixel tensor (padded to a square or not, as the checkpoint says);
- LLaVA-NeXT: an `AnyresImage` (the whole image and its tiles, and the image's size), tiled by
  LLaVA's rules for an original checkpoint and by transformers' processor for llava-hf;
- Qwen-VL: a `QwenImage` (flattened patches and their grid), from the checkpoint's processor.
Every kind has `.to(device, dtype)`.
"""

from __future__ import annotations

import torch
from PIL import Image
from transformers import LlavaNextImageProcessorPil

from llava.mm_utils import process_images
from llava.model.anyres import AnyresImage, anyres_image
from llava.model.qwen_vl import QwenImage, qwen_image


def image_input(
    image: Image.Image, image_processor, config
) -> torch.Tensor | AnyresImage | QwenImage:
    """`image` (RGB) prepared for a model of `config` with its checkpoint's `image_processor`."""
    if getattr(config, "family", None) == "qwen-vl":
        return qwen_image(image, image_processor)
    anyres = getattr(config, "anyres", None)
    if anyres is None:
        return process_images([image], image_processor, config)[0]
    if isinstance(image_processor, LlavaNextImageProcessorPil):  # llava-hf tiles by itself
        pixels = image_processor([image], return_tensors="pt")["pixel_values"][0]
        return AnyresImage(pixels, image.size)
    return anyres_image(image, image_processor, anyres)
