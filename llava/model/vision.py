"""The CLIP vision tower (transformers' `CLIPVisionModel`), as LLaVA-1.5 uses it."""

from __future__ import annotations

import torch
from torch import nn
from transformers import CLIPVisionModel


class CLIPVisionTower(nn.Module):
    """Hidden state `select_layer` of the CLIP encoder (no post-layernorm), CLS dropped for
    `patch`: (B, 3, 336, 336) -> (B, 576, C) for ViT-L/14-336."""

    def __init__(self, clip: CLIPVisionModel, select_layer: int, select_feature: str) -> None:
        super().__init__()
        if select_feature not in ("patch", "cls_patch"):
            raise ValueError(
                f"mm_vision_select_feature {select_feature!r} not supported (patch, cls_patch)"
            )
        self.vision_tower = clip
        self.select_layer = select_layer
        self.select_feature = select_feature

    @property
    def num_patches(self) -> int:
        cfg = self.vision_tower.config
        return (cfg.image_size // cfg.patch_size) ** 2

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        param = next(self.vision_tower.parameters())
        out = self.vision_tower(
            images.to(device=param.device, dtype=param.dtype), output_hidden_states=True
        )
        features = out.hidden_states[self.select_layer]
        if self.select_feature == "patch":
            features = features[:, 1:]
        return features
