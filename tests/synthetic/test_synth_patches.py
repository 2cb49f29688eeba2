"""Per-patch ownership on hand-built scenes."""

from __future__ import annotations

import numpy as np
import pytest

from llava.synthetic.patches import NO_OBJECT, object_patches, patch_coverage, patch_owners
from llava.synthetic.scenes import Background, Scene, SceneObject

BACKGROUND = Background(("gray",))


def _patches(owners: np.ndarray, index: int) -> set[tuple[int, int]]:
    return {(int(r), int(c)) for r, c in zip(*np.nonzero(owners == index), strict=True)}


def test_aligned_square_owns_exactly_its_patches():
    # A square on patch rows 1-2, columns 1-2; a diamond whose bbox is rows 10-12, cols 20-22.
    square = SceneObject("red", "square", (14, 14, 42, 42))
    diamond = SceneObject("blue", "diamond", (280, 140, 322, 182))
    scene = Scene((336, 336), BACKGROUND, (square, diamond))
    owners = patch_owners(scene)
    assert owners.shape == (24, 24) and owners.dtype == np.int64
    assert _patches(owners, 0) == {(1, 1), (1, 2), (2, 1), (2, 2)}
    # The diamond covers its centre patch fully, its 4 edge patches 3/4, its corners ~1/8:
    # the default threshold (1/4) gives a plus of 5 patches, a low one all 9.
    plus = {(11, 21), (10, 21), (12, 21), (11, 20), (11, 22)}
    assert _patches(owners, 1) == plus
    assert _patches(patch_owners(scene, min_fraction=0.1), 1) == {
        (r, c) for r in (10, 11, 12) for c in (20, 21, 22)
    }
    assert (owners == NO_OBJECT).sum() == 576 - 4 - 5
    assert object_patches(scene, 0) == [25, 26, 49, 50]  # row-major token indices
    assert object_patches(scene, 1) == [10 * 24 + 21, 11 * 24 + 20, 11 * 24 + 21, 11 * 24 + 22,
                                        12 * 24 + 21]  # fmt: skip


def test_largest_coverage_wins_a_shared_patch():
    # Two squares share patch column 1 of row 0: 9 px of one, 5 px of the other.
    left = SceneObject("red", "square", (0, 0, 23, 14))  # covers x 14..22 of column 1
    right = SceneObject("blue", "square", (23, 0, 42, 14))  # covers x 23..27 of column 1
    scene = Scene((336, 336), BACKGROUND, (left, right))
    owners = patch_owners(scene)
    assert owners[0, 0] == 0 and owners[0, 1] == 0 and owners[0, 2] == 1


def test_coverage_fractions_for_a_half_covered_patch():
    # x 7..21 covers the right half of patch column 0 and the left half of column 1.
    scene = Scene((336, 336), BACKGROUND, (SceneObject("red", "square", (7, 0, 21, 14)),))
    coverage = patch_coverage(scene)
    assert coverage.shape == (1, 24, 24)
    assert coverage[0, 0, 0] == pytest.approx(0.5) and coverage[0, 0, 1] == pytest.approx(0.5)
    assert coverage.sum() == pytest.approx(1.0)
    assert _patches(patch_owners(scene), 0) == {(0, 0), (0, 1)}


def test_non_square_images_are_padded_like_llava():
    # 336 x 224: expand2square pastes it at y offset (336 - 224) // 2 = 56 = 4 patches.
    square = SceneObject("red", "square", (28, 0, 56, 28))
    scene = Scene((336, 224), BACKGROUND, (square,))
    owners = patch_owners(scene)
    assert _patches(owners, 0) == {(4, 2), (4, 3), (5, 2), (5, 3)}
    # 252 x 336: x offset (336 - 252) // 2 = 42 = 3 patches.
    scene = Scene((252, 336), BACKGROUND, (square,))
    owners = patch_owners(scene)
    assert _patches(owners, 0) == {(0, 5), (0, 6), (1, 5), (1, 6)}


def test_smaller_images_are_rescaled_to_the_grid():
    # 168 x 168 is resized x2: a 14-px square at (14, 14) becomes patch (2..3, 2..3).
    scene = Scene((168, 168), BACKGROUND, (SceneObject("red", "square", (14, 14, 28, 28)),))
    owners = patch_owners(scene)
    assert _patches(owners, 0) == {(2, 2), (2, 3), (3, 2), (3, 3)}


def test_empty_scene_and_bad_threshold():
    scene = Scene((336, 336), BACKGROUND, ())
    assert (patch_owners(scene) == NO_OBJECT).all()
    with pytest.raises(ValueError):
        patch_owners(scene, min_fraction=0.0)
