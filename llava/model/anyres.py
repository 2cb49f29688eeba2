"""LLaVA-NeXT's "anyres": an image as a resized whole plus tiles of a grid chosen for its size,
and the geometry that turns the tiles' features back into one unpadded grid.

Rules from LLaVA (haotian-liu/LLaVA @ c121f04, llava/mm_utils.py `select_best_resolution`,
`resize_and_pad_image`, `process_anyres_image`, llava/model/llava_arch.py `unpad_image`) and
transformers' LLaVA-NeXT port (5.x, models/llava_next), which agree but in two details:
- the candidate resolutions ("grid pinpoints") are (width, height) pairs in LLaVA and
  (height, width) pairs in transformers, read from the same lists: when two candidates tie (a
  small image that fits 336 x 672 and 672 x 336 equally well) the first in the list wins, which
  is a tall grid for one and a wide grid for the other. We keep pinpoints as (width, height) in
  the checkpoint's order and swap llava-hf's pairs on reading, so each format keeps its own
  tie-break;
- unpadding scales the image's short side to the grid and truncates it to an integer: LLaVA
  truncates the float product, transformers rounds it to 7 decimals first (`unpad_rounding`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from PIL import Image

from llava.sparse.base import ImageLayout


@dataclass(frozen=True)
class AnyresConfig:
    pinpoints: tuple[tuple[int, int], ...]  # candidate (width, height), the checkpoint's order
    unpad_rounding: bool  # llava-hf: round the scaled side to 7 decimals before truncating


@dataclass(frozen=True)
class AnyresImage:
    """One image as LLaVA-NeXT's tower takes it: the whole image resized, then the tiles in
    raster order, (1 + tiles, 3, S, S); and the image's original (width, height)."""

    pixels: torch.Tensor
    size: tuple[int, int]

    def to(self, *args, **kwargs) -> AnyresImage:
        return replace(self, pixels=self.pixels.to(*args, **kwargs))


def best_resolution(size: tuple[int, int], pinpoints) -> tuple[int, int]:
    """The (width, height) among `pinpoints` that shows the image largest (its area after
    fitting, capped at its own area), the least canvas wasted on ties, the first on full ties."""
    width, height = size
    best, best_shown, best_wasted = None, -1, math.inf
    for cand_width, cand_height in pinpoints:
        scale = min(cand_width / width, cand_height / height)
        shown = min(int(width * scale) * int(height * scale), width * height)
        wasted = cand_width * cand_height - shown
        if shown > best_shown or (shown == best_shown and wasted < best_wasted):
            best, best_shown, best_wasted = (cand_width, cand_height), shown, wasted
    return best


def tile_grid(size: tuple[int, int], config: AnyresConfig, tile: int) -> tuple[int, int]:
    """(rows, columns) of `tile`-pixel tiles for an image of `size` (width, height)."""
    width, height = best_resolution(size, config.pinpoints)
    return height // tile, width // tile


def unpadded_window(
    size: tuple[int, int], rows: int, columns: int, rounding: bool
) -> tuple[slice, slice]:
    """The rows and columns of a rows x columns feature grid that show the image (width, height)
    rather than the padding around it: the image was fitted into the grid's canvas and centred,
    so the padding is split evenly on the long side of the canvas's spare room."""
    width, height = size

    def scaled(length: int, scale: float) -> int:
        value = length * scale
        return int(round(value, 7) if rounding else value)

    if width / height > columns / rows:  # wider than the grid: padding above and below
        kept = scaled(height, columns / width)
        pad = (rows - kept) // 2
        return slice(pad, rows - pad), slice(0, columns)
    kept = scaled(width, rows / height)
    pad = (columns - kept) // 2
    return slice(0, rows), slice(pad, columns - pad)


def fit_and_pad(image: Image.Image, target: tuple[int, int]) -> Image.Image:
    """Resize to fit (width, height) keeping the aspect ratio (the fitted side exact, the other
    rounded up and capped), centred on a black canvas of that size."""
    width, height = image.size
    target_width, target_height = target
    scale_width, scale_height = target_width / width, target_height / height
    if scale_width < scale_height:
        new_size = (target_width, min(math.ceil(height * scale_width), target_height))
    else:
        new_size = (min(math.ceil(width * scale_height), target_width), target_height)
    canvas = Image.new("RGB", target, (0, 0, 0))
    paste = ((target_width - new_size[0]) // 2, (target_height - new_size[1]) // 2)
    canvas.paste(image.resize(new_size), paste)  # PIL's default filter: bicubic
    return canvas


def anyres_image(image: Image.Image, processor, config: AnyresConfig) -> AnyresImage:
    """LLaVA's preprocessing: the whole image squashed to the tile size, then the tiles of the
    fitted and padded image, each through the CLIP processor."""
    tile = processor.crop_size["height"]
    image = image if image.mode == "RGB" else image.convert("RGB")
    canvas = fit_and_pad(image, best_resolution(image.size, config.pinpoints))
    tiles = [
        canvas.crop((left, top, left + tile, top + tile))
        for top in range(0, canvas.height, tile)
        for left in range(0, canvas.width, tile)
    ]
    whole = image.resize((processor.size["shortest_edge"],) * 2)
    pixels = processor([whole, *tiles], return_tensors="pt")["pixel_values"]
    return AnyresImage(pixels, image.size)


def pack_anyres(
    features: torch.Tensor,
    grid: tuple[int, int],
    size: tuple[int, int],
    newline: torch.Tensor,
    rounding: bool,
) -> tuple[torch.Tensor, ImageLayout]:
    """LLaVA-NeXT's "spatial_unpad" merge of one image's projected crops (1 + tiles, P, D),
    P = side x side: the whole image's P rows, then the tiles' features laid out as one
    (rows x side) x (columns x side) grid, unpadded, each grid row followed by the image-newline
    row. Returns the image's rows (V, D) and where each lies."""
    side = math.isqrt(features.shape[1])
    rows, columns = grid
    dim = features.shape[-1]
    tiles = features[1:].view(rows, columns, side, side, dim).permute(0, 2, 1, 3, 4)
    tiles = tiles.reshape(rows * side, columns * side, dim)
    row_window, column_window = unpadded_window(size, rows * side, columns * side, rounding)
    tiles = tiles[row_window, column_window]
    height, width = tiles.shape[:2]
    ends = newline.to(tiles.dtype).expand(height, 1, dim)
    packed = torch.cat((features[0], torch.cat((tiles, ends), dim=1).reshape(-1, dim)))
    base = ImageLayout.raster(side, side)
    tiled = ImageLayout.raster(height, width + 1)
    cells = torch.cat((base.cells, tiled.cells + torch.tensor([1, 0, 0])))
    separator = torch.cat((base.separator, tiled.cells[:, 2] == width))
    return packed, ImageLayout(((side, side), (height, width + 1)), cells, separator)
