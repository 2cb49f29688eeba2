"""`model_vqa_loader` on tiny saved checkpoints of the newer families, against transformers'
`generate` on the same weights, image and question (decoded without special tokens):

- Qwen2.5-VL and llava-hf LLaVA-NeXT with no --conv-mode: the checkpoint's chat template, and
  its generation_config.json (Qwen: a repetition penalty and two EOS ids) recorded and honoured;
- LLaVA-NeXT in LLaVA's format with a Mistral decoder and --conv-mode mistral_instruct;
- a pruned run on Qwen-VL: each answer's budget is 64 / 576 of its own image's tokens.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image, ImageDraw
from tiny_models import HF_IMAGE_TOKEN
from tiny_next import (
    next_processor,
    save_chat_tokenizer,
    save_hf_next,
    save_original_next,
    tiny_hf_next,
)
from tiny_qwen import save_hf_qwen, tiny_hf_qwen, token_id
from transformers import AutoTokenizer, Qwen2VLImageProcessorPil

from llava.constants import IMAGE_TOKEN_INDEX
from llava.eval.model_vqa_loader import main
from llava.model.builder import load_pretrained_model
from llava.model.chat_template import one_turn
from llava.model.image_inputs import image_input, visual_token_count
from llava.model.prompting import conversation_prompt
from llava.model.tokenizer import load_tokenizer

MAX_NEW = 8
QUESTIONS = [
    {"question_id": 1, "image": "wide.png", "text": "is there a red square ?\nanswer yes or no ."},
    {"question_id": 2, "image": "tall.png", "text": "what color is the circle ?"},
]
SIZES = {"wide.png": (112, 56), "tall.png": (56, 140)}
QWEN_GENERATION = {"repetition_penalty": 1.5, "top_k": 1, "do_sample": True, "temperature": 0.1,
                   "eos_token_id": [token_id("<|im_end|>"), token_id("<|endoftext|>")]}  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("families")
    for name, size in SIZES.items():
        image = Image.new("RGB", size, (240, 240, 230))
        draw = ImageDraw.Draw(image)
        draw.rectangle([2, 2, size[0] // 2, size[1] // 2], fill=(220, 20, 20))
        draw.ellipse([size[0] // 3, size[1] // 2, size[0] - 2, size[1] - 2], fill=(20, 20, 220))
        image.save(root / name)
    (root / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    return root


def run(bench: Path, model: Path, answers: Path, *extra: str) -> list[dict]:
    main([
        "--model-path", str(model), "--question-file", str(bench / "questions.jsonl"),
        "--image-folder", str(bench), "--answers-file", str(answers), "--temperature", "0",
        "--max_new_tokens", str(MAX_NEW), "--device", "cpu", *extra,
    ])  # fmt: skip
    return [json.loads(line) for line in answers.read_text().splitlines()]


def expand(ids: list[int], image_id: int, rows: int) -> torch.Tensor:
    out = []
    for token in ids:
        out += [image_id] * rows if token in (image_id, IMAGE_TOKEN_INDEX) else [token]
    return torch.tensor([out])


def transformers_answer(hf, folder: Path, inputs: dict) -> str:
    with torch.no_grad():
        out = hf.generate(**inputs, do_sample=False, top_p=None, num_beams=1,
                          max_new_tokens=MAX_NEW)  # fmt: skip
    new = out[0, inputs["input_ids"].shape[1] :]
    return AutoTokenizer.from_pretrained(folder).decode(new, skip_special_tokens=True).strip()


def chat_ids(folder: Path, question: str) -> list[int]:
    """The processor's way: the tokenizer's chat template, then its tokenisation."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    text = tokenizer.apply_chat_template(one_turn(question), tokenize=False,
                                         add_generation_prompt=True)  # fmt: skip
    return tokenizer(text).input_ids


def test_qwen_answers_in_its_chat_template_equal_transformers(bench, tmp_path) -> None:
    hf = tiny_hf_qwen("qwen2_5_vl", seed=9)
    folder = save_hf_qwen(hf, tmp_path / "qwen", QWEN_GENERATION)
    answers = run(bench, folder, tmp_path / "answers.jsonl")
    assert all(answer["text"] for answer in answers)  # words, not only tokens out of vocabulary
    processor = Qwen2VLImageProcessorPil.from_pretrained(folder)
    pad = token_id("<|image_pad|>")
    for question, answer in zip(QUESTIONS, answers, strict=True):
        image = Image.open(bench / question["image"]).convert("RGB")
        pixels = processor([image], return_tensors="pt")
        rows = int(pixels["image_grid_thw"].prod()) // 4
        ids = expand(chat_ids(folder, question["text"]), pad, rows)
        inputs = {"input_ids": ids, **pixels, "mm_token_type_ids": (ids == pad).int()}
        assert answer["text"] == transformers_answer(hf, folder, inputs)
        assert answer["metadata"]["visual_tokens"] == rows
    run_config = answers[0]["metadata"]["run"]
    assert run_config["conv_mode"] is None
    assert run_config["generation"]["repetition_penalty"] == 1.5
    assert run_config["generation"]["from_generation_config"] == [
        "eos_token_id", "repetition_penalty", "top_k",
    ]  # fmt: skip
    assert {a["metadata"]["visual_tokens"] for a in answers} == {8, 10}  # 2 x 4 and 5 x 2


def test_llava_hf_next_answers_in_its_chat_template_equal_transformers(bench, tmp_path) -> None:
    hf = tiny_hf_next(seed=6)
    folder = save_hf_next(hf, tmp_path / "next-hf")
    save_chat_tokenizer(folder)
    answers = run(bench, folder, tmp_path / "answers.jsonl")
    assert all(answer["text"] for answer in answers)
    processor = next_processor()
    for question, answer in zip(QUESTIONS, answers, strict=True):
        image = Image.open(bench / question["image"]).convert("RGB")
        rows = answer["metadata"]["visual_tokens"]  # transformers refuses a wrong count
        ids = expand(chat_ids(folder, question["text"]), HF_IMAGE_TOKEN, rows)
        inputs = {"input_ids": ids, **processor([image], return_tensors="pt")}
        assert answer["text"] == transformers_answer(hf, folder, inputs)
        assert answer["metadata"]["image_newline_tokens"] > 0


def greedy_without_cache(hf, inputs: dict, steps: int) -> torch.Tensor:
    """transformers' model, one full forward per new token (argmax): the model's definition."""
    sequence = inputs["input_ids"]
    extra = {k: v for k, v in inputs.items() if k != "input_ids"}
    with torch.no_grad():
        for _ in range(steps):
            token = hf(input_ids=sequence, **extra).logits[0, -1].argmax()
            sequence = torch.cat((sequence, token.view(1, 1)), dim=1)
    return sequence[0, inputs["input_ids"].shape[1] :]


def test_original_next_mistral_with_llavas_template_equals_transformers(bench, tmp_path) -> None:
    """LLaVA's own format and template, a Mistral decoder whose sliding window (16) is shorter
    than the prompt. The reference is transformers' full forward, token by token: on this tiny
    LLaVA-NeXT with a Mistral decoder, transformers' cached `generate` (5.24) strays from its own
    full forward after a few tokens, window or not (its LLaMA-decoder LLaVA-NeXT above agrees
    with `generate`)."""
    hf = tiny_hf_next(decoder="mistral", window=16, seed=9)
    folder = save_original_next(hf, tmp_path / "llava-v1.6-mistral-tiny")
    answers = run(bench, folder, tmp_path / "answers.jsonl", "--conv-mode", "mistral_instruct")
    assert all(answer["text"] for answer in answers)
    tokenizer, processor = load_tokenizer(folder), next_processor()
    for question, answer in zip(QUESTIONS, answers, strict=True):
        image = Image.open(bench / question["image"]).convert("RGB")
        prompt = conversation_prompt("<image>\n" + question["text"], "mistral_instruct")
        chunks = [tokenizer(chunk).input_ids for chunk in prompt.split("<image>")]
        ids = chunks[0] + [IMAGE_TOKEN_INDEX] + chunks[1][1:]  # LLaVA's: one BOS
        rows = answer["metadata"]["visual_tokens"]
        inputs = {"input_ids": expand(ids, HF_IMAGE_TOKEN, rows),
                  **processor([image], return_tensors="pt")}  # fmt: skip
        assert inputs["input_ids"].shape[1] > 16  # the window matters
        tokens = greedy_without_cache(hf, inputs, MAX_NEW).tolist()
        if 2 in tokens:  # EOS ends the answer
            tokens = tokens[: tokens.index(2) + 1]
        assert answer["text"] == tokenizer.decode(tokens).strip()
    assert answers[0]["metadata"]["run"]["conv_mode"] == "mistral_instruct"


def test_a_pruned_qwen_run_keeps_the_same_fraction_of_each_image(bench, tmp_path) -> None:
    hf = tiny_hf_qwen("qwen2_5_vl", layers=4, seed=8)
    folder = save_hf_qwen(hf, tmp_path / "qwen")
    answers = run(bench, folder, tmp_path / "pruned.jsonl", "--pruning-method", "random",
                  "--pruning-layers", "1", "--retained-tokens", "288")  # fmt: skip
    for answer in answers:
        metadata = answer["metadata"]
        visual = metadata["visual_tokens"]
        # 288 / 576: half of each image's tokens, equivalent (V + 3 k V) / 4 with k solved
        assert abs(metadata["equivalent_tokens_output"] - visual / 2) <= 1
        assert metadata["equivalent_ratio_output"] == metadata["equivalent_tokens_output"] / visual
    assert "fractions of 576" in answers[0]["metadata"]["run"]["pruning"]["budget"]


def test_batched_answers_equal_one_at_a_time_and_counts_are_known_before(bench, tmp_path) -> None:
    """Images of 8 and 10 visual tokens in one batch of 2, pruned per image: the answers of a
    batch-size-1 run; each image's count, read from its size before answering, is the one the
    model then splices in (the prompt's length for batching and the context check)."""
    hf = tiny_hf_qwen("qwen2_5_vl", layers=4, seed=9)
    folder = save_hf_qwen(hf, tmp_path / "qwen", QWEN_GENERATION)
    flags = ("--pruning-method", "fastv", "--fastv-k", "2", "--retained-tokens", "288")
    one = run(bench, folder, tmp_path / "one.jsonl", *flags)
    two = run(bench, folder, tmp_path / "two.jsonl", *flags, "--batch-size", "2")
    assert [a["text"] for a in one] == [a["text"] for a in two]
    assert [a["metadata"]["equivalent_tokens_output"] for a in one] == [
        a["metadata"]["equivalent_tokens_output"] for a in two
    ]
    assert two[0]["metadata"]["batch_size"] == 2

    _, model, processor, _ = load_pretrained_model(str(folder), None, "q", device="cpu")
    for name in SIZES:
        image = Image.open(bench / name).convert("RGB")
        ((state, _),) = model.prepare_samples(
            [torch.tensor([5, IMAGE_TOKEN_INDEX, 6])], [image_input(image, processor, model.config)]
        )
        assert visual_token_count(image, processor, model) == state.num_visual
