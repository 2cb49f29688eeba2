"""The attention probe gives exactly the rows of the explicit attention matrix of the layer.

The explicit matrix is rebuilt here from the layer's own q/k projections (captured with forward
hooks on `q_proj` / `k_proj` during the main pass), a RoPE written out in this file at the
positions the layer ran with, grouped heads expanded by hand, the causal mask and a float64
softmax: no code shared with `Attention.attention_rows`.
"""

from __future__ import annotations

import pytest
import torch
from sparse_helpers import Spy, pixels, prompt_ids

from llava.generate import prefill
from llava.sparse.base import NoPruning
from llava.sparse.sparsevlm import SparseVLM, sparsevlm_v1, sparsevlm_v2

TOLERANCE = 1e-6


class Projections:
    """First call of each layer's q_proj / k_proj in the pass (the main pass, before the probe
    re-projects the queries it is asked for)."""

    def __init__(self, model) -> None:
        self.q: dict[int, torch.Tensor] = {}
        self.k: dict[int, torch.Tensor] = {}
        self.handles = []
        for idx, layer in enumerate(model.model.layers):
            attn = layer.self_attn
            self.handles.append(attn.q_proj.register_forward_hook(self._keep(self.q, idx)))
            self.handles.append(attn.k_proj.register_forward_hook(self._keep(self.k, idx)))

    @staticmethod
    def _keep(store, idx):
        def hook(module, inputs, output):
            store.setdefault(idx, output.detach().clone())

        return hook

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def rope64(x: torch.Tensor, positions: torch.Tensor, theta: float) -> torch.Tensor:
    """x (H, N, hd) rotated by RoPE at `positions` (N,) in float64 (LLaMA's half-split pairs)."""
    head_dim = x.shape[-1]
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = positions.double()[:, None] * inv_freq[None, :]  # (N, hd/2)
    cos, sin = angles.cos(), angles.sin()
    first, second = x[..., : head_dim // 2], x[..., head_dim // 2 :]
    return torch.cat((first * cos - second * sin, second * cos + first * sin), dim=-1)


def explicit_attention(model, layer: int, q_raw, k_raw, positions) -> torch.Tensor:
    """(H, N, N) softmax(Q K^T / sqrt(hd)) with the causal mask, float64."""
    config = model.config.text
    heads, kv_heads, head_dim = (
        config.num_attention_heads,
        config.num_key_value_heads,
        config.head_dim,
    )
    n, theta = q_raw.shape[1], config.rope_theta
    q = rope64(q_raw[0].double().view(n, heads, head_dim).transpose(0, 1), positions, theta)
    k = rope64(k_raw[0].double().view(n, kv_heads, head_dim).transpose(0, 1), positions, theta)
    group = heads // kv_heads
    k = torch.stack([k[h // group] for h in range(heads)])  # query head h reads KV head h//group
    scores = q @ k.transpose(1, 2) / head_dim**0.5
    future = torch.ones(n, n, dtype=torch.bool).triu(diagonal=1)
    return scores.masked_fill(future, float("-inf")).softmax(dim=-1)


def run_with_hooks(model, pruner, use_cache: bool):
    spy = Spy(pruner)
    hooks = Projections(model)
    try:
        ids, images = prompt_ids(), pixels(model)
        if use_cache:
            prefill(model, ids, images, spy)
        else:
            model(ids, images, spy)
    finally:
        hooks.remove()
    return spy.runs[0].after_views(), hooks


def check_rows(model, views, hooks, layers) -> int:
    """Compare the probe with the explicit matrix for every row, and for a few unordered rows.
    Returns the number of layers checked."""
    checked = 0
    for view in views:
        if view.layer not in layers:
            continue
        positions = view.before.positions[0]
        full = explicit_attention(
            model, view.layer, hooks.q[view.layer], hooks.k[view.layer], positions
        )
        n = full.shape[-1]
        assert hooks.q[view.layer].shape[1] == view.before.num_tokens == n
        rows = view.probe.rows(torch.arange(n))
        assert rows.shape == (1, full.shape[0], n, n)
        assert rows.dtype == torch.float32
        torch.testing.assert_close(rows[0].double(), full, atol=TOLERANCE, rtol=0)
        some = torch.tensor([n - 1, 0, n // 2, 3, n - 1])  # unordered, repeated
        torch.testing.assert_close(
            view.probe.rows(some)[0].double(), full[:, some], atol=TOLERANCE, rtol=0
        )
        checked += 1
    return checked


@pytest.mark.parametrize("use_cache", [True, False], ids=["prefill", "no-cache"])
@pytest.mark.parametrize("which", ["gqa", "mha"])
def test_probe_rows_equal_explicit_attention_dense(
    which, use_cache, small_gqa_model, small_mha_model
):
    model = small_gqa_model if which == "gqa" else small_mha_model
    config = model.config.text
    assert (config.num_key_value_heads < config.num_attention_heads) == (which == "gqa")
    views, hooks = run_with_hooks(model, NoPruning(), use_cache)
    layers = range(len(model.model.layers))
    assert check_rows(model, views, hooks, layers) == len(model.model.layers)


@pytest.mark.parametrize("use_cache", [True, False], ids=["prefill", "no-cache"])
def test_probe_after_prune_with_kept_positions(use_cache, small_gqa_model):
    """v2 keeps the original RoPE positions: after the prune at layer 0 the later layers run
    with gaps in their positions, and the probe must use exactly those positions."""
    model = small_gqa_model
    config = sparsevlm_v2(layers=(0, 1), budgets=(8, 4))
    views, hooks = run_with_hooks(model, SparseVLM(config), use_cache)
    later = [view for view in views if view.layer >= 1]
    for view in later:
        positions = view.before.positions[0]
        assert bool((positions.diff() > 0).all())
        assert int(positions.diff().max()) > 1, "expected gaps after the prune"
    assert later[-1].before.num_visual == 4
    assert check_rows(model, views, hooks, {1, 2, 3}) == 3


def test_probe_after_prune_with_renumbered_positions(small_gqa_model):
    """v1 renumbers 0..n-1 after a prune, merged tokens included."""
    model = small_gqa_model
    views, hooks = run_with_hooks(
        model, SparseVLM(sparsevlm_v1(0.5, 2, layers=(0, 2))), use_cache=True
    )
    after = [view for view in views if view.layer >= 1]
    assert after[0].before.num_tokens < views[0].before.num_tokens, "layer 0 should prune"
    for view in after:
        assert view.before.positions[0].tolist() == list(range(view.before.num_tokens))
    assert check_rows(model, views, hooks, {1, 2, 3}) == 3
