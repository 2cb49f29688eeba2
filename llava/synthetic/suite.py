"""Every synthetic benchmark in one place: its name, its size and its writer.

Names are the benchmark registry's (`scripts/v1_5/eval/<name>.sh`); `write_benchmarks`
writes any subset of them under one root in LLaVA's `playground/data/eval` layout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from llava.synthetic.gqa import write_gqa
from llava.synthetic.llavabench import write_llavabench
from llava.synthetic.mmbench import write_mmbench
from llava.synthetic.mmvet import write_mmvet
from llava.synthetic.scienceqa import write_scienceqa
from llava.synthetic.seed import write_seed
from llava.synthetic.seeding import TEST
from llava.synthetic.vizwiz import write_vizwiz
from llava.synthetic.vqav2 import write_vqav2
from llava.synthetic.write import write_mme, write_pope, write_textvqa

SYNTHETIC_BENCHMARKS: tuple[str, ...] = (
    "pope", "mme", "textvqa", "gqa", "sqa", "mmbench", "mmbench_cn", "vqav2", "vizwiz", "seed",
    "mmvet", "llavabench",
)  # fmt: skip


@dataclass(frozen=True)
class BenchmarkSizes:
    pope_images: int = 25  # x pope_pairs yes/no pairs = 100 questions per split, 300 in all
    pope_pairs: int = 2
    mme_images: int = 30  # per category; x 4 categories x 2 questions = 240 questions
    textvqa_images: int = 75  # x textvqa_questions_per_image = 150 questions
    textvqa_questions_per_image: int = 2
    gqa_images: int = 40  # x 3 questions
    sqa_images: int = 60  # image questions, plus half as many text-only ones
    mmbench_images: int = 40  # questions, each with its circular copies
    mmbench_cn_images: int = 40
    vqav2_images: int = 40  # test-dev images x 3 questions, plus test-only images
    vizwiz_images: int = 100  # one question each
    seed_images: int = 72  # image questions, plus a third as many video-frame ones
    mmvet_images: int = 30  # 1-2 questions each
    llavabench_images: int = 8  # x 3 questions (conv, detail, complex)
    nonsquare_prob: float = 0.1  # share of non-square images (exercises pad-to-square)

    def __post_init__(self) -> None:
        counts = [f.name for f in fields(self) if f.name.endswith("_images")]
        if any(getattr(self, name) < 0 for name in counts):
            raise ValueError(f"image counts must be >= 0: {self}")
        if self.pope_pairs < 1:
            raise ValueError(f"pope_pairs must be >= 1, got {self.pope_pairs}")
        if not 1 <= self.textvqa_questions_per_image <= 4:
            raise ValueError("textvqa_questions_per_image must be 1-4 (one per word box)")
        if not 0.0 <= self.nonsquare_prob <= 1.0:
            raise ValueError(f"nonsquare_prob must be in [0, 1], got {self.nonsquare_prob}")

    def images(self, benchmark: str) -> int:
        return getattr(self, f"{benchmark}_images")


def _write_one(
    benchmark: str, root: Path, seed: int, split: str, sizes: BenchmarkSizes, progress: bool
) -> dict[str, int]:
    common = {
        "seed": seed, "split": split, "images": sizes.images(benchmark),
        "nonsquare_prob": sizes.nonsquare_prob, "progress": progress,
    }  # fmt: skip
    if benchmark == "pope":
        return write_pope(root, pairs=sizes.pope_pairs, **common)
    if benchmark == "textvqa":
        return write_textvqa(root, questions_per_image=sizes.textvqa_questions_per_image, **common)
    if benchmark in ("mmbench", "mmbench_cn"):
        return write_mmbench(root, lang="cn" if benchmark == "mmbench_cn" else "en", **common)
    return _SIMPLE_WRITERS[benchmark](root, **common)


_SIMPLE_WRITERS: dict[str, Callable[..., dict[str, int]]] = {
    "mme": write_mme,
    "gqa": write_gqa,
    "sqa": write_scienceqa,
    "vqav2": write_vqav2,
    "vizwiz": write_vizwiz,
    "seed": write_seed,
    "mmvet": write_mmvet,
    "llavabench": write_llavabench,
}


def write_benchmarks(
    root: str | Path,
    *,
    seed: int = 0,
    split: str = TEST,
    sizes: BenchmarkSizes | None = None,
    benchmarks: Sequence[str] = SYNTHETIC_BENCHMARKS,
    progress: bool = False,
) -> dict[str, dict[str, int]]:
    """Write `benchmarks` under `root`; returns question counts per benchmark and category."""
    unknown = [b for b in benchmarks if b not in SYNTHETIC_BENCHMARKS]
    if unknown:
        raise ValueError(
            f"unknown benchmark(s) {', '.join(unknown)}; expected some of "
            f"{', '.join(SYNTHETIC_BENCHMARKS)}"
        )
    sizes = sizes if sizes is not None else BenchmarkSizes()
    return {b: _write_one(b, Path(root), seed, split, sizes, progress) for b in benchmarks}
