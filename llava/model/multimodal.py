"""What every vision-language model here shares around its own vision side: the prompt checks,
splicing an image's rows in at its placeholder (roles, origins, positions), the LM head, and the
entry points (`forward`, LLaVA's `generate`) over the one decoder loop.

A family supplies `prepare_samples` (its vision side) and, if its positions are not the sequence
index, `prompt_positions` (Qwen-VL's 3-D positions).
"""

from __future__ import annotations

import torch
from torch import nn

from llava.constants import IMAGE_TOKEN_INDEX
from llava.sparse.base import (
    SYSTEM,
    TEXT,
    VISUAL,
    ImageLayout,
    NoPruning,
    PrefillStats,
    Pruner,
    TokenState,
)


class MultimodalCausalLM(nn.Module):
    """`self.model` is the decoder (`LlamaModel` and the family's vision modules), `self.lm_head`
    the output projection, `self.config.text` the decoder's config."""

    def __init__(self) -> None:
        super().__init__()
        # The method `generate` uses when none is passed (LLaVA callers pass none).
        self.pruner: Pruner = NoPruning()

    @property
    def device(self) -> torch.device:
        return self.model.embed_tokens.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.model.embed_tokens.weight.dtype

    def prepare_samples(self, input_ids, images=None, vision_request=None):
        raise NotImplementedError

    def prepare_state(self, input_ids: torch.Tensor, images=None) -> TokenState:
        """The layer-0 input of a batch (right-padded rows), without vision extras."""
        return TokenState.stack([state for state, _ in self.prepare_samples(input_ids, images)])

    @staticmethod
    def _prompts(input_ids: torch.Tensor | list[torch.Tensor]) -> list[torch.Tensor]:
        if isinstance(input_ids, list):
            return list(input_ids)
        if input_ids.dim() != 2:
            raise ValueError(
                f"input_ids must be (batch, length), got shape {tuple(input_ids.shape)}"
            )
        return list(input_ids)

    @staticmethod
    def _pixels_per_prompt(prompts: list[torch.Tensor], images) -> list:
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

    def prompt_positions(
        self, length: int, image_at: int | None, layout: ImageLayout | None
    ) -> torch.Tensor:
        """(1, N) RoPE positions of a prompt of N tokens (the image's rows included), the image
        starting at `image_at`: the sequence index."""
        return torch.arange(length)[None]

    def _splice(
        self, ids: torch.Tensor, image_rows: torch.Tensor | None, layout: ImageLayout | None
    ) -> TokenState:
        """The prompt's embeddings with `image_rows` (1, V, D) in place of its placeholder.
        Roles: before the image SYSTEM, the image VISUAL, after it TEXT (all TEXT without)."""
        embed = self.model.embed_tokens
        ids = ids.to(embed.weight.device)
        at = None
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
        positions = self.prompt_positions(n, at, layout).to(hidden.device)
        return TokenState(hidden, positions, roles.to(hidden.device, torch.int8), origin, layout)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.lm_head(self.model.norm(hidden))

    def forward(
        self, input_ids: torch.Tensor, images=None, pruner: Pruner | None = None
    ) -> tuple[torch.Tensor, TokenState, list[PrefillStats]]:
        """Full-sequence forward without a cache (training, tests): logits over the final
        (right-padded) sequence (B, N, vocab), the final token state, and per sample what the
        loop ran."""
        from llava.generate import run_prefill

        state, stats, _ = run_prefill(self, input_ids, images, pruner, cache=None)
        return self.logits(state.hidden), state, stats

    def generate(self, inputs: torch.Tensor, images=None, **kwargs) -> torch.Tensor:
        """LLaVA's call, `model.generate(input_ids, images=..., do_sample=..., temperature=...,
        top_p=..., num_beams=1, max_new_tokens=..., use_cache=True)`: returns the new token ids
        (B, n_new). Uses `self.pruner`."""
        from llava.generate import generate, generation_options

        options = generation_options(**kwargs)
        return generate(self, inputs, images, self.pruner, options).tokens
