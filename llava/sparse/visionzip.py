"""VisionZip (Yang et al., "VisionZip: Longer is Better but Not Necessary in Vision Language
Models", CVPR 2025, arXiv 2412.04467), as its code does it for LLaVA-1.5
(dvlab-research/VisionZip @ 3151f6d, visionzip/clip_encoder.py and utils.py).

Before the LLM, on the vision tower's selected layer (the second to last):
- dominant tokens: the CLS token and the `dominant - 1` patches the CLS token attends to most in
  that layer (softmax attention summed over heads), in their original order;
- contextual tokens: the remaining patches' keys of that layer, averaged over heads and unit
  normalised, give `contextual` targets taken evenly (every max(1, N // C)-th of the N remaining,
  the first C of them); each other remaining patch joins the target it is most similar to (cosine),
  and a target's token is its own feature plus the mean of its members' (features of that layer).
The LLM then sees [dominant (CLS first), contextual (in target order)] projected in place of the
576 patches, at contiguous positions, for every layer: `dominant + contextual` visual tokens.
Published settings for LLaVA-1.5 (paper, Table 1): 192 = 162 + 30, 128 = 108 + 20, 64 = 54 + 10
(dominant counts include CLS).

LLaVA-NeXT: the reference's own path, every crop zipped alike (`llava.sparse.visionzip_anyres`;
`--retained-tokens N` is then N per crop, N / 576 of a crop of another size). Qwen-VL:
refused, its vision transformer has no CLS token.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import torch

from llava.sparse.base import (
    MERGED,
    PruneRecord,
    PruningRun,
    TokenState,
    VisionExtras,
    VisionRequest,
)
from llava.sparse.registry import Flag, Method, ModelShape, describe_request
from llava.sparse.visionzip_anyres import anyres_origin, anyres_step

PRESETS = {192: (162, 30), 128: (108, 20), 64: (54, 10)}
NO_CLS = (
    "VisionZip selects by the vision tower's CLS attention; Qwen2-VL / Qwen2.5-VL's vision "
    "transformer has no CLS token and VisionZip publishes no adaptation for it "
    "(dvlab-research/VisionZip @ 3151f6d: LLaVA-1.5 and LLaVA-NeXT only)"
)  # tokens -> (dominant, contextual)
CONTEXTUAL_SHARE = 10 / 64  # every preset's contextual / total (30/192 = 20/128 = 10/64)


@dataclass(frozen=True)
class VisionZipConfig:
    dominant: int = 54  # CLS included
    contextual: int = 10
    retained_tokens: int | None = None
    # LLaVA-NeXT, counts from --retained-tokens or the defaults: they are for a crop of this
    # many patches (LLaVA-1.5's 576) and scale to a crop's own (None: as given)
    crop_reference: int | None = None

    def for_crop(self, patches: int) -> VisionZipConfig:
        """The counts for a crop of `patches` patches: the same fraction of it as of the
        reference crop (split as the presets split), or as given."""
        if self.crop_reference is None or patches == self.crop_reference:
            return self
        tokens = max(1, round((self.dominant + self.contextual) * patches / self.crop_reference))
        return VisionZipConfig(*split_budget(tokens), self.retained_tokens)

    def check(self, visual_tokens: int) -> None:
        if self.dominant < 1 or self.contextual < 0:
            raise ValueError(
                f"VisionZip needs --visionzip-dominant >= 1 (CLS is always kept) and "
                f"--visionzip-contextual >= 0, got {self.dominant} and {self.contextual}"
            )
        if self.dominant - 1 + self.contextual > visual_tokens:
            raise ValueError(
                f"VisionZip: {self.dominant - 1} dominant patches + {self.contextual} contextual "
                f"targets exceed the image's {visual_tokens} patches"
            )


def split_budget(tokens: int) -> tuple[int, int]:
    """(dominant, contextual) for `tokens` visual tokens: a published preset, else the presets'
    shared proportion (10 of every 64 contextual)."""
    if tokens in PRESETS:
        return PRESETS[tokens]
    contextual = round(tokens * CONTEXTUAL_SHARE)
    return tokens - contextual, contextual


def dominant_patches(cls_attention: torch.Tensor, count: int) -> torch.Tensor:
    """Patch indices (0-based, among the patches) of the `count` patches with the most CLS
    attention summed over heads, in descending attention. cls_attention: (H, 1 + V)."""
    return cls_attention[:, 1:].sum(dim=0).topk(count).indices


def contextual_merge(
    features: torch.Tensor, keys: torch.Tensor, count: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Merge N remaining tokens into `count` contextual tokens.

    features (N, C) and head-averaged keys (N, hd) of the remaining tokens, in order. Returns the
    merged features (count, C), the targets' indices (count,) and each token's target (N,), -1
    for the targets themselves.
    """
    n = features.shape[0]
    metric = keys / keys.norm(dim=-1, keepdim=True)
    step = max(1, n // count)
    targets = torch.arange(0, n, step)[:count]
    is_target = torch.zeros(n, dtype=torch.bool)
    is_target[targets] = True
    others = (~is_target).nonzero().squeeze(1)
    similarity = metric[others] @ metric[targets].T  # (N - count, count)
    choice = similarity.argmax(dim=1)
    sums = torch.zeros(count, features.shape[1], dtype=torch.float32)
    sums.index_add_(0, choice, features[others].float())
    members = torch.bincount(choice, minlength=count).clamp(min=1)[:, None]
    merged = features[targets].float() + sums / members
    assignment = torch.full((n,), -1, dtype=torch.long)
    assignment[others] = choice
    return merged.to(features.dtype), targets, assignment


@dataclass
class CropZip:
    """VisionZip on one crop (CLS + P patches): what it keeps and merges."""

    dominant: torch.Tensor  # (D,) token indices kept, ascending: 0 (CLS) then patches 1..P
    rows: torch.Tensor  # (D + C, F) the dominant tokens' features, then the contextual tokens'
    clusters: list[list[int]]  # per contextual token, its members' patch indices (0..P-1)
    scores: torch.Tensor  # (P,) CLS attention summed over heads, float32


def zip_crop(
    features: torch.Tensor, cls_attention: torch.Tensor, keys: torch.Tensor, config
) -> CropZip:
    """features (1 + P, F), cls_attention (H, 1 + P), keys (H, 1 + P, hd) of one crop."""
    tokens = features.shape[0]
    if config.dominant - 1 + config.contextual > tokens - 1:
        raise ValueError(
            f"VisionZip: {config.dominant - 1} dominant patches + {config.contextual} contextual "
            f"targets exceed a crop's {tokens - 1} patches"
        )
    top = dominant_patches(cls_attention.float(), config.dominant - 1) + 1
    dominant = torch.cat((torch.zeros(1, dtype=torch.long), top.cpu())).sort().values
    rest = torch.ones(tokens, dtype=torch.bool)
    rest[dominant] = False
    rest_index = rest.nonzero().squeeze(1)
    rows = [features[dominant.to(features.device)]]
    clusters: list[list[int]] = []
    if config.contextual:
        mean_keys = keys.mean(dim=0)  # (1 + P, hd) averaged over heads
        merged, targets, assignment = contextual_merge(
            features[rest_index.to(features.device)].cpu(),
            mean_keys[rest_index.to(mean_keys.device)].float().cpu(),
            config.contextual,
        )
        rows.append(merged.to(features.device, features.dtype))
        labels = (rest_index - 1).tolist()  # patch indices of the remaining tokens
        clusters = [
            [labels[int(t)]] + [labels[i] for i in (assignment == c).nonzero().squeeze(1)]
            for c, t in enumerate(targets)
        ]
    scores = cls_attention[:, 1:].sum(dim=0).float().cpu()
    return CropZip(dominant, torch.cat(rows), clusters, scores)


class VisionZipRun(PruningRun):
    def __init__(self, config: VisionZipConfig) -> None:
        super().__init__()
        self.config = config

    def before_llm(self, state: TokenState, vision: VisionExtras | None) -> TokenState:
        if vision is None:  # no image: nothing to select
            return state
        config = self.config
        if vision.tile_grid is not None:  # LLaVA-NeXT: the reference's anyres path
            config = config.for_crop(vision.features.shape[1] - 1)
            crops = [
                zip_crop(vision.features[c], vision.cls_attention[c], vision.keys[c], config)
                for c in range(vision.features.shape[0])
            ]
            features, labels, record = anyres_step(crops, vision, config, state.num_visual)
            self.records.append(record)
            first = int(state.visual_index()[0])
            origin = anyres_origin(labels, first, state.origin.dtype)
            return state.with_visual(vision.project(features[None]), origin)
        crop = zip_crop(vision.features[0], vision.cls_attention[0], vision.keys[0], config)
        dominant = crop.dominant
        record = PruneRecord(-1, vision.features.shape[1] - 1, None, config.dominant, True,
                             crop.scores)  # fmt: skip
        record.kept = ["cls" if i == 0 else int(i) - 1 for i in dominant.tolist()]
        record.clusters = crop.clusters
        self.records.append(record)
        rows = vision.project(crop.rows[None])
        origin = torch.full((rows.shape[1],), MERGED, dtype=state.origin.dtype)
        first = int(state.visual_index()[0])
        patch_origin = dominant[1:] - 1 + first  # the kept patches' prompt positions
        origin[1 : config.dominant] = patch_origin.to(origin.dtype)
        return state.with_visual(rows, origin)


class VisionZip:
    name = "visionzip"
    vision_request = VisionRequest(cls_attention=True, keys=True)

    def __init__(self, config: VisionZipConfig = VisionZipConfig()) -> None:
        self.config = config

    def describe(self) -> dict:
        config = self.config
        settings = {
            "method": self.name,
            "dominant": config.dominant,
            "contextual": config.contextual,
        }
        return describe_request(settings, config.retained_tokens)

    def start(self, state: TokenState, num_layers: int) -> VisionZipRun:
        return VisionZipRun(self.config)  # the counts are checked against each crop


def _build(args: argparse.Namespace, shape: ModelShape) -> VisionZip:
    if shape.family == "qwen-vl":
        raise ValueError(NO_CLS)
    given = (args.visionzip_dominant, args.visionzip_contextual)
    if args.retained_tokens is not None:
        if given != (None, None):
            raise ValueError(
                "give either --retained-tokens or --visionzip-dominant/--visionzip-contextual"
            )
        if not 1 <= args.retained_tokens <= shape.visual_tokens:
            raise ValueError(
                f"--retained-tokens must be in 1..{shape.visual_tokens}, got {args.retained_tokens}"
            )
        dominant, contextual = split_budget(args.retained_tokens)
    else:
        default = VisionZipConfig()
        dominant = default.dominant if given[0] is None else given[0]
        contextual = default.contextual if given[1] is None else given[1]
    relative = shape.reference_tokens is not None and given == (None, None)
    reference = shape.reference_tokens if relative else None
    config = VisionZipConfig(dominant, contextual, args.retained_tokens, reference)
    config.check(shape.visual_tokens)
    return VisionZip(config)


METHOD = Method(
    name="visionzip",
    summary="before the LLM, keep CLS and the patches CLS attends to most, and merge the rest "
    "into a few contextual tokens by key similarity",
    source="Yang et al., CVPR 2025, arXiv 2412.04467; dvlab-research/VisionZip @ 3151f6d "
    "(64 = 54 + 10, 128 = 108 + 20, 192 = 162 + 30)",
    stage="pre-LLM",
    build=_build,
    flags=(
        Flag("--visionzip-dominant", int, "VisionZip: dominant tokens, CLS included (default 54)"),
        Flag("--visionzip-contextual", int, "VisionZip: contextual tokens (default 10)"),
    ),
)
