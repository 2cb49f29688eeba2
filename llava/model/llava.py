"""LLaVA-1.5: CLIP tower -> projector -> spliced in at the image placeholder -> LLaMA -> lm_head.

Module names follow LLaVA's (`model.mm_projector`, `model.vision_tower.vision_tower`, `lm_head`),
so an original checkpoint's state dict loads as is.
"""

from __future__ import annotations

import torch
from torch import nn

from llava.constants import IMAGE_TOKEN_INDEX
from llava.model.config import LlavaConfig
from llava.model.llama import LlamaModel
from llava.model.projector import build_projector
from llava.model.vision import CLIPVisionTower
from llava.sparse.base import (
    SYSTEM,
    TEXT,
    VISUAL,
    NoPruning,
    PrefillStats,
    Pruner,
    TokenState,
    VisionExtras,
    VisionRequest,
)


class LlavaLlamaModel(LlamaModel):
    def __init__(self, config: LlavaConfig, vision_tower: CLIPVisionTower | None) -> None:
        super().__init__(config.text)
        self.mm_projector = build_projector(
            config.mm_projector_type, config.mm_hidden_size, config.text.hidden_size
        )
        self.vision_tower = vision_tower


class LlavaLlamaForCausalLM(nn.Module):
    def __init__(self, config: LlavaConfig, vision_tower: CLIPVisionTower | None = None) -> None:
        super().__init__()
        self.config = config
        self.model = LlavaLlamaModel(config, vision_tower)
        self.lm_head = nn.Linear(config.text.hidden_size, config.text.vocab_size, bias=False)
        # The method `generate` uses when none is passed (LLaVA callers pass none).
        self.pruner: Pruner = NoPruning()

    @property
    def device(self) -> torch.device:
        return self.model.embed_tokens.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.model.embed_tokens.weight.dtype

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
        images: torch.Tensor | list[torch.Tensor | None] | None = None,
        vision_request: VisionRequest | None = None,
    ) -> list[tuple[TokenState, VisionExtras | None]]:
        """Each sample's layer-0 input: word embeddings with its image rows spliced in at its
        placeholder, and (if `vision_request` asks) what the vision tower saw of that image.

        input_ids: (B, L) or a list of (L_i,) prompts, each with at most one IMAGE_TOKEN_INDEX
        (anywhere); images: one (3, H, W) per prompt with a placeholder, as a (B, 3, H, W)
        tensor, or a list with None for prompts without one. Roles: before the image SYSTEM, the
        image VISUAL, after it TEXT (all TEXT without an image).
        """
        prompts = list(input_ids) if isinstance(input_ids, list) else list(self._rows(input_ids))
        pixels = self._pixels_per_prompt(prompts, images)
        with_image = [i for i, p in enumerate(pixels) if p is not None]
        rows: list = [None] * len(prompts)
        extras: list = [None] * len(prompts)
        if with_image:
            stacked = torch.stack([pixels[i] for i in with_image])
            if vision_request is None:
                encoded = self.encode_images(stacked)
                for n, i in enumerate(with_image):
                    rows[i] = encoded[n : n + 1]
            else:
                seen = self._tower().with_extras(stacked, vision_request)
                encoded = self.project(seen.patch_features)
                for n, i in enumerate(with_image):
                    rows[i] = encoded[n : n + 1]
                    extras[i] = seen.sample(n, self.project)
        return [(self._splice(ids, rows[i]), extras[i]) for i, ids in enumerate(prompts)]

    def prepare_state(
        self, input_ids: torch.Tensor, images: torch.Tensor | None = None
    ) -> TokenState:
        """The layer-0 input of a batch (right-padded rows), without vision extras."""
        return TokenState.stack([state for state, _ in self.prepare_samples(input_ids, images)])

    @staticmethod
    def _rows(input_ids: torch.Tensor) -> torch.Tensor:
        if input_ids.dim() != 2:
            raise ValueError(
                f"input_ids must be (batch, length), got shape {tuple(input_ids.shape)}"
            )
        return input_ids

    @staticmethod
    def _pixels_per_prompt(prompts: list[torch.Tensor], images) -> list[torch.Tensor | None]:
        has_image = []
        for ids in prompts:
            count = int((ids == IMAGE_TOKEN_INDEX).sum())
            if count > 1:
                raise ValueError("each prompt may hold at most one <image>")
            has_image.append(count == 1)
        if images is None:
            if any(has_image):
                raise ValueError("the prompt has an <image> placeholder but no image was given")
            return [None] * len(prompts)
        images = list(images)
        if len(images) != len(prompts):
            raise ValueError(f"{len(images)} images for {len(prompts)} prompts: give one each")
        for image, wanted in zip(images, has_image, strict=True):
            if (image is not None) != wanted:
                raise ValueError(
                    "give an image exactly for the prompts that hold an <image> placeholder"
                )
        return images

    def _splice(self, ids: torch.Tensor, image_rows: torch.Tensor | None) -> TokenState:
        embed = self.model.embed_tokens
        ids = ids.to(embed.weight.device)
        if image_rows is None:
            hidden = embed(ids)[None]
            roles = torch.full((1, ids.shape[0]), TEXT)
        else:
            at = int((ids == IMAGE_TOKEN_INDEX).nonzero())
            num_visual = image_rows.shape[1]
            hidden = torch.cat(
                (
                    embed(ids[:at])[None],
                    image_rows.to(embed.weight.dtype),
                    embed(ids[at + 1 :])[None],
                ),
                dim=1,
            )
            roles = torch.cat(
                (
                    torch.full((1, at), SYSTEM),
                    torch.full((1, num_visual), VISUAL),
                    torch.full((1, ids.shape[0] - at - 1), TEXT),
                ),
                dim=1,
            )
        n = hidden.shape[1]
        origin = torch.arange(n, device=hidden.device)[None]
        return TokenState(hidden, origin, roles.to(hidden.device, torch.int8), origin)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.lm_head(self.model.norm(hidden))

    def forward(
        self,
        input_ids: torch.Tensor,
        images: torch.Tensor | None = None,
        pruner: Pruner | None = None,
    ) -> tuple[torch.Tensor, TokenState, list[PrefillStats]]:
        """Full-sequence forward without a cache (training, tests): logits over the final
        (right-padded) sequence (B, N, vocab), the final token state, and per sample what the
        loop ran."""
        from llava.generate import run_prefill

        state, stats, _ = run_prefill(self, input_ids, images, pruner, cache=None)
        return self.logits(state.hidden), state, stats

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
        from llava.generate import generate, generation_options

        options = generation_options(**kwargs)
        return generate(self, inputs, images, self.pruner, options).tokens
