"""The pruning methods: each is one module of `llava.sparse` ending with `METHOD = Method(...)`.

A `Method` declares everything the rest of the project needs: its command-line flags, how it is
built from them (solving `--retained-tokens N` on the model's shape), where it prunes, its source,
and its scoring-layer variants for the accuracy testbed. The CLI (`llava.eval.pruning_args`), the
demo, the efficiency report and the contract tests iterate `methods()`; adding a method is one
module plus its name in `METHOD_MODULES`.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import import_module

from llava.sparse.base import NoPruning, Pruner

# In table order. Modules are imported on first use.
METHOD_MODULES = (
    "sparsevlm",
    "fastv",
    "pdrop",
    "pdrop_after",
    "visionzip",
    "dart",
    "mmr",
    "random",
    "grid",
)
STAGES = ("none", "pre-LLM", "before layers", "after layers")


# Token counts are stated for LLaVA-1.5's image: 24 x 24 patches (the papers' 192 / 128 / 64).
REFERENCE_VISUAL_TOKENS = 576


@dataclass(frozen=True)
class ModelShape:
    """What budget solving needs to know of a model, and of the image when its token count
    varies (LLaVA-NeXT, Qwen-VL: a method is then built for each sample, see `PerSampleBudgets`).

    The convention: on LLaVA-1.5 (a fixed 576 tokens, `reference_tokens` None) a token count is
    a count. Where the count varies, `--retained-tokens N` and a method's token presets and
    defaults mean the same fraction of each image's own visual tokens as of LLaVA-1.5's 576:
    N / 576 of them (`tokens`), so "64" keeps 1/9 of a LLaVA-NeXT image as of a LLaVA-1.5 one.
    Counts a method's own flags give (--dart-tokens, VisionZip's per-crop counts) are taken as
    given."""

    num_layers: int
    visual_tokens: int  # this image's visual tokens (576 for LLaVA-1.5)
    reference_tokens: int | None = None  # REFERENCE_VISUAL_TOKENS where the count varies
    family: str = "llava-1.5"  # llava-1.5, llava-next or qwen-vl

    def tokens(self, count: float) -> float:
        """A token count stated for LLaVA-1.5's image, for this one (see the class)."""
        if self.reference_tokens is None:
            return count
        return count * self.visual_tokens / self.reference_tokens


@dataclass(frozen=True)
class Flag:
    """A method's own command-line flag. Its default is None: given or not is then known, and
    a flag of another method is refused instead of silently ignored."""

    flag: str
    type: Callable
    help: str
    choices: tuple | None = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class Method:
    name: str  # --pruning-method NAME
    summary: str  # one line: what it keeps and how
    source: str  # where the rule and its presets come from
    stage: str  # one of STAGES: where in the model it prunes
    build: Callable[[argparse.Namespace, ModelShape], Pruner]
    flags: tuple[Flag, ...] = ()
    uses_pruning_layers: bool = False  # accepts the shared --pruning-layers
    # Variants with other scoring layers, for the testbed: name -> extra flags. Every method has
    # "default" (its published layers).
    variants: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: {"default": ()})

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"method {self.name}: stage {self.stage!r} is not one of {STAGES}")
        if "default" not in self.variants:
            raise ValueError(f"method {self.name}: its variants need a 'default'")

    def flags_for(self, retained_tokens: int | None, variant: str = "default") -> list[str]:
        """The command-line flags of this method (at `retained_tokens` equivalent tokens)."""
        if variant not in self.variants:
            raise ValueError(
                f"{self.name} has no variant {variant!r}; variants: {', '.join(self.variants)}"
            )
        flags = ["--pruning-method", self.name, *self.variants[variant]]
        if retained_tokens is not None:
            flags += ["--retained-tokens", str(retained_tokens)]
        return flags


DENSE = Method(
    name="dense",
    summary="no pruning: LLaVA as trained",
    source="LLaVA-1.5 (Liu et al., arXiv 2310.03744)",
    stage="none",
    build=lambda args, shape: NoPruning(),
)


def methods() -> dict[str, Method]:
    """Every registered method by name, dense first, in table order."""
    entries = [import_module(f"llava.sparse.{name}").METHOD for name in METHOD_MODULES]
    return {DENSE.name: DENSE, **{entry.name: entry for entry in entries}}


def get_method(name: str) -> Method:
    registered = methods()
    if name not in registered:
        raise ValueError(f"unknown pruning method {name!r}; registered: {', '.join(registered)}")
    return registered[name]


class PerSampleBudgets:
    """A method on a family whose images have different token counts: built anew (with its
    budgets solved) for each sample's image, through the method's own `build` on that image's
    `ModelShape`. Settings are checked once at the reference shape (576 tokens), so bad flags
    fail before any question is answered; what is recorded is the reference build's settings
    and the convention, each answer's records holding its own decisions."""

    def __init__(self, method: Method, args: argparse.Namespace, num_layers: int, family: str):
        self.method, self.args, self.num_layers, self.family = method, args, num_layers, family
        self.reference = self._build(REFERENCE_VISUAL_TOKENS)
        self.name = self.reference.name
        self.vision_request = self.reference.vision_request
        self._built: dict[int, Pruner] = {REFERENCE_VISUAL_TOKENS: self.reference}

    def _build(self, visual_tokens: int) -> Pruner:
        shape = ModelShape(self.num_layers, visual_tokens, REFERENCE_VISUAL_TOKENS, self.family)
        return self.method.build(self.args, shape)

    def describe(self) -> dict:
        return {
            **self.reference.describe(),
            "budget": f"per image: token counts are fractions of {REFERENCE_VISUAL_TOKENS}",
        }

    def start(self, state, num_layers: int):
        visual = state.num_visual
        if visual and visual not in self._built:
            self._built[visual] = self._build(visual)
        return self._built.get(visual, self.reference).start(state, num_layers)


def build_pruner(
    method: Method,
    args: argparse.Namespace,
    num_layers: int,
    visual_tokens: int | None,
    family: str = "llava-1.5",
) -> Pruner:
    """The method for a model of `num_layers` whose images have `visual_tokens` each, or a
    varying count (None: one build per image, see `ModelShape`)."""
    if visual_tokens is None:
        return PerSampleBudgets(method, args, num_layers, family)
    return method.build(args, ModelShape(num_layers, visual_tokens, family=family))


# --------------------------------------------------------------------- checks shared by methods


def layer_list(text: str) -> tuple[int, ...]:
    """`--...-layers 2,6,15` -> (2, 6, 15); empty or malformed is a usage error."""
    try:
        layers = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        layers = ()
    if not layers:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated 0-based layer indices such as 2,6,15, got {text!r}"
        )
    return layers


def finite_number(value: float, flag: str, low: float, high: float, low_open: bool = False):
    """`value` if it is a finite number in [low, high] ((low, high] with `low_open`), else a
    ValueError naming the flag."""
    inside = low < value if low_open else low <= value
    if not math.isfinite(value) or not inside or value > high:
        bracket = "(" if low_open else "["
        raise ValueError(f"{flag} must be a finite number in {bracket}{low}, {high}], got {value}")
    return value


def check_layers(layers: tuple[int, ...], num_layers: int, flag: str) -> None:
    """Pruning layers: non-empty, distinct, increasing and inside the model."""
    if not layers or list(layers) != sorted(set(layers)):
        raise ValueError(f"{flag}: layers must be distinct and increasing, got {list(layers)}")
    if layers[0] < 0 or layers[-1] >= num_layers:
        raise ValueError(
            f"{flag}: layers {list(layers)} do not fit a model with {num_layers} layers "
            f"(valid: 0..{num_layers - 1})"
        )


def given_or_solved(args: argparse.Namespace, dest: str, flag: str, default, solve: Callable):
    """A method parameter: the flag's value, or solved from --retained-tokens, or the default;
    both at once is an error."""
    given = getattr(args, dest, None)
    if args.retained_tokens is None:
        return default if given is None else given
    if given is not None:
        raise ValueError(f"give either --retained-tokens or {flag}, not both")
    return solve(args.retained_tokens)


def describe_request(settings: dict, retained_tokens: int | None) -> dict:
    """A method's recorded settings, with the --retained-tokens request when there was one."""
    if retained_tokens is not None:
        settings["retained_tokens_requested"] = retained_tokens
    return settings
