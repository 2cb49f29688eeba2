"""The tower probe on the shipped checkpoint: its tower reads colours, and the probe says so."""

from __future__ import annotations

import torch

from llava.experiments import demo
from llava.model.builder import load_pretrained_model
from llava.synthetic import make_rng, sample_pope_scene
from llava.train.tower_probe import object_patch_features, probe_accuracy


def test_the_probe_reads_colours_from_the_shipped_tower_and_not_from_noise() -> None:
    torch.manual_seed(0)
    _, model, processor, _ = load_pretrained_model(str(demo.DEFAULT_MODEL), device="cpu")
    rng = make_rng(0, "test", "probe")
    features, targets = object_patch_features(
        model, processor, [sample_pope_scene(rng, pairs=2) for _ in range(24)]
    )
    assert len(features) == len(targets["colour"]) == len(targets["shape"]) > 100
    assert probe_accuracy(features, targets["colour"]) > 0.9
    # Features that say nothing about the patch: the probe is at chance, not above.
    assert probe_accuracy(torch.randn_like(features), targets["colour"]) < 0.5
