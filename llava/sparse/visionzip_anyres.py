"""VisionZip on LLaVA-NeXT, as its code does it (dvlab-research/VisionZip @ 3151f6d,
visionzip/llava_arch.py, `prepare_inputs_labels_for_multimodal_visionzip` and
`restore_image_features_sorted`).

Every crop (the whole image, then the tiles) goes through VisionZip as a LLaVA-1.5 image does,
with the same counts: `dominant` (CLS included) + `contextual` tokens per crop. The image's rows
are then, in this order:
- the whole image's crop: its CLS, its dominant patches, its contextual tokens;
- the tiles' dominant patches (CLS excluded) placed on the tiles' full grid (rows x side by
  columns x side, not unpadded) and read in raster order of that grid;
- the tiles' CLS tokens, tile by tile; then the tiles' contextual tokens, tile by tile.
The reference adds no image-newline rows (its newline code is computed but unused) and does not
unpad; positions are contiguous. Published LLaVA-NeXT settings (paper, Table 2): 640 / 320 / 160
tokens for 5 crops, i.e. 128 / 64 / 32 per crop, so `--retained-tokens N` keeps N per crop.

Labels in the record: the dense image's visual index for a patch that the dense prompt has (the
whole image's patch p is p; a tile patch inside the unpadded window is its row-major index in
that grid, image-newline column included, after the whole image's rows); "t<tile>.<patch>" for a
tile patch in the padding the dense prompt left out; "cls" / "cls<tile>" for CLS tokens.
"""

from __future__ import annotations

import math

import torch

from llava.sparse.base import MERGED, PruneRecord, VisionExtras


class AnyresPlacement:
    """Where a tile's patch sits: on the tiles' full grid, and in the dense prompt if at all."""

    def __init__(self, vision: VisionExtras, patches: int) -> None:
        self.side = math.isqrt(patches)
        self.rows, self.columns = vision.tile_grid
        self.window = vision.tile_window  # (row start, row stop, column start, column stop)
        self.base = patches  # the whole image's rows come first in the dense image

    def full_grid_index(self, tile: int, patch: int) -> int:
        """Raster index of tile `tile`'s patch on the full (rows x side) x (columns x side) grid."""
        row = (tile // self.columns) * self.side + patch // self.side
        column = (tile % self.columns) * self.side + patch % self.side
        return row * self.columns * self.side + column

    def dense_label(self, tile: int, patch: int) -> int | str:
        """The patch's index among the dense image's visual tokens, or "t<tile>.<patch>" when
        unpadding left it out."""
        row = (tile // self.columns) * self.side + patch // self.side
        column = (tile % self.columns) * self.side + patch % self.side
        top, bottom, left, right = self.window
        if not (top <= row < bottom and left <= column < right):
            return f"t{tile}.{patch}"
        width = right - left + 1  # the image-newline column
        return self.base + (row - top) * width + (column - left)


def anyres_step(
    crops: list, vision: VisionExtras, config, num_visual: int
) -> tuple[torch.Tensor, list, PruneRecord]:
    """From each crop's `CropZip` (whole image first, then the tiles): the (M, F) features of
    the image's rows in the reference's order, each row's label (see the module; None for a
    contextual token), and the step's record."""
    patches = vision.features.shape[1] - 1
    place = AnyresPlacement(vision, patches)
    whole, tiles = crops[0], crops[1:]
    dominant = config.dominant
    contextual = [None] * config.contextual
    rows = [whole.rows]
    labels: list = ["cls", *(int(i) - 1 for i in whole.dominant[1:].tolist()), *contextual]
    clusters = [list(members) for members in whole.clusters]
    # the tiles' dominant patches on the full grid, in its raster order
    placed = sorted(
        (place.full_grid_index(t, int(i) - 1), t, int(i) - 1, n)
        for t, crop in enumerate(tiles)
        for n, i in enumerate(crop.dominant[1:].tolist(), start=1)
    )
    rows.append(torch.stack([tiles[t].rows[n] for _, t, _, n in placed]))
    labels += [place.dense_label(t, p) for _, t, p, _ in placed]
    rows.append(torch.stack([crop.rows[0] for crop in tiles]))  # the tiles' CLS tokens
    labels += [f"cls{t}" for t in range(len(tiles))]
    for t, crop in enumerate(tiles):  # the tiles' contextual tokens
        rows.append(crop.rows[dominant:])
        labels += contextual
        clusters += [[place.dense_label(t, p) for p in members] for members in crop.clusters]
    scores = torch.zeros(num_visual)  # each dense row's CLS attention in its own crop
    scores[:patches] = whole.scores
    for t, crop in enumerate(tiles):
        for p in range(patches):
            label = place.dense_label(t, p)
            if isinstance(label, int):
                scores[label] = crop.scores[p]
    kept = [label for label in labels if label is not None]
    record = PruneRecord(-1, num_visual, None, len(kept), True, scores)
    record.kept, record.clusters = kept, clusters
    return torch.cat(rows), labels, record


def anyres_origin(labels: list, first: int, dtype: torch.dtype) -> torch.Tensor:
    """Prompt positions of the rows: the dense image's row for a patch it has, else MERGED."""
    origin = [first + label if isinstance(label, int) else MERGED for label in labels]
    return torch.tensor(origin, dtype=dtype)
