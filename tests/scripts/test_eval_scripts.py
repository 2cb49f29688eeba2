"""scripts/v1_5/eval/{pope,mme,textvqa,dense}.sh and what every script shares (common.sh): end
to end on a tiny checkpoint and a small synthetic data root (CPU), plus fast checks of the
command lines they build (a fake interpreter records every call instead of running the model).
The other benchmarks' scripts: test_suite_scripts.py.

The tiny model has 4 layers, so the runs pass `--pruning-layers 1,2` through to
model_vqa_loader, with `--device cpu --dtype float32 --max_new_tokens 2`.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from script_helpers import (
    REPO,
    SCRIPTS,
    TINY,
    TINY_ARGS,
    check_answers,
    ok,
    read_jsonl,
    run_script,
    script_env,
)

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="the scripts need bash")


def v1(scale: float, bias: float) -> dict:
    return {"method": "sparsevlm", "version": "v1", "layers": [1, 2], "scale": scale, "bias": bias}


def scores(stdout: str, first_line: str) -> str:
    """The scorer's printout: everything from its first line on."""
    assert first_line in stdout, stdout
    return stdout[stdout.index(first_line) :]


# --- end to end: tiny checkpoint, synthetic data, CPU -------------------------------------------


@pytest.fixture(scope="module")
def pope_sparse(tiny_env, data_root):
    """pope.sh with its preset (scale 9, bias 6), one process: (result, answers file)."""
    env = {**tiny_env, "SCORES_JSON": str(data_root / "pope_scores.json")}
    result = ok(run_script("pope.sh", *TINY_ARGS, env=env, cwd=data_root))
    return result, data_root / "pope" / "answers" / f"{TINY}-sparse-s9-b6-layers1-2.jsonl"


def test_pope(pope_sparse, data_root):
    result, answers = pope_sparse
    pope = data_root / "pope"
    check_answers(answers, pope / "llava_pope_test.jsonl", v1(9.0, 6.0))
    assert sorted(p.name for p in (pope / "answers").iterdir()) == [answers.name]  # no chunks
    printout = scores(result.stdout, "Category: adversarial")
    assert printout.count("F1 score:") == 3
    assert "Mean F1 over 3 splits (adversarial, popular, random):" in printout
    metrics = json.loads((data_root / "pope_scores.json").read_text())
    assert set(metrics["splits"]) == {"adversarial", "popular", "random"}


def test_mme(tiny_env, data_root):
    result = ok(run_script("mme.sh", *TINY_ARGS, env=tiny_env, cwd=data_root))
    mme = data_root / "MME"
    ckpt = f"{TINY}-sparse-s13.5-b0-layers1-2"
    check_answers(mme / "answers" / f"{ckpt}.jsonl", mme / "llava_mme.jsonl", v1(13.5, 0.0))
    assert "Perception (10 categories, max 2000):" in result.stdout
    # LLaVA's convert_answer_to_mme.py output, where MME's calculation.py reads it
    eval_tool = mme / "eval_tool" / "answers" / ckpt
    categories = {"existence", "count", "position", "color"}
    assert {p.name for p in eval_tool.iterdir()} == {f"{c}.txt" for c in categories}


@pytest.fixture(scope="module")
def textvqa_sparse(tiny_env, data_root):
    """textvqa.sh with its preset (scale 0.8, bias 0), one process: (result, answers file)."""
    result = ok(run_script("textvqa.sh", *TINY_ARGS, env=tiny_env, cwd=data_root))
    return result, data_root / "textvqa" / "answers" / f"{TINY}-sparse-s0.8-b0-layers1-2.jsonl"


def test_textvqa(textvqa_sparse, data_root):
    result, answers = textvqa_sparse
    check_answers(answers, data_root / "textvqa" / "llava_textvqa_val_v051_ocr.jsonl", v1(0.8, 0.0))
    printout = scores(result.stdout, f"{answers.stem}\nSamples: 2\n")
    assert "Accuracy: " in printout


def test_dense_variant_writes_its_own_answers(pope_sparse, tiny_env, data_root):
    _, sparse_answers = pope_sparse
    before = sparse_answers.read_bytes()
    args = ["--device", "cpu", "--dtype", "float32", "--max_new_tokens", "2"]
    result = ok(run_script("pope.sh", *args, env={**tiny_env, "SPARSE": "0"}, cwd=data_root))
    pope = data_root / "pope"
    dense = pope / "answers" / f"{TINY}-dense.jsonl"
    check_answers(dense, pope / "llava_pope_test.jsonl", {"method": "dense"})
    assert sparse_answers.read_bytes() == before
    assert "Mean F1 over 3 splits" in result.stdout


def test_chunks_on_two_gpus_merge_to_the_single_process_answers(pope_sparse, tiny_env, data_root):
    """CUDA_VISIBLE_DEVICES=0,1 on this CPU machine (`--device cpu` passed through): one process
    per "GPU" on its chunk, each resuming its chunk file, merged in order, then scored.
    (Failed chunks: see the fake-interpreter tests below.)"""
    single_result, single_answers = pope_sparse
    pope = data_root / "pope"
    single = single_answers.read_text().splitlines(keepends=True)
    assert len(single) == 6  # chunks of 3
    env = {**tiny_env, "CUDA_VISIBLE_DEVICES": "0,1", "CKPT": "chunked"}
    chunk_dir = pope / "answers" / "chunked"
    chunk_dir.mkdir(parents=True)
    # an interrupted earlier run: chunk 1 holds its first answer (the same settings)
    (chunk_dir / "2_1.jsonl").write_text(single[3])
    result = ok(run_script("pope.sh", *TINY_ARGS, env=env, cwd=data_root))
    assert "answered 2 questions (1 resumed)" in result.stdout  # chunk 1
    assert "answered 3 questions" in result.stdout  # chunk 0
    merged = pope / "answers" / "chunked.jsonl"
    chunks = [chunk_dir / "2_0.jsonl", chunk_dir / "2_1.jsonl"]
    assert merged.read_bytes() == b"".join(p.read_bytes() for p in chunks)
    assert [len(read_jsonl(p)) for p in chunks] == [3, 3]

    def key(row: dict) -> tuple:
        return row["question_id"], row["prompt"], row["text"], row["metadata"]["run"]

    rows = check_answers(merged, pope / "llava_pope_test.jsonl", v1(9.0, 6.0))
    assert [key(r) for r in rows] == [key(r) for r in read_jsonl(single_answers)]
    assert scores(result.stdout, "Category: adversarial") == scores(
        single_result.stdout, "Category: adversarial"
    )


# --- missing data ----------------------------------------------------------------------------

SOURCES = {
    "pope.sh": ["AoiDragon/POPE", "val2014.zip"],
    "mme.sh": ["MME_Benchmark_release_version", "BradyFU"],
    "textvqa.sh": ["TextVQA_0.5.1_val.json", "train_val_images.zip"],
}


@pytest.mark.parametrize("script", sorted(SOURCES))
def test_missing_data_root_says_where_to_get_it(script, tmp_path):
    root = tmp_path / "nowhere"
    result = run_script(script, env=script_env(DATA_ROOT=str(root)), cwd=tmp_path)
    assert result.returncode == 1
    assert f"{script}: error: evaluation data not found" in result.stderr
    for text in ["eval.zip", f"python -m llava.synthetic --root {root}", *SOURCES[script]]:
        assert text in result.stderr
    assert "Traceback" not in result.stderr
    assert not root.exists()


def test_missing_files_are_listed(tmp_path):
    root = tmp_path / "eval"
    (root / "pope").mkdir(parents=True)
    (root / "pope" / "llava_pope_test.jsonl").write_text("")
    result = run_script("pope.sh", env=script_env(DATA_ROOT=str(root)), cwd=tmp_path)
    assert result.returncode == 1
    missing = [line.split()[-1] for line in result.stderr.splitlines() if "  missing " in line]
    labels = [f"{root}/pope/coco/coco_pope_{s}.json" for s in ("adversarial", "popular", "random")]
    assert missing == [*labels, f"{root}/pope/val2014/"]  # not the question file, which exists


# --- command lines, with a fake interpreter ----------------------------------------------------

PRESETS = {"pope.sh": (9.0, 6.0), "mme.sh": (13.5, 0.0), "textvqa.sh": (0.8, 0.0)}
LAYOUT = {  # question file, image folder, answers folder
    "pope.sh": ("pope/llava_pope_test.jsonl", "pope/val2014", "pope/answers"),
    "mme.sh": ("MME/llava_mme.jsonl", "MME/MME_Benchmark_release_version", "MME/answers"),
    "textvqa.sh": (
        "textvqa/llava_textvqa_val_v051_ocr.jsonl",
        "textvqa/train_images",
        "textvqa/answers",
    ),
}


@pytest.mark.parametrize("script", sorted(PRESETS))
def test_defaults_are_llava_commands_with_the_seed_presets(fake, script):
    result, loader, scorer, root = fake(script)
    ok(result)
    scale, bias = PRESETS[script]
    questions, images, answers = LAYOUT[script]
    ckpt = f"llava-v1.5-7b-sparse-s{scale:g}-b{bias:g}"
    (call,) = loader
    ns = call["ns"]
    assert call["cuda"] is None
    assert (ns.model_path, ns.model_base) == ("liuhaotian/llava-v1.5-7b", None)
    assert (ns.question_file, ns.image_folder) == (f"{root}/{questions}", f"{root}/{images}")
    assert ns.answers_file == f"{root}/{answers}/{ckpt}.jsonl"
    assert (ns.temperature, ns.conv_mode, ns.num_chunks, ns.chunk_idx) == (0, "vicuna_v1", 1, 0)
    # No --sparse-version: v1, the seed's (a token budget would ask for v1.5).
    assert (ns.sparse, ns.sparse_version, ns.scale, ns.bias) == (True, None, scale, bias)
    assert (ns.retained_tokens, ns.pruning_layers, ns.device) == (None, None, None)
    (score,) = scorer
    if script == "pope.sh":
        expected = ["-m", "llava.eval.eval_pope", "--annotation-dir", f"{root}/pope/coco"]
        expected += ["--question-file", ns.question_file, "--result-file", ns.answers_file]
    elif script == "mme.sh":
        expected = ["-m", "llava.eval.eval_mme", "--mme-dir", ns.image_folder]
        expected += ["--answers-file", ns.answers_file, "--experiment", ckpt]
    else:
        expected = ["-m", "llava.eval.eval_textvqa"]
        expected += ["--annotation-file", f"{root}/textvqa/TextVQA_0.5.1_val.json"]
        expected += ["--result-file", ns.answers_file]
    assert score["args"] == expected


@pytest.mark.parametrize(
    ("env", "args", "name", "pruning"),
    [
        ({"SCALE": "4", "BIAS": "2"}, [], "-sparse-s4-b2", (None, 4.0, 2.0, None)),
        ({"BIAS": "1"}, ["--scale", "5"], "-sparse-s5-b1", (None, 5.0, 1.0, None)),
        ({}, ["--scale=5", "--sparse"], "-sparse-s5-b6", (None, 5.0, 6.0, None)),
        ({}, ["--sparse-version", "v1.5", "--retained-tokens", "128"], "-sparse-v1.5-r128",
         ("v1.5", None, None, 128)),
        ({}, ["--sparse-version=v2"], "-sparse-v2-r192", ("v2", None, None, None)),
        ({}, ["--sparse-version", "v1", "--pruning-layers", "1,2"], "-sparse-s9-b6-layers1-2",
         ("v1", 9.0, 6.0, None)),
        ({"SPARSE": "0", "SCALE": "4"}, ["--pruning-layers", "1,2"], "-dense", None),
    ],
)  # fmt: skip
def test_pruning_settings_and_answers_names(fake, env, args, name, pruning):
    result, (call,), _, root = fake("pope.sh", *args, "--device", "cpu", **env)
    ok(result)
    ns = call["ns"]
    assert ns.answers_file == f"{root}/pope/answers/llava-v1.5-7b{name}.jsonl"
    assert ns.device == "cpu"  # pass-through
    if pruning is None:
        assert (ns.sparse, ns.scale, ns.bias, ns.retained_tokens) == (False, None, None, None)
    else:
        assert ns.sparse
        assert (ns.sparse_version, ns.scale, ns.bias, ns.retained_tokens) == pruning


def test_dense_wrapper_model_and_names(fake):
    env = {"MODEL_PATH": "runs/llava-lora/checkpoint-500", "MODEL_BASE": "lmsys/vicuna-7b-v1.5"}
    result, (call,), _, root = fake("dense.sh", "mme", **env)
    ok(result)
    ns = call["ns"]
    assert (ns.model_path, ns.model_base) == (env["MODEL_PATH"], env["MODEL_BASE"])
    assert not ns.sparse
    assert ns.answers_file == f"{root}/MME/answers/llava-lora_checkpoint-500-dense.jsonl"

    scores_json = str(root / "scores.json")
    result, (call,), (score,), root = fake("textvqa.sh", CKPT="mine", SCORES_JSON=scores_json)
    ok(result)
    assert call["ns"].answers_file == f"{root}/textvqa/answers/mine.jsonl"
    assert score["args"][-2:] == ["--json-out", scores_json]


def test_several_gpus_one_chunk_each_merged_in_order(fake):
    result, loader, (score,), root = fake("mme.sh", CUDA_VISIBLE_DEVICES="4, 5,6")
    ok(result)
    answers = root / "MME" / "answers" / "llava-v1.5-7b-sparse-s13.5-b0.jsonl"
    chunks = answers.with_suffix("")
    assert sorted((c["cuda"], c["ns"].num_chunks, c["ns"].chunk_idx) for c in loader) == [
        ("4", 3, 0),
        ("5", 3, 1),
        ("6", 3, 2),
    ]
    for call in loader:
        assert call["ns"].answers_file == f"{chunks}/3_{call['ns'].chunk_idx}.jsonl"
    assert [r["chunk"] for r in read_jsonl(answers)] == ["0", "1", "2"]
    assert score["args"][score["args"].index("--answers-file") + 1] == str(answers)
    assert "merged 3 chunk files" in result.stdout


@pytest.mark.parametrize("gpus", ["", "3"])
def test_no_or_one_gpu_is_one_process(fake, gpus):
    result, (call,), _, root = fake("pope.sh", CUDA_VISIBLE_DEVICES=gpus)
    ok(result)
    assert (call["cuda"], call["ns"].num_chunks) == (gpus, 1)
    assert call["ns"].answers_file == f"{root}/pope/answers/llava-v1.5-7b-sparse-s9-b6.jsonl"


@pytest.mark.parametrize("fail", ["0", "2"])
def test_any_failed_chunk_fails_the_script(fake, fail):
    env = {"CUDA_VISIBLE_DEVICES": "0,1,2", "FAKE_FAIL_CHUNK": fail}
    result, loader, scorer, root = fake("pope.sh", **env)
    assert result.returncode == 1
    assert f"chunk {fail} of 3 (GPU {fail}) exited with status 3" in result.stderr
    assert len(loader) == 3 and scorer == []
    assert not (root / "pope" / "answers" / "llava-v1.5-7b-sparse-s9-b6.jsonl").exists()


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({}, ["--answers-file", "a.jsonl"], "set DATA_ROOT (and CKPT"),
        ({}, ["--question-file=q.jsonl"], "set DATA_ROOT"),
        ({}, ["--model-path", "m"], "set MODEL_PATH instead"),
        ({}, ["--num-chunks", "2", "--chunk-idx", "0"], "set CUDA_VISIBLE_DEVICES"),
        ({"SPARSE": "0"}, ["--sparse-version", "v1.5"], "SPARSE=0 runs the dense model"),
        ({"SPARSE": "0"}, ["--scale", "3"], "SPARSE=0 runs the dense model"),
        ({"SCALE": "3"}, ["--sparse-version", "v2"], "v2 is set by --retained-tokens"),
        ({}, ["--retained-tokens", "64"], "add --sparse-version v1.5"),
        ({"SPARSE": "yes"}, [], "SPARSE must be 0 (dense) or 1"),
        ({}, ["--bias"], "--bias needs a value"),
    ],
)
def test_bad_settings_are_refused_before_running(fake, env, args, message):
    result, loader, scorer, _ = fake("pope.sh", *args, **env)
    assert result.returncode == 2
    assert result.stderr.startswith("pope.sh: error: ") and message in result.stderr
    assert loader == [] and scorer == []


def test_dense_wrapper_usage(tmp_path):
    result = run_script("dense.sh", "vqa", env=script_env(), cwd=tmp_path)
    assert result.returncode == 2 and "usage: bash scripts/v1_5/eval/dense.sh" in result.stderr
    names = {p.stem for p in SCRIPTS.glob("*.sh")} - {"common", "dense"}
    assert set(result.stderr.split()[3].split("|")) == names


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_shellcheck_clean():
    scripts = sorted(str(p) for p in SCRIPTS.glob("*.sh"))
    result = subprocess.run(
        ["shellcheck", "-x", *scripts], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout
