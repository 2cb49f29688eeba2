"""RoPE positions through pruning: the "renumber" policy for 1-D and for 3-D positions.

A token state's positions are (B, N), one per token (LLaMA, Mistral), or (B, 3, N), a time,
height and width position per token (Qwen2-VL / Qwen2.5-VL's multimodal RoPE: text tokens have
three equal positions; an image's tokens start together at the position after the text before
it, their height and width positions counting the rows and columns of the merged patch grid,
and the text after the image continues from one past the largest).

A method either keeps every token's positions ("keep": FastV, SparseVLM v2, ...) or renumbers
them after it changes the sequence ("renumber": SparseVLM v1, PyramidDrop), as if the prompt had
simply been shorter:
- 1-D: positions 0..N-1 in sequence order (the reference codes rebuild `position_ids` so);
- 3-D: the same idea without moving image tokens relative to each other, since their height and
  width positions are the image's layout: walking the sequence, a token that is not a prompt
  image patch (text, system, a merged token) takes the next free position on all three axes; a
  run of image patches keeps its offsets from the run's smallest position on each axis, shifted
  to start at the next free position, and the next free position moves one past the run's
  largest offset. Renumbering an unpruned prompt changes nothing (Qwen's own numbering); after
  pruning, the text after the image moves up when whole rows or columns of the grid are gone,
  and merged tokens sit after the image like text.
"""

from __future__ import annotations

import torch


def renumber(positions: torch.Tensor, patch: torch.Tensor) -> torch.Tensor:
    """The "renumber" policy: (B, N) -> 0..N-1 per row; (B, 3, N) -> per row, see the module.
    `patch` (B, N): which tokens are prompt image patches (visual, not merged)."""
    batch, n = patch.shape
    if positions.dim() == 2:
        return torch.arange(n, device=positions.device).expand(batch, n)
    return torch.stack([_renumber_3d(positions[r], patch[r]) for r in range(batch)])


def _renumber_3d(positions: torch.Tensor, patch: torch.Tensor) -> torch.Tensor:
    """(3, N) positions of one row, renumbered."""
    n = positions.shape[1]
    patch = patch.to(positions.device)
    out = torch.empty_like(positions)
    starts = [0, *((patch[1:] != patch[:-1]).nonzero().squeeze(1) + 1).tolist(), n]
    cursor = 0
    for start, end in zip(starts[:-1], starts[1:], strict=True):
        if start == end:
            continue
        if patch[start]:
            block = positions[:, start:end]
            offsets = block - block.amin(dim=1, keepdim=True)
            out[:, start:end] = cursor + offsets
            cursor += int(offsets.max()) + 1
        else:
            out[:, start:end] = cursor + torch.arange(end - start, device=positions.device)
            cursor += end - start
    return out


def pad_positions(positions: torch.Tensor, missing: int) -> torch.Tensor:
    """Positions for `missing` padding tokens after a (1, N) or (1, 3, N) row: one past the last
    token's (never attended to; only finite)."""
    last = positions[..., -1:] + 1 if positions.shape[-1] else torch.zeros_like(positions[..., :1])
    return last.expand(*positions.shape[:-1], missing)
