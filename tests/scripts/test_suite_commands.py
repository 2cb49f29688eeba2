"""The command lines of scripts/v1_5/eval/{gqa,sqa,mmbench,mmbench_cn,vqav2,vizwiz,seed,mmvet,
llavabench}.sh, and every pruning method through every script, checked with a fake interpreter
that records each call: LLaVA's generators, files, conversions and scorers; answers named by
method, budget and settings; chunks; the judge and public-answer paths; missing data.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from script_helpers import REPO, ok, read_jsonl, run_script, script_env

from llava.benchmarks import benchmarks
from llava.sparse.registry import layer_list, methods

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="the scripts need bash")

CKPT = "llava-v1.5-7b-sparse-s13.5-b0"  # SparseVLM v1's defaults: no seed preset for these nine
LAYOUT = {  # generator, question file, image folder, answers, the generator's own flags
    "gqa.sh": ("model_vqa_loader", "gqa/llava_gqa_testdev_balanced.jsonl", "gqa/data/images",
               "gqa/answers/llava_gqa_testdev_balanced/{ckpt}/merge.jsonl", {}),
    "sqa.sh": ("model_vqa_science", "scienceqa/llava_test_CQM-A.json", "scienceqa/images/test",
               "scienceqa/answers/{ckpt}.jsonl", {"single_pred_prompt": True}),
    "mmbench.sh": ("model_vqa_mmbench", "mmbench/mmbench_dev_20230712.tsv", None,
                   "mmbench/answers/mmbench_dev_20230712/{ckpt}.jsonl",
                   {"single_pred_prompt": True, "lang": "en", "all_rounds": False}),
    "mmbench_cn.sh": ("model_vqa_mmbench", "mmbench_cn/mmbench_dev_cn_20231003.tsv", None,
                      "mmbench_cn/answers/mmbench_dev_cn_20231003/{ckpt}.jsonl",
                      {"single_pred_prompt": True, "lang": "cn", "all_rounds": False}),
    "vqav2.sh": ("model_vqa_loader", "vqav2/llava_vqav2_mscoco_test-dev2015.jsonl",
                 "vqav2/test2015",
                 "vqav2/answers/llava_vqav2_mscoco_test-dev2015/{ckpt}/merge.jsonl", {}),
    "vizwiz.sh": ("model_vqa_loader", "vizwiz/llava_test.jsonl", "vizwiz/test",
                  "vizwiz/answers/{ckpt}.jsonl", {}),
    "seed.sh": ("model_vqa_loader", "seed_bench/llava-seed-bench.jsonl", "seed_bench",
                "seed_bench/answers/{ckpt}/merge.jsonl", {}),
    "mmvet.sh": ("model_vqa", "mm-vet/llava-mm-vet.jsonl", "mm-vet/images",
                 "mm-vet/answers/{ckpt}.jsonl", {}),
    "llavabench.sh": ("model_vqa", "llava-bench-in-the-wild/questions.jsonl",
                      "llava-bench-in-the-wild/images",
                      "llava-bench-in-the-wild/answers/{ckpt}.jsonl", {}),
}  # fmt: skip
CHUNKED = {"gqa.sh", "vqav2.sh", "seed.sh"}  # as LLaVA's scripts: one chunk per GPU


def after_answering(script: str, root: Path, ckpt: str) -> list[list[str]]:
    """What each script runs after its answers: LLaVA's conversion, then the score or a check
    (no judge is configured here)."""
    convert = f"{REPO}/scripts"
    answers = f"{root}/{LAYOUT[script][3].format(ckpt=ckpt)}"
    if script == "gqa.sh":
        predictions = f"{root}/gqa/data/testdev_balanced_predictions.json"
        return [
            [f"{convert}/convert_gqa_for_eval.py", "--src", answers, "--dst", predictions],
            ["-m", "llava.eval.eval_gqa", "--questions",
             f"{root}/gqa/data/testdev_balanced_questions.json", "--predictions", predictions],
        ]  # fmt: skip
    if script == "sqa.sh":
        out = f"{root}/scienceqa/answers/{ckpt}"
        return [["-m", "llava.eval.eval_science_qa", "--base-dir", f"{root}/scienceqa",
                 "--result-file", answers, "--output-file", f"{out}_output.jsonl",
                 "--output-result", f"{out}_result.json"]]  # fmt: skip
    if script in ("mmbench.sh", "mmbench_cn.sh"):
        folder = f"{root}/{LAYOUT[script][1]}".removesuffix(".tsv")
        folder, split = folder.rsplit("/", 1)
        tsv = f"{folder}/{split}.tsv"
        return [
            [f"{convert}/convert_mmbench_for_submission.py", "--annotation-file", tsv,
             "--result-dir", f"{folder}/answers/{split}",
             "--upload-dir", f"{folder}/answers_upload/{split}", "--experiment", ckpt],
            ["-m", "llava.eval.eval_mmbench", "--annotation-file", tsv, "--result-file", answers],
        ]  # fmt: skip
    if script == "vqav2.sh":
        vqav2, split = f"{root}/vqav2", "llava_vqav2_mscoco_test-dev2015"
        return [
            [f"{convert}/convert_vqav2_for_submission.py", "--dir", vqav2, "--split", split,
             "--ckpt", ckpt],
            ["-m", "llava.eval.eval_vqav2", "--upload-file",
             f"{vqav2}/answers_upload/{split}/{ckpt}.json",
             "--test-questions", f"{vqav2}/llava_vqav2_mscoco_test2015.jsonl"],
            ["-m", "llava.eval.eval_vqav2",
             "--annotation-file", f"{vqav2}/synthetic_test-dev2015_annotations.json",
             "--question-file", f"{vqav2}/synthetic_test-dev2015_questions.json",
             "--result-file", answers],
        ]  # fmt: skip
    if script == "vizwiz.sh":
        vizwiz = f"{root}/vizwiz"
        questions, upload = f"{vizwiz}/llava_test.jsonl", f"{vizwiz}/answers_upload/{ckpt}.json"
        return [
            [f"{convert}/convert_vizwiz_for_submission.py", "--annotation-file", questions,
             "--result-file", answers, "--result-upload-file", upload],
            ["-m", "llava.eval.eval_vizwiz", "--upload-file", upload, "--question-file", questions],
            ["-m", "llava.eval.eval_vizwiz",
             "--annotation-file", f"{vizwiz}/synthetic_test_annotations.json",
             "--question-file", questions, "--result-file", answers],
        ]  # fmt: skip
    if script == "seed.sh":
        seed = f"{root}/seed_bench"
        return [[f"{convert}/convert_seed_for_submission.py",
                 "--annotation-file", f"{seed}/SEED-Bench.json", "--result-file", answers,
                 "--result-upload-file", f"{seed}/answers_upload/{ckpt}.jsonl"]]  # fmt: skip
    if script == "mmvet.sh":
        return [[f"{convert}/convert_mmvet_for_eval.py", "--src", answers,
                 "--dst", f"{root}/mm-vet/results/{ckpt}.json"]]  # fmt: skip
    return []  # llavabench.sh: nothing without a judge


@pytest.mark.parametrize("script", sorted(LAYOUT))
def test_llava_commands(fake, script):
    result, (call,), others, root = fake(script)
    ok(result)
    module, questions, images, answers, flags = LAYOUT[script]
    ns = call["ns"]
    assert call["module"] == f"llava.eval.{module}" and call["cuda"] is None
    assert (ns.model_path, ns.model_base) == ("liuhaotian/llava-v1.5-7b", None)
    assert ns.question_file == f"{root}/{questions}"
    assert ns.image_folder == (f"{root}/{images}" if images else "")  # MMBench: none, as LLaVA
    assert ns.answers_file == f"{root}/{answers.format(ckpt=CKPT)}"
    assert (ns.temperature, ns.conv_mode, ns.num_chunks, ns.max_new_tokens) == (
        0, "vicuna_v1", 1, 128 if module == "model_vqa_loader" else 1024,
    )  # fmt: skip
    assert (ns.sparse, ns.scale, ns.bias, ns.pruning_method) == (True, 13.5, 0.0, None)
    for name, value in flags.items():
        assert getattr(ns, name) == value, name
    assert [c["args"] for c in others] == after_answering(script, root, CKPT)


ANSWERS = {script: layout[3] for script, layout in LAYOUT.items()}
ANSWERS |= {
    "pope.sh": "pope/answers/{ckpt}.jsonl",
    "mme.sh": "MME/answers/{ckpt}.jsonl",
    "textvqa.sh": "textvqa/answers/{ckpt}.jsonl",
}


@pytest.mark.parametrize("script", sorted(ANSWERS))
def test_any_method_by_name_and_budget(fake, script):
    """The issue's example, on every script: the method's flags reach the generator, and the
    answers are named after the method and the budget."""
    result, (call,), others, root = fake(
        script, "--pruning-method", "fastv", "--retained-tokens", "64"
    )
    ok(result)
    ns = call["ns"]
    assert (ns.pruning_method, ns.retained_tokens, ns.sparse, ns.scale) == (
        "fastv",
        64,
        False,
        None,
    )
    assert ns.answers_file == f"{root}/{ANSWERS[script].format(ckpt='llava-v1.5-7b-fastv-r64')}"
    assert f"(fastv, 64 tokens) -> {ns.answers_file}" in result.stdout
    assert others or script == "llavabench.sh"  # converted and scored as usual


def test_scripts_follow_the_benchmark_registry(fake):
    """Each registered benchmark's script asks its generator, with its flags, for its files."""
    for name, entry in benchmarks().items():
        result, (call,), _, root = fake(f"{name}.sh")
        ok(result)
        ns = call["ns"]
        assert call["module"] == entry.answering, name
        assert ns.question_file == f"{root}/{entry.question_file}", name
        assert ns.image_folder in (f"{root}/{entry.image_folder}", ""), name  # "": MMBench
        # the answers go where the registry (and so the demo) looks for them
        assert ANSWERS[f"{name}.sh"] == entry.answers.replace("{experiment}", "{ckpt}"), name
        flags = call["args"][2:]
        assert all(flag in flags for flag in entry.answering_flags), name


def example_value(flag) -> str:
    if flag.type is layer_list:
        return "2,12"
    return {int: "3", float: "0.25"}[flag.type]


METHOD_FLAGS = [
    (method.name, flag)
    for method in methods().values()
    if method.name != "sparsevlm"
    for flag in method.flags
]


@pytest.mark.parametrize(
    ("method", "flag"), METHOD_FLAGS, ids=[f"{m}{f.flag}" for m, f in METHOD_FLAGS]
)
def test_every_methods_settings_name_the_answers(fake, method, flag):
    """Every registered method's own flags (read from the registry) reach the generator and
    the answers' name, so runs with other settings never share a file."""
    value = example_value(flag)
    result, (call,), _, root = fake("pope.sh", "--pruning-method", method, flag.flag, value)
    ok(result)
    ns = call["ns"]
    assert ns.pruning_method == method
    assert getattr(ns, flag.dest) == flag.type(value)
    name = f"llava-v1.5-7b-{method}-{flag.flag[2:]}{value.replace(',', '-')}"
    assert ns.answers_file == f"{root}/pope/answers/{name}.jsonl"


@pytest.mark.parametrize(
    ("args", "name", "loader"),
    [
        (["--pruning-method", "sparsevlm"], "-sparse-s9-b6", (True, None, 9.0)),
        (["--pruning-method=sparsevlm", "--sparse-version", "v2"], "-sparse-v2-r192",
         (True, None, None)),
        (["--pruning-method", "dense"], "-dense", (False, None, None)),
        (["--pruning-method", "pdrop", "--retained-tokens", "64", "--pdrop-layers", "2,12,22"],
         "-pdrop-r64-pdrop-layers2-12-22", (False, "pdrop", None)),
        (["--pruning-method", "grid", "--pruning-layers", "1,2", "--keep-ratio=0.25"],
         "-grid-layers1-2-keep-ratio0.25", (False, "grid", None)),
    ],
)  # fmt: skip
def test_method_aliases_and_settings(fake, args, name, loader):
    """--pruning-method sparsevlm is --sparse (with the seed's preset), dense is SPARSE=0."""
    result, (call,), _, root = fake("pope.sh", *args)
    ok(result)
    ns = call["ns"]
    assert (ns.sparse, ns.pruning_method, ns.scale) == loader
    assert ns.answers_file == f"{root}/pope/answers/llava-v1.5-7b{name}.jsonl"


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({"SPARSE": "0"}, ["--pruning-method", "fastv"], "SPARSE=0 runs the dense model"),
        ({"SCALE": "3"}, ["--pruning-method", "fastv"], "SCALE/BIAS (--scale/--bias) set"),
        ({}, ["--pruning-method", "fastv", "--bias", "1"], "SCALE/BIAS (--scale/--bias) set"),
        ({}, ["--sparse", "--pruning-method", "fastv"], "--sparse: SparseVLM's"),
        ({}, ["--pruning-method", "fastv", "--sparse-version", "v2"], "SparseVLM's"),
        ({}, ["--fastv-k", "3"], "--fastv-k: the setting(s) of another method"),
        ({}, ["--pruning-method", "dense", "--retained-tokens", "64"], "runs the dense model"),
        ({}, ["--pruning-method"], "--pruning-method needs a value"),
        ({}, ["--pruning-method", "fastv", "--fastv-ratio"], "--fastv-ratio needs a value"),
        ({"JUDGE": "yes"}, [], "JUDGE must be 0"),
    ],
)
def test_bad_pruning_requests_are_refused_before_running(fake, env, args, message):
    result, generators, others, _ = fake("gqa.sh", *args, **env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("gqa.sh: error: ") and message in result.stderr
    assert generators == [] and others == []


@pytest.mark.parametrize("script", sorted(LAYOUT))
def test_gpus_chunk_the_benchmarks_llava_chunks(fake, script):
    result, generators, _, root = fake(script, CUDA_VISIBLE_DEVICES="0,1")
    ok(result)
    answers = root / LAYOUT[script][3].format(ckpt=CKPT)
    if script in CHUNKED:  # LLaVA's layout: <ckpt>/2_<i>.jsonl beside merge.jsonl
        assert sorted((c["cuda"], c["ns"].chunk_idx) for c in generators) == [("0", 0), ("1", 1)]
        assert {c["ns"].answers_file for c in generators} == {
            str(answers.parent / "2_0.jsonl"),
            str(answers.parent / "2_1.jsonl"),
        }
        assert [r["chunk"] for r in read_jsonl(answers)] == ["0", "1"]
    else:  # one process, which sees both GPUs
        (call,) = generators
        assert (call["cuda"], call["ns"].num_chunks) == ("0,1", 1)
        assert call["ns"].answers_file == str(answers)


def judge_call(others: list[dict], module: str) -> list[list[str]]:
    return [c["args"] for c in others if c["args"][:2] == ["-m", module]]


@pytest.mark.parametrize(
    ("env", "judged"),
    [
        ({}, False),
        ({"LLAVA_JUDGE_BASE_URL": "http://127.0.0.1:9/v1"}, True),
        ({"OPENAI_API_KEY": "sk-test"}, True),  # OpenAI's endpoint
        ({"LLAVA_JUDGE_BASE_URL": "http://127.0.0.1:9/v1", "JUDGE": "0"}, False),
    ],
)
def test_mmvet_is_graded_when_a_judge_is_configured(fake, env, judged):
    result, _, others, root = fake("mmvet.sh", **env)
    ok(result)
    results = f"{root}/mm-vet/results/{CKPT}.json"
    grade = ["-m", "llava.eval.eval_mmvet", "--mmvet_path", f"{root}/mm-vet", "--result_file",
             results]  # fmt: skip
    assert judge_call(others, "llava.eval.eval_mmvet") == ([grade] if judged else [])
    if not judged:
        assert f"the answers are ready for the judge: {results}" in result.stdout
        assert " ".join(grade) in result.stdout and "LLAVA_JUDGE_BASE_URL" in result.stdout
        assert "MM-Vet_Evaluator" in result.stdout


def test_llavabench_review_and_summary(fake, tmp_path):
    rule = tmp_path / "rule.json"
    rule.write_text("{}")
    env = {"LLAVA_JUDGE_BASE_URL": "http://127.0.0.1:9/v1", "RULE": str(rule)}
    result, _, others, root = fake("llavabench.sh", **env)
    ok(result)
    bench = f"{root}/llava-bench-in-the-wild"
    reviews = f"{bench}/reviews/{CKPT}.jsonl"
    assert [c["args"] for c in others] == [
        ["-m", "llava.eval.eval_gpt_review_bench", "--question", f"{bench}/questions.jsonl",
         "--context", f"{bench}/context.jsonl", "--rule", str(rule), "--answer-list",
         f"{bench}/answers_gpt4.jsonl", f"{bench}/answers/{CKPT}.jsonl", "--output", reviews],
        ["-m", "llava.eval.summarize_gpt_review", "-f", reviews],
    ]  # fmt: skip
    assert Path(reviews).parent.is_dir()


def test_llavabench_without_judge_or_rule(fake, tmp_path):
    result, _, others, root = fake("llavabench.sh")
    ok(result)
    assert others == []
    assert "the answers are ready for the judge" in result.stdout
    assert "llava.eval.eval_gpt_review_bench" in result.stdout
    assert "llava.eval.summarize_gpt_review" in result.stdout
    env = {"LLAVA_JUDGE_BASE_URL": "http://127.0.0.1:9/v1", "RULE": str(tmp_path / "none")}
    result, generators, others, _ = fake("llavabench.sh", **env)
    assert result.returncode == 2 and generators == others == []
    assert "RULE: the judge's rule file" in result.stderr and "haotian-liu/LLaVA" in result.stderr


@pytest.mark.parametrize(
    ("script", "public", "variable"),
    [
        ("vqav2.sh", "vqav2/synthetic_test-dev2015_annotations.json", "VQAV2_ANNOTATIONS"),
        ("vizwiz.sh", "vizwiz/synthetic_test_annotations.json", "VIZWIZ_ANNOTATIONS"),
    ],
)
def test_server_benchmarks_without_public_answers(fake, data_root, tmp_path, script, public,
                                                  variable):  # fmt: skip
    """Real test splits: the upload is written and checked, and the script says where it goes;
    asking for a score without public answers is refused before answering."""
    hidden = data_root / public
    saved = tmp_path / "saved.json"
    shutil.move(hidden, saved)  # the fake's copy of the data root is made without it
    try:
        result, generators, others, _ = fake(script)
        ok(result)
        assert len(generators) == 1 and len(others) == 2  # conversion, upload check
        assert "Overall Accuracy" not in result.stdout
        assert "submit" in result.stdout and "eval.ai/web/challenges" in result.stdout
        for env in ({"SCORES_JSON": str(tmp_path / "s.json")}, {variable: str(tmp_path / "x")}):
            result, generators, _, _ = fake(script, **env)
            assert result.returncode == 2 and generators == []
            assert "no public answers to score with" in result.stderr
    finally:
        shutil.move(saved, hidden)


@pytest.mark.parametrize("script", sorted(LAYOUT))
def test_scores_json(fake, tmp_path, script):
    """SCORES_JSON goes to the scorers that can write it; the others refuse it up front."""
    scores = str(tmp_path / "scores.json")
    result, generators, others, _ = fake(script, SCORES_JSON=scores)
    if script in ("sqa.sh", "seed.sh", "mmvet.sh", "llavabench.sh"):
        assert result.returncode == 2 and generators == []
        assert "SCORES_JSON is not supported here" in result.stderr
    else:
        ok(result)
        assert others[-1]["args"][-2:] == ["--json-out", scores]


def test_dense_wrapper_for_a_suite_benchmark(fake):
    result, (call,), _, root = fake("dense.sh", "sqa", "--device", "cpu")
    ok(result)
    assert not call["ns"].sparse and call["ns"].device == "cpu"
    assert call["ns"].answers_file == f"{root}/scienceqa/answers/llava-v1.5-7b-dense.jsonl"


# --- missing data ---------------------------------------------------------------------------------

SOURCES = {
    "gqa.sh": ["cs.stanford.edu/people/dorarad/gqa", "testdev_balanced_questions.json"],
    "sqa.sh": ["lupantech/ScienceQA", "pid_splits.json"],
    "mmbench.sh": ["mmbench_dev_20230712.tsv"],
    "mmbench_cn.sh": ["mmbench_dev_cn_20231003.tsv", "its script reads mmbench_cn/"],
    "vqav2.sh": ["test2015.zip"],
    "vizwiz.sh": ["VizWiz_final/images/test.zip"],
    "seed.sh": ["AILab-CVC/SEED-Bench", "SEED-Bench-video-image"],
    "mmvet.sh": ["mm-vet.zip"],
    "llavabench.sh": ["liuhaotian/llava-bench-in-the-wild"],
}


@pytest.mark.parametrize("script", sorted(SOURCES))
def test_missing_data_says_where_to_get_it(script, tmp_path):
    root = tmp_path / "nowhere"
    result = run_script(script, env=script_env(DATA_ROOT=str(root)), cwd=tmp_path)
    assert result.returncode == 1
    assert f"{script}: error: evaluation data not found" in result.stderr
    for text in ["eval.zip", f"python -m llava.synthetic --root {root}", *SOURCES[script]]:
        assert text in result.stderr
    assert "Traceback" not in result.stderr
    assert not root.exists()
