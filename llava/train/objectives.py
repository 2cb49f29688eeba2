"""The training objectives of the demo model besides its answers, and the answer loss itself.

TowerHeads pretrains the vision tower (stage A); GroundingRecorder and AskedHeads carry stage
C's auxiliary targets, built per sample in `llava.train.data`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from llava.constants import IGNORE_INDEX
from llava.model.llava import LlavaLlamaForCausalLM
from llava.sparse.base import LayerHooks
from llava.synthetic import COLORS, WORDS
from llava.train.data import ASKED_LAYER, FOUND_LAYER, SHAPE_IDS, WORD_LAYERS, Sample


class TowerHeads(nn.Module):
    """Per-patch classifiers used only to pretrain the vision tower."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.colour = nn.Linear(width, len(COLORS) + 1)
        self.shape = nn.Linear(width, len(SHAPE_IDS) + 1)
        self.word = nn.Linear(width, len(WORDS) + 1)

    def loss(self, features: torch.Tensor, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        """Cross-entropy over all patches (class -1, no object, is each head's last class) plus
        cross-entropy over the object patches alone: objects cover a few percent of the image,
        and averaged over all patches their shapes, which a patch can only tell by looking at
        its neighbours, hardly weigh in the loss. Returns the loss and, per head, the accuracy
        on object patches."""
        total, accuracy = 0.0, {}
        for head, key in ((self.colour, "colour"), (self.shape, "shape"), (self.word, "word")):
            logits = head(features)  # (B, 576, classes)
            target = batch[key].clone()
            target[target < 0] = logits.shape[-1] - 1
            total = total + F.cross_entropy(logits.flatten(0, 1), target.flatten())
            on_object = batch[key] >= 0
            if on_object.any():
                total = total + F.cross_entropy(logits[on_object], target[on_object])
                hits = logits.argmax(-1)[on_object] == target[on_object]
                accuracy[key] = hits.float().mean().item()
        return total, accuracy


def pair_directions(colour_rows: torch.Tensor, shape_rows: torch.Tensor) -> torch.Tensor:
    """(colours x shapes, D): each colour-and-shape pair's embedding sum, unit length, colour
    major (the pair of colour c and shape s is row c * len(shape_rows) + s)."""
    return F.normalize((colour_rows[:, None] + shape_rows[None]).flatten(0, 1), dim=-1)


class ProjectorAlignment(nn.Module):
    """Stage B's targets for each patch's projector output, from the decoder's word embeddings
    of the colours, shapes and words (rows in COLORS / SHAPE_IDS / WORDS order):
    - regression onto the sum of its object's colour, shape and word embeddings (zero for no
      object), which keeps the outputs at the embeddings' scale;
    - for object patches, classification of the object's colour and shape among all pairs by
      cosine similarity with each pair's embedding sum. The decoder compares directions (its
      layers normalise their input), and regression alone leaves an object's patch nearly as
      close to a pair sharing one attribute as to its own: the own pair came first on 74% of
      object patches, 86% with this term; a question's "red circle" can then be matched to the
      red circles' patches (`llava.train.train_demo.init_lookup_heads`).
    Background patches are left out of the classification: pushed away from every pair, these
    95% of the patches made SparseVLM's raters (chosen by their similarity to all visual
    tokens at layer 0) anything but the question's colour and shape words.
    """

    def __init__(self, colour_rows: torch.Tensor, shape_rows: torch.Tensor,
                 word_rows: torch.Tensor, sharpness: float = 10.0) -> None:  # fmt: skip
        super().__init__()
        self.register_buffer("colour_rows", colour_rows)
        self.register_buffer("shape_rows", shape_rows)
        self.register_buffer("word_rows", word_rows)
        self.register_buffer("pairs", pair_directions(colour_rows, shape_rows))
        self.sharpness = sharpness

    def loss(self, projected: torch.Tensor, batch: dict) -> torch.Tensor:
        """projected (B, 576, D); batch as `collate` gives it."""
        target = torch.zeros_like(projected)
        for rows, key in ((self.colour_rows, "colour"), (self.shape_rows, "shape"),
                          (self.word_rows, "word")):  # fmt: skip
            present = batch[key] >= 0
            target[present] += rows[batch[key][present]]
        # Relative to the embeddings' scale, so the loss reads the same at any init.
        regression = F.mse_loss(projected, target) / self.colour_rows.pow(2).mean()
        on_object = batch["colour"] >= 0
        if not on_object.any():
            return regression
        logits = self.sharpness * F.normalize(projected[on_object], dim=-1) @ self.pairs.T
        pair = batch["colour"][on_object] * len(self.shape_rows) + batch["shape"][on_object]
        return regression + F.cross_entropy(logits, pair)


LOOKUP = "lookup"  # the key of the looking-up row's hidden state in `asked_hidden`


class AskedHeads(nn.Module):
    """Linear read-outs, used only in training, from the last question token's hidden state:
    the colour and shape the question names after ASKED_LAYER, and whether the image holds
    such an object after FOUND_LAYER; the latter also right after looking, from the shape
    word of "colour shape" (`Sample.lookup_row`). They make what the question asks, then what
    the image answered, weigh in those tokens' residual streams, where the reply can read
    them."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.colour = nn.Linear(width, len(COLORS))
        self.shape = nn.Linear(width, len(SHAPE_IDS))
        self.found = nn.Linear(width, 2)
        self.found_at_lookup = nn.Linear(width, 2)

    def loss(self, hidden: dict, samples: list[Sample]) -> torch.Tensor:
        """hidden: layer -> (B, D), the last question token of each sample after that layer,
        and LOOKUP -> (B, D), each sample's `lookup_row` (if any) after the last WORD_LAYERS."""
        targets = (
            (self.colour, ASKED_LAYER, [s.asked[1] for s in samples]),
            (self.shape, ASKED_LAYER, [s.asked[2] for s in samples]),
            (self.found, FOUND_LAYER, [s.found for s in samples]),
            (self.found_at_lookup, LOOKUP, [s.found if s.lookup_row >= 0 else -1 for s in samples]),
        )
        losses = [
            F.cross_entropy(head(hidden[layer]), torch.tensor(target), ignore_index=-1)
            for head, layer, target in targets
            if max(target) >= 0
        ]
        return torch.stack(losses).mean() if losses else torch.zeros(())


class GroundingRecorder(LayerHooks):
    """A no-op 'pruner' that collects, through the same probe pruning methods use, the
    attention rows the grounding targets are about."""

    name = "grounding"
    renumbers_positions = False

    def __init__(self, samples: list[Sample]) -> None:
        self.samples = samples
        self.rows = sorted({g.row for s in samples for g in s.grounding})
        self.layers = {layer for s in samples for g in s.grounding for layer in g.layers}
        self.attention: dict[int, torch.Tensor] = {}  # layer -> (B, heads, rows, N)
        self.asked_hidden: dict = {}  # layer (or LOOKUP) -> (B, D)
        self.records: list = []

    def start(self, state, num_layers):
        return self

    def after_layer(self, layer_idx, state, probe):
        if layer_idx in self.layers:
            self.attention[layer_idx] = probe.rows(torch.tensor(self.rows))
        if layer_idx in (ASKED_LAYER, FOUND_LAYER):
            rows = torch.tensor([s.asked[0] for s in self.samples])
            self.asked_hidden[layer_idx] = state.hidden[torch.arange(len(rows)), rows]
        if layer_idx == WORD_LAYERS[-1]:
            rows = torch.tensor([max(s.lookup_row, 0) for s in self.samples])
            self.asked_hidden[LOOKUP] = state.hidden[torch.arange(len(rows)), rows]
        return state

    def loss(self, samples: list[Sample]) -> torch.Tensor:
        """-log(attention mass on each target's columns), averaged over targets and layers."""
        losses = []
        for batch_row, sample in enumerate(samples):
            for target in sample.grounding:
                row = self.rows.index(target.row)
                for layer in target.layers:
                    heads = self.attention[layer][batch_row, :, row]
                    attention = heads.mean(0) if target.head is None else heads[target.head]
                    losses.append(-torch.log(attention[target.columns].sum() + 1e-6))
        return torch.stack(losses).mean() if losses else torch.zeros(())


def answer_loss(model: LlavaLlamaForCausalLM, hidden: torch.Tensor, labels: torch.Tensor):
    logits = model.logits(hidden[:, :-1])
    return F.cross_entropy(logits.flatten(0, 1), labels[:, 1:].flatten(), ignore_index=IGNORE_INDEX)
