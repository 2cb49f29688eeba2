"""LLaVA-1.5: CLIP tower -> projector -> spliced in at the image placeholder -> LLaMA -> lm_head.

Module names follow LLaVA's (`model.mm_projector`, `model.vision_tower.vision_tower`, `lm_head`),
so an original checkpoint's state dict loads as is.
"""

from __future__ import annotations

import torch
from torch import nn

from llava.constants import IMAGE_TOKEN_INDEX
from llava.model.config import LlavaConfig
from llava.model.llama import LlamaModel, PrefillStats
from llava.model.projector import build_projector
from llava.model.vision import CLIPVisionTower
from llava.sparse.base import SYSTEM, TEXT, VISUAL, NoPruning, Pruner, TokenState


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
        tower = self.model.vision_tower
        if tower is None:
            raise ValueError("this model has no vision tower, it cannot take images")
        features = tower(images)
        projector_weight = next(self.model.mm_projector.parameters(), None)
        if projector_weight is not None:
            features = features.to(projector_weight.device, projector_weight.dtype)
        return self.model.mm_projector(features)

    def prepare_state(
        self, input_ids: torch.Tensor, images: torch.Tensor | None = None
    ) -> TokenState:
        """Layer-0 input: word embeddings with the image rows spliced in at the placeholder.

        input_ids (B, L) holds at most one IMAGE_TOKEN_INDEX per row, at the same index in every
        row. Roles: before the image SYSTEM, the image VISUAL, after it TEXT (all TEXT without
        an image).
        """
        if input_ids.dim() != 2:
            raise ValueError(
                f"input_ids must be (batch, length), got shape {tuple(input_ids.shape)}"
            )
        is_image = input_ids == IMAGE_TOKEN_INDEX
        per_row = is_image.sum(dim=1)
        embed = self.model.embed_tokens
        if int(per_row.max()) == 0:
            hidden = embed(input_ids.to(embed.weight.device))
            roles = torch.full_like(input_ids, TEXT)
        else:
            if images is None:
                raise ValueError("the prompt has an <image> placeholder but no image was given")
            if not bool((per_row == 1).all()) or not bool((is_image == is_image[:1]).all()):
                raise ValueError(
                    "each prompt must hold exactly one <image>, at the same index in every row"
                )
            at = int(is_image[0].nonzero())
            image_rows = self.encode_images(images)
            if image_rows.shape[0] != input_ids.shape[0]:
                raise ValueError(
                    f"{image_rows.shape[0]} images for {input_ids.shape[0]} prompts: give one each"
                )
            ids = input_ids.to(embed.weight.device)
            hidden = torch.cat(
                (embed(ids[:, :at]), image_rows.to(embed.weight.dtype), embed(ids[:, at + 1 :])),
                dim=1,
            )
            batch, num_visual = input_ids.shape[0], image_rows.shape[1]
            roles = torch.cat(
                (
                    torch.full((batch, at), SYSTEM),
                    torch.full((batch, num_visual), VISUAL),
                    torch.full((batch, input_ids.shape[1] - at - 1), TEXT),
                ),
                dim=1,
            )
        batch, n = hidden.shape[:2]
        device = hidden.device
        origin = torch.arange(n, device=device).expand(batch, n)
        return TokenState(hidden, origin, roles.to(device, torch.int8), origin)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.lm_head(self.model.norm(hidden))

    def forward(
        self,
        input_ids: torch.Tensor,
        images: torch.Tensor | None = None,
        pruner: Pruner | None = None,
    ) -> tuple[torch.Tensor, TokenState, PrefillStats]:
        """Full-sequence forward without a cache (training, tests): logits over the final
        sequence (B, N, vocab), the final token state, and what the loop ran."""
        state, stats = self.model.run_layers(self.prepare_state(input_ids, images), None, pruner)
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
