"""The pruning seam: the token state a prefill carries, the probes, and the method contract.

A method is a `Pruner`; for each sample it starts a `PruningRun`, which may change the sequence
at three points of the prefill (decode steps never prune):
- `before_llm(state, vision)`: before layer 0, with what the vision tower can tell (its CLS
  attention and keys, computed only when the method asks through `vision_request`): pre-LLM
  methods such as VisionZip select and merge the image's tokens here;
- `before_layer(l, state, probe)`: before layer l runs, with a probe of the attention layer l
  would compute (PyramidDrop ranks with the layer's own queries and keys, then drops);
- `after_layer(l, state, probe)`: after layer l ran, with a probe of the attention it computed
  (SparseVLM, FastV).
A run changes the sequence only through `TokenState.select` / `insert` / `with_visual`, which move
hidden states, RoPE positions, roles and origins together; returning `state` itself means
"unchanged". Runs see one sample (batch size 1, no padding); `PerSampleRuns` applies them to a
batch row by row, so each sample is pruned by its own decisions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

import torch

from llava.sparse.positions import pad_positions, renumber

# Token roles. Visual tokens are the image's rows (and tokens merged from them); text is
# everything after the image (question and the template's " ASSISTANT:"); system is everything
# before it (BOS, system prompt, "USER: "). PAD fills a batch row up to the longest row.
SYSTEM, VISUAL, TEXT, PAD = 0, 1, 2, 3
MERGED = -1  # `origin` of a token that a method created (not a prompt token)


@dataclass(frozen=True)
class ImageLayout:
    """Where an image's visual tokens lie, in prompt order: `cells[i]` = (grid, row, column) of
    visual token i in `grids[grid]` = (rows, columns). LLaVA-1.5 and Qwen-VL have one grid;
    LLaVA-NeXT two, the base image's and the tiles' (unpadded, with its image-newline rows as
    one more column: `separator` marks them)."""

    grids: tuple[tuple[int, int], ...]
    cells: torch.Tensor  # (V, 3) long
    separator: torch.Tensor  # (V,) bool: LLaVA-NeXT's image-newline rows

    @staticmethod
    def raster(rows: int, columns: int) -> ImageLayout:
        """One rows x columns grid in raster order."""
        grid = torch.arange(rows * columns)
        cells = torch.stack((torch.zeros_like(grid), grid // columns, grid % columns), dim=1)
        return ImageLayout(((rows, columns),), cells, torch.zeros(rows * columns, dtype=torch.bool))


@dataclass(frozen=True)
class TokenState:
    hidden: torch.Tensor  # (B, N, D)
    positions: torch.Tensor  # (B, N) RoPE positions, or (B, 3, N) for multimodal RoPE (Qwen-VL)
    roles: torch.Tensor  # (B, N) SYSTEM / VISUAL / TEXT / PAD
    origin: torch.Tensor  # (B, N) index of the token in the original prompt, or MERGED
    # Where the image's dense visual tokens lie (indexed by their order in the prompt, as the
    # methods' labels are), carried unchanged through pruning; None without an image, and on a
    # batch (each row's state from `prepare_samples` has its own).
    layout: ImageLayout | None = None

    @property
    def num_tokens(self) -> int:
        return self.hidden.shape[1]

    @property
    def num_visual(self) -> int:
        """Visual tokens of a one-sample state (what a method sees)."""
        self._one_sample()
        return int((self.roles[0] == VISUAL).sum())

    def visual_index(self) -> torch.Tensor:
        """(Nv,) sequence indices of the visual tokens, in sequence order (one sample)."""
        self._one_sample()
        return (self.roles[0] == VISUAL).nonzero().squeeze(1)

    def text_index(self) -> torch.Tensor:
        self._one_sample()
        return (self.roles[0] == TEXT).nonzero().squeeze(1)

    def _one_sample(self) -> None:
        if self.hidden.shape[0] != 1:
            raise ValueError(
                f"this state holds {self.hidden.shape[0]} samples; methods see one sample at a "
                "time (PerSampleRuns splits a batch)"
            )

    def with_hidden(self, hidden: torch.Tensor) -> TokenState:
        return replace(self, hidden=hidden)

    def select(self, index: torch.Tensor) -> TokenState:
        """Keep the tokens at sequence indices `index` (N',), in that order."""
        return TokenState(
            hidden=self.hidden[:, index.to(self.hidden.device)],
            positions=self.positions[..., index.to(self.positions.device)],
            roles=self.roles[:, index.to(self.roles.device)],
            origin=self.origin[:, index.to(self.origin.device)],
            layout=self.layout,
        )

    def insert(self, at: int, hidden: torch.Tensor) -> TokenState:
        """Insert new visual tokens (B, M, D) before sequence index `at`.

        They take the RoPE position of the token before them, or of the first token when
        inserted at the start (a method that inserts tokens renumbers positions afterwards, so
        this only keeps the tensor well formed).
        """
        batch, count = hidden.shape[0], hidden.shape[1]

        def splice(old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
            return torch.cat((old[:, :at], new, old[:, at:]), dim=1)

        def splice_last(old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
            return torch.cat((old[..., :at], new, old[..., at:]), dim=-1)

        before = max(at - 1, 0)
        new_positions = self.positions[..., before : before + 1]
        new_positions = new_positions.expand(*new_positions.shape[:-1], count)
        fill = torch.zeros(batch, count, dtype=self.roles.dtype, device=self.roles.device)
        return TokenState(
            hidden=splice(self.hidden, hidden.to(self.hidden.dtype)),
            positions=splice_last(self.positions, new_positions),
            roles=splice(self.roles, fill + VISUAL),
            origin=splice(self.origin, torch.full_like(fill, MERGED, dtype=self.origin.dtype)),
            layout=self.layout,
        )

    def with_visual(self, rows: torch.Tensor, origin: torch.Tensor) -> TokenState:
        """Replace the visual tokens (one contiguous block, before any layer ran) by `rows`
        (1, M, D) whose prompt origins are `origin` (M,) (MERGED for made ones); positions are
        renumbered, as for a prompt that simply had fewer image tokens."""
        vis = self.visual_index()
        start, end = int(vis[0]), int(vis[-1]) + 1
        count = rows.shape[1]

        def splice(old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
            return torch.cat((old[:, :start], new, old[:, end:]), dim=1)

        visual_roles = torch.full(
            (1, count), VISUAL, dtype=self.roles.dtype, device=self.roles.device
        )
        positions = self.positions
        placeholders = positions.new_zeros(*positions.shape[:-1], count)  # renumbered below
        state = TokenState(
            hidden=splice(self.hidden, rows.to(self.hidden.device, self.hidden.dtype)),
            positions=torch.cat((positions[..., :start], placeholders, positions[..., end:]), -1),
            roles=splice(self.roles, visual_roles),
            origin=splice(self.origin, origin.to(self.origin.device)[None]),
            layout=self.layout,
        )
        return state.renumbered()

    def renumbered(self) -> TokenState:
        """The "renumber" policy (SparseVLM v1, PyramidDrop): 1-D positions become 0..N-1 in
        sequence order; 3-D ones are compacted without moving image patches relative to each
        other (`llava.sparse.positions`)."""
        patch = (self.roles == VISUAL) & (self.origin != MERGED)
        return replace(self, positions=renumber(self.positions, patch))

    # -- batches: right-padded rows ------------------------------------------------------------

    def lengths(self) -> list[int]:
        """Tokens of each row, padding excluded (rows are right-padded)."""
        return (self.roles != PAD).sum(dim=1).tolist()

    def row(self, r: int) -> TokenState:
        """Sample r without its padding (the state itself for an unpadded one-sample batch)."""
        n = int((self.roles[r] != PAD).sum())
        if self.hidden.shape[0] == 1 and n == self.num_tokens:
            return self
        return TokenState(
            self.hidden[r : r + 1, :n],
            self.positions[r : r + 1, ..., :n],
            self.roles[r : r + 1, :n],
            self.origin[r : r + 1, :n],
        )

    @staticmethod
    def stack(rows: list[TokenState]) -> TokenState:
        """One-sample states -> a batch, each row right-padded (zeros, role PAD) to the longest."""
        if len(rows) == 1:
            return rows[0]
        width = max(row.num_tokens for row in rows)

        def pad(tensor: torch.Tensor, value) -> torch.Tensor:
            missing = width - tensor.shape[1]
            if missing == 0:
                return tensor
            shape = (1, missing, *tensor.shape[2:])
            return torch.cat((tensor, tensor.new_full(shape, value)), dim=1)

        def pad_last(positions: torch.Tensor) -> torch.Tensor:
            missing = width - positions.shape[-1]
            return torch.cat((positions, pad_positions(positions, missing)), dim=-1)

        return TokenState(
            hidden=torch.cat([pad(r.hidden, 0) for r in rows]),
            positions=torch.cat([pad_last(r.positions) for r in rows]),
            roles=torch.cat([pad(r.roles, PAD) for r in rows]),
            origin=torch.cat([pad(r.origin, MERGED) for r in rows]),
        )


@dataclass
class PruneRecord:
    """One pruning step's decision, whatever the method. Visual tokens are labelled by their
    index in the image (0..V-1) or, when made by merging, "m<layer>.<cluster>" (a pre-LLM
    method's merged tokens: "m-1.<i>"). `layer` is the layer after which (or, for methods
    acting before a layer, before which: see `before`) the step applies; -1 for pre-LLM."""

    layer: int
    visual_in: int
    rank: int | None  # SparseVLM v1 only
    k: int  # visual tokens kept by score
    pruned: bool  # False when the step kept everything (SparseVLM v1: Nv == rank)
    scores: torch.Tensor  # (visual_in,) float32
    kept: list = field(default_factory=list)  # labels, in sequence order
    clusters: list[list] = field(default_factory=list)  # member labels of each merged token
    before: bool = False  # True: applied before `layer` ran (pre-layer methods)

    @property
    def visual_out(self) -> int:
        return len(self.kept) + len(self.clusters)


@dataclass(frozen=True)
class VisionRequest:
    """What a pre-LLM method needs from the vision tower's selected layer (computed only then)."""

    cls_attention: bool = False  # the CLS token's attention over all tokens, per head
    keys: bool = False  # the keys of every token, per head


@dataclass(frozen=True)
class VisionExtras:
    """The vision tower's view of one image, for `before_llm`: per crop, token 0 is CLS, then
    the patches in raster order. LLaVA-1.5 has one crop (the state's visual tokens are its
    projected patches); LLaVA-NeXT the whole image then the tiles of a `tile_grid` (rows,
    columns), whose state rows are the whole image's patches and the tiles' unpadded grid."""

    features: torch.Tensor  # (C, 1 + P, F) hidden state of the selected layer, CLS included
    project: Callable[[torch.Tensor], torch.Tensor]  # (1, M, F) features -> (1, M, D) rows
    cls_attention: torch.Tensor | None = None  # (C, H, 1 + P) softmax row of the CLS query
    keys: torch.Tensor | None = None  # (C, H, 1 + P, head_dim) keys of the selected layer
    tile_grid: tuple[int, int] | None = None  # LLaVA-NeXT: the tiles after the whole image
    # LLaVA-NeXT: (row start, row stop, column start, column stop) of the tiles' feature grid
    # that unpadding kept: the dense prompt's tile rows
    tile_window: tuple[int, int, int, int] | None = None


class AttentionProbe(Protocol):
    """The attention of one decoder layer, computed only on request.

    After layer l ran (`after_layer`): what layer l computed over the sequence it ran on. Before
    layer l runs (`before_layer`): what layer l would compute over the current sequence (its
    input norm, its query/key projections and RoPE at the current positions).
    """

    positions: torch.Tensor  # (B, N) RoPE positions of the sequence, or (B, 3, N)
    inv_freq: torch.Tensor  # (head_dim / 2,) RoPE frequencies of the decoder
    # (head_dim / 2,) the position axis (time, height, width) each frequency rotates by, for
    # multimodal RoPE (3-D positions); None for plain RoPE.
    rope_axes: torch.Tensor | None

    def rows(self, rows: torch.Tensor) -> torch.Tensor:
        """(B, H, R, N) float32 post-softmax causal attention of the query tokens at sequence
        indices `rows` over every key. The main pass never builds the N x N matrix."""
        ...

    def keys(self) -> torch.Tensor:
        """(B, H_kv, N, head_dim) the layer's keys, RoPE applied."""
        ...

    def output_norm(self, hidden: torch.Tensor) -> torch.Tensor:
        """The decoder's final norm (the one before the LM head) applied to `hidden`."""
        ...

    def row(self, r: int, length: int) -> AttentionProbe:
        """The probe of batch row r, restricted to its first `length` tokens."""
        ...


class PruningRun:
    """One prefill of a method for one sample; it may keep state (raters, labels, records).

    Every hook defaults to "unchanged"; a method overrides the ones it needs.
    """

    renumbers_positions = False  # True: positions 0..n-1 after each change; False: keep them

    def __init__(self) -> None:
        self.records: list[PruneRecord] = []

    def before_llm(self, state: TokenState, vision: VisionExtras | None) -> TokenState:
        return state

    def before_layer(self, layer_idx: int, state: TokenState, probe: AttentionProbe) -> TokenState:
        return state

    def after_layer(self, layer_idx: int, state: TokenState, probe: AttentionProbe) -> TokenState:
        return state


class Pruner(Protocol):
    """A configured method. `start` is called with each sample's layer-0 input state (image rows
    spliced in, before `before_llm`) and the model's depth; settings that do not fit the depth
    raise a ValueError there."""

    name: str
    vision_request: VisionRequest | None  # what `before_llm` needs from the tower, if anything

    def describe(self) -> dict:
        """The method and its settings, as recorded with every answer."""
        ...

    def start(self, state: TokenState, num_layers: int) -> PruningRun: ...


class NoPruning:
    """Dense LLaVA: the loop runs unchanged."""

    name = "dense"
    vision_request = None

    def describe(self) -> dict:
        return {"method": self.name}

    def start(self, state: TokenState, num_layers: int) -> PruningRun:
        return PruningRun()


class LayerHooks:
    """What the decoder loop calls around each layer, for a whole batch. Default: nothing."""

    def before_layer(self, layer_idx: int, state: TokenState, probe: AttentionProbe) -> TokenState:
        return state

    def after_layer(self, layer_idx: int, state: TokenState, probe: AttentionProbe) -> TokenState:
        return state


class PerSampleRuns(LayerHooks):
    """A batch's pruning: row r of the batch goes through runs[r] alone, unpadded, so every
    sample is pruned by its own decisions exactly as at batch size 1. Rows a run changed are
    renumbered if the run's policy says so; the batch is re-padded only when something changed.
    """

    def __init__(self, runs: list[PruningRun]) -> None:
        self.runs = runs

    def before_layer(self, layer_idx: int, state: TokenState, probe: AttentionProbe) -> TokenState:
        return self._each(state, probe, lambda run, s, p: run.before_layer(layer_idx, s, p))

    def after_layer(self, layer_idx: int, state: TokenState, probe: AttentionProbe) -> TokenState:
        return self._each(state, probe, lambda run, s, p: run.after_layer(layer_idx, s, p))

    def _each(self, state: TokenState, probe: AttentionProbe, call) -> TokenState:
        rows, changed = [], False
        for r, run in enumerate(self.runs):
            row = state.row(r)
            new = call(run, row, probe.row(r, row.num_tokens) if len(self.runs) > 1 else probe)
            if new is not row:
                changed = True
                new = new.renumbered() if run.renumbers_positions else new
            rows.append(new)
        return TokenState.stack(rows) if changed else state


@dataclass
class PrefillStats:
    """What the decoder loop actually ran for one sample, and the dense reference."""

    tokens_in: list[int]  # sequence length entering each layer
    visual_in: list[int]  # visual tokens entering each layer
    visual_out: list[int]  # visual tokens leaving each layer (after the method acted)
    records: list  # the method's decisions, one PruneRecord per pruning step
    image_tokens: int  # the image's visual tokens before any pruning (pre-LLM included)
    dense_prompt_tokens: int  # the prompt's length before any pruning
    image_newline_tokens: int = 0  # LLaVA-NeXT: image-newline rows among image_tokens
