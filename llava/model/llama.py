"""The LLaMA decoder we own: RMSNorm, RoPE, grouped-query attention (SDPA), SwiGLU MLP, the layer,
and THE decoder loop, where a pruning method may shorten the sequence between layers.

Parameter names equal the checkpoints' (``model.layers.{i}.self_attn.q_proj.weight`` ...), so
LLaVA and transformers state dicts load without renaming. Numerics follow transformers'
``LlamaForCausalLM`` (RMSNorm in float32, RoPE tables in float32, cast to the model dtype).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from llava.model.cache import KVCache, LayerCache
from llava.model.config import LlamaConfig
from llava.sparse.base import AttentionProbe, NoPruning, Pruner, TokenState


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

    def forward(
        self,
        x: torch.Tensor,  # (B, N, D), already normalised
        cos: torch.Tensor,
        sin: torch.Tensor,
        cache: LayerCache | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns the attention output (B, N, D) and all keys this layer attends to."""
        q = self.queries(x, cos, sin)
        k = apply_rope(self._heads(self.k_proj(x), self.num_kv_heads), cos, sin)
        v = self._heads(self.v_proj(x), self.num_kv_heads)
        past = 0
        if cache is not None:
            past = cache.length
            k, v = cache.append(k, v)
        n = q.shape[2]
        mask, causal = None, past == 0 and n > 1
        if past > 0 and n > 1:  # several new tokens after a cached prefix: causal with an offset
            mask = torch.ones(n, past + n, dtype=torch.bool, device=q.device).tril(diagonal=past)
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
        keys: torch.Tensor,  # (B, H_kv, N, hd) the keys this layer attended to
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


@dataclass
class LayerTrace:
    """What a layer leaves behind for the attention probe (references, no copies)."""

    normed_input: torch.Tensor
    keys: torch.Tensor


class DecoderLayer(nn.Module):
    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.self_attn = Attention(config)
        self.mlp = MLP(config)
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)

    def forward(
        self, h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, cache: LayerCache | None
    ) -> tuple[torch.Tensor, LayerTrace]:
        normed = self.input_layernorm(h)
        attn, keys = self.self_attn(normed, cos, sin, cache)
        h = h + attn
        h = h + self.mlp(self.post_attention_layernorm(h))
        return h, LayerTrace(normed, keys)


@dataclass
class PrefillStats:
    """What the decoder loop actually ran: per layer, tokens and visual tokens."""

    tokens_in: list[int]  # sequence length entering each layer
    visual_in: list[int]  # visual tokens entering each layer
    visual_out: list[int]  # visual tokens leaving each layer (after the method acted)
    records: list  # the method's per-pruning-layer decisions


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
        self, state: TokenState, cache: KVCache | None = None, pruner: Pruner | None = None
    ) -> tuple[TokenState, PrefillStats]:
        """Prefill: every layer over the whole sequence; the method acts once after each layer.

        With no method ("no pruning") this is plain LLaMA, through the very same loop.
        """
        run = (pruner or NoPruning()).start(state, len(self.layers))
        stats = PrefillStats([], [], [], run.records)
        cos, sin = self.rotary(state.positions, state.hidden.dtype)
        for idx, layer in enumerate(self.layers):
            layer_cache = cache[idx] if cache is not None else None
            stats.tokens_in.append(state.num_tokens)
            stats.visual_in.append(state.num_visual)
            hidden, trace = layer(state.hidden, cos, sin, layer_cache)
            state = state.with_hidden(hidden)
            if layer_cache is not None:
                layer_cache.next_position = state.positions[:, -1] + 1
            probe = AttentionProbe(
                lambda rows, t=trace, a=layer.self_attn, c=cos, s=sin: a.attention_rows(
                    t.normed_input, c, s, t.keys, rows
                )
            )
            pruned = run.after_layer(idx, state, probe)
            if pruned is not state:
                state = pruned.renumbered() if run.renumbers_positions else pruned
                cos, sin = self.rotary(state.positions, state.hidden.dtype)
            stats.visual_out.append(state.num_visual)
        return state, stats

    def decode_layers(self, hidden: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """One new token (B, 1, D) through every layer, each at its own next position."""
        positions = cache.next_positions()  # (L, B)
        cos, sin = self.rotary(positions[..., None], hidden.dtype)  # (L, B, 1, hd)
        for idx, layer in enumerate(self.layers):
            hidden, _ = layer(hidden, cos[idx], sin[idx], cache[idx])
        cache.advance()
        return hidden
