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
from llava.model.anyres import AnyresImage, anyres_image, tile_grid, unpadded_window
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


def visual_token_count(image: Image.Image, image_processor, model) -> int:
    """The visual tokens `image` becomes in `model`, from its size alone (no tower run): a
    prompt's length before it is answered (batches, the context check)."""
    config = model.config
    if getattr(config, "family", None) == "qwen-vl":
        width, height = image.size
        patches = image_processor.get_number_of_image_patches(height, width, {})
        return patches // config.spatial_merge_size**2
    tower = model.get_vision_tower()
    if getattr(config, "anyres", None) is None:
        return tower.num_patches + (tower.select_feature == "cls_patch")
    side = tower.patches_per_side
    rows, columns = tile_grid(image.size, config.anyres, tower.image_size)
    kept_rows, kept_columns = unpadded_window(
        image.size, rows * side, columns * side, config.anyres.unpad_rounding
    )
    height = kept_rows.stop - kept_rows.start
    width = kept_columns.stop - kept_columns.start
    return side * side + height * (width + 1)  # the whole image, then the grid with newlines
