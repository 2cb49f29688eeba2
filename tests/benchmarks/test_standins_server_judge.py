"""The synthetic stand-ins of VQAv2, VizWiz, MM-Vet and LLaVA-Bench (llava.synthetic) meet
their scorers: public answers the server scorers read, and metadata the judge paths read, with
a deterministic stub judge ("8 7", "0.5") as the pipeline smoke test. Skipped where the
stand-in's writer is absent."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from judge_stub import StubJudge

from llava.benchmarks import get_benchmark, mmvet
from llava.benchmarks.jsonl import read_jsonl
from llava.eval import eval_gpt_review_bench, eval_mmvet, summarize_gpt_review


def _stand_in(name: str, module: str, root: Path):
    pytest.importorskip(f"llava.synthetic.{module}", reason=f"no synthetic {name} writer yet")
    benchmark = get_benchmark(name)
    benchmark.write_synthetic(root, seed=0, images=3)
    return benchmark


def _answer(benchmark, root: Path, experiment: str, texts: dict) -> Path:
    questions = read_jsonl(root / benchmark.question_file, "questions")
    path = benchmark.answers_file(root, experiment)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        {"question_id": q["question_id"], "prompt": q["text"], "text": texts[q["question_id"]],
         "answer_id": f"a{q['question_id']}", "model_id": experiment, "metadata": {}}
        for q in questions
    ]  # fmt: skip
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _most_common(records: list[dict]) -> str:
    return Counter(record["answer"] for record in records).most_common(1)[0][0]


@pytest.mark.parametrize("name", ["vqav2", "vizwiz"])
def test_server_stand_ins_score_offline(name: str, tmp_path: Path) -> None:
    benchmark = _stand_in(name, name, tmp_path)
    questions = read_jsonl(tmp_path / benchmark.question_file, "questions")
    if name == "vqav2":
        annotations = json.loads(
            (tmp_path / "vqav2/synthetic_test-dev2015_annotations.json").read_text()
        )
        by_id = {a["question_id"]: a["answers"] for a in annotations["annotations"]}
    else:
        annotations = json.loads((tmp_path / "vizwiz/synthetic_test_annotations.json").read_text())
        by_image = {a["image"]: a["answers"] for a in annotations}
        by_id = {q["question_id"]: by_image[q["image"]] for q in questions}
    oracle = _answer(benchmark, tmp_path, "oracle", {k: _most_common(v) for k, v in by_id.items()})
    constant = _answer(benchmark, tmp_path, "constant", dict.fromkeys(by_id, "Blue"))
    best, worst = benchmark.score(tmp_path, oracle), benchmark.score(tmp_path, constant)
    assert best.value >= 90 > worst.value
    assert best.details["samples"] == len(questions) and worst.details["warnings"]


def _texts(root: Path, benchmark, text: str) -> dict:
    return {q["question_id"]: text for q in read_jsonl(root / benchmark.question_file, "q")}


def test_mmvet_stand_in_through_a_constant_judge(tmp_path: Path, judge_env, capsys) -> None:
    benchmark = _stand_in("mmvet", "mmvet", tmp_path)
    answers = _answer(benchmark, tmp_path, "m", _texts(tmp_path, benchmark, "A blue circle."))
    results = tmp_path / "mm-vet/results/m.json"
    results.parent.mkdir()
    results.write_text(mmvet.results_text(mmvet.convert_for_eval(read_jsonl(answers, "a"), "a")))
    with StubJudge(lambda body: "0.5") as stub:
        judge_env(stub)
        argv = ["--mmvet_path", str(tmp_path / "mm-vet"), "--result_file", str(results)]
        assert eval_mmvet.main(argv) == 0
    assert len(stub.requests) == len(mmvet.load_metadata(tmp_path / "mm-vet").samples)
    score_file = tmp_path / "mm-vet/results/m_gpt-4-0613-cap-score-1runs.csv"
    assert score_file.read_text().splitlines()[1].endswith(",50.0,0.0,[50.0]")


def test_llavabench_stand_in_through_a_constant_judge(
    tmp_path: Path, judge_env, suite_fixtures: Path, capsys
) -> None:
    benchmark = _stand_in("llavabench", "llavabench", tmp_path)
    answers = _answer(benchmark, tmp_path, "m", _texts(tmp_path, benchmark, "A blue circle."))
    folder = tmp_path / "llava-bench-in-the-wild"
    output = folder / "reviews" / "m.jsonl"
    argv = [
        "--question",
        str(folder / "questions.jsonl"),
        "--context",
        str(folder / "context.jsonl"),
    ]
    argv += ["--rule", str(suite_fixtures / "llava-bench/rule.json"), "--output", str(output)]
    argv += ["--answer-list", str(folder / "answers_gpt4.jsonl"), str(answers)]
    with StubJudge(lambda body: "8 7\nA deterministic judge.") as stub:
        judge_env(stub)
        assert eval_gpt_review_bench.main(argv) == 0
    assert len(stub.requests) == len(read_jsonl(folder / "questions.jsonl", "q"))
    capsys.readouterr()
    assert summarize_gpt_review.main(["-f", str(output)]) == 0
    assert capsys.readouterr().out.splitlines()[:2] == ["m", "all 87.5 80.0 70.0"]
