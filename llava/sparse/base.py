"""The pruning seam: the token state the decoder loop carries, the attention probe, the contract.

The decoder loop (``llava.model.llama.LlamaModel.run_layers``) calls a method once after each
layer during prefill: ``state = run.after_layer(layer_idx, state, probe)``. Decode steps never
call it. A method changes the sequence only through `TokenState.select` / `TokenState.insert`,
which move hidden states, RoPE positions, roles and origins together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

import torch

# Token roles. Visual tokens are the image's rows (and tokens merged from them); text is
# everything after the image (question and the template's " ASSISTANT:"); system is everything
# before it (BOS, system prompt, "USER: ").
SYSTEM, VISUAL, TEXT, PAD = 0, 1, 2, 3
MERGED = -1  # `origin` of a token that a method created (not a prompt token)


@dataclass(frozen=True)
class TokenState:
    hidden: torch.Tensor  # (B, N, D)
    positions: torch.Tensor  # (B, N) RoPE positions
    roles: torch.Tensor  # (B, N) SYSTEM / VISUAL / TEXT / PAD
    origin: torch.Tensor  # (B, N) index of the token in the original prompt, or MERGED

    @property
    def num_tokens(self) -> int:
        return self.hidden.shape[1]

    @property
    def num_visual(self) -> int:
        """Visual tokens in the sequence (batch row 0: batch size 1 is the pruning contract)."""
        return int((self.roles[0] == VISUAL).sum())

    def visual_index(self) -> torch.Tensor:
        """(Nv,) sequence indices of the visual tokens, in sequence order (batch row 0)."""
        return (self.roles[0] == VISUAL).nonzero().squeeze(1)

    def text_index(self) -> torch.Tensor:
        return (self.roles[0] == TEXT).nonzero().squeeze(1)

    def with_hidden(self, hidden: torch.Tensor) -> TokenState:
        return replace(self, hidden=hidden)

    def select(self, index: torch.Tensor) -> TokenState:
        """Keep the tokens at sequence indices `index` (N',), in that order."""
        return TokenState(
            hidden=self.hidden[:, index.to(self.hidden.device)],
            positions=self.positions[:, index.to(self.positions.device)],
            roles=self.roles[:, index.to(self.roles.device)],
            origin=self.origin[:, index.to(self.origin.device)],
        )

    def insert(self, at: int, hidden: torch.Tensor) -> TokenState:
        """Insert new visual tokens (B, M, D) before sequence index `at`.

        They take the RoPE position of the token before them, or of the first token when
        inserted at the start (a method that inserts tokens
        renumbers positions afterwards, so this only keeps the tensor well formed).
        """
        batch, count = hidden.shape[0], hidden.shape[1]

        def splice(old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
            return torch.cat((old[:, :at], new, old[:, at:]), dim=1)

        before = max(at - 1, 0)
        new_positions = self.positions[:, before : before + 1].expand(batch, count)
        return TokenState(
            hidden=splice(self.hidden, hidden.to(self.hidden.dtype)),
            positions=splice(self.positions, new_positions),
            roles=splice(
                self.roles, torch.full_like(new_positions, VISUAL, dtype=self.roles.dtype)
            ),
            origin=splice(self.origin, torch.full_like(new_positions, MERGED)),
        )

    def renumbered(self) -> TokenState:
        """Positions 0..N-1 in sequence order (SparseVLM v1's policy after each prune)."""
        n = self.num_tokens
        positions = torch.arange(n, device=self.positions.device).expand(self.positions.shape[0], n)
        return replace(self, positions=positions)


@dataclass
class PruneRecord:
    """One pruning layer's decision, whatever the method. Visual tokens are labelled by their
    index in the image (0..V-1) or, when merged, "m<layer>.<cluster>"."""

    layer: int
    visual_in: int
    rank: int | None  # SparseVLM v1 only
    k: int  # visual tokens kept by score
    pruned: bool  # False when the layer kept everything (SparseVLM v1: Nv == rank)
    scores: torch.Tensor  # (visual_in,) float32
    kept: list = field(default_factory=list)  # labels, in sequence order
    clusters: list[list] = field(default_factory=list)  # member labels of each merged token

    @property
    def visual_out(self) -> int:
        return len(self.kept) + len(self.clusters)


class AttentionProbe:
    """Attention rows of the layer that just ran, computed on request only.

    ``probe.rows(rows)`` gives softmax(q K^T / sqrt(d)) for the query tokens at sequence indices
    `rows` against every key the layer attended to (causal mask applied), per head:
    (B, H, R, N) in float32. The main pass never materialises the N x N matrix.
    """

    def __init__(self, compute: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self._compute = compute

    def rows(self, rows: torch.Tensor) -> torch.Tensor:
        return self._compute(rows)


class PruningRun(Protocol):
    """One prefill's worth of a method: it may keep per-sample state (e.g. raters)."""

    renumbers_positions: bool  # True: positions 0..n-1 after each prune; False: keep originals
    records: list  # the decisions made, one entry per pruning layer (for stats and tests)

    def after_layer(self, layer_idx: int, state: TokenState, probe: AttentionProbe) -> TokenState:
        """Return `state` itself to leave the sequence unchanged."""
        ...


class Pruner(Protocol):
    """A configured method. `start` is called with the layer-0 input state of each prefill and
    the model's depth (settings that do not fit it raise a ValueError there)."""

    name: str

    def describe(self) -> dict:
        """The method and its settings, as recorded with every answer."""
        ...

    def start(self, state: TokenState, num_layers: int) -> PruningRun: ...


class _Unchanged:
    renumbers_positions = False

    def __init__(self) -> None:
        self.records: list = []

    def after_layer(self, layer_idx: int, state: TokenState, probe: AttentionProbe) -> TokenState:
        return state


class NoPruning:
    """Dense LLaVA: the loop runs unchanged."""

    name = "dense"

    def describe(self) -> dict:
        return {"method": self.name}

    def start(self, state: TokenState, num_layers: int) -> PruningRun:
        return _Unchanged()
