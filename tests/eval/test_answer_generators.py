"""`model_vqa_science`, `model_vqa_mmbench` and `model_vqa` on the tiny original-format
checkpoint and tiny synthetic stand-ins: LLaVA's answer formats, the answers the library
generates for LLaVA's prompts and images, text-only ScienceQA items under pruning, MMBench's
option rounds, resume after an interruption, and chunks.

Runs call `main([...])` in-process; `--max_new_tokens 4` keeps them short.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from llava.benchmarks.mmbench import read_mmbench_tsv
from llava.benchmarks.scienceqa import science_prompt
from llava.eval import model_vqa, model_vqa_loader, model_vqa_mmbench, model_vqa_science
from llava.eval.image_sources import Base64Image, ImageFile
from llava.eval.runner import TEXT_ONLY, conversation_prompt
from llava.generate import GenerationOptions, generate
from llava.mm_utils import process_images, tokenizer_image_token
from llava.model.builder import load_pretrained_model
from llava.synthetic.suite import BenchmarkSizes, write_benchmarks

MAX_NEW = 4
LOADER_FIELDS = ["question_id", "prompt", "text", "answer_id", "model_id", "metadata"]
MMBENCH_FIELDS = ["question_id", "round_id", "prompt", "text", "options", "option_char"]
MMBENCH_FIELDS += ["answer_id", "model_id", "metadata"]
SIZES = BenchmarkSizes(sqa_images=2, mmbench_images=2, mmvet_images=2, nonsquare_prob=0.5)
FASTV = ["--pruning-method", "fastv"]  # K = 2: prunes after layer 1 of the tiny model's 4


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """Synthetic ScienceQA, MMBench and MM-Vet, plus a ScienceQA item whose image is a
    non-square palette PNG (padded in palette mode, as LLaVA does)."""
    root = tmp_path_factory.mktemp("generators")
    write_benchmarks(root, seed=3, sizes=SIZES, benchmarks=("sqa", "mmbench", "mmvet"))
    sqa = root / "scienceqa"
    items = json.loads((sqa / "llava_test_CQM-A.json").read_text())
    image = Image.new("RGB", (40, 24), (30, 30, 200))
    image.paste((220, 200, 20), (0, 0, 20, 24))
    (sqa / "images" / "test" / "palette").mkdir()
    image.convert("P").save(sqa / "images" / "test" / "palette" / "image.png")
    question = "<image>\nWhat color is the circle?\nA. red\nB. blue"
    items.append({
        "id": "palette", "image": "palette/image.png",
        "conversations": [{"from": "human", "value": question}, {"from": "gpt", "value": "B"}],
    })  # fmt: skip
    (sqa / "llava_test_CQM-A.json").write_text(json.dumps(items, indent=2))
    return root


@pytest.fixture(scope="module")
def model(tiny_checkpoints):
    """The library's own model, for answers computed without the generators."""
    return load_pretrained_model(
        str(tiny_checkpoints["llava"]), None, "m", device="cpu", torch_dtype="float32"
    )[:3]


def common_args(checkpoint: Path, questions: Path, answers: Path, *extra: str) -> list[str]:
    return [
        "--model-path", str(checkpoint), "--question-file", str(questions),
        "--answers-file", str(answers), "--temperature", "0", "--conv-mode", "vicuna_v1",
        "--max_new_tokens", str(MAX_NEW), "--device", "cpu", "--dtype", "float32", *extra,
    ]  # fmt: skip


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def expected_text(model, user_turn: str, image: Image.Image | None) -> str:
    """What the library generates for LLaVA's prompt, with this image (or none)."""
    tokenizer, llava, processor = model
    prompt = conversation_prompt(user_turn, "vicuna_v1")
    ids = tokenizer_image_token(prompt, tokenizer, return_tensors="pt")[None]
    pixels = None if image is None else process_images([image], processor, llava.config)
    out = generate(llava, ids, pixels, None, GenerationOptions(max_new_tokens=MAX_NEW))
    return tokenizer.batch_decode(out.tokens, skip_special_tokens=True)[0].strip()


def interrupt(answers: Path, complete: int, partial_bytes: int) -> bytes:
    """Keep `complete` lines and the first bytes of the next one, as a crash would."""
    lines = answers.read_bytes().splitlines(keepends=True)
    answers.write_bytes(b"".join(lines[:complete]) + lines[complete][:partial_bytes])
    return b"".join(lines[:complete])


def fails(main, args: list[str]) -> str:
    with pytest.raises(SystemExit) as err:
        main(args)
    assert err.value.code not in (0, None)
    return str(err.value.code)


def test_llava_defaults():
    """LLaVA's longest answers: 128 tokens for the loader, 1024 for the other three."""
    required = ["--model-path", "m"]
    assert model_vqa_loader.parse_args(required).max_new_tokens == 128
    for module in (model_vqa, model_vqa_science, model_vqa_mmbench):
        assert module.parse_args(required).max_new_tokens == 1024
    science = model_vqa_science.parse_args([*required, "--answer-prompter"])
    assert not science.single_pred_prompt
    assert model_vqa_mmbench.parse_args(required).lang == "en"


# --- model_vqa ------------------------------------------------------------------------------------


def test_model_vqa_answers_as_the_loader(tiny_checkpoints, root, tmp_path):
    """MM-Vet's questions: model_vqa is model_vqa_loader with longer answers."""
    questions = root / "mm-vet" / "llava-mm-vet.jsonl"
    lines = {}
    for module in (model_vqa, model_vqa_loader):
        answers = tmp_path / f"{module.PROG}.jsonl"
        module.main(
            common_args(tiny_checkpoints["llava"], questions, answers)
            + ["--image-folder", str(root / "mm-vet" / "images")]
        )
        lines[module] = read(answers)
    rows = [json.loads(line) for line in questions.read_text().splitlines()]
    assert [(a["question_id"], a["prompt"]) for a in lines[model_vqa]] == [
        (q["question_id"], q["text"]) for q in rows
    ]
    assert all(list(a) == LOADER_FIELDS for a in lines[model_vqa])
    assert [a["text"] for a in lines[model_vqa]] == [a["text"] for a in lines[model_vqa_loader]]


# --- model_vqa_science ----------------------------------------------------------------------------


def science_args(checkpoint: Path, root: Path, answers: Path, *extra: str) -> list[str]:
    sqa = root / "scienceqa"
    return common_args(
        checkpoint, sqa / "llava_test_CQM-A.json", answers,
        "--image-folder", str(sqa / "images" / "test"), "--single-pred-prompt", *extra,
    )  # fmt: skip


@pytest.fixture(scope="module")
def science_items(root) -> list[dict]:
    return json.loads((root / "scienceqa" / "llava_test_CQM-A.json").read_text())


@pytest.fixture(scope="module")
def science_dense(tiny_checkpoints, root, tmp_path_factory) -> Path:
    answers = tmp_path_factory.mktemp("sqa") / "dense.jsonl"
    model_vqa_science.main(science_args(tiny_checkpoints["llava"], root, answers))
    return answers


def test_science_answers(science_dense, science_items, model, root):
    lines = read(science_dense)
    assert [a["question_id"] for a in lines] == [item["id"] for item in science_items]
    assert sum("image" not in item for item in science_items) >= 1  # a text-only item
    folder = root / "scienceqa" / "images" / "test"
    for line, item in zip(lines, science_items, strict=True):
        assert list(line) == LOADER_FIELDS
        prompt = science_prompt(item, single_pred_prompt=True)
        assert line["prompt"] == prompt  # "<image>\n" in front for image items, as LLaVA's
        assert line["prompt"].startswith("<image>\n") == ("image" in item)
        image = None
        if "image" in item:  # opened in its own mode (the palette item stays "P")
            image = ImageFile(folder, item["image"], convert_rgb=False).open("test")
        assert line["text"] == expected_text(model, prompt, image)
        metadata = line["metadata"]
        assert metadata["visual_tokens"] == (16 if "image" in item else 0)
        assert metadata["run"]["max_new_tokens"] == MAX_NEW
        assert ("pruning" in metadata) == ("image" not in item)
    assert len({a["text"] for a in lines}) > 1


def test_science_pruning_leaves_text_only_prompts_alone(
    tiny_checkpoints, root, science_dense, science_items, tmp_path
):
    answers = tmp_path / "fastv.jsonl"
    model_vqa_science.main(science_args(tiny_checkpoints["llava"], root, answers, *FASTV))
    for line, dense, item in zip(read(answers), read(science_dense), science_items, strict=True):
        metadata = line["metadata"]
        assert metadata["run"]["pruning"]["method"] == "fastv"
        if "image" in item:
            assert [p["layer"] for p in metadata["pruning_layers"]] == [1]
            assert metadata["equivalent_tokens_output"] < 16
            assert metadata["prefill_flops"] < metadata["dense_prefill_flops"]
        else:
            assert metadata["pruning"] == TEXT_ONLY
            assert metadata["pruning_layers"] == []
            assert metadata["visual_tokens"] == metadata["equivalent_tokens_output"] == 0
            assert metadata["equivalent_tokens_input"] == 0
            assert metadata["prefill_flops"] == metadata["dense_prefill_flops"]
            assert metadata["prompt_tokens"] == dense["metadata"]["prompt_tokens"]
            assert line["text"] == dense["text"]


def test_science_resume_and_chunks(tiny_checkpoints, root, science_dense, tmp_path, capsys):
    full = read(science_dense)
    answers = tmp_path / "resumed.jsonl"
    answers.write_bytes(science_dense.read_bytes())
    prefix = interrupt(answers, 2, 30)
    model_vqa_science.main(science_args(tiny_checkpoints["llava"], root, answers))
    assert "(2 resumed)" in capsys.readouterr().out
    assert answers.read_bytes().startswith(prefix)
    assert [(a["question_id"], a["text"]) for a in read(answers)] == [
        (a["question_id"], a["text"]) for a in full
    ]
    merged = []
    for idx in range(2):
        chunk = tmp_path / f"chunk{idx}.jsonl"
        chunk_args = ["--num-chunks", "2", "--chunk-idx", str(idx)]
        model_vqa_science.main(science_args(tiny_checkpoints["llava"], root, chunk, *chunk_args))
        merged += read(chunk)
    assert [(a["question_id"], a["text"]) for a in merged] == [
        (a["question_id"], a["text"]) for a in full
    ]


def test_science_refuses_the_answers_of_another_prompt(tiny_checkpoints, root, science_dense):
    """Without --single-pred-prompt the prompts differ: the dense file is not resumed."""
    args = science_args(tiny_checkpoints["llava"], root, science_dense)
    args.remove("--single-pred-prompt")
    before = science_dense.read_bytes()
    message = fails(model_vqa_science.main, args)
    assert message.startswith("model_vqa_science: error: ")
    assert f"{science_dense}:1 answers question_id" in message
    assert science_dense.read_bytes() == before


def test_science_bad_question_file(tiny_checkpoints, root, tmp_path):
    qfile = tmp_path / "q.json"
    qfile.write_text(json.dumps([{"id": "1", "image": "nowhere.png", "conversations": [
        {"from": "human", "value": "<image>\nWhat?\nA. x\nB. y"}]}]))  # fmt: skip
    args = science_args(tiny_checkpoints["llava"], root, tmp_path / "a.jsonl")
    args[args.index("--question-file") + 1] = str(qfile)
    message = fails(model_vqa_science.main, args)
    assert f"{qfile}, item 1: image {root / 'scienceqa/images/test/nowhere.png'} not found" in (
        message
    )


# --- model_vqa_mmbench ----------------------------------------------------------------------------


def mmbench_args(checkpoint: Path, root: Path, answers: Path, *extra: str) -> list[str]:
    tsv = root / "mmbench" / "mmbench_dev_20230712.tsv"
    return common_args(checkpoint, tsv, answers, "--single-pred-prompt", *extra)


@pytest.fixture(scope="module")
def mmbench_rows(root) -> list[dict]:
    return read_mmbench_tsv(root / "mmbench" / "mmbench_dev_20230712.tsv")[1]


@pytest.fixture(scope="module")
def all_rounds(tiny_checkpoints, root, tmp_path_factory) -> Path:
    answers = tmp_path_factory.mktemp("mmbench") / "all-rounds.jsonl"
    model_vqa_mmbench.main(mmbench_args(tiny_checkpoints["llava"], root, answers, "--all-rounds"))
    return answers


def test_mmbench_answers(tiny_checkpoints, root, mmbench_rows, model, tmp_path):
    answers = tmp_path / "answers.jsonl"
    model_vqa_mmbench.main(mmbench_args(tiny_checkpoints["llava"], root, answers))
    lines = read(answers)
    assert [a["question_id"] for a in lines] == [row["index"] for row in mmbench_rows]
    suffix = "\nAnswer with the option's letter from the given choices directly."
    for line, row in zip(lines, mmbench_rows, strict=True):
        assert list(line) == MMBENCH_FIELDS
        options = [row[c] for c in "ABCD" if row[c] is not None]
        assert (line["round_id"], line["options"]) == (0, options)
        assert line["option_char"] == list("ABCD"[: len(options)])
        body = (f"{row['hint']}\n" if row["hint"] else "") + row["question"]
        body += "".join(f"\n{c}. {o}" for c, o in zip("ABCD", options, strict=False))
        assert line["prompt"] == body  # without "<image>\n" and the instruction, as LLaVA's
        image = Base64Image(row["image"]).open("test")
        assert line["text"] == expected_text(model, f"<image>\n{body}{suffix}", image)
        assert line["metadata"]["visual_tokens"] == 16


def test_mmbench_all_rounds(all_rounds, mmbench_rows):
    lines = read(all_rounds)
    expected = [
        (row["index"], round_id)
        for row in mmbench_rows
        for round_id in range(sum(row[c] is not None for c in "ABCD"))
    ]
    assert [(a["question_id"], a["round_id"]) for a in lines] == expected
    for line in lines:  # round r shows the options rotated left r times, letters A, B, ...
        n, r = len(line["options"]), line["round_id"]
        first = next(a for a in lines if a["question_id"] == line["question_id"])
        assert line["options"] == first["options"][r:] + first["options"][:r]
        assert line["option_char"] == first["option_char"][r:] + first["option_char"][:r]
        assert line["prompt"].endswith(f"\n{'ABCD'[n - 1]}. {line['options'][-1]}")


def test_mmbench_resume_by_position(tiny_checkpoints, root, all_rounds, tmp_path):
    """--all-rounds repeats question ids: resume keys by position and round."""
    answers = tmp_path / "answers.jsonl"
    answers.write_bytes(all_rounds.read_bytes())
    prefix = interrupt(answers, 3, 20)
    model_vqa_mmbench.main(mmbench_args(tiny_checkpoints["llava"], root, answers, "--all-rounds"))
    assert answers.read_bytes().startswith(prefix)
    key = ("question_id", "round_id", "prompt", "text")
    assert [[a[k] for k in key] for a in read(answers)] == [
        [a[k] for k in key] for a in read(all_rounds)
    ]


def test_mmbench_chunks_split_rows_not_rounds(tiny_checkpoints, root, all_rounds, tmp_path):
    chunks = []
    for idx in range(2):
        chunk = tmp_path / f"chunk{idx}.jsonl"
        extra = ["--all-rounds", "--num-chunks", "2", "--chunk-idx", str(idx)]
        model_vqa_mmbench.main(mmbench_args(tiny_checkpoints["llava"], root, chunk, *extra))
        chunks.append(read(chunk))
    ids = [{a["question_id"] for a in chunk} for chunk in chunks]
    assert ids[0] and ids[1] and not ids[0] & ids[1]  # every row whole in one chunk
    key = ("question_id", "round_id", "text")
    assert [[a[k] for k in key] for a in chunks[0] + chunks[1]] == [
        [a[k] for k in key] for a in read(all_rounds)
    ]


def test_mmbench_language_is_a_setting_of_the_run(tiny_checkpoints, root, all_rounds, tmp_path):
    """The answers' prompt is the body alone: a Chinese instruction must not resume English."""
    answers = tmp_path / "answers.jsonl"
    answers.write_bytes(all_rounds.read_bytes())
    args = mmbench_args(tiny_checkpoints["llava"], root, answers, "--all-rounds", "--lang", "cn")
    message = fails(model_vqa_mmbench.main, args)
    assert f"{answers}:1 was written by another run" in message
    assert answers.read_bytes() == all_rounds.read_bytes()
