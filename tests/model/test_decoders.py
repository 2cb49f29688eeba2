"""The decoder's switches against transformers, float32 on the CPU: Mistral (sliding window) and
Qwen2 (biased query/key/value projections) on the same weights, prefill and cached decoding,
batched with padding as alone; and the probe's rows under a sliding window."""

from __future__ import annotations

import pytest
import torch
from model_helpers import llava_from_llama
from transformers import MistralConfig, MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM

from llava.generate import decode_one_token, prefill
from llava.sparse.base import NoPruning

TOL = 1e-4
VOCAB = 96


def _randomise(model):
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" in name:
                param.copy_(1 + 0.2 * torch.randn_like(param))
            else:
                param.normal_(0, 0.08)
    return model.eval()


def tiny_mistral(window: int | None, seed: int = 0) -> MistralForCausalLM:
    torch.manual_seed(seed)
    config = MistralConfig(
        vocab_size=VOCAB, hidden_size=64, intermediate_size=120, num_hidden_layers=3,
        num_attention_heads=4, num_key_value_heads=2, sliding_window=window,
        rope_theta=1e6, max_position_embeddings=512, tie_word_embeddings=False,
    )  # fmt: skip
    return _randomise(MistralForCausalLM(config))


def tiny_qwen2(seed: int = 0) -> Qwen2ForCausalLM:
    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=VOCAB, hidden_size=64, intermediate_size=120, num_hidden_layers=3,
        num_attention_heads=4, num_key_value_heads=2, rope_theta=1e6,
        max_position_embeddings=512, tie_word_embeddings=True,
    )  # fmt: skip
    return _randomise(Qwen2ForCausalLM(config))


def ids(length: int, rows: int = 1, seed: int = 1) -> torch.Tensor:
    return torch.randint(3, VOCAB, (rows, length), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("window", [7, None])
def test_mistral_equals_transformers(window) -> None:
    hf = tiny_mistral(window)
    ours = llava_from_llama(hf)
    assert ours.config.text.sliding_window == window
    tokens = ids(40, rows=2)
    with torch.no_grad():
        expected = hf(input_ids=tokens).logits
        logits = ours(tokens)[0]
    assert (logits - expected).abs().max().item() <= TOL


def test_the_sliding_window_matters() -> None:
    """The comparison above can fail: without its window the same weights answer otherwise."""
    narrow, wide = llava_from_llama(tiny_mistral(7)), tiny_mistral(None)
    tokens = ids(40)
    with torch.no_grad():
        diff = (narrow(tokens)[0] - wide(input_ids=tokens).logits).abs()
    assert diff[:, :7].max().item() <= TOL  # the first 7 tokens see everything either way
    assert diff[:, 7:].max().item() > 100 * TOL


def test_mistral_cached_decoding_follows_the_window() -> None:
    """Prefill 10 tokens, decode 8 more with a window of 7: each step's logits equal
    transformers' over the whole sequence (the cache holds more than the window)."""
    hf = tiny_mistral(7)
    ours = llava_from_llama(hf)
    tokens = ids(18)
    with torch.no_grad():
        expected = hf(input_ids=tokens).logits[0]
        logits, cache, _ = prefill(ours, tokens[:, :10], None, NoPruning())
        steps = [logits[0]]
        for t in range(10, 18):
            steps.append(decode_one_token(ours, tokens[:, t], cache)[0])
    torch.testing.assert_close(torch.stack(steps), expected[9:], atol=TOL, rtol=0)


def test_a_padded_batch_under_a_window_equals_each_row_alone() -> None:
    """Rows of 25 and 12 tokens in one right-padded batch, then 4 decoded tokens: the window
    counts each row's own tokens, never the padding."""
    ours = llava_from_llama(tiny_mistral(7))
    long, short = ids(25, seed=2)[0], ids(12, seed=3)[0]
    extra = ids(4, rows=2, seed=4)
    with torch.no_grad():
        logits, cache, _ = prefill(ours, [long, short], None, NoPruning())
        batch = [logits]
        for step in range(4):
            batch.append(decode_one_token(ours, extra[:, step], cache))
        for row, prompt in enumerate((long, short)):
            alone, cache_alone, _ = prefill(ours, [prompt], None, NoPruning())
            expected = [alone[0]]
            for step in range(4):
                expected.append(decode_one_token(ours, extra[row : row + 1, step], cache_alone)[0])
            got = torch.stack([step[row] for step in batch])
            torch.testing.assert_close(got, torch.stack(expected), atol=TOL, rtol=0)


def test_qwen2_equals_transformers() -> None:
    hf = tiny_qwen2()
    ours = llava_from_llama(hf)
    assert (ours.config.text.qkv_bias, ours.config.text.o_bias) == (True, False)
    assert ours.model.layers[0].self_attn.k_proj.bias is not None
    tokens = ids(30, rows=2)
    with torch.no_grad():
        diff = (ours(tokens)[0] - hf(input_ids=tokens).logits).abs().max().item()
    assert diff <= TOL


def test_probe_rows_hide_what_the_window_hides() -> None:
    """The probe's rows under a window of 7 equal a float64 softmax over the last 7 keys only,
    built here from the layer's captured queries and keys."""
    ours = llava_from_llama(tiny_mistral(7))
    layer = ours.model.layers[1]
    seen = {}

    class Catch:
        def before_layer(self, idx, state, probe):
            return state

        def after_layer(self, idx, state, probe):
            if idx == 1:
                seen["rows"] = probe.rows(torch.tensor([3, 20, 39]))[0]
                seen["keys"] = probe.keys()[0]
                seen["normed"] = probe.normed_input()
                seen["probe"] = probe
            return state

    state = ours.prepare_state(ids(40))
    with torch.no_grad():
        ours.model.run_layers(state, None, Catch())
        probe = seen["probe"]
        q = layer.self_attn.queries(seen["normed"], probe._cos, probe._sin)[0].double()
    k = seen["keys"].double().repeat_interleave(2, dim=0)  # 4 query heads over 2 KV heads
    scores = q @ k.transpose(1, 2) / 16**0.5  # (H, N, N)
    query = torch.arange(40)[:, None]
    key = torch.arange(40)[None, :]
    visible = (key <= query) & (query - key < 7)
    expected = scores.masked_fill(~visible, float("-inf")).softmax(dim=-1)[:, [3, 20, 39]]
    torch.testing.assert_close(seen["rows"].double(), expected, atol=1e-6, rtol=0)
