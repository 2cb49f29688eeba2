"""LLaVA-1.5 and LLaVA-NeXT: CLIP tower -> projector -> spliced in at the image placeholder ->
decoder (LLaMA or Mistral) -> lm_head.

LLaVA-NeXT ("anyres") encodes the whole image and the tiles of a grid chosen for its size, and
splices in the whole image's rows, then the tiles' rows as one unpadded grid with a learned
image-newline row after each grid row (`llava.model.anyres`). The image-newline rows are visual
tokens (role VISUAL) of their own kind: they belong to the image's span, so pruning methods score
and may drop them like the image's other rows (as the published LLaVA-NeXT ports of FastV,
PyramidDrop and SparseVLM treat the image span), the dense count includes them, and the layout
marks them (`ImageLayout.separator`) so that accounting can report them apart.

Module names follow LLaVA's (`model.mm_projector`, `model.vision_tower.vision_tower`,
`model.image_newline`, `lm_head`), so an original checkpoint's state dict loads as is.
"""

from __future__ import annotations

import torch
from torch import nn

from llava.model.anyres import AnyresImage, pack_anyres, tile_grid, unpadded_window
from llava.model.config import LlavaConfig
from llava.model.llama import LlamaModel
from llava.model.multimodal import MultimodalCausalLM
from llava.model.projector import build_projector
from llava.model.vision import CLIPVisionTower
from llava.sparse.base import ImageLayout, TokenState, VisionExtras, VisionRequest


class LlavaLlamaModel(LlamaModel):
    def __init__(self, config: LlavaConfig, vision_tower: CLIPVisionTower | None) -> None:
        super().__init__(config.text)
        self.mm_projector = build_projector(
            config.mm_projector_type, config.mm_hidden_size, config.text.hidden_size
        )
        self.vision_tower = vision_tower
        if config.anyres is not None:
            self.image_newline = nn.Parameter(torch.empty(config.text.hidden_size))


class LlavaLlamaForCausalLM(MultimodalCausalLM):
    def __init__(self, config: LlavaConfig, vision_tower: CLIPVisionTower | None = None) -> None:
        super().__init__()
        self.config = config
        self.model = LlavaLlamaModel(config, vision_tower)
        self.lm_head = nn.Linear(config.text.hidden_size, config.text.vocab_size, bias=False)

    def get_vision_tower(self) -> CLIPVisionTower | None:
        return self.model.vision_tower

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) pixel values -> (B, V, D) image rows in the decoder's embedding space."""
        return self.project(self._tower()(images))

    def _tower(self) -> CLIPVisionTower:
        tower = self.model.vision_tower
        if tower is None:
            raise ValueError("this model has no vision tower, it cannot take images")
        return tower

    def project(self, features: torch.Tensor) -> torch.Tensor:
        """Vision features (B, M, C) -> rows in the decoder's embedding space (B, M, D)."""
        projector_weight = next(self.model.mm_projector.parameters(), None)
        if projector_weight is not None:
            features = features.to(projector_weight.device, projector_weight.dtype)
        return self.model.mm_projector(features)

    def prepare_samples(
        self,
        input_ids: torch.Tensor | list[torch.Tensor],
        images: torch.Tensor | list | None = None,
        vision_request: VisionRequest | None = None,
    ) -> list[tuple[TokenState, VisionExtras | None]]:
        """Each sample's layer-0 input: word embeddings with its image rows spliced in at its
        placeholder, and (if `vision_request` asks) what the vision tower saw of that image.

        input_ids: (B, L) or a list of (L_i,) prompts, each with at most one IMAGE_TOKEN_INDEX
        (anywhere); images: one per prompt with a placeholder (a (3, H, W) tensor, LLaVA-NeXT an
        `AnyresImage`), as a (B, 3, H, W) tensor or a list with None for prompts without one.
        Roles: before the image SYSTEM, the image VISUAL, after it TEXT (all TEXT without one).
        """
        prompts = self._prompts(input_ids)
        pixels = self._pixels_per_prompt(prompts, images)
        with_image = [i for i, p in enumerate(pixels) if p is not None]
        encoded: dict[int, tuple[torch.Tensor, ImageLayout | None, VisionExtras | None]] = {}
        if with_image:
            encode = self._encode_anyres if self.config.anyres else self._encode_square
            images_in = [pixels[i] for i in with_image]
            encoded = dict(zip(with_image, encode(images_in, vision_request), strict=True))
        samples = []
        for i, ids in enumerate(prompts):
            rows, layout, extras = encoded.get(i, (None, None, None))
            samples.append((self._splice(ids, rows, layout), extras))
        return samples

    def _encode_square(self, pixels: list[torch.Tensor], request: VisionRequest | None):
        """LLaVA-1.5: one crop per image, its patches' rows in raster order."""
        tower, stacked = self._tower(), torch.stack(pixels)
        layout = None
        if tower.select_feature == "patch":
            layout = ImageLayout.raster(tower.patches_per_side, tower.patches_per_side)
        if request is None:
            encoded = self.encode_images(stacked)
            return [(encoded[n : n + 1], layout, None) for n in range(len(pixels))]
        seen = tower.with_extras(stacked, request)
        encoded = self.project(seen.patch_features)
        return [
            (encoded[n : n + 1], layout, seen.sample(n, self.project)) for n in range(len(pixels))
        ]

    def _encode_anyres(self, images: list[AnyresImage], request: VisionRequest | None):
        """LLaVA-NeXT: every image's crops through the tower at once, then each image's rows
        packed (whole image, unpadded tiles, image-newline rows)."""
        tower, anyres = self._tower(), self.config.anyres
        if not all(isinstance(image, AnyresImage) for image in images):
            raise ValueError(
                "LLaVA-NeXT takes each image with its size: pass AnyresImage objects "
                "(llava.model.anyres), or image_sizes to generate()"
            )
        grids = [tile_grid(image.size, anyres, tower.image_size) for image in images]
        for image, (rows, columns) in zip(images, grids, strict=True):
            if image.pixels.shape[0] != 1 + rows * columns:
                raise ValueError(
                    f"an image of {image.size[0]} x {image.size[1]} pixels takes the whole image "
                    f"and {rows} x {columns} tiles, but {image.pixels.shape[0]} crops were given "
                    "(preprocess it with this checkpoint's image processor)"
                )
        crops = torch.cat([image.pixels for image in images])
        seen = None
        if request is None:
            features = self.encode_images(crops)
        else:
            seen = tower.with_extras(crops, request)
            features = self.project(seen.patch_features)
        out, start = [], 0
        for image, grid in zip(images, grids, strict=True):
            count = image.pixels.shape[0]
            rows, layout = pack_anyres(
                features[start : start + count], grid, image.size,
                self.model.image_newline, anyres.unpad_rounding,
            )  # fmt: skip
            extras = None
            if seen is not None:
                side = tower.patches_per_side
                rows_kept, columns_kept = unpadded_window(
                    image.size, grid[0] * side, grid[1] * side, anyres.unpad_rounding
                )
                window = (rows_kept.start, rows_kept.stop, columns_kept.start, columns_kept.stop)
                extras = seen.sample(start, self.project, count, grid, window)
            out.append((rows[None], layout, extras))
            start += count
        return out

    def generate(
        self,
        inputs: torch.Tensor,
        images: torch.Tensor | None = None,
        image_sizes: list | None = None,
        **kwargs,
    ) -> torch.Tensor:
        """LLaVA's call, `model.generate(input_ids, images=..., image_sizes=..., do_sample=...,
        temperature=..., top_p=..., num_beams=1, max_new_tokens=..., use_cache=True)`:
        returns the new token ids (B, n_new). Uses `self.pruner`."""
        if self.config.anyres is not None and image_sizes is not None:
            images = [
                AnyresImage(pixels, tuple(size))
                for pixels, size in zip(images, image_sizes, strict=True)
            ]
        return super().generate(inputs, images, **kwargs)
