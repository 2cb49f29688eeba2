"""Command-line flags that choose the pruning method, shared by the evaluation commands.

`--pruning-method {dense,sparsevlm,fastv,pdrop,random,grid}` (default dense) with each method's
parameters, or `--retained-tokens N` for any method except SparseVLM v1: the method's parameter
is solved so that the papers' equivalent token count (`equivalent_tokens_output`: mean over
layers of the visual tokens present, a pruning layer counted after pruning) is N within one
token on this model's depth (LLaVA-1.5-7B: 32 layers, 576 visual tokens).

`--sparse --scale S --bias B` are the seed's flags (SparseVLM v1, defaults 13.5 / 0) and work
exactly as before: `--sparse` is `--pruning-method sparsevlm`.
"""

from __future__ import annotations

import argparse

from llava.sparse import fastv, grid, pdrop
from llava.sparse import random as random_pruning
from llava.sparse.base import NoPruning, Pruner
from llava.sparse.budget import (
    LLAVA_VISUAL_TOKENS,
    solve_keep_ratio,
    solve_sparsevlm_budgets,
)
from llava.sparse.sparsevlm import (
    BUDGET_LAYERS,
    DEFAULT_BIAS,
    DEFAULT_SCALE,
    V2_BUDGETS,
    V15_BUDGETS,
    VERSIONS,
    SparseVLM,
    sparsevlm_v1,
    sparsevlm_v2,
    sparsevlm_v15,
)

PRUNING_METHODS = ("dense", "sparsevlm", "fastv", "pdrop", "random", "grid")
# Each method's own flags (argparse dest -> flag): given to another method, they are an error.
METHOD_FLAGS = {
    "sparsevlm": {"scale": "--scale", "bias": "--bias"},
    "fastv": {"fastv_k": "--fastv-k", "fastv_ratio": "--fastv-ratio"},
    "pdrop": {"pdrop_layers": "--pdrop-layers", "pdrop_lambda": "--pdrop-lambda"},
    "random": {"random_seed": "--random-seed", "keep_ratio": "--keep-ratio"},
    "grid": {"keep_ratio": "--keep-ratio"},
}


def _layers(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated layer indices such as 2,6,15,19, got {text!r}"
        ) from err


def add_pruning_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("visual token pruning")
    group.add_argument(
        "--pruning-method",
        choices=PRUNING_METHODS,
        default=None,
        help="dense (default), sparsevlm, fastv, pdrop (PyramidDrop), random, grid (uniform grid)",
    )
    group.add_argument(
        "--sparse", action="store_true", help="prune with SparseVLM (= --pruning-method sparsevlm)"
    )
    group.add_argument(
        "--retained-tokens",
        type=int,
        default=None,
        help="target equivalent visual tokens, in the papers' convention (equivalent_tokens_output:"
        " the mean over layers of the visual tokens present, a pruning layer counted after "
        "pruning): solves FastV's ratio, PDrop's lambda, random/grid's keep ratio, or SparseVLM "
        "v1.5/v2's per-layer budgets (their presets for 192, 128, 64 (v2: also 96), otherwise a "
        "preset's schedule scaled to N)",
    )
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
        help=f"SparseVLM v1: k = rank*scale+bias (default {DEFAULT_SCALE})",
    )
    group.add_argument(
        "--bias",
        type=float,
        default=None,
        help=f"SparseVLM v1: k = rank*scale+bias (default {DEFAULT_BIAS})",
    )
    group.add_argument(
        "--pruning-layers",
        type=_layers,
        default=None,
        help="comma-separated 0-based layers after which to prune: SparseVLM (default 2,6,15,19 "
        "for v1; 2,6,15 for v1.5 and v2), random and grid (default 1)",
    )
    group.add_argument(
        "--fastv-k",
        type=int,
        default=None,
        help=f"FastV: prune after layer K-1 (default K={fastv.DEFAULT_K})",
    )
    group.add_argument(
        "--fastv-ratio",
        type=float,
        default=None,
        help=f"FastV: fraction of the visual tokens KEPT (default {fastv.DEFAULT_RATIO}; the "
        "FastV paper's R is the fraction pruned, 1 - this)",
    )
    group.add_argument(
        "--pdrop-layers",
        type=_layers,
        default=None,
        help="PDrop: stage boundaries, drop after these layers (default "
        f"{','.join(map(str, pdrop.DEFAULT_LAYERS))})",
    )
    group.add_argument(
        "--pdrop-lambda",
        type=float,
        default=None,
        help=f"PDrop: fraction of the visual tokens kept at each boundary (default "
        f"{pdrop.DEFAULT_LAMBDA})",
    )
    group.add_argument(
        "--keep-ratio",
        type=float,
        default=None,
        help="random / grid: fraction of the visual tokens kept at each pruning layer "
        f"(default {random_pruning.DEFAULT_RATIO})",
    )
    group.add_argument(
        "--random-seed",
        type=int,
        default=None,
        help="random: seed; each sample draws from (seed, its prompt length, the layer) "
        f"(default {random_pruning.DEFAULT_SEED})",
    )


def selected_method(args: argparse.Namespace) -> str:
    """The method the flags name; `--sparse` is the seed's alias for sparsevlm."""
    method = getattr(args, "pruning_method", None)
    if args.sparse:
        if method not in (None, "sparsevlm"):
            raise ValueError(f"--sparse means --pruning-method sparsevlm; drop it to use {method}")
        return "sparsevlm"
    return method or "dense"


def _refuse_foreign_flags(
    args: argparse.Namespace, method: str, allowed: str | None = None
) -> None:
    """A ValueError for a flag of another method (`allowed`: whose flags pass, default `method`)."""
    own = METHOD_FLAGS.get(allowed or method, {})
    for owner, flags in METHOD_FLAGS.items():
        for dest, flag in flags.items():
            if dest not in own and getattr(args, dest, None) is not None:
                raise ValueError(
                    f"{flag} is a setting of --pruning-method {owner}, not of {method}"
                )
    if method in ("fastv", "pdrop") and args.pruning_layers is not None:
        where = "--fastv-k" if method == "fastv" else "--pdrop-layers"
        raise ValueError(f"--pruning-layers does not apply to {method}: use {where}")


def _solved_or_given(args: argparse.Namespace, given, flag: str, default: float, layers, depth, v):
    """The keep ratio: the given flag, or solved from --retained-tokens, or the default."""
    if args.retained_tokens is None:
        return default if given is None else given
    if given is not None:
        raise ValueError(f"give either --retained-tokens or {flag}, not both")
    return solve_keep_ratio(args.retained_tokens, layers, depth, v)


def visual_tokens(model) -> int:
    """The image's visual tokens for this model (576 for LLaVA-1.5; a model without a vision
    tower, like the benchmark's, is taken as LLaVA-1.5)."""
    tower = model.get_vision_tower() if hasattr(model, "get_vision_tower") else None
    return tower.num_patches if tower is not None else LLAVA_VISUAL_TOKENS


def pruner_from_args(args: argparse.Namespace, model) -> Pruner:
    """The method the flags ask for, checked against the model's depth; --retained-tokens is
    solved on this model's depth and visual token count."""
    method = selected_method(args)
    depth, v = len(model.model.layers), visual_tokens(model)
    if method == "dense":
        # The seed ignored SparseVLM's flags without --sparse (the scripts rely on it for
        # --pruning-layers); the new flags and a token budget would be silently lost: refuse.
        _refuse_foreign_flags(args, "dense", allowed="sparsevlm")
        if args.retained_tokens is not None:
            raise ValueError("--retained-tokens needs a --pruning-method (dense keeps every token)")
        return NoPruning()
    _refuse_foreign_flags(args, method)
    if method == "sparsevlm":
        return _sparsevlm(args, model, depth, v)
    retained = args.retained_tokens
    if method == "fastv":
        k = fastv.DEFAULT_K if args.fastv_k is None else args.fastv_k
        if not 1 <= k <= depth:  # before solving: the layer must exist
            fastv.FastVConfig(k).check(depth)
        ratio = _solved_or_given(
            args, args.fastv_ratio, "--fastv-ratio", fastv.DEFAULT_RATIO, (k - 1,), depth, v
        )
        config, pruner = fastv.FastVConfig(k, ratio, retained), fastv.FastV
    elif method == "pdrop":
        layers = args.pdrop_layers or pdrop.DEFAULT_LAYERS
        pdrop.PDropConfig(layers).check(depth)
        if retained is not None and args.pdrop_layers is None and retained < min_pdrop(depth, v):
            raise ValueError(
                f"PDrop's default stages (after layers {list(pdrop.DEFAULT_LAYERS)}) keep all {v} "
                f"visual tokens up to layer {pdrop.DEFAULT_LAYERS[0]}: at least "
                f"{min_pdrop(depth, v):.0f} equivalent tokens. For {retained}, end the first "
                f"stage earlier, e.g. --pdrop-layers {','.join(map(str, BUDGET_LAYERS))}"
            )
        lam = _solved_or_given(
            args, args.pdrop_lambda, "--pdrop-lambda", pdrop.DEFAULT_LAMBDA, layers, depth, v
        )
        config, pruner = pdrop.PDropConfig(tuple(layers), lam, retained), pdrop.PDrop
    else:
        layers = args.pruning_layers or random_pruning.DEFAULT_LAYERS
        fastv.KeepSchedule(tuple(layers), 1.0).check(depth, "--pruning-layers", "--keep-ratio")
        ratio = _solved_or_given(
            args, args.keep_ratio, "--keep-ratio", random_pruning.DEFAULT_RATIO, layers, depth, v
        )
        if method == "random":
            seed = random_pruning.DEFAULT_SEED if args.random_seed is None else args.random_seed
            config = random_pruning.RandomConfig(tuple(layers), ratio, seed, retained)
            pruner = random_pruning.RandomPruning
        else:
            config, pruner = grid.GridConfig(tuple(layers), ratio, retained), grid.GridPruning
    config.check(depth)
    return pruner(config)


def min_pdrop(depth: int, v: int) -> float:
    """Fewest equivalent tokens PDrop's default stages can reach (everything kept before the
    first boundary, nothing after it)."""
    return (pdrop.DEFAULT_LAYERS[0]) * v / depth


def _sparsevlm(args: argparse.Namespace, model, depth: int, v: int) -> SparseVLM:
    version = args.sparse_version
    layers = {"layers": args.pruning_layers} if args.pruning_layers else {}
    inv_freq = model.model.rotary.inv_freq
    if version == "v1":
        if args.retained_tokens is not None:
            raise ValueError(
                "--retained-tokens selects a v1.5 / v2 preset; v1 is set by --scale and --bias "
                "(or pass --sparse-version v1.5)"
            )
        scale = DEFAULT_SCALE if args.scale is None else args.scale
        bias = DEFAULT_BIAS if args.bias is None else args.bias
        config = sparsevlm_v1(scale, bias, **layers)
        config.check(depth)
        return SparseVLM(config, inv_freq=inv_freq)
    if args.scale is not None or args.bias is not None:
        raise ValueError(f"--scale/--bias set v1's k; {version} uses --retained-tokens")
    retained = 192 if args.retained_tokens is None else args.retained_tokens
    make = sparsevlm_v15 if version == "v1.5" else sparsevlm_v2
    if retained in (V15_BUDGETS if version == "v1.5" else V2_BUDGETS):  # the reference's presets
        config = make(retained, **layers)
        config.check(depth)
        return SparseVLM(config, inv_freq=inv_freq)
    pruning_layers = args.pruning_layers or BUDGET_LAYERS
    make(**layers).check(depth)  # the layers must fit before budgets are solved for them
    solved = solve_sparsevlm_budgets(retained, version, pruning_layers, depth, v)
    config = make(retained, budgets=solved.budgets, **layers)
    config.check(depth)
    return SolvedSparseVLM(config, inv_freq, retained, solved.source)


class SolvedSparseVLM(SparseVLM):
    """SparseVLM v1.5 / v2 with budgets solved for a --retained-tokens that is not a preset;
    `describe()` also records the request and where the budgets came from."""

    def __init__(self, config, inv_freq, retained_tokens: int, source: str) -> None:
        super().__init__(config, inv_freq=inv_freq)
        self.retained_tokens, self.source = retained_tokens, source

    def describe(self) -> dict:
        return {
            **super().describe(),
            "retained_tokens_requested": self.retained_tokens,
            "budget_source": self.source,
        }
