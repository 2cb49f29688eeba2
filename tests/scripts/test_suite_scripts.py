"""scripts/v1_5/eval/{gqa,sqa,mmbench,mmbench_cn,vqav2,vizwiz,seed,mmvet,llavabench}.sh end to
end: one real run per benchmark on the tiny checkpoint and tiny synthetic stand-ins, some dense,
some pruned, the judged two against a stub judge on the loopback address. The command lines they
build: test_suite_commands.py.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from script_helpers import (
    CPU_ARGS,
    REPO,
    TINY,
    TINY_ARGS,
    check_answers,
    ok,
    read_jsonl,
    run_script,
)

from llava.benchmarks.mmbench import read_mmbench_tsv
from llava.eval.runner import TEXT_ONLY

sys.path.insert(0, str(REPO / "tests" / "benchmarks"))  # the scorer tests' stub judge
from judge_stub import StubJudge  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="the scripts need bash")

FASTV = ["--pruning-method", "fastv", "--retained-tokens", "8", *CPU_ARGS]  # 16 visual tokens
RANDOM = ["--pruning-method", "random", "--pruning-layers", "1", "--keep-ratio", "0.5"]
RANDOM += CPU_ARGS


def run(script: str, env: dict, root: Path, *args: str):
    return ok(run_script(script, *args, env=env, cwd=root))


def test_gqa_with_fastv(tiny_env, data_root):
    result = run("gqa.sh", tiny_env, data_root, *FASTV)
    gqa = data_root / "gqa"
    answers = gqa / "answers" / "llava_gqa_testdev_balanced" / f"{TINY}-fastv-r8" / "merge.jsonl"
    rows = check_answers(answers, gqa / "llava_gqa_testdev_balanced.jsonl", "fastv")
    assert all(r["metadata"]["equivalent_tokens_output"] < 16 for r in rows)
    predictions = json.loads((gqa / "data" / "testdev_balanced_predictions.json").read_text())
    assert [p["questionId"] for p in predictions] == [r["question_id"] for r in rows]
    assert "\nAccuracy: " in result.stdout and "Binary: " in result.stdout


def test_sqa_prunes_image_questions_only(tiny_env, data_root):
    """The default: SparseVLM v1 at 13.5 / 0; text-only questions say they were not pruned."""
    result = run("sqa.sh", tiny_env, data_root, *TINY_ARGS)
    sqa = data_root / "scienceqa"
    ckpt = f"{TINY}-sparse-s13.5-b0-layers1-2"
    lines = read_jsonl(sqa / "answers" / f"{ckpt}.jsonl")
    items = json.loads((sqa / "llava_test_CQM-A.json").read_text())
    assert [a["question_id"] for a in lines] == [item["id"] for item in items]
    assert {"image" in item for item in items} == {True, False}
    for line, item in zip(lines, items, strict=True):
        metadata = line["metadata"]
        assert metadata["run"]["pruning"]["method"] == "sparsevlm"
        assert line["prompt"].startswith("<image>\n") == ("image" in item)
        if "image" in item:
            assert [p["layer"] for p in metadata["pruning_layers"]] == [1, 2]
        else:
            assert (metadata["pruning"], metadata["visual_tokens"]) == (TEXT_ONLY, 0)
    assert f"Total: {len(items)}, Correct: " in result.stdout and "IMG-Accuracy: " in result.stdout
    assert "text-only prompts: no visual token, so no pruning" in result.stdout
    assert json.loads((sqa / "answers" / f"{ckpt}_result.json").read_text())["count"] == len(items)
    assert (sqa / "answers" / f"{ckpt}_output.jsonl").is_file()


def test_mmbench_dense(tiny_env, data_root):
    result = run("mmbench.sh", {**tiny_env, "SPARSE": "0"}, data_root, *CPU_ARGS)
    mmbench, split = data_root / "mmbench", "mmbench_dev_20230712"
    lines = read_jsonl(mmbench / "answers" / split / f"{TINY}-dense.jsonl")
    rows = read_mmbench_tsv(mmbench / f"{split}.tsv")[1]
    assert [(a["question_id"], a["round_id"]) for a in lines] == [(r["index"], 0) for r in rows]
    assert {a["metadata"]["run"]["pruning"]["method"] for a in lines} == {"dense"}
    assert (mmbench / "answers_upload" / split / f"{TINY}-dense.xlsx").is_file()
    assert "CircularEval accuracy: " in result.stdout


def test_mmbench_cn_with_random_pruning(tiny_env, data_root):
    result = run("mmbench_cn.sh", tiny_env, data_root, *RANDOM)
    folder, split = data_root / "mmbench_cn", "mmbench_dev_cn_20231003"
    ckpt = f"{TINY}-random-layers1-keep-ratio0.5"
    lines = read_jsonl(folder / "answers" / split / f"{ckpt}.jsonl")
    assert {a["metadata"]["run"]["lang"] for a in lines} == {"cn"}
    assert {a["metadata"]["run"]["pruning"]["method"] for a in lines} == {"random"}
    # the upload is where LLaVA's converter writes it, and no stray mmbench/answers_upload
    assert (folder / "answers_upload" / split / f"{ckpt}.xlsx").is_file()
    assert not (data_root / "mmbench" / "answers_upload" / split).exists()
    assert "CircularEval accuracy: " in result.stdout


def test_vqav2_dense(tiny_env, data_root):
    result = run("vqav2.sh", {**tiny_env, "SPARSE": "0"}, data_root, *CPU_ARGS)
    vqav2, split = data_root / "vqav2", "llava_vqav2_mscoco_test-dev2015"
    check_answers(
        vqav2 / "answers" / split / f"{TINY}-dense" / "merge.jsonl",
        vqav2 / f"{split}.jsonl",
        "dense",
    )
    upload = json.loads((vqav2 / "answers_upload" / split / f"{TINY}-dense.json").read_text())
    assert len(upload) == len(read_jsonl(vqav2 / "llava_vqav2_mscoco_test2015.jsonl"))
    assert "a valid EvalAI upload" in result.stdout
    assert "Overall Accuracy is: " in result.stdout


def test_vizwiz_with_fastv(tiny_env, data_root):
    result = run("vizwiz.sh", tiny_env, data_root, *FASTV)
    vizwiz = data_root / "vizwiz"
    check_answers(
        vizwiz / "answers" / f"{TINY}-fastv-r8.jsonl", vizwiz / "llava_test.jsonl", "fastv"
    )
    upload = json.loads((vizwiz / "answers_upload" / f"{TINY}-fastv-r8.json").read_text())
    assert [u["image"] for u in upload] == [
        q["image"] for q in read_jsonl(vizwiz / "llava_test.jsonl")
    ]
    assert "a valid EvalAI upload" in result.stdout
    assert "Overall Accuracy is: " in result.stdout


def test_seed_dense(tiny_env, data_root):
    result = run("seed.sh", {**tiny_env, "SPARSE": "0"}, data_root, *CPU_ARGS)
    seed = data_root / "seed_bench"
    questions = read_jsonl(seed / "llava-seed-bench.jsonl")
    assert {type(q["question_id"]) for q in questions} == {int, str}  # image and video ids
    check_answers(
        seed / "answers" / f"{TINY}-dense" / "merge.jsonl", seed / "llava-seed-bench.jsonl", "dense"
    )
    assert "Total accuracy: " in result.stdout and "image accuracy: " in result.stdout
    assert len(read_jsonl(seed / "answers_upload" / f"{TINY}-dense.jsonl")) == len(questions)


def judge_env(env: dict, stub: StubJudge) -> dict:
    return {**env, "LLAVA_JUDGE_BASE_URL": stub.base_url, "LLAVA_JUDGE_API_KEY": "test-key",
            "LLAVA_JUDGE_MAX_ATTEMPTS": "1"}  # fmt: skip


def test_mmvet_with_fastv_graded_by_a_stub_judge(tiny_env, data_root):
    with StubJudge(lambda body: "0.5") as stub:
        result = run("mmvet.sh", judge_env(tiny_env, stub), data_root, *FASTV)
    mmvet, ckpt = data_root / "mm-vet", f"{TINY}-fastv-r8"
    questions = read_jsonl(mmvet / "llava-mm-vet.jsonl")
    check_answers(mmvet / "answers" / f"{ckpt}.jsonl", mmvet / "llava-mm-vet.jsonl", "fastv")
    results = json.loads((mmvet / "results" / f"{ckpt}.json").read_text())
    assert list(results) == [f"v1_{q['question_id']}" for q in questions]
    assert len(stub.requests) == len(questions)  # one grade per sample
    assert "total" in result.stdout and "50.0" in result.stdout  # every grade 0.5
    assert list((mmvet / "results").glob(f"{ckpt}_*-grade-1runs.json"))


def test_llavabench_dense_reviewed_by_a_stub_judge(tiny_env, data_root):
    rule = REPO / "tests" / "data" / "suite" / "llava-bench" / "rule.json"
    env = {**tiny_env, "SPARSE": "0", "RULE": str(rule)}
    with StubJudge(lambda body: "8 6\nThe second answer is shorter.") as stub:
        result = run("llavabench.sh", judge_env(env, stub), data_root, *CPU_ARGS)
    bench = data_root / "llava-bench-in-the-wild"
    questions = bench / "questions.jsonl"
    check_answers(bench / "answers" / f"{TINY}-dense.jsonl", questions, "dense")
    reviews = read_jsonl(bench / "reviews" / f"{TINY}-dense.jsonl")
    assert [r["tuple"] for r in reviews] == [[8.0, 6.0]] * len(read_jsonl(questions))
    assert "\nall 75.0 80.0 60.0\n" in result.stdout  # 100 x 6 / 8, 10 x 8, 10 x 6
