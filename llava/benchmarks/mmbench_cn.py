"""MMBench-CN (dev 20231003): MMBench's reading, prompt, submission and CircularEval with the
Chinese instruction (`--lang cn`); LLaVA's scripts/v1_5/eval/mmbench_cn.sh layout
(haotian-liu/LLaVA c121f0432da27facab705978f83c4ada465e46fd). Nothing here prints."""

from __future__ import annotations

from pathlib import Path

from llava.benchmarks.mmbench import evaluate_mmbench
from llava.benchmarks.registry import Benchmark, Score


def _score(data_root: Path, answers: Path) -> Score:
    result = evaluate_mmbench(Path(data_root) / BENCHMARK.question_file, answers)
    return Score(100 * result.accuracy, result.to_dict())


def _write_synthetic(data_root: Path, *, seed: int, images: int, progress: bool = False) -> dict:
    from llava.synthetic.mmbench import write_mmbench

    return write_mmbench(data_root, seed=seed, images=images, progress=progress, lang="cn")


BENCHMARK = Benchmark(
    name="mmbench_cn",
    title="MMBench-CN (dev 20231003)",
    metric="MMBench-CN",  # CircularEval accuracy x100, as for MMBench (63.6 for LLaVA-1.5-13B)
    scoring="offline",
    question_file="mmbench_cn/mmbench_dev_cn_20231003.tsv",
    image_folder="mmbench_cn",  # unused: the images are base64 cells of the TSV
    answers="mmbench_cn/answers/mmbench_dev_cn_20231003/{experiment}.jsonl",
    answering="llava.eval.model_vqa_mmbench",
    answering_flags=("--single-pred-prompt", "--lang", "cn"),
    score=_score,
    write_synthetic=_write_synthetic,
)
