"""Command-line flags that choose the pruning method, shared by every answer generator.

`--pruning-method NAME` (default dense) names a registered method (`llava.sparse.registry`),
whose own flags come from its registry entry; `--retained-tokens N` works for every method but
SparseVLM v1: the method's parameter is solved so that the papers' equivalent token count (mean
over layers of the visual tokens present, a pruning layer counted after pruning) is N within the
method's granularity, on this model's depth and visual token count.

On LLaVA-NeXT and Qwen-VL, whose images have different token counts, N (and a method's token
presets) is read as a fraction N / 576 of each image's visual tokens and solved per image
(`llava.sparse.registry.ModelShape`).

`--sparse --scale S --bias B` are the seed's flags (SparseVLM v1, defaults 13.5 / 0) and work
exactly as before: `--sparse` is `--pruning-method sparsevlm`.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from llava.sparse.base import Pruner
from llava.sparse.budget import LLAVA_VISUAL_TOKENS
from llava.sparse.registry import Method, build_pruner, layer_list, methods


def add_pruning_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("visual token pruning")
    registered = methods()
    group.add_argument(
        "--pruning-method",
        choices=list(registered),
        default=None,
        help="; ".join(f"{m.name}: {m.summary}" for m in registered.values()) + " (default dense)",
    )
    group.add_argument(
        "--sparse", action="store_true", help="prune with SparseVLM (= --pruning-method sparsevlm)"
    )
    group.add_argument(
        "--retained-tokens",
        type=int,
        default=None,
        help="target equivalent visual tokens, in the papers' convention (the mean over layers "
        "of the visual tokens present, a pruning layer counted after pruning): solves the "
        "method's parameter (SparseVLM v1.5/v2: its presets for 192, 128, 64, else a preset's "
        "schedule scaled to N)",
    )
    group.add_argument(
        "--pruning-layers",
        type=layer_list,
        default=None,
        help="comma-separated 0-based layers after which to prune, for the methods that take "
        "it: "
        + ", ".join(m.name for m in registered.values() if m.uses_pruning_layers)
        + " (SparseVLM default 2,6,15,19 for v1, 2,6,15 for v1.5 and v2; random/grid 1)",
    )
    added: set[str] = set()
    for method in registered.values():
        for flag in method.flags:
            if flag.flag in added:  # a flag two methods share (PDrop's two variants)
                continue
            added.add(flag.flag)
            group.add_argument(
                flag.flag, type=flag.type, default=None, choices=flag.choices, help=flag.help
            )


def selected_method(args: argparse.Namespace) -> Method:
    """The method the flags name; `--sparse` is the seed's alias for sparsevlm."""
    name = getattr(args, "pruning_method", None)
    if args.sparse:
        if name not in (None, "sparsevlm"):
            raise ValueError(f"--sparse means --pruning-method sparsevlm; drop it to use {name}")
        name = "sparsevlm"
    return methods()[name or "dense"]


def _refuse_foreign_flags(args: argparse.Namespace, method: Method) -> None:
    """A ValueError for a flag that the chosen method does not take (it would be ignored)."""
    own = {flag.dest for flag in method.flags}
    for other in methods().values():
        for flag in other.flags:
            if flag.dest not in own and getattr(args, flag.dest, None) is not None:
                raise ValueError(
                    f"{flag.flag} is a setting of --pruning-method {other.name}, not of "
                    f"{method.name}"
                )
    if args.pruning_layers is not None and not method.uses_pruning_layers:
        raise ValueError(
            f"--pruning-layers does not apply to {method.name}: its layers are set by its own "
            "flags (see --help)"
        )
    if method.name == "dense" and args.retained_tokens is not None:
        raise ValueError("--retained-tokens needs a --pruning-method (dense keeps every token)")


def visual_tokens(model) -> int | None:
    """The image's visual tokens for this model (576 for LLaVA-1.5; a model without a vision
    tower, like the speed benchmark's decoder, is taken as LLaVA-1.5), None where each image
    has its own count (LLaVA-NeXT, Qwen-VL)."""
    if model_family(model) != "llava-1.5":
        return None
    tower = model.get_vision_tower() if hasattr(model, "get_vision_tower") else None
    return tower.num_patches if tower is not None else LLAVA_VISUAL_TOKENS


def model_family(model) -> str:
    """llava-1.5, llava-next or qwen-vl (a bare decoder, without a config, counts as LLaVA-1.5)."""
    return getattr(getattr(model, "config", None), "family", "llava-1.5")


def pruner_from_args(args: argparse.Namespace, model) -> Pruner:
    """The method the flags ask for, checked against the model's depth; --retained-tokens is
    solved on this model's depth and visual token count."""
    return pruner_for(args, len(model.model.layers), visual_tokens(model), model_family(model))


def pruner_for(
    args: argparse.Namespace, num_layers: int, visual_tokens: int | None, family: str
) -> Pruner:
    """As `pruner_from_args`, for a model known by its geometry only: before it loads, a bad
    setting then fails in a second instead of after the weights."""
    method = selected_method(args)
    if method.name == "dense" and args.sparse is False:
        # The seed ignored SparseVLM's flags without --sparse and its scripts rely on it for
        # --pruning-layers; other methods' flags would be silently lost: refuse those.
        sparsevlm = methods()["sparsevlm"]
        _refuse_foreign_flags(args, _with_flags(method, sparsevlm))
    else:
        _refuse_foreign_flags(args, method)
    return build_pruner(method, args, num_layers, visual_tokens, family)


def _with_flags(method: Method, other: Method) -> Method:
    """`method` accepting `other`'s flags too (dense tolerates SparseVLM's, as the seed did)."""
    return replace(
        method,
        flags=method.flags + other.flags,
        uses_pruning_layers=other.uses_pruning_layers,
    )
