"""What a benchmark is to this project: its files, how it is answered, converted and scored.

Each benchmark is one module of `llava.benchmarks` that ends with a `BENCHMARK = Benchmark(...)`
entry; `llava.benchmarks.BENCHMARKS` lists them. The demo, the scripts' tests and the README's
table read that list instead of naming benchmarks one by one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

# Where the official number comes from: computed here from public files, an evaluation server
# (hidden ground truth: VQAv2, VizWiz), or an LLM judge (MM-Vet, LLaVA-Bench).
Scoring = Literal["offline", "server", "judge"]


@dataclass(frozen=True)
class Score:
    value: float  # the headline number, on the scale published tables use
    details: dict = field(default_factory=dict)  # everything else the scorer computed


@dataclass(frozen=True)
class Benchmark:
    name: str  # registry key, also scripts/v1_5/eval/<name>.sh
    title: str
    metric: str  # what `Score.value` is, e.g. "POPE F1" or "accuracy"
    scoring: Scoring
    # Paths relative to the evaluation data root (LLaVA's playground/data/eval layout).
    question_file: str
    image_folder: str
    # Where LLaVA's script puts the answers of an experiment (model and pruning), e.g.
    # "gqa/answers/llava_gqa_testdev_balanced/{experiment}/merge.jsonl".
    answers: str
    # The answer generator (a LLaVA entry point under llava.eval) and the flags LLaVA's
    # script passes it besides the files, temperature and conv mode.
    answering: str = "llava.eval.model_vqa_loader"
    answering_flags: tuple[str, ...] = ()
    # (data root, answers file) -> Score, by the official rules; for server-scored benchmarks
    # this scores a split with public answers (the synthetic stand-ins are one).
    score: Callable[[Path, Path], Score] | None = None
    # (data root, seed, images, progress) -> question counts: writes the synthetic stand-in
    # in this benchmark's layout and formats.
    write_synthetic: Callable[..., dict] | None = None
    synthetic_images: int = 20  # the demo's default size of the stand-in

    def answers_file(self, data_root: Path, experiment: str) -> Path:
        return Path(data_root) / self.answers.format(experiment=experiment)
