"""What makes a run trustworthy: batches give the answers of one question at a time, the run's
identity covers the weights (not a folder name), one writer per answers file, outputs checked
before the model loads, prompts checked against the model's positions, interruptions resumable.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
from eval_helpers import QUESTIONS, fails, make_bench, read, write_questions

from llava.eval.answers import AnswerLock, AnswerWriter
from llava.eval.model_vqa_loader import main

# Timing and batch bookkeeping differ between runs; everything else must not.
TIMES = {"prefill_ms", "batch_size"}


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def bench(tiny_checkpoints, tmp_path_factory):
    return make_bench(tmp_path_factory.mktemp("runs"), tiny_checkpoints["llava"])


def comparable(line: dict) -> dict:
    metadata = {k: v for k, v in line["metadata"].items() if k not in TIMES}
    return {"question_id": line["question_id"], "text": line["text"], "metadata": metadata}


@pytest.mark.parametrize(
    "pruning",
    [[], ["--pruning-method", "fastv", "--pruning-layers", "1"],
     ["--sparse", "--pruning-layers", "1,2", "--scale", "2", "--bias", "1"]],
    ids=["dense", "fastv", "sparsevlm"],
)  # fmt: skip
def test_batches_answer_as_one_question_at_a_time(bench, tmp_path, pruning) -> None:
    """Questions of different lengths (one repeated with a longer text) in batches of 4 and 2:
    the same answers, token counts and decisions as one at a time, in question order."""
    questions = QUESTIONS + [{**q, "question_id": f"{q['question_id']}x",
                              "text": q["text"] + " think about it and answer briefly ."}
                             for q in QUESTIONS]  # fmt: skip
    file = write_questions(tmp_path / "questions.jsonl", questions)
    if pruning[:2] == ["--pruning-method", "fastv"]:
        pruning = ["--pruning-method", "fastv", "--fastv-k", "2"]
    runs = {}
    for size in (1, 4, 2):
        answers = tmp_path / f"b{size}.jsonl"
        main(bench.args(answers, "--batch-size", str(size), *pruning, questions=file))
        runs[size] = read(answers)
    assert [line["question_id"] for line in runs[4]] == [q["question_id"] for q in questions]
    assert [comparable(line) for line in runs[4]] == [comparable(line) for line in runs[1]]
    assert [comparable(line) for line in runs[2]] == [comparable(line) for line in runs[1]]
    assert max(line["metadata"]["batch_size"] for line in runs[4]) > 1


def test_a_batched_run_resumes_where_it_stopped(bench, tmp_path) -> None:
    answers = tmp_path / "answers.jsonl"
    main(bench.args(answers, "--batch-size", "2"))
    whole = read(answers)
    answers.write_text("".join(json.dumps(line) + "\n" for line in whole[:1]))
    main(bench.args(answers, "--batch-size", "2"))
    assert [comparable(a) for a in read(answers)] == [comparable(a) for a in whole]


def test_same_folder_name_other_weights_is_refused(bench, tmp_path) -> None:
    """Two checkpoints in folders of the same name: the second run does not complete the first
    one's answers file; it names what differs and how to proceed."""
    answers = tmp_path / "answers.jsonl"
    main(bench.args(answers))
    other = tmp_path / "elsewhere" / bench.model.name
    shutil.copytree(bench.model, other)
    weights = next(other.glob("*.bin")) if list(other.glob("*.bin")) else next(other.glob("*.sa*"))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # another model, same name and size
    weights.write_bytes(bytes(data))
    args = bench.args(answers)
    args[args.index("--model-path") + 1] = str(other)
    message = fails(args)
    assert "written by another run (model: 'sha256:" in message and "--overwrite" in message
    main([*args, "--overwrite"])
    assert len(read(answers)) == len(QUESTIONS)


@pytest.mark.parametrize(("flag", "value"), [("--dtype", "bfloat16"), ("--image-folder", None)])
def test_dtype_and_image_folder_are_part_of_the_identity(bench, tmp_path, flag, value) -> None:
    answers = tmp_path / "answers.jsonl"
    main(bench.args(answers))
    args = bench.args(answers)
    if value is None:  # the same images, another folder
        value = str(tmp_path / "copy")
        shutil.copytree(bench.images, value)
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]
    assert "written by another run" in fails(args)


def test_a_second_writer_is_refused_and_a_stale_lock_taken_over(bench, tmp_path) -> None:
    answers = tmp_path / "answers.jsonl"
    with AnswerLock(answers):
        message = fails(bench.args(answers))
        assert f"being written by another run (pid {os.getpid()})" in message
    # A run killed while writing leaves its lock file; the lock itself died with it.
    (tmp_path / "answers.jsonl.lock").write_text("999999\n")
    main(bench.args(answers))
    assert len(read(answers)) == len(QUESTIONS)
    assert not (tmp_path / "answers.jsonl.lock").exists()


def test_bad_output_locations_fail_before_the_model_loads(bench, tmp_path, capsys) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    assert "is a folder" in fails(bench.args(folder))
    locked = tmp_path / "read-only"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permissions
            pytest.skip("running as root: a read-only folder is still writable")
        assert "not writable" in fails(bench.args(locked / "answers.jsonl"))
    finally:
        locked.chmod(0o700)
    assert "Loading weights" not in capsys.readouterr().err


def test_a_full_disk_is_a_clear_error_and_the_file_resumes(tmp_path, monkeypatch) -> None:
    answers = tmp_path / "answers.jsonl"
    writer = AnswerWriter(answers)
    writer.write({"question_id": 1})

    def full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer._file, "write", full)
    with pytest.raises(ValueError, match="No space left on device.*rerun the same command"):
        writer.write({"question_id": 2})


def test_prompts_are_checked_against_the_model_positions(bench, tmp_path) -> None:
    """The tiny model has 2,048 positions: a question of some 3,000 tokens is refused, naming
    its line, or cut with --truncate-long-prompts (and the cut recorded)."""
    long = {**QUESTIONS[0], "text": "is there a red square " * 600 + "?"}
    file = write_questions(tmp_path / "questions.jsonl", [QUESTIONS[1], long])
    answers = tmp_path / "answers.jsonl"
    message = fails(bench.args(answers, questions=file))
    assert f"{file}:2: the prompt takes" in message and "--truncate-long-prompts" in message
    main(bench.args(answers, "--truncate-long-prompts", questions=file))
    first, cut = read(answers)
    assert "truncated" not in first["metadata"]
    assert cut["metadata"]["truncated"]["from_positions"] > 2048
    assert cut["metadata"]["truncated"]["to"] + 6 <= 2048  # room left for the answer


def test_runaway_question_lines_are_refused_at_once(bench, tmp_path) -> None:
    huge = {**QUESTIONS[0], "text": "x" * 200_000}
    file = write_questions(tmp_path / "questions.jsonl", [QUESTIONS[1], huge])
    assert f"{file}:2: the question is 200,000 characters long" in fails(
        bench.args(tmp_path / "a.jsonl", questions=file)
    )


def test_images_stay_in_the_image_folder(bench, tmp_path) -> None:
    outside = {**QUESTIONS[0], "image": "../images/green.png"}
    file = write_questions(tmp_path / "questions.jsonl", [outside])
    assert "outside" in fails(bench.args(tmp_path / "a.jsonl", questions=file)).lower()
    main(bench.args(tmp_path / "b.jsonl", "--allow-outside-images", questions=file))


def test_ctrl_c_stops_cleanly_and_the_run_resumes(bench, tmp_path) -> None:
    answers = tmp_path / "answers.jsonl"
    script = (
        "import signal, sys, llava.eval.runner as runner\n"
        "from llava.eval.model_vqa_loader import main\n"
        "original = runner.generate\n"
        "calls = []\n"
        "def interrupted(*a, **k):\n"
        "    calls.append(1)\n"
        "    if len(calls) == 2:\n"
        "        raise KeyboardInterrupt\n"
        "    return original(*a, **k)\n"
        "runner.generate = interrupted\n"
        "main(sys.argv[1:])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *bench.args(answers)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode != 0
    assert "interrupted" in result.stderr and "Traceback" not in result.stderr
    assert len(read(answers)) == 1
    main(bench.args(answers))
    assert len(read(answers)) == len(QUESTIONS)
