"""`python -m llava.eval.model_vqa_loader` end to end on a synthetic 3-question folder with the
tiny original-format checkpoint: LLaVA's answer format, resume, refusals, chunks, torchrun,
bad inputs and the pruning flags.

Runs call `main([...])` in-process (a run takes well under a second); one subprocess proves the
module path and one runs under torchrun.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from eval_helpers import FIELDS, MAX_NEW, QUESTIONS, Bench, fails, make_bench, read, write_questions
from PIL import Image

from llava.eval.model_vqa_loader import main
from llava.eval.runner import build_prompt
from llava.generate import GenerationOptions, generate
from llava.mm_utils import process_images, tokenizer_image_token
from llava.model.builder import load_pretrained_model
from llava.sparse.budget import layer_flops


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny models on a shared 2-core machine: one BLAS thread avoids heavy contention."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def bench(tiny_checkpoints, tmp_path_factory) -> Bench:
    return make_bench(tmp_path_factory.mktemp("vqa"), tiny_checkpoints["llava"])


@pytest.fixture(scope="module")
def dense(bench) -> tuple[Path, list[dict]]:
    """One complete dense run, shared by the tests that compare against it."""
    answers = bench.root / "dense" / "answers.jsonl"
    main(bench.args(answers))
    return answers, read(answers)


def test_answer_lines(bench, dense) -> None:
    answers, lines = dense
    assert len(lines) == len(QUESTIONS)
    for line, question in zip(lines, QUESTIONS, strict=True):
        assert list(line) == FIELDS
        assert line["question_id"] == question["question_id"]
        assert line["prompt"] == question["text"]  # verbatim, without the template
        assert line["model_id"] == bench.model.name == "llava-v1.5-tiny-test"
        assert isinstance(line["answer_id"], str) and len(line["answer_id"]) == 22
        metadata = line["metadata"]
        assert metadata["visual_tokens"] == 16
        assert metadata["equivalent_tokens_output"] == metadata["equivalent_tokens_input"] == 16
        assert metadata["prefill_flops"] == metadata["dense_prefill_flops"] > 0
        assert metadata["pruning_layers"] == []
        assert metadata["run"]["pruning"] == {"method": "dense"}
    assert len({line["answer_id"] for line in lines}) == 3
    # the answers are what the library generates for LLaVA's vicuna_v1 prompt and padded image
    tokenizer, model, processor, _ = load_pretrained_model(
        str(bench.model), None, "m", device="cpu", torch_dtype="float32"
    )
    texts = []
    for question in QUESTIONS:
        prompt = build_prompt(question["text"], "vicuna_v1")
        ids = tokenizer_image_token(prompt, tokenizer, return_tensors="pt")[None]
        image = Image.open(bench.images / question["image"]).convert("RGB")
        pixels = process_images([image], processor, model.config)
        out = generate(model, ids, pixels, None, GenerationOptions(max_new_tokens=MAX_NEW))
        texts.append(tokenizer.batch_decode(out.tokens)[0].strip())
    assert [line["text"] for line in lines] == texts
    assert len(set(texts)) > 1 and all(texts)  # distinct, non-empty answers: a real comparison


def test_module_path_subprocess(bench, dense, tmp_path) -> None:
    answers = tmp_path / "sub" / "answers.jsonl"
    args = bench.args(answers)
    args[1] += "/"  # a trailing slash does not change model_id
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "llava.eval.model_vqa_loader", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "answered 3 questions" in result.stdout
    lines = read(answers)
    assert [(a["question_id"], a["text"]) for a in lines] == [
        (a["question_id"], a["text"]) for a in dense[1]
    ]
    assert {a["model_id"] for a in lines} == {"llava-v1.5-tiny-test"}


# --- resume -----------------------------------------------------------------------------------


def _interrupt(answers: Path, complete: int, partial_bytes: int = 0) -> bytes:
    """Keep `complete` lines and the first bytes of the next one, as a crash would."""
    lines = answers.read_bytes().splitlines(keepends=True)
    kept = b"".join(lines[:complete]) + lines[complete][:partial_bytes]
    answers.write_bytes(kept)
    return b"".join(lines[:complete])


@pytest.mark.parametrize(("complete", "partial"), [(1, 25), (2, 0), (0, 40)])
def test_resume_after_interruption(bench, dense, tmp_path, capsys, complete, partial) -> None:
    answers = tmp_path / "answers.jsonl"
    answers.write_bytes(dense[0].read_bytes())
    prefix = _interrupt(answers, complete, partial)
    main(bench.args(answers))
    assert f"({complete} resumed)" in capsys.readouterr().out or complete == 0
    raw = answers.read_bytes()
    assert raw.startswith(prefix)  # kept lines byte-identical
    lines = read(answers)
    assert [a["question_id"] for a in lines] == [q["question_id"] for q in QUESTIONS]
    assert [a["text"] for a in lines] == [a["text"] for a in dense[1]]
    assert len({a["answer_id"] for a in lines}) == 3


def test_resume_keys_by_position_with_duplicate_ids(bench, tmp_path) -> None:
    """MME: two questions per image share a question_id."""
    questions = [
        {"question_id": "shapes/red.png", "image": "shapes/red.png", "text": "is it red ?"},
        {"question_id": "shapes/red.png", "image": "shapes/red.png", "text": "is it blue ?"},
        {"question_id": "green.png", "image": "green.png", "text": "is it green ?"},
    ]
    qfile = write_questions(tmp_path / "mme.jsonl", questions)
    answers = tmp_path / "mme-answers.jsonl"
    main(bench.args(answers, questions=qfile))
    full = read(answers)
    prefix = _interrupt(answers, 1, 30)
    main(bench.args(answers, questions=qfile))
    assert answers.read_bytes().startswith(prefix)
    lines = read(answers)
    assert [a["prompt"] for a in lines] == [q["text"] for q in questions]
    assert [a["text"] for a in lines] == [a["text"] for a in full]


def test_rerun_of_a_complete_file_does_nothing(bench, dense, tmp_path, capsys) -> None:
    answers = tmp_path / "answers.jsonl"
    answers.write_bytes(dense[0].read_bytes())
    main(bench.args(answers))
    assert answers.read_bytes() == dense[0].read_bytes()
    assert "nothing to do: all 3 answers were already written" in capsys.readouterr().out


def test_sampling_resumes_identically(bench, tmp_path) -> None:
    """With temperature > 0 question i is sampled with seed + i: a resumed run equals a full one."""
    answers = tmp_path / "sampled.jsonl"
    args = bench.args(answers, "--seed", "5")
    args[args.index("--temperature") + 1] = "1.0"
    main(args)
    full = read(answers)
    _interrupt(answers, 1, 10)
    main(args)
    assert [a["text"] for a in read(answers)] == [a["text"] for a in full]


def test_other_settings_refused(bench, dense, tmp_path) -> None:
    answers = tmp_path / "answers.jsonl"
    answers.write_bytes(dense[0].read_bytes())
    message = fails(bench.args(answers, "--sparse", "--pruning-layers", "1,2"))
    assert f"{answers}:1 was written by another run" in message
    message = fails(bench.args(answers)[:-2] + ["--device", "cpu", "--max_new_tokens", "3"])
    assert f"{answers}:1 was written by another run" in message
    assert answers.read_bytes() == dense[0].read_bytes()  # untouched


def test_other_question_file_refused(bench, dense, tmp_path) -> None:
    answers = tmp_path / "answers.jsonl"
    answers.write_bytes(dense[0].read_bytes())
    other = [dict(q, text=q["text"] + " !") for q in QUESTIONS]
    qfile = write_questions(tmp_path / "other.jsonl", other)
    message = fails(bench.args(answers, questions=qfile))
    assert f"{answers}:1 answers question_id 7" in message
    assert "another question file" in message
    shorter = write_questions(tmp_path / "shorter.jsonl", QUESTIONS[:2])
    message = fails(bench.args(answers, questions=shorter))
    assert f"{answers} holds 3 answers but there are only 2 questions" in message


def test_corrupt_line_in_the_middle_refused(bench, dense, tmp_path) -> None:
    answers = tmp_path / "answers.jsonl"
    lines = dense[0].read_text().splitlines(keepends=True)
    answers.write_text("{broken\n" + "".join(lines[1:]))
    assert f"{answers}:1: not valid JSON" in fails(bench.args(answers))


# --- chunks and torchrun ----------------------------------------------------------------------


def test_chunks_concatenate_to_the_whole(bench, dense, tmp_path) -> None:
    parts = []
    for idx in range(2):
        answers = tmp_path / f"chunk{idx}.jsonl"
        main(bench.args(answers, "--num-chunks", "2", "--chunk-idx", str(idx)))
        parts.append(read(answers))
    assert [len(p) for p in parts] == [2, 1]  # ceil(3 / 2) = 2 questions per chunk
    merged = parts[0] + parts[1]
    assert [(a["question_id"], a["text"]) for a in merged] == [
        (a["question_id"], a["text"]) for a in dense[1]
    ]
    empty = tmp_path / "chunk3of4.jsonl"  # 4 chunks of 1: the last is empty, its file exists
    main(bench.args(empty, "--num-chunks", "4", "--chunk-idx", "3"))
    assert empty.read_text() == ""
    assert "--chunk-idx 2 must be in 0..1" in fails(
        bench.args(tmp_path / "x.jsonl", "--num-chunks", "2", "--chunk-idx", "2")
    )


def _torchrun_available() -> bool:
    return (
        importlib.util.find_spec("torch.distributed.run") is not None
        and torch.distributed.is_available()
        and torch.distributed.is_gloo_available()
    )


@pytest.mark.skipif(not _torchrun_available(), reason="torchrun / gloo not available")
def test_torchrun_two_ranks_merge_in_order(bench, dense, tmp_path) -> None:
    """Two ranks, each answering its shard in batches of two: the merged file is the dense
    one-at-a-time run's, in question order."""
    answers = tmp_path / "tr" / "answers.jsonl"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
        "-m", "llava.eval.model_vqa_loader", *bench.args(answers, "--batch-size", "2"),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    lines = read(answers)
    assert [(a["question_id"], a["text"]) for a in lines] == [
        (a["question_id"], a["text"]) for a in dense[1]
    ]
    assert sorted(p.name for p in answers.parent.iterdir()) == ["answers.jsonl"]  # shards gone
    before = answers.read_bytes()
    again = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    assert "nothing to do" in again.stdout  # the merged job is not redone
    assert answers.read_bytes() == before


# --- bad inputs -------------------------------------------------------------------------------


def test_missing_image(bench, tmp_path) -> None:
    qfile = write_questions(
        tmp_path / "q.jsonl", [QUESTIONS[0], dict(QUESTIONS[1], image="no.png")]
    )
    message = fails(bench.args(tmp_path / "a.jsonl", questions=qfile))
    assert f"{qfile}:2: image {bench.images / 'no.png'} not found" in message


def test_unreadable_image(bench, tmp_path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    (images / "ok.png").write_bytes((bench.images / "green.png").read_bytes())
    (images / "garbage.png").write_bytes(b"\x89PNG not really an image")
    questions = [dict(QUESTIONS[0], image="ok.png"), dict(QUESTIONS[1], image="garbage.png")]
    qfile = write_questions(tmp_path / "q.jsonl", questions)
    args = bench.args(tmp_path / "a.jsonl", questions=qfile)
    args[args.index("--image-folder") + 1] = str(images)
    message = fails(args)
    assert f"{qfile}:2: {images / 'garbage.png'} is not an image Pillow can read" in message


def test_malformed_json_line(bench, tmp_path) -> None:
    qfile = tmp_path / "q.jsonl"
    qfile.write_text(json.dumps(QUESTIONS[0]) + "\n\n" + '{"question_id": 1, "image": \n')
    message = fails(bench.args(tmp_path / "a.jsonl", questions=qfile))
    assert f"{qfile}:3: not valid JSON" in message  # the blank line 2 is counted


@pytest.mark.parametrize("field", ["image", "text"])
def test_question_missing_a_field(bench, tmp_path, field) -> None:
    broken = {k: v for k, v in QUESTIONS[2].items() if k != field}
    qfile = write_questions(tmp_path / "q.jsonl", [QUESTIONS[0], QUESTIONS[1], broken])
    message = fails(bench.args(tmp_path / "a.jsonl", questions=qfile))
    assert f"{qfile}:3: missing field(s) {field}" in message


def test_question_with_null_image(bench, tmp_path) -> None:
    qfile = write_questions(tmp_path / "q.jsonl", [QUESTIONS[0], dict(QUESTIONS[1], image=None)])
    message = fails(bench.args(tmp_path / "a.jsonl", questions=qfile))
    assert f"{qfile}:2" in message


def test_missing_question_file(bench, tmp_path) -> None:
    qfile = tmp_path / "nowhere.jsonl"
    message = fails(bench.args(tmp_path / "a.jsonl", questions=qfile))
    assert f"question file {qfile} not found" in message


def test_beam_search_refused(bench, tmp_path) -> None:
    answers = tmp_path / "a.jsonl"
    message = fails(bench.args(answers, "--num_beams", "2"))
    assert "--num_beams 2: beam search is not implemented" in message
    assert not answers.exists() or answers.read_text() == ""


# --- pruning flags ----------------------------------------------------------------------------


def test_sparse_default_layers_do_not_fit_a_tiny_model(bench, tmp_path) -> None:
    message = fails(bench.args(tmp_path / "a.jsonl", "--sparse", "--scale", "9", "--bias", "6"))
    assert "pruning layers [2, 6, 15, 19] do not fit a model with 4 layers" in message
    assert "pass --pruning-layers" in message


@pytest.mark.parametrize(("scale", "bias"), [("9", "6"), ("0.8", "0")])
def test_sparse_with_pruning_layers(bench, dense, tmp_path, scale, bias) -> None:
    answers = tmp_path / "sparse.jsonl"
    flags = ["--sparse", "--scale", scale, "--bias", bias, "--pruning-layers", "1,2"]
    main(bench.args(answers, *flags))
    lines = read(answers)
    assert [a["question_id"] for a in lines] == [q["question_id"] for q in QUESTIONS]
    text = load_pretrained_model(str(bench.model), None, "m", device="cpu")[1].config.text
    for line, dense_line in zip(lines, dense[1], strict=True):
        assert list(line) == FIELDS
        metadata = line["metadata"]
        for key in ("equivalent_tokens_output", "equivalent_tokens_input", "prefill_flops"):
            assert isinstance(metadata[key], float), key
        layers = metadata["pruning_layers"]
        assert [p["layer"] for p in layers] == [1, 2]
        assert layers[0]["visual_in"] == 16
        out1, out2 = (p["kept"] + p["merged"] for p in layers)
        assert layers[1]["visual_in"] == out1
        # 4 layers; visual tokens entering them: 16, 16, out1, out2; leaving: 16, out1, out2, out2
        assert metadata["equivalent_tokens_input"] == (16 + 16 + out1 + out2) / 4
        assert metadata["equivalent_tokens_output"] == (16 + out1 + out2 + out2) / 4
        prompt = metadata["prompt_tokens"]
        assert prompt == dense_line["metadata"]["prompt_tokens"]
        tokens = [prompt, prompt, prompt - 16 + out1, prompt - 16 + out2]
        expected = sum(layer_flops(n, text.hidden_size, text.intermediate_size) for n in tokens)
        assert metadata["prefill_flops"] == expected
        assert metadata["dense_prefill_flops"] == dense_line["metadata"]["prefill_flops"]
        assert metadata["run"]["pruning"] != {"method": "dense"}
    if scale == "0.8":  # this one prunes for real on the tiny model
        assert all(a["metadata"]["equivalent_tokens_output"] < 16 for a in lines)
