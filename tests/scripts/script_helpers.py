"""Helpers for the tests of scripts/v1_5/eval: running a script with a clean environment, reading
what it wrote, and a fake interpreter that records every command it is asked to run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from llava.eval import model_vqa, model_vqa_loader, model_vqa_mmbench, model_vqa_science

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts" / "v1_5" / "eval"
TINY = "llava-v1.5-tiny-test"  # the tiny_checkpoints["llava"] folder name = model_id
# The tiny model has 4 layers: SparseVLM prunes after layers 1 and 2.
CPU_ARGS = ["--device", "cpu", "--dtype", "float32", "--max_new_tokens", "2"]
TINY_ARGS = ["--pruning-layers", "1,2", *CPU_ARGS]
# Inherited values of these would change what the scripts do: every test sets its own.
SCRIPT_VARS = ("MODEL_PATH", "MODEL_BASE", "DATA_ROOT", "CKPT", "SCALE", "BIAS", "SPARSE")
SCRIPT_VARS += ("SCORES_JSON", "PYTHON", "CUDA_VISIBLE_DEVICES", "JUDGE", "RULE")
SCRIPT_VARS += ("LLAVA_JUDGE_BASE_URL", "LLAVA_JUDGE_API_KEY", "LLAVA_JUDGE_MODEL")
SCRIPT_VARS += ("OPENAI_BASE_URL", "OPENAI_API_KEY", "VQAV2_ANNOTATIONS", "VQAV2_QUESTIONS")
SCRIPT_VARS += ("VIZWIZ_ANNOTATIONS",)
# The answer generators the scripts call, and how each reads its command line.
GENERATORS = {
    f"llava.eval.{module.PROG}": module.parse_args
    for module in (model_vqa_loader, model_vqa, model_vqa_science, model_vqa_mmbench)
}


def script_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRIPT_VARS}
    # One thread per process: the tiny model gains nothing from more, and the chunked run
    # starts two processes on a small machine.
    env.update(PYTHON=sys.executable, OMP_NUM_THREADS="1")
    env.update(values)
    return env


def run_script(script: str, *args: str, env: dict[str, str], cwd: Path):
    return subprocess.run(
        ["bash", str(SCRIPTS / script), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def check_answers(answers: Path, questions: Path, pruning: dict | str) -> list[dict]:
    """One answer per line of a JSON-lines question file, in order, written with the scripts'
    settings; `pruning`: the run's pruning description, or just the method's name."""
    rows = read_jsonl(answers)
    assert [(r["question_id"], r["prompt"]) for r in rows] == [
        (q["question_id"], q["text"]) for q in read_jsonl(questions)
    ]
    for row in rows:
        assert row["model_id"] == TINY
        run = row["metadata"]["run"]
        assert (run["conv_mode"], run["temperature"], run["max_new_tokens"]) == ("vicuna_v1", 0, 2)
        if isinstance(pruning, str):
            assert run["pruning"]["method"] == pruning
        else:
            assert run["pruning"] == pruning
    return rows


# A stand-in interpreter: logs its arguments and CUDA_VISIBLE_DEVICES; as an answer generator it
# appends a line naming its chunk to --answers-file (chunk FAKE_FAIL_CHUNK exits with status 3).
FAKE_PYTHON = """#!{python}
import json, os, sys, time
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps({{"args": args, "cuda": os.environ.get("CUDA_VISIBLE_DEVICES")}}) + "\\n")
if args[0] == "-m" and args[1] in {generators!r}:
    chunk = args[args.index("--chunk-idx") + 1] if "--chunk-idx" in args else None
    if chunk == "0":
        time.sleep(0.3)  # finishes last: the merge must still follow the chunk order
    if chunk is not None and chunk == os.environ.get("FAKE_FAIL_CHUNK"):
        sys.exit(3)
    with open(args[args.index("--answers-file") + 1], "a") as answers:
        answers.write(json.dumps({{"chunk": chunk}}) + "\\n")
"""


def fake_python(path: Path) -> Path:
    path.write_text(FAKE_PYTHON.format(python=sys.executable, generators=sorted(GENERATORS)))
    path.chmod(0o755)
    return path


def split_calls(log: Path) -> tuple[list[dict], list[dict]]:
    """(generator calls, other calls) of a fake run; a generator call's `ns` is what its entry
    point makes of the arguments, an other call's `args` its arguments (`-m module ...` or
    `script.py ...`)."""
    calls = read_jsonl(log) if log.exists() else []
    generators, others = [], []
    for call in calls:
        args = call["args"]
        if args[0] == "-m" and args[1] in GENERATORS:
            call["module"] = args[1]
            call["ns"] = GENERATORS[args[1]](args[2:])
            generators.append(call)
        else:
            others.append(call)
    return generators, others
