"""MM-Vet: LLaVA's conversion of answers for MM-Vet's evaluator, and the evaluator's metadata,
file names and aggregation of grades into capability scores.

Sources: haotian-liu/LLaVA c121f04 scripts/convert_mmvet_for_eval.py (`{"v1_<question_id>":
text}` in answer order, `json.dump(..., indent=2)`), and yuweihao/MM-Vet c7ff270
mm-vet_evaluator.py (same rules as 7d717c2). Per run, a capability's score is the sum of the
grades of the samples having it, over their count, x100 (`total`: every sample); each column is
then the mean over runs, and `std` the standard deviation (numpy's, ddof 0) of the run totals,
all rounded with numpy to `decimal_places`; `runs` lists the rounded run totals. A second table
does the same per capability *set* ("capability integration"). The grading through the judge is
in `mmvet_grading`. Nothing here prints.

Where the evaluator depends on Python's string hashing (the order of capabilities inside a
capability-set name, e.g. "rec_know_gen" or "gen_rec_know"), names follow the capability
columns' order instead; values are the same.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from llava.benchmarks.answer_checks import check_answer_texts
from llava.benchmarks.jsonl import read_json
from llava.benchmarks.registry import Benchmark

SUBSET_FILE = "bard_set.json"  # the evaluator's --use_sub_set: the samples Bard was graded on
SUBSET_NAME = "bardset_"


def convert_for_eval(answers: Sequence[dict], path: str | Path) -> dict[str, str]:
    """LLaVA answers -> the evaluator's results: {"v1_<question_id>": text}, in answer order."""
    check_answer_texts(answers, path)
    results: dict[str, str] = {}
    for answer in answers:
        key = f"v1_{answer.get('question_id')}"
        if key in results:
            raise ValueError(f"{path}: question_id {answer.get('question_id')!r} answered twice")
        results[key] = answer["text"]
    return results


def results_text(results: Mapping[str, str]) -> str:
    """The results file, byte for byte as LLaVA's `json.dump(cur_result, f, indent=2)`."""
    return json.dumps(dict(results), indent=2)


@dataclass(frozen=True)
class MMVetMetadata:
    samples: dict[str, dict]  # sample id -> mm-vet.json entry, in file order (subset applied)
    capabilities: list[str]  # the capability columns, most frequent first
    capability_counts: dict[str, int]
    capability_sets: list[frozenset[str]]  # most frequent first
    set_counts: list[int]
    subset_name: str  # "" or "bardset_", part of the score files' names

    def set_name(self, capability_set: frozenset[str]) -> str:
        return "_".join(c for c in self.capabilities if c in capability_set)


def load_metadata(mmvet_path: str | Path, use_sub_set: bool = False) -> MMVetMetadata:
    """mm-vet.json (and bard_set.json for the subset) as the evaluator's load_metadata reads it."""
    folder = Path(mmvet_path)
    data = read_json(folder / "mm-vet.json", "MM-Vet metadata")
    if not isinstance(data, dict) or not all(
        isinstance(v, dict) and {"question", "answer", "capability"} <= set(v)
        for v in data.values()
    ):
        raise ValueError(
            f"{folder / 'mm-vet.json'}: expected {{id: {{question, answer, capability, ...}}}}"
        )
    if use_sub_set:
        subset = read_json(folder / SUBSET_FILE, "MM-Vet subset file")
        data = {key: value for key, value in data.items() if key in subset}
    counts: Counter[str] = Counter()
    set_counts: Counter[frozenset[str]] = Counter()
    for entry in data.values():  # first appearance breaks ties (the evaluator's Counter order)
        counts.update(dict.fromkeys(entry["capability"], 1))
        set_counts[frozenset(entry["capability"])] += 1
    # The evaluator orders the sets with numpy's default (not stable) argsort; its order of
    # ties is numpy's, and LLaVA's released files show the same one.
    first_seen = list(set_counts)
    order = np.argsort(-np.array([set_counts[s] for s in first_seen]))
    sets = [first_seen[i] for i in order]
    return MMVetMetadata(
        samples=data,
        capabilities=[name for name, _ in counts.most_common()],
        capability_counts=dict(counts),
        capability_sets=sets,
        set_counts=[set_counts[s] for s in sets],
        subset_name=SUBSET_NAME if use_sub_set else "",
    )


@dataclass(frozen=True)
class ResultFiles:
    grade: Path
    cap_score: Path
    cap_int_score: Path


def result_files(
    result_path: str | Path, model: str, gpt_model: str, num_run: int, subset_name: str = ""
) -> ResultFiles:
    """The evaluator's file names; the grade file's name has no subset part. A "/" in the judge's
    name (as some endpoints name models) becomes "_", so the files stay in `result_path`."""
    folder = Path(result_path)
    gpt_model = gpt_model.replace("/", "_")
    stem = f"{model}_{subset_name}{gpt_model}"
    return ResultFiles(
        grade=folder / f"{model}_{gpt_model}-grade-{num_run}runs.json",
        cap_score=folder / f"{stem}-cap-score-{num_run}runs.csv",
        cap_int_score=folder / f"{stem}-cap-int-score-{num_run}runs.csv",
    )


def check_grades(grades: object, path: str | Path) -> dict[str, dict]:
    """A grade file's content: {sample id: {"model": [...], "content": [...], "score": [...]}},
    with lists of one length per sample."""
    if not isinstance(grades, dict):
        raise ValueError(f"{path}: expected a JSON object {{sample id: grades}}")
    for sample_id, grade in grades.items():
        if not isinstance(grade, dict) or not all(
            isinstance(grade.get(k), list) for k in ("model", "content", "score")
        ):
            raise ValueError(f"{path}, {sample_id}: expected lists 'model', 'content', 'score'")
        if not len(grade["model"]) == len(grade["content"]) == len(grade["score"]):
            raise ValueError(f"{path}, {sample_id}: 'model', 'content', 'score' differ in length")
    return grades


def _mean_rounded(values: np.ndarray, decimals: int) -> float:
    return float(np.round(values.mean(), decimals))  # the evaluator's round() of a numpy float


def aggregate(
    grades: Mapping[str, dict], metadata: MMVetMetadata, num_run: int, decimals: int = 1
) -> tuple[dict[str, object], dict[str, object]]:
    """The two rows the evaluator writes: per capability, and per capability set; each ends
    with total, std and runs. Sums run in grade-file order, as the evaluator's."""
    missing = [s for s in metadata.samples if len(grades.get(s, {}).get("score", [])) < num_run]
    if missing:
        raise ValueError(
            f"{len(missing)} of {len(metadata.samples)} samples have fewer than {num_run} "
            f"grades (e.g. {missing[0]}); grade them first"
        )
    names = [metadata.set_name(s) for s in metadata.capability_sets]
    sums = {name: [0.0] * num_run for name in [*metadata.capabilities, "total"]}
    set_sums = {name: [0.0] * num_run for name in [*names, "total"]}
    for sample_id, grade in grades.items():
        if sample_id not in metadata.samples:
            continue
        capabilities = frozenset(metadata.samples[sample_id]["capability"])
        set_name = metadata.set_name(capabilities)
        for run in range(num_run):
            score = grade["score"][run]
            for capability in capabilities:
                sums[capability][run] += score
            sums["total"][run] += score
            set_sums[set_name][run] += score
            set_sums["total"][run] += score
    counts = {**metadata.capability_counts, "total": len(metadata.samples)}
    set_counts = {**dict(zip(names, metadata.set_counts, strict=True)), "total": counts["total"]}
    percents = {name: np.array(v) / counts[name] * 100 for name, v in sums.items()}
    totals = percents["total"]
    std = float(np.round(totals.std(), decimals))
    runs = str([float(x) for x in np.round(totals, decimals)])  # "[36.1, 36.5, 36.3]"
    row = {name: _mean_rounded(v, decimals) for name, v in percents.items()}
    set_row = {
        name: _mean_rounded(np.array(v) / set_counts[name] * 100, decimals)
        for name, v in set_sums.items()
    }
    return {**row, "std": std, "runs": runs}, {**set_row, "std": std, "runs": runs}


def csv_text(model: str, row: Mapping[str, object]) -> str:
    """A one-row score file as the evaluator's pandas `to_csv` writes it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["", *row])
    writer.writerow([model, *(repr(v) if isinstance(v, float) else v for v in row.values())])
    return out.getvalue()


def _write_synthetic(data_root: Path, *, seed: int, images: int, progress: bool = False) -> dict:
    from llava.synthetic.mmvet import write_mmvet

    return write_mmvet(data_root, seed=seed, images=images, progress=progress)


# MM-Vet is graded by an LLM judge: `python -m llava.eval.eval_mmvet` grades through the endpoint
# the environment configures. The registry's `score` is an offline (data root, answers) ->
# Score function, which cannot assume an endpoint, credentials or the cost of calls, so it is
# None here; the demo and scripts run the judge's CLI when an endpoint is configured.
BENCHMARK = Benchmark(
    name="mmvet",
    title="MM-Vet",
    metric="MM-Vet",  # the evaluator's `total`: mean GPT grade x100
    scoring="judge",
    question_file="mm-vet/llava-mm-vet.jsonl",
    image_folder="mm-vet/images",
    answers="mm-vet/answers/{experiment}.jsonl",
    answering="llava.eval.model_vqa",
    score=None,
    write_synthetic=_write_synthetic,
)
