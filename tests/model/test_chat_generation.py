"""Prompts in the checkpoint's chat template and generation as its generation_config says,
against transformers on tiny llava-hf LLaVA-NeXT and Qwen2.5-VL checkpoints: the prompt text and
ids equal what the tokenizer's `apply_chat_template` and the processor's image-token expansion
give, and greedy answers (repetition penalty and several EOS ids from generation_config.json)
equal `generate`'s, decoded without special tokens."""

from __future__ import annotations

import json

import pytest
import torch
from model_helpers import make_image
from tiny_next import save_chat_tokenizer, save_hf_next, tiny_hf_next
from tiny_qwen import save_hf_qwen, tiny_hf_qwen, token_id
from transformers import AutoTokenizer

from llava.constants import IMAGE_TOKEN_INDEX
from llava.generate import generate, generation_options
from llava.model.builder import load_pretrained_model
from llava.model.chat_template import ChatPrompter, one_turn
from llava.model.generation_config import checkpoint_settings, generation_settings
from llava.model.image_inputs import image_input

QUESTION = "is there a red circle in the image ?"
LLAVA_FLAGS = {"do_sample": False, "temperature": 0, "top_p": None, "num_beams": 1,
               "max_new_tokens": 12}  # fmt: skip
QWEN_GENERATION = {  # Qwen2.5-VL's file, with a stronger penalty so that it shows on a tiny model
    "do_sample": True, "temperature": 0.1, "top_p": 0.001, "top_k": 1,
    "repetition_penalty": 1.5, "eos_token_id": [token_id("<|im_end|>"), token_id("<|endoftext|>")],
}  # fmt: skip


@pytest.fixture(scope="module")
def qwen(tmp_path_factory):
    hf = tiny_hf_qwen("qwen2_5_vl", seed=3)
    folder = save_hf_qwen(hf, tmp_path_factory.mktemp("chat") / "qwen", QWEN_GENERATION)
    loaded = load_pretrained_model(str(folder), None, "qwen", device="cpu", dtype="float32")
    return hf, folder, loaded


@pytest.fixture(scope="module")
def llava_next(tmp_path_factory):
    hf = tiny_hf_next(seed=4)
    hf.generation_config.repetition_penalty = 1.3
    folder = save_hf_next(hf, tmp_path_factory.mktemp("chat") / "next")
    save_chat_tokenizer(folder)
    loaded = load_pretrained_model(str(folder), None, "next", device="cpu", dtype="float32")
    return hf, folder, loaded


def transformers_ids(folder, image_token: str, rows: int) -> tuple[str, torch.Tensor]:
    """The prompt text and ids as transformers' tokenizer and processor build them."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    text = tokenizer.apply_chat_template(
        one_turn(QUESTION), tokenize=False, add_generation_prompt=True
    )
    ids = tokenizer(text.replace(image_token, image_token * rows)).input_ids
    return text, torch.tensor([ids])


def collapse(ids: torch.Tensor, image_id: int) -> list[int]:
    """The processor's ids with its run of image tokens back to our one placeholder."""
    out = []
    for token in ids[0].tolist():
        if token == image_id:
            if out[-1:] != [IMAGE_TOKEN_INDEX]:
                out.append(IMAGE_TOKEN_INDEX)
        else:
            out.append(token)
    return out


def test_qwen_prompt_is_the_processors(qwen) -> None:
    _, folder, (_, model, _, _) = qwen
    prompter = ChatPrompter(folder, model.config.image_token_id)
    text, ids = transformers_ids(folder, "<|image_pad|>", 6)
    assert prompter.prompt(QUESTION) == text
    assert text.startswith("<|im_start|>system\n") and text.endswith("<|im_start|>assistant\n")
    assert prompter.input_ids(QUESTION).tolist() == collapse(ids, model.config.image_token_id)


def test_llava_hf_prompt_is_the_processors_with_its_bos(llava_next) -> None:
    _, folder, (_, model, _, _) = llava_next
    prompter = ChatPrompter(folder, model.config.image_token_id)
    text, ids = transformers_ids(folder, "<image>", 4)
    assert prompter.prompt(QUESTION) == text == f"USER: <image>\n{QUESTION} ASSISTANT:"
    ours = prompter.input_ids(QUESTION).tolist()
    assert ours == collapse(ids, model.config.image_token_id) and ours[0] == 1  # BOS added


def answers(model, hf, prompter, folder, image, hf_inputs: dict, flags: dict):
    settings, _ = generation_settings(folder, flags)
    options = generation_options(**settings)
    ids = prompter.input_ids(QUESTION)
    ours = generate(model, [ids], [image], None, options).tokens[0]
    with torch.no_grad():
        out = hf.generate(**hf_inputs, do_sample=False, top_p=None, num_beams=1,
                          max_new_tokens=flags["max_new_tokens"])  # fmt: skip
    theirs = out[0, hf_inputs["input_ids"].shape[1] :]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    return prompter.decode(ours), tokenizer.decode(theirs, skip_special_tokens=True), ours


def test_qwen_greedy_answer_equals_transformers_generate(qwen) -> None:
    hf, folder, (_, model, processor, _) = qwen
    prompter = ChatPrompter(folder, model.config.image_token_id)
    image = image_input(make_image(112, 84, seed=2), processor, model.config)
    _, ids = transformers_ids(folder, "<|image_pad|>", 12)
    inputs = {"input_ids": ids, "pixel_values": image.pixels,
              "image_grid_thw": torch.tensor([image.grid]),
              "mm_token_type_ids": (ids == model.config.image_token_id).int()}  # fmt: skip
    ours, theirs, tokens = answers(model, hf, prompter, folder, image, inputs, LLAVA_FLAGS)
    assert ours == theirs and ours
    # the file's penalty mattered: without it the same greedy decoding answers otherwise
    options = generation_options(**LLAVA_FLAGS, repetition_penalty=1.0)
    plain = generate(model, [prompter.input_ids(QUESTION)], [image], None, options).tokens[0]
    assert plain.tolist() != tokens.tolist()


def test_llava_hf_next_greedy_answer_equals_transformers_generate(llava_next) -> None:
    hf, folder, (_, model, processor, _) = llava_next
    prompter = ChatPrompter(folder, model.config.image_token_id)
    image = make_image(90, 60, seed=7)
    prepared = image_input(image, processor, model.config)
    ((state, _),) = model.prepare_samples([prompter.input_ids(QUESTION)], [prepared])
    _, ids = transformers_ids(folder, "<image>", state.num_visual)
    pixels = processor([image], return_tensors="pt")
    inputs = {"input_ids": ids, **pixels}
    ours, theirs, _ = answers(model, hf, prompter, folder, prepared, inputs, LLAVA_FLAGS)
    assert ours == theirs and ours


def test_flags_override_the_file_and_are_recorded(qwen) -> None:
    _, folder, _ = qwen
    settings, record = generation_settings(folder, {**LLAVA_FLAGS, "repetition_penalty": 1.0})
    assert settings["repetition_penalty"] == 1.0 and settings["top_k"] == 1
    assert record["overridden_by_flags"] == ["repetition_penalty"]
    assert record["from_generation_config"] == ["eos_token_id", "top_k"]
    assert generation_options(**settings).eos_token_ids == tuple(QWEN_GENERATION["eos_token_id"])


def test_settings_we_cannot_apply_are_refused_by_name(tmp_path) -> None:
    assert checkpoint_settings({"no_repeat_ngram_size": 0, "eos_token_id": 2}) == {
        "eos_token_id": [2]
    }
    with pytest.raises(ValueError, match="no_repeat_ngram_size"):
        checkpoint_settings({"no_repeat_ngram_size": 3}, "x/generation_config.json")
    (tmp_path / "generation_config.json").write_text(json.dumps({"num_beams": 4}))
    with pytest.raises(ValueError, match="beam search"):
        generation_settings(tmp_path, {})
