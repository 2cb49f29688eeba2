"""Per-layer KV cache whose layers may hold different lengths.

A pruning method shortens the sequence between layers during prefill, so layer 0 may cache the
whole prompt while layer 20 caches a tenth of it. Each layer therefore owns its own buffer and
its own next RoPE position per row: the position of the last token that layer saw, plus one.
With positions renumbered after a prune (SparseVLM v1) that is the layer's cache length; with
positions kept (FastV, SparseVLM v2) it is the prompt length. Decoding needs no policy of its own.

In a batch, rows are pruned differently: a layer caches its right-padded prefill with a mask of
the valid entries (`valid`, None when nothing is padded), and decoded tokens are appended to
every row in the same column. Rows that finish leave the batch (`keep_rows`).
"""

from __future__ import annotations

import torch

_GROWTH = 256  # tokens added per reallocation, so decoding rarely copies the cache


class LayerCache:
    def __init__(self) -> None:
        self._keys: torch.Tensor | None = None  # (B, H_kv, capacity, head_dim)
        self._values: torch.Tensor | None = None
        self.length = 0
        self.next_position: torch.Tensor | None = None  # (B,) RoPE position of the next token
        self.valid: torch.Tensor | None = None  # (B, length) False on padding; None: no padding

    def append(
        self, keys: torch.Tensor, values: torch.Tensor, valid: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Store (B, H_kv, n, head_dim) keys/values (`valid` (B, n): which are not padding);
        return everything cached so far."""
        new_length = self.length + keys.shape[2]
        if valid is not None or self.valid is not None:
            if valid is None:
                valid = torch.ones(
                    keys.shape[0], keys.shape[2], dtype=torch.bool, device=keys.device
                )
            old = self.valid
            if old is None:
                old = torch.ones(keys.shape[0], self.length, dtype=torch.bool, device=keys.device)
            self.valid = torch.cat((old, valid), dim=1)
        if self._keys is None or new_length > self._keys.shape[2]:
            self._grow(keys, new_length + _GROWTH)
        self._keys[:, :, self.length : new_length] = keys
        self._values[:, :, self.length : new_length] = values
        self.length = new_length
        return self.keys, self.values

    def _grow(self, like: torch.Tensor, capacity: int) -> None:
        batch, heads, _, head_dim = like.shape
        keys = like.new_empty(batch, heads, capacity, head_dim)
        values = like.new_empty(batch, heads, capacity, head_dim)
        if self._keys is not None:
            keys[:, :, : self.length] = self.keys
            values[:, :, : self.length] = self.values
        self._keys, self._values = keys, values

    @property
    def keys(self) -> torch.Tensor:
        return self._keys[:, :, : self.length]

    @property
    def values(self) -> torch.Tensor:
        return self._values[:, :, : self.length]

    def nbytes(self) -> int:
        """Bytes held by the cached keys and values (not the spare capacity)."""
        if self._keys is None:
            return 0
        return 2 * self.keys.numel() * self._keys.element_size()

    def keep_rows(self, rows: torch.Tensor) -> None:
        """Keep only batch rows `rows` (the others finished decoding)."""
        self._keys, self._values = self._keys[rows], self._values[rows]
        self.next_position = self.next_position[rows]
        if self.valid is not None:
            self.valid = self.valid[rows]


class KVCache:
    def __init__(self, num_layers: int) -> None:
        self.layers = [LayerCache() for _ in range(num_layers)]

    def __getitem__(self, layer_idx: int) -> LayerCache:
        return self.layers[layer_idx]

    def __len__(self) -> int:
        return len(self.layers)

    def lengths(self) -> list[int]:
        return [layer.length for layer in self.layers]

    def next_positions(self) -> torch.Tensor:
        """(num_layers, B) RoPE position each layer gives the next decoded token."""
        return torch.stack([layer.next_position for layer in self.layers])

    def advance(self) -> None:
        for layer in self.layers:
            layer.next_position = layer.next_position + 1

    def nbytes(self) -> int:
        return sum(layer.nbytes() for layer in self.layers)

    def keep_rows(self, rows: torch.Tensor) -> None:
        for layer in self.layers:
            layer.keep_rows(rows)
