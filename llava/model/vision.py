"""The CLIP vision tower (transformers' `CLIPVisionModel`), as LLaVA-1.5 uses it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from transformers import CLIPVisionModel

from llava.sparse.base import VisionExtras, VisionRequest


@dataclass(frozen=True)
class TowerSight:
    """A batch of images as the tower saw them at its selected layer (see `with_extras`)."""

    features: torch.Tensor  # (B, 1 + V, C) the selected hidden state, CLS included
    patch_features: torch.Tensor  # (B, V, C) or (B, 1 + V, C): what LLaVA feeds the projector
    cls_attention: torch.Tensor | None  # (B, H, 1 + V)
    keys: torch.Tensor | None  # (B, H, 1 + V, head_dim)

    def sample(
        self,
        n: int,
        project: Callable[[torch.Tensor], torch.Tensor],
        crops: int = 1,
        tile_grid: tuple[int, int] | None = None,
        tile_window: tuple[int, int, int, int] | None = None,
    ) -> VisionExtras:
        """What the tower saw of images n .. n + crops - 1: one image, or one LLaVA-NeXT image's
        crops (the whole image, then its tiles on a `tile_grid` of (rows, columns))."""

        def part(tensor: torch.Tensor | None) -> torch.Tensor | None:
            return None if tensor is None else tensor[n : n + crops]

        return VisionExtras(
            part(self.features), project, part(self.cls_attention), part(self.keys), tile_grid,
            tile_window,
        )  # fmt: skip


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
        return self.patches_per_side**2

    @property
    def patches_per_side(self) -> int:
        cfg = self.vision_tower.config
        return cfg.image_size // cfg.patch_size

    @property
    def image_size(self) -> int:
        return self.vision_tower.config.image_size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self._select(self._hidden_states(images)[self.select_layer])

    def _hidden_states(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        param = next(self.vision_tower.parameters())
        out = self.vision_tower(
            images.to(device=param.device, dtype=param.dtype), output_hidden_states=True
        )
        return out.hidden_states

    def _select(self, features: torch.Tensor) -> torch.Tensor:
        return features[:, 1:] if self.select_feature == "patch" else features

    def with_extras(self, images: torch.Tensor, request: VisionRequest) -> TowerSight:
        """The selected features plus, as `request` asks, the CLS token's attention and the keys
        of the layer that produced them (its input captured on the way, the attention
        recomputed from it: only for the methods that ask)."""
        clip = self.vision_tower
        layers = (clip.vision_model if hasattr(clip, "vision_model") else clip).encoder.layers
        # hidden_states[0] is the embedding output, hidden_states[i] layer i-1's output.
        index = self.select_layer % (len(layers) + 1) - 1
        if index < 0:
            raise ValueError("the selected vision layer is the embeddings: no attention to give")
        attention = layers[index].self_attn
        captured: dict[str, torch.Tensor] = {}

        def capture(module, args, kwargs) -> None:
            captured["input"] = kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]

        handle = attention.register_forward_pre_hook(capture, with_kwargs=True)
        try:
            hidden_states = self._hidden_states(images)
        finally:
            handle.remove()
        features = hidden_states[self.select_layer]
        x = captured["input"]
        batch, n, _ = x.shape

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, n, attention.num_heads, attention.head_dim).transpose(1, 2)

        keys = heads(attention.k_proj(x))  # (B, H, N, hd)
        cls_attention = None
        if request.cls_attention:
            cls_query = heads(attention.q_proj(x))[:, :, :1]  # (B, H, 1, hd)
            scores = (cls_query @ keys.transpose(-1, -2) * attention.scale).float()
            cls_attention = scores.softmax(dim=-1)[:, :, 0]  # (B, H, N)
        return TowerSight(
            features=features,
            patch_features=self._select(features),
            cls_attention=cls_attention,
            keys=keys if request.keys else None,
        )
