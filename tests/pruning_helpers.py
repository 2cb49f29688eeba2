"""Test doubles for the pruning seam, shared by the model, sparse and baseline tests: a probe
answering from a function, and a spy around a pruner that records what each hook saw."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from llava.sparse.base import PruningRun, TokenState


class FunctionProbe:
    """An AttentionProbe whose rows come from `rows_of(rows) -> (B, H, R, N)`; remembers the rows
    it was asked for. Keys, positions and RoPE frequencies as given."""

    def __init__(
        self,
        rows_of: Callable[[torch.Tensor], torch.Tensor],
        positions: torch.Tensor | None = None,
        inv_freq: torch.Tensor | None = None,
        keys: torch.Tensor | None = None,
        output_norm: Callable[[torch.Tensor], torch.Tensor] = lambda hidden: hidden,
    ) -> None:
        self._rows_of, self._keys, self._output_norm = rows_of, keys, output_norm
        self.positions, self.inv_freq = positions, inv_freq
        self.rope_axes = None
        self.asked: list[list[int]] = []

    def rows(self, rows: torch.Tensor) -> torch.Tensor:
        self.asked.append(rows.tolist())
        return self._rows_of(rows)

    def keys(self) -> torch.Tensor:
        if self._keys is None:
            raise AssertionError("this test probe has no keys")
        return self._keys

    def output_norm(self, hidden: torch.Tensor) -> torch.Tensor:
        return self._output_norm(hidden)

    def row(self, r: int, length: int) -> FunctionProbe:
        return self


def clone_state(state: TokenState) -> TokenState:
    return TokenState(
        state.hidden.detach().clone(),
        state.positions.clone(),
        state.roles.clone(),
        state.origin.clone(),
        state.layout,
    )


@dataclass
class LayerView:
    """One hook call: the layer, the state it was given, what it returned, the probe."""

    layer: int
    before: TokenState
    after: TokenState
    probe: object
    hook: str = "after_layer"


@dataclass
class SpyRun(PruningRun):
    inner: PruningRun = None
    views: list[LayerView] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.renumbers_positions = self.inner.renumbers_positions
        self.records = self.inner.records

    def before_llm(self, state, vision):
        result = self.inner.before_llm(state, vision)
        self.views.append(LayerView(-1, clone_state(state), clone_state(result), vision, "llm"))
        return result

    def before_layer(self, layer_idx, state, probe):
        result = self.inner.before_layer(layer_idx, state, probe)
        if result is not state:
            view = LayerView(layer_idx, clone_state(state), clone_state(result), probe, "before")
            self.views.append(view)
        return result

    def after_layer(self, layer_idx, state, probe):
        result = self.inner.after_layer(layer_idx, state, probe)
        self.views.append(LayerView(layer_idx, clone_state(state), clone_state(result), probe))
        return result

    def after_views(self) -> list[LayerView]:
        return [view for view in self.views if view.hook == "after_layer"]


class Spy:
    """Wraps a pruner; every sample's run is recorded in `runs`."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.vision_request = inner.vision_request
        self.runs: list[SpyRun] = []

    def describe(self) -> dict:
        return self.inner.describe()

    def start(self, state: TokenState, num_layers: int) -> SpyRun:
        run = SpyRun(inner=self.inner.start(state, num_layers))
        self.runs.append(run)
        return run
