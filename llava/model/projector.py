"""The multimodal projector: CLIP features -> LLaMA embedding space (LLaVA's `mm_projector`)."""

from __future__ import annotations

import re

from torch import nn


def build_projector(projector_type: str, mm_hidden_size: int, hidden_size: int) -> nn.Module:
    """`linear`, or `mlp{N}x_gelu` (N linear layers with GELU between; LLaVA-1.5 uses N = 2).

    Module indices match LLaVA's checkpoints: `mm_projector.0`, `mm_projector.2`, ...
    """
    if projector_type == "linear":
        return nn.Linear(mm_hidden_size, hidden_size)
    if projector_type == "identity":
        return nn.Identity()
    match = re.fullmatch(r"mlp(\d+)x_gelu", projector_type)
    if match is None:
        raise ValueError(
            f"unknown mm_projector_type {projector_type!r} in config.json "
            "(supported: linear, identity, mlp<N>x_gelu such as mlp2x_gelu)"
        )
    modules: list[nn.Module] = [nn.Linear(mm_hidden_size, hidden_size)]
    for _ in range(int(match.group(1)) - 1):
        modules += [nn.GELU(), nn.Linear(hidden_size, hidden_size)]
    return nn.Sequential(*modules)
