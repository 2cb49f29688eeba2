"""How well a checkpoint's vision tower tells colours and shapes apart, patch by patch.

    python -m llava.train.tower_probe playground/models/llava-v1.5-synthetic

Fits a linear probe (softmax regression) from the tower's features of object patches to the
object's colour and to its shape on fresh POPE-style scenes, and prints its accuracy on held-out
patches. A decoder cannot answer "a red circle or a red square?" from features that do not
separate the shapes, whatever its training.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from llava.mm_utils import process_images
from llava.model.builder import load_pretrained_model
from llava.synthetic import make_rng, patch_owners, render, sample_pope_scene
from llava.train.data import patch_targets


@torch.no_grad()
def object_patch_features(model, processor, scenes) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Tower features of every object patch of `scenes`, with its colour and shape ids."""
    features, targets = [], {"colour": [], "shape": []}
    for scene in scenes:
        owners = patch_owners(scene).reshape(-1)
        colour, shape, _ = patch_targets(scene, owners)
        on_object = torch.from_numpy(owners >= 0)
        pixels = process_images([render(scene)], processor, model.config)
        features.append(model.get_vision_tower()(pixels.to(model.dtype))[0][on_object].float())
        targets["colour"].append(torch.from_numpy(colour)[on_object])
        targets["shape"].append(torch.from_numpy(shape)[on_object])
    return torch.cat(features), {k: torch.cat(v) for k, v in targets.items()}


def probe_accuracy(features: torch.Tensor, target: torch.Tensor, steps: int = 500) -> float:
    """Accuracy of a linear probe on the last quarter of the rows, fitted on the others."""
    split = len(features) * 3 // 4
    probe = torch.nn.Linear(features.shape[1], int(target.max()) + 1)
    optimizer = torch.optim.Adam(probe.parameters(), lr=1e-2)
    for _ in range(steps):
        loss = F.cross_entropy(probe(features[:split]), target[:split])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return (probe(features[split:]).argmax(-1) == target[split:]).float().mean().item()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model_path")
    parser.add_argument("--scenes", type=int, default=160)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    _, model, processor, _ = load_pretrained_model(args.model_path, device="cpu")
    rng = make_rng(args.seed, "probe", "tower")
    scenes = [sample_pope_scene(rng, pairs=2) for _ in range(args.scenes)]
    features, targets = object_patch_features(model, processor, scenes)
    print(f"{len(features)} object patches, a quarter held out")
    for name, target in targets.items():
        print(f"{name}: {probe_accuracy(features, target):.2f}")


if __name__ == "__main__":
    main()
