"""VisionZip: the rule step by step on hand-made inputs, and every decision of the official code
on the shared tiny checkpoint (`../shared/oracle/visionzip`; skipped, saying why, when absent)."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image
from pruning_helpers import Spy

from llava.constants import IMAGE_TOKEN_INDEX
from llava.eval.runner import build_prompt
from llava.generate import GenerationOptions, generate, prefill
from llava.mm_utils import process_images, tokenizer_image_token
from llava.model.builder import load_pretrained_model
from llava.sparse.visionzip import (
    VisionZip,
    VisionZipConfig,
    contextual_merge,
    dominant_patches,
    split_budget,
)


def test_dominant_patches_by_cls_attention_summed_over_heads():
    # CLS column first; patches 0..4. Head sums: 0.3, 0.5, 0.1, 0.9, 0.2.
    attention = torch.tensor([[0.5, 0.1, 0.4, 0.05, 0.5, 0.1], [0.1, 0.2, 0.1, 0.05, 0.4, 0.1]])
    assert dominant_patches(attention, 2).tolist() == [3, 1]


def test_contextual_merge_by_hand():
    """Six remaining tokens, two targets: every 6 // 2 = 3rd token (indices 0 and 3); each other
    token joins the target whose key is most similar; target + mean of its members."""
    keys = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.1, 0.9], [0.0, 1.0], [0.8, 0.3], [0.2, 1.0]])
    features = torch.arange(12, dtype=torch.float32).reshape(6, 2)
    merged, targets, assignment = contextual_merge(features, keys, 2)
    assert targets.tolist() == [0, 3]
    assert assignment.tolist() == [-1, 0, 1, -1, 0, 1]
    expected_0 = features[0] + (features[1] + features[4]) / 2
    expected_1 = features[3] + (features[2] + features[5]) / 2
    torch.testing.assert_close(merged, torch.stack((expected_0, expected_1)))


def test_published_splits():
    assert [split_budget(n) for n in (192, 128, 64)] == [(162, 30), (108, 20), (54, 10)]
    assert split_budget(96) == (81, 15)  # the presets' share: 10 contextual of every 64


def test_settings_beyond_the_image_are_refused():
    with pytest.raises(ValueError, match="exceed the image's 16 patches"):
        VisionZipConfig(10, 8).check(16)


# ------------------------------------------------------------------------ the official code

QUESTION = "Is there a dog in the image?\nAnswer the question using a single word or phrase."


@pytest.fixture(scope="module")
def oracle(oracle_dir):
    tokenizer, model, processor, _ = load_pretrained_model(
        str(oracle_dir / "llava-v1.5-tiny"), None, "llava-v1.5-tiny", device="cpu",
        torch_dtype="float32",
    )  # fmt: skip
    image = Image.open(oracle_dir / "golden" / "synthetic_400x300.png").convert("RGB")
    pixels = process_images([image], processor, model.config)
    prompt = build_prompt(QUESTION, "vicuna_v1")
    ids = tokenizer_image_token(prompt, tokenizer, IMAGE_TOKEN_INDEX, return_tensors="pt")[None]
    return model, ids, pixels


@pytest.mark.parametrize("tokens", [64, 192])
def test_matches_the_official_code(tokens, oracle, oracle_dir):
    reference = json.loads((oracle_dir / "visionzip" / f"visionzip_{tokens}.json").read_text())
    model, ids, pixels = oracle
    assert ids[0].tolist() == reference["prompt_token_ids"]
    dominant, contextual = split_budget(tokens)
    info = reference["visionzip_info"]
    assert (dominant - 1, contextual) == (info["dominant_num_patches"], info["contextual_num"])
    spy = Spy(VisionZip(VisionZipConfig(dominant, contextual)))
    steps = len(reference["greedy_new_token_ids"])
    out = generate(model, ids, pixels, spy, GenerationOptions(max_new_tokens=steps))
    (record,) = spy.runs[0].records
    assert record.kept[0] == "cls"
    assert record.kept[1:] == reference["dominant_patch_indices_sorted"]
    targets = [cluster[0] for cluster in record.clusters]
    assert targets == reference["contextual_target_patch_indices"]
    members = [sorted(cluster[1:]) for cluster in record.clusters]
    assert members == reference["contextual_members_patch_indices"]
    # The LLM sees 64 (192) visual tokens in the official order, at every layer.
    (stats,) = out.stats
    assert stats.tokens_in[0] == reference["prefill_seq_len"]
    assert set(stats.visual_in) == {reference["num_visual_tokens_to_llm"]}
    assert out.tokens[0].tolist() == reference["greedy_new_token_ids"]
    logits, _, _ = prefill(model, ids, pixels, VisionZip(VisionZipConfig(dominant, contextual)))
    expected = torch.tensor(reference["first_step_logits"])
    torch.testing.assert_close(logits[0], expected, atol=1e-4, rtol=0)
