"""Which object each of the 24 x 24 CLIP patches shows: per-patch targets for training.

Coordinates follow what the vision tower actually sees under LLaVA's `image_aspect_ratio: pad`:
a non-square image is centred on a square canvas (`expand2square`: offset (side - w) // 2,
(side - h) // 2), and the square is resized to 336 x 336, so patch (r, c) covers rows
14r..14r+13 and columns 14c..14c+13 of that square. Patch index r * 24 + c is the visual
token's index in LLaVA's 576-token sequence (row-major, CLS dropped).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from llava.synthetic.render import object_mask
from llava.synthetic.scenes import Scene
from llava.synthetic.vocab import GRID, IMAGE_SIDE

NO_OBJECT = -1  # the `patch_owners` value of a patch no object covers enough


def to_model_frame(mask: np.ndarray) -> np.ndarray:
    """(H, W) mask in image pixels -> (336, 336) float coverage in the vision tower's frame."""
    height, width = mask.shape
    side = max(width, height)
    square = np.zeros((side, side), dtype=np.float32)
    top, left = (side - height) // 2, (side - width) // 2
    square[top : top + height, left : left + width] = mask
    if side == IMAGE_SIDE:
        return square
    resized = Image.fromarray(square).resize((IMAGE_SIDE, IMAGE_SIDE), Image.BOX)
    return np.asarray(resized, dtype=np.float32)


def patch_coverage(scene: Scene, *, grid: int = GRID) -> np.ndarray:
    """(num_objects, grid, grid) float32: the fraction of each patch each object covers."""
    if IMAGE_SIDE % grid:
        raise ValueError(f"grid must divide {IMAGE_SIDE}, got {grid}")
    patch = IMAGE_SIDE // grid
    coverage = np.zeros((len(scene.objects), grid, grid), dtype=np.float32)
    for i, obj in enumerate(scene.objects):
        frame = to_model_frame(object_mask(obj, scene.size))
        coverage[i] = frame.reshape(grid, patch, grid, patch).mean(axis=(1, 3))
    return coverage


def patch_owners(scene: Scene, *, min_fraction: float = 0.25, grid: int = GRID) -> np.ndarray:
    """(grid, grid) int64: per patch, the index of the object covering most of it, or NO_OBJECT.

    A patch belongs to the object with the largest coverage if that covers at least
    `min_fraction` of the patch (objects never overlap, so at most one object can cover more
    than half). Flatten row-major to index the 576 visual tokens.
    """
    if not 0.0 < min_fraction <= 1.0:
        raise ValueError(f"min_fraction must be in (0, 1], got {min_fraction}")
    coverage = patch_coverage(scene, grid=grid)
    owners = np.full((grid, grid), NO_OBJECT, dtype=np.int64)
    if len(scene.objects) == 0:
        return owners
    best = coverage.argmax(axis=0)
    covered = coverage.max(axis=0) >= min_fraction - 1e-6
    owners[covered] = best[covered]
    return owners


def object_patches(scene: Scene, index: int, *, min_fraction: float = 0.25) -> list[int]:
    """Flat (row-major) visual-token indices of the patches owned by object `index`."""
    owners = patch_owners(scene, min_fraction=min_fraction)
    return [int(i) for i in np.flatnonzero(owners.reshape(-1) == index)]
