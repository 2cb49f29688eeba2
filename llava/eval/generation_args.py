"""LLaVA's generation flags checked before anything is loaded: every value that would sample
from a broken distribution, decode nothing, or be silently ignored is a ValueError naming the
flag and the values it takes.

The flags and their meaning are LLaVA's (`model_vqa_loader`, `model_vqa_science`,
`model_vqa_mmbench`): `--temperature` (0 decodes greedily, above 0 samples), `--top_p`
(nucleus sampling, unset by default), `--num_beams` and `--max_new_tokens`.
"""

from __future__ import annotations

import argparse
import math


def check_generation_args(args: argparse.Namespace) -> None:
    """Refuse generation flags outside what decoding can honour; flags an entry point does not
    define (absent from `args`) are skipped."""
    temperature = getattr(args, "temperature", None)
    if temperature is not None and not (math.isfinite(temperature) and temperature >= 0):
        raise ValueError(
            f"--temperature must be a finite number >= 0 (0: greedy decoding, as LLaVA's "
            f"scripts use; above 0: sampling), got {temperature}"
        )
    top_p = getattr(args, "top_p", None)
    if top_p is not None and not (math.isfinite(top_p) and 0 < top_p <= 1):
        raise ValueError(
            f"--top_p must be in (0, 1] (the probability mass nucleus sampling keeps), got {top_p}"
        )
    num_beams = getattr(args, "num_beams", None)
    if num_beams is not None and num_beams != 1:
        raise ValueError(
            f"--num_beams {num_beams}: beam search is not implemented; use 1 (LLaVA's "
            "evaluation scripts all do)"
        )
    top_k = getattr(args, "top_k", None)
    if top_k is not None and top_k < 1:
        raise ValueError(f"--top_k must be at least 1 (the tokens sampling keeps), got {top_k}")
    penalty = getattr(args, "repetition_penalty", None)
    if penalty is not None and not (math.isfinite(penalty) and penalty > 0):
        raise ValueError(
            f"--repetition_penalty must be a finite number > 0 (1: none), got {penalty}"
        )
    max_new_tokens = getattr(args, "max_new_tokens", None)
    if max_new_tokens is not None and max_new_tokens < 1:
        raise ValueError(
            f"--max_new_tokens must be at least 1 (LLaVA's default is 128), got {max_new_tokens}"
        )
