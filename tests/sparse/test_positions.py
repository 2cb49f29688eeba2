"""The "renumber" and "keep" policies on 1-D and 3-D (multimodal RoPE) positions, by hand.

The 3-D prompt: 3 text tokens, a 2 x 3 image grid, 2 text tokens, numbered as Qwen2-VL numbers
it (the image starts at 3 on all axes, rows on the height axis, columns on the width axis; the
text after it at 3 + max(2, 3) = 6).
"""

from __future__ import annotations

import torch

from llava.sparse.base import MERGED, SYSTEM, TEXT, VISUAL, TokenState

IMAGE = [(3, 3, 3), (3, 3, 4), (3, 3, 5), (3, 4, 3), (3, 4, 4), (3, 4, 5)]


def qwen_state() -> TokenState:
    columns = [(p, p, p) for p in range(3)] + IMAGE + [(6, 6, 6), (7, 7, 7)]
    positions = torch.tensor(columns).T[None]  # (1, 3, 11)
    roles = torch.tensor([[SYSTEM] * 3 + [VISUAL] * 6 + [TEXT] * 2], dtype=torch.int8)
    origin = torch.arange(11)[None]
    return TokenState(torch.randn(1, 11, 4), positions, roles, origin)


def columns(state: TokenState) -> list[tuple[int, int, int]]:
    return [tuple(c) for c in state.positions[0].T.tolist()]


def test_renumbering_an_unpruned_3d_prompt_changes_nothing() -> None:
    state = qwen_state()
    assert torch.equal(state.renumbered().positions, state.positions)


def test_1d_renumbering_is_the_sequence_index() -> None:
    roles = torch.tensor([[SYSTEM, VISUAL, VISUAL, TEXT, TEXT]])
    positions = torch.tensor([[0, 3, 4, 9, 10]])
    state = TokenState(torch.randn(1, 5, 4), positions, roles, torch.arange(5)[None])
    assert state.renumbered().positions.tolist() == [[0, 1, 2, 3, 4]]


def test_dropping_a_column_moves_the_text_up() -> None:
    """Keep columns 0-1 of both rows: the grid keeps its shape (offsets from its corner), the
    text after it starts one past the largest offset: 3 + 2 = 5."""
    state = qwen_state()
    keep = torch.tensor([0, 1, 2, 3, 4, 6, 7, 9, 10])
    renumbered = state.select(keep).renumbered()
    assert columns(renumbered) == [
        (0, 0, 0), (1, 1, 1), (2, 2, 2),
        (3, 3, 3), (3, 3, 4), (3, 4, 3), (3, 4, 4),
        (5, 5, 5), (6, 6, 6),
    ]  # fmt: skip


def test_a_kept_row_moves_to_the_corner_and_merged_tokens_follow_like_text() -> None:
    """Keep only the second row, insert a merged token after it: the row's smallest positions
    become the image's start (3), the merged token takes the next free position (6) on every
    axis, the text follows (7, 8)."""
    state = qwen_state()
    kept = state.select(torch.tensor([0, 1, 2, 6, 7, 8, 9, 10]))
    with_merged = kept.insert(6, torch.randn(1, 1, 4))
    assert with_merged.origin[0].tolist()[6] == MERGED
    assert columns(with_merged)[6] == (3, 4, 5), "inserted: the position before it (placeholder)"
    assert columns(with_merged.renumbered()) == [
        (0, 0, 0), (1, 1, 1), (2, 2, 2),
        (3, 3, 3), (3, 3, 4), (3, 3, 5),
        (6, 6, 6), (7, 7, 7), (8, 8, 8),
    ]  # fmt: skip


def test_keeping_positions_keeps_each_tokens_three_positions() -> None:
    state = qwen_state()
    keep = torch.tensor([0, 1, 2, 4, 8, 9, 10])
    assert columns(state.select(keep)) == [columns(state)[i] for i in keep.tolist()]


def test_3d_rows_stack_and_split_unchanged() -> None:
    """A 3-D row and a shorter one stack into a right-padded batch whose rows come back as they
    were (positions included)."""
    long = qwen_state()
    short = long.select(torch.tensor([0, 1, 9, 10]))
    batch = TokenState.stack([long, short])
    assert batch.positions.shape == (2, 3, 11)
    for r, row in enumerate((long, short)):
        back = batch.row(r)
        assert torch.equal(back.positions, row.positions) and torch.equal(back.origin, row.origin)
