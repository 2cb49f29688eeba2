"""The LLaMA decoder we own: RMSNorm, RoPE, grouped-query attention (SDPA), SwiGLU MLP, the layer,
and THE decoder loop, where a pruning method may shorten the sequence between layers.

Parameter names equal the checkpoints' (``model.layers.{i}.self_attn.q_proj.weight`` ...), so
LLaVA and transformers state dicts load without renaming. Numerics follow transformers'
``LlamaForCausalLM`` (RMSNorm in float32, RoPE tables in float32, cast to the model dtype).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from llava.model.cache import KVCache, LayerCache
from llava.model.config import LlamaConfig
from llava.sparse.base import PAD, VISUAL, LayerHooks, TokenState


class RMSNorm(nn.Module):
    def __init__(self, hidden_size: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


class Rotary:
    """RoPE tables for arbitrary (possibly non-contiguous, per-layer) positions."""

    def __init__(self, head_dim: int, theta: float) -> None:
        # Explicitly on the CPU: models are built on the meta device before weights load.
        exponents = torch.arange(0, head_dim, 2, dtype=torch.float, device="cpu") / head_dim
        self.inv_freq = 1.0 / (theta**exponents)

    def __call__(
        self, positions: torch.Tensor, dtype: torch.dtype
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """positions (..., N) -> cos, sin of shape (..., N, head_dim) in `dtype`."""
        freqs = positions[..., None].float() * self.inv_freq.to(positions.device)
        angles = torch.cat((freqs, freqs), dim=-1)
        return angles.cos().to(dtype), angles.sin().to(dtype)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x (B, H, N, head_dim); cos/sin (B, N, head_dim)."""
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


class Attention(nn.Module):
    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.num_kv_heads = config.num_key_value_heads
        self.head_dim = config.head_dim
        d = config.hidden_size
        self.q_proj = nn.Linear(d, self.num_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(d, self.num_kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(d, self.num_kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.num_heads * self.head_dim, d, bias=False)

    def _heads(self, x: torch.Tensor, heads: int) -> torch.Tensor:
        batch, n, _ = x.shape
        return x.view(batch, n, heads, self.head_dim).transpose(1, 2)  # (B, H, N, hd)

    def queries(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        return apply_rope(self._heads(self.q_proj(x), self.num_heads), cos, sin)

    def keys(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        return apply_rope(self._heads(self.k_proj(x), self.num_kv_heads), cos, sin)

    def forward(
        self,
        x: torch.Tensor,  # (B, N, D), already normalised
        cos: torch.Tensor,
        sin: torch.Tensor,
        cache: LayerCache | None,
        valid: torch.Tensor | None = None,  # (B, N) False on padding; None: no padding
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns the attention output (B, N, D) and all keys this layer attends to."""
        q = self.queries(x, cos, sin)
        k = self.keys(x, cos, sin)
        v = self._heads(self.v_proj(x), self.num_kv_heads)
        past = 0
        key_valid = None
        if cache is not None:
            past = cache.length
            k, v = cache.append(k, v, valid)
            key_valid = cache.valid
        n = q.shape[2]
        # Rows are right-padded, so a token's causal past never holds padding: prefill needs no
        # mask beyond causality. Once a cache holds padded rows, new tokens must skip the pads.
        mask, causal = None, past == 0 and n > 1
        if past > 0:
            mask = torch.ones(n, past + n, dtype=torch.bool, device=q.device).tril(diagonal=past)
            if key_valid is not None:
                mask = mask & key_valid[:, None, None, :]
        out = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask,
            is_causal=causal,
            enable_gqa=self.num_kv_heads != self.num_heads,
        )
        out = out.transpose(1, 2).reshape(x.shape[0], n, -1)
        return self.o_proj(out), k

    def attention_rows(
        self,
        x: torch.Tensor,  # (B, N, D) the layer's normalised input
        cos: torch.Tensor,
        sin: torch.Tensor,
        keys: torch.Tensor,  # (B, H_kv, N, hd) the keys this layer attends to
        rows: torch.Tensor,  # (R,) indices of query tokens in the sequence
    ) -> torch.Tensor:
        """Post-softmax causal attention of `rows` over all keys, per head: (B, H, R, N) float32.

        Exactly the rows of the full attention matrix, computed without it: R x N per head.
        """
        q = self.queries(x[:, rows], cos[:, rows], sin[:, rows]).float()
        k = keys.float().repeat_interleave(self.num_heads // self.num_kv_heads, dim=1)
        scores = q @ k.transpose(-1, -2) / self.head_dim**0.5  # (B, H, R, N)
        future = torch.arange(k.shape[2], device=k.device)[None, :] > rows[:, None].to(k.device)
        return scores.masked_fill(future, float("-inf")).softmax(dim=-1)


class MLP(nn.Module):
    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        d, m = config.hidden_size, config.intermediate_size
        self.gate_proj = nn.Linear(d, m, bias=False)
        self.up_proj = nn.Linear(d, m, bias=False)
        self.down_proj = nn.Linear(m, d, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.self_attn = Attention(config)
        self.mlp = MLP(config)
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)

    def forward(
        self,
        h: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        cache: LayerCache | None,
        valid: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns the output, and the normalised input and keys (for the attention probe)."""
        normed = self.input_layernorm(h)
        attn, keys = self.self_attn(normed, cos, sin, cache, valid)
        h = h + attn
        h = h + self.mlp(self.post_attention_layernorm(h))
        return h, normed, keys


class LayerProbe:
    """`llava.sparse.base.AttentionProbe` over one decoder layer. Everything is computed on
    request: a method that asks nothing costs nothing. `normed` is the layer's normalised input,
    or a function computing it (before the layer runs); `keys` likewise (None: computed from it).
    """

    def __init__(
        self,
        layer: DecoderLayer,
        normed: torch.Tensor | Callable[[], torch.Tensor],
        cos: torch.Tensor,
        sin: torch.Tensor,
        positions: torch.Tensor,
        inv_freq: torch.Tensor,
        output_norm: RMSNorm,
        keys: torch.Tensor | None = None,
    ) -> None:
        self._layer, self._normed, self._keys = layer, normed, keys
        self._cos, self._sin = cos, sin
        self.positions, self.inv_freq, self._output_norm = positions, inv_freq, output_norm

    def normed_input(self) -> torch.Tensor:
        if callable(self._normed):
            self._normed = self._normed()
        return self._normed

    def keys(self) -> torch.Tensor:
        if self._keys is None:
            self._keys = self._layer.self_attn.keys(self.normed_input(), self._cos, self._sin)
        return self._keys

    def rows(self, rows: torch.Tensor) -> torch.Tensor:
        return self._layer.self_attn.attention_rows(
            self.normed_input(), self._cos, self._sin, self.keys(), rows
        )

    def output_norm(self, hidden: torch.Tensor) -> torch.Tensor:
        return self._output_norm(hidden)

    def row(self, r: int, length: int) -> LayerProbe:
        def one(tensor: torch.Tensor | None, dim: int = 1) -> torch.Tensor | None:
            return None if tensor is None else tensor[r : r + 1].narrow(dim, 0, length)

        normed = self._normed
        normed = (lambda: one(self.normed_input())) if callable(normed) else one(normed)
        return LayerProbe(
            self._layer, normed, one(self._cos), one(self._sin), one(self.positions),
            self.inv_freq, self._output_norm, one(self._keys, dim=2),
        )  # fmt: skip


@dataclass
class LoopCounts:
    """Per layer, per batch row: tokens and visual tokens entering, visual tokens leaving."""

    tokens_in: list[list[int]] = field(default_factory=list)  # [layer][row]
    visual_in: list[list[int]] = field(default_factory=list)
    visual_out: list[list[int]] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)  # [layer] the padded batch's length

    def padded_tokens(self) -> int:
        """Padding the layers ran on: sum over layers of (rows x width - real tokens)."""
        return sum(len(rows) * width - sum(rows) for rows, width in zip(
            self.tokens_in, self.widths, strict=True
        ))  # fmt: skip

    def useful_tokens(self) -> int:
        return sum(sum(rows) for rows in self.tokens_in)


def _counts(state: TokenState) -> tuple[list[int], list[int]]:
    return state.lengths(), (state.roles == VISUAL).sum(dim=1).tolist()


class LlamaModel(nn.Module):
    """Embeddings, layers and final norm; `run_layers` is the decoder loop."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.rotary = Rotary(config.head_dim, config.rope_theta)

    def run_layers(
        self, state: TokenState, cache: KVCache | None = None, hooks: LayerHooks | None = None
    ) -> tuple[TokenState, LoopCounts]:
        """Prefill: every layer over the whole (right-padded) batch; `hooks` may change the
        sequence before and after each layer (`PerSampleRuns` for pruning methods).

        With no hooks ("no pruning") this is plain LLaMA, through the very same loop.
        """
        hooks = hooks or LayerHooks()
        counts = LoopCounts()
        inv_freq = self.rotary.inv_freq
        cos, sin = self.rotary(state.positions, state.hidden.dtype)
        lengths, visual = _counts(state)
        for idx, layer in enumerate(self.layers):
            hidden_in = state.hidden
            before = hooks.before_layer(
                idx,
                state,
                LayerProbe(layer, lambda h=hidden_in, n=layer.input_layernorm: n(h), cos, sin,
                           state.positions, inv_freq, self.norm),
            )  # fmt: skip
            if before is not state:
                state = before
                cos, sin = self.rotary(state.positions, state.hidden.dtype)
                lengths, visual = _counts(state)
            counts.tokens_in.append(lengths)
            counts.visual_in.append(visual)
            counts.widths.append(state.num_tokens)
            padded = min(lengths) < state.num_tokens
            valid = state.roles != PAD if padded else None
            layer_cache = cache[idx] if cache is not None else None
            hidden, normed, keys = layer(state.hidden, cos, sin, layer_cache, valid)
            state = state.with_hidden(hidden)
            if layer_cache is not None:
                last = torch.tensor(lengths, device=state.positions.device) - 1
                layer_cache.next_position = state.positions.gather(1, last[:, None])[:, 0] + 1
            probe = LayerProbe(layer, normed, cos, sin, state.positions, inv_freq, self.norm, keys)
            after = hooks.after_layer(idx, state, probe)
            if after is not state:
                state = after
                cos, sin = self.rotary(state.positions, state.hidden.dtype)
                lengths, visual = _counts(state)
            counts.visual_out.append(visual)
        return state, counts

    def decode_layers(self, hidden: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """One new token per row (B, 1, D) through every layer, each at its own next position."""
        positions = cache.next_positions()  # (L, B)
        cos, sin = self.rotary(positions[..., None], hidden.dtype)  # (L, B, 1, hd)
        for idx, layer in enumerate(self.layers):
            hidden, _, _ = layer(hidden, cos[idx], sin[idx], cache[idx])
        cache.advance()
        return hidden
