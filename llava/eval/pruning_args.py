"""Command-line flags that choose the pruning method, shared by the evaluation commands.

`--sparse --scale S --bias B` are the seed's flags (SparseVLM v1, defaults 13.5 / 0). Without
`--sparse` the model is dense.
"""

from __future__ import annotations

import argparse

from llava.sparse.base import NoPruning, Pruner
from llava.sparse.sparsevlm import (
    DEFAULT_BIAS,
    DEFAULT_SCALE,
    VERSIONS,
    SparseVLM,
    sparsevlm_v1,
    sparsevlm_v2,
    sparsevlm_v15,
)


def _layers(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated layer indices such as 2,6,15,19, got {text!r}"
        ) from err


def add_pruning_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("visual token pruning")
    group.add_argument("--sparse", action="store_true", help="prune with SparseVLM")
    group.add_argument(
        "--sparse-version",
        choices=VERSIONS,
        default="v1",
        help="v1: rank-based k from --scale/--bias (the seed); v1.5: fixed budgets; "
        "v2: SparseVLM+ (RoPE-corrected scores, top heads, no recycling)",
    )
    group.add_argument(
        "--scale",
        type=float,
        default=None,
        help=f"v1: k = rank*scale+bias (default {DEFAULT_SCALE})",
    )
    group.add_argument(
        "--bias", type=float, default=None, help=f"v1: k = rank*scale+bias (default {DEFAULT_BIAS})"
    )
    group.add_argument(
        "--retained-tokens",
        type=int,
        default=None,
        help="v1.5 / v2 preset: equivalent visual tokens (v1.5: 192, 128, 64; v2: also 96)",
    )
    group.add_argument(
        "--pruning-layers",
        type=_layers,
        default=None,
        help="comma-separated 0-based layers after which to prune "
        "(default: 2,6,15,19 for v1; 2,6,15 for v1.5 and v2)",
    )


def pruner_from_args(args: argparse.Namespace, model) -> Pruner:
    """The method the flags ask for, checked against the model's depth."""
    if not args.sparse:
        return NoPruning()
    version = args.sparse_version
    layers = {"layers": args.pruning_layers} if args.pruning_layers else {}
    if version == "v1":
        if args.retained_tokens is not None:
            raise ValueError(
                "--retained-tokens selects a v1.5 / v2 preset; v1 is set by --scale and --bias "
                "(or pass --sparse-version v1.5)"
            )
        scale = DEFAULT_SCALE if args.scale is None else args.scale
        bias = DEFAULT_BIAS if args.bias is None else args.bias
        config = sparsevlm_v1(scale, bias, **layers)
    else:
        if args.scale is not None or args.bias is not None:
            raise ValueError(f"--scale/--bias set v1's k; {version} uses --retained-tokens")
        retained = 192 if args.retained_tokens is None else args.retained_tokens
        make = sparsevlm_v15 if version == "v1.5" else sparsevlm_v2
        config = make(retained, **layers)
    config.check(len(model.model.layers))
    return SparseVLM(config, inv_freq=model.model.rotary.inv_freq)
