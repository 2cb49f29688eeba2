"""Qwen2-VL and Qwen2.5-VL through our decoder loop.

The vision side is transformers' own vision transformer (`Qwen2VisionTransformerPretrainedModel`,
`Qwen2_5_VisionTransformerPretrainedModel`: windowed attention in 2.5, 2 x 2 patch merging into
decoder rows), as LLaVA's side reuses `CLIPVisionModel`. An image is preprocessed by the
checkpoint's PIL image processor (dynamic resolution between its min and max pixels) into
flattened patches and their (t, h, w) grid; the prompt holds one placeholder where the chat
template puts `<|image_pad|>`, and the image's t x h/2 x w/2 merged rows replace it.

Positions are 3-D (multimodal RoPE), as transformers' `get_rope_index` numbers a prompt: text
tokens count up on all three axes; an image's rows all start at the next position p, row i and
column j at (p, p + i, p + j); the text after the image continues at p + max(h/2, w/2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import torch
from torch import nn

from llava.model.config import QwenVLConfig
from llava.model.llama import LlamaModel
from llava.model.multimodal import MultimodalCausalLM
from llava.sparse.base import ImageLayout, TokenState, VisionExtras, VisionRequest

NO_CLS = (
    "Qwen2-VL / Qwen2.5-VL's vision transformer has no CLS token, so a method that selects by "
    "the tower's CLS attention (VisionZip) does not apply; VisionZip publishes no adaptation "
    "for it (dvlab-research/VisionZip @ 3151f6d covers LLaVA-1.5 and LLaVA-NeXT)"
)

# transformers 5 names first, then the hub's Qwen checkpoints (decoder under "model.").
_RENAMES = [
    (r"^model\.language_model\.", "model."),
    (r"^model\.visual\.", "model.visual."),
    (r"^visual\.", "model.visual."),
]


@dataclass(frozen=True)
class QwenImage:
    """One image as Qwen-VL's vision transformer takes it: flattened patches (t*h*w, C*T*p*p)
    and their grid (t, h, w) in patches before the 2 x 2 merge."""

    pixels: torch.Tensor
    grid: tuple[int, int, int]

    def to(self, *args, **kwargs) -> QwenImage:
        return replace(self, pixels=self.pixels.to(*args, **kwargs))


def qwen_image(image, image_processor) -> QwenImage:
    """An RGB PIL image through the checkpoint's `Qwen2VLImageProcessorPil`."""
    out = image_processor([image], return_tensors="pt")
    return QwenImage(out["pixel_values"], tuple(int(n) for n in out["image_grid_thw"][0]))


def vision_transformer(config: QwenVLConfig) -> nn.Module:
    """transformers' vision transformer of the checkpoint's version, random weights, on the CPU
    (its rotary buffers are computed at init)."""
    if config.version == "qwen2_5_vl":
        from transformers import Qwen2_5_VLVisionConfig
        from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import (
            Qwen2_5_VisionTransformerPretrainedModel as Tower,
        )

        return Tower(Qwen2_5_VLVisionConfig(**config.vision_config))
    from transformers import Qwen2VLVisionConfig
    from transformers.models.qwen2_vl.modeling_qwen2_vl import (
        Qwen2VisionTransformerPretrainedModel as Tower,
    )

    return Tower(Qwen2VLVisionConfig(**config.vision_config))


def qwen_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A checkpoint's weight names -> ours (`model.*` decoder, `model.visual.*`, `lm_head`)."""
    renamed = {}
    for key, value in state.items():
        for pattern, replacement in _RENAMES:
            new_key, count = re.subn(pattern, replacement, key)
            if count:
                key = new_key
                break
        renamed[key] = value
    return renamed


class QwenVLModel(LlamaModel):
    def __init__(self, config: QwenVLConfig, visual: nn.Module | None) -> None:
        super().__init__(config.text)
        self.visual = visual


class QwenVLForCausalLM(MultimodalCausalLM):
    def __init__(self, config: QwenVLConfig, visual: nn.Module | None = None) -> None:
        super().__init__()
        self.config = config
        self.model = QwenVLModel(config, visual)
        self.lm_head = nn.Linear(config.text.hidden_size, config.text.vocab_size, bias=False)

    def get_vision_tower(self) -> nn.Module | None:
        return self.model.visual

    def prepare_samples(
        self,
        input_ids: torch.Tensor | list[torch.Tensor],
        images: list[QwenImage | None] | None = None,
        vision_request: VisionRequest | None = None,
    ) -> list[tuple[TokenState, VisionExtras | None]]:
        """Each sample's layer-0 input (see `MultimodalCausalLM`); images are `QwenImage`s."""
        if vision_request is not None and (vision_request.cls_attention or vision_request.keys):
            raise ValueError(NO_CLS)
        prompts = self._prompts(input_ids)
        images = self._pixels_per_prompt(prompts, images)
        with_image = [i for i, image in enumerate(images) if image is not None]
        rows: dict[int, tuple[torch.Tensor, ImageLayout]] = {}
        if with_image:
            rows = dict(zip(with_image, self._encode([images[i] for i in with_image]), strict=True))
        return [
            (self._splice(ids, *rows.get(i, (None, None))), None) for i, ids in enumerate(prompts)
        ]

    def _encode(self, images: list[QwenImage]) -> list[tuple[torch.Tensor, ImageLayout]]:
        visual = self.model.visual
        if visual is None:
            raise ValueError("this model has no vision transformer, it cannot take images")
        if not all(isinstance(image, QwenImage) for image in images):
            raise ValueError("Qwen-VL takes images as QwenImage (flattened patches and their grid)")
        merge = self.config.spatial_merge_size
        for image in images:
            if image.grid[0] != 1:
                raise ValueError(f"an image has {image.grid[0]} frames; only still images work")
        param = next(visual.parameters())
        pixels = torch.cat([image.pixels for image in images]).to(param.device, param.dtype)
        grids = torch.tensor([image.grid for image in images], device=param.device)
        merged = visual(pixels, grid_thw=grids).pooler_output  # (sum of rows, D)
        out, start = [], 0
        for _, height, width in (image.grid for image in images):
            rows, columns = height // merge, width // merge
            out.append(
                (merged[start : start + rows * columns][None], ImageLayout.raster(rows, columns))
            )
            start += rows * columns
        return out

    def prompt_positions(
        self, length: int, image_at: int | None, layout: ImageLayout | None
    ) -> torch.Tensor:
        """(1, 3, N): transformers' `get_rope_index` numbering (see the module)."""
        if image_at is None:
            return torch.arange(length).expand(3, length)[None]
        ((rows, columns),) = layout.grids
        grid = torch.stack(
            (
                torch.zeros(rows * columns, dtype=torch.long),
                torch.arange(rows).repeat_interleave(columns),
                torch.arange(columns).repeat(rows),
            )
        )
        after = length - image_at - rows * columns
        parts = (
            torch.arange(image_at).expand(3, image_at),
            image_at + grid,
            image_at + max(rows, columns) + torch.arange(after).expand(3, after),
        )
        return torch.cat(parts, dim=1)[None]
