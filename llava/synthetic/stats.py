"""Object statistics of a set of scenes, as POPE uses them to choose negative objects.

POPE's "popular" negatives are the absent objects most frequent in the dataset, its
"adversarial" ones the absent objects that co-occur most with the present ones. Counts are per
image (an image with two red circles counts once), as POPE counts COCO annotations.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from llava.synthetic.scenes import KINDS, Kind, Scene
from llava.synthetic.vocab import COLOR_NAMES, COLOR_WEIGHTS, SHAPE_WEIGHTS, SHAPES


@dataclass(frozen=True)
class ObjectStats:
    frequency: dict[Kind, float] = field(default_factory=dict)  # images containing the kind
    cooccurrence: dict[tuple[Kind, Kind], float] = field(default_factory=dict)  # both kinds

    @classmethod
    def from_scenes(cls, scenes: Iterable[Scene]) -> ObjectStats:
        """Per-image counts over `scenes` (what POPE computes on its images)."""
        frequency: dict[Kind, float] = {}
        cooccurrence: dict[tuple[Kind, Kind], float] = {}
        for scene in scenes:
            kinds = scene.kinds()
            for a in kinds:
                frequency[a] = frequency.get(a, 0.0) + 1.0
                for b in kinds:
                    if a != b:
                        cooccurrence[(a, b)] = cooccurrence.get((a, b), 0.0) + 1.0
        return cls(frequency, cooccurrence)

    @classmethod
    def prior(cls) -> ObjectStats:
        """The sampling distribution's own statistics (no scenes needed): for training."""
        color_w = dict(zip(COLOR_NAMES, COLOR_WEIGHTS, strict=True))
        shape_w = dict(zip(SHAPES, SHAPE_WEIGHTS, strict=True))
        total = sum(COLOR_WEIGHTS) * sum(SHAPE_WEIGHTS)
        frequency = {k: color_w[k[0]] * shape_w[k[1]] / total for k in KINDS}
        cooccurrence = {(a, b): frequency[a] * frequency[b] for a in KINDS for b in KINDS if a != b}
        return cls(frequency, cooccurrence)

    def count(self, kind: Kind) -> float:
        return self.frequency.get(kind, 0.0)

    def cooccur(self, a: Kind, b: Kind) -> float:
        return self.cooccurrence.get((a, b), 0.0)
