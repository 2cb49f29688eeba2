"""Prompts, image preprocessing and tokenisation, byte-exact with LLaVA-1.5."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image
from transformers import CLIPImageProcessorPil

from llava.constants import IMAGE_TOKEN_INDEX
from llava.conversation import conv_templates, get_conv_template
from llava.eval.runner import build_prompt
from llava.mm_utils import (
    expand2square,
    get_model_name_from_path,
    process_images,
    tokenizer_image_token,
)
from llava.model.tokenizer import SentencePieceTokenizer, load_tokenizer

VICUNA_V1 = (
    "A chat between a curious user and an artificial intelligence assistant. The assistant "
    "gives helpful, detailed, and polite answers to the user's questions. USER: <image>\n"
    "What is shown?\nAnswer the question using a single word or phrase. ASSISTANT:"
)
LLAVA_V1 = (
    "A chat between a curious human and an artificial intelligence assistant. The assistant "
    "gives helpful, detailed, and polite answers to the human's questions. USER: <image>\n"
    "What is shown?\nAnswer the question using a single word or phrase. ASSISTANT:"
)
QUESTION = "What is shown?\nAnswer the question using a single word or phrase."
MISTRAL_INSTRUCT = (
    "[INST] <image>\nWhat is shown?\nAnswer the question using a single word or phrase. [/INST]"
)
CHATML_DIRECT = (
    "<|im_start|>system\nAnswer the questions.<|im_end|><|im_start|>user\n<image>\n"
    "What is shown?\nAnswer the question using a single word or phrase.<|im_end|>"
    "<|im_start|>assistant\n"
)
CLIP_FILL = (122, 116, 104)


# --- conversation templates -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("vicuna_v1", VICUNA_V1),
        ("llava_v1", LLAVA_V1),
        ("mistral_instruct", MISTRAL_INSTRUCT),  # LLaVA-NeXT's Mistral checkpoint
        ("chatml_direct", CHATML_DIRECT),  # LLaVA-NeXT 34B
    ],
)
def test_eval_prompt_byte_exact(mode: str, expected: str) -> None:
    assert build_prompt(QUESTION, mode) == expected
    # the way LLaVA's scripts build it
    conv = get_conv_template(mode)
    conv.append_message(conv.roles[0], "<image>\n" + QUESTION)
    conv.append_message(conv.roles[1], None)
    assert conv.get_prompt() == expected


def test_v1_is_vicuna_v1() -> None:
    assert build_prompt(QUESTION, "v1") == VICUNA_V1


def test_multi_turn_separators() -> None:
    """SeparatorStyle.TWO: " " after a user turn, "</s>" after an assistant turn."""
    conv = get_conv_template("vicuna_v1")
    conv.append_message("USER", "Hi")
    conv.append_message("ASSISTANT", "Hello.")
    conv.append_message("USER", "Bye")
    conv.append_message("ASSISTANT", None)
    assert conv.get_prompt() == (
        "A chat between a curious user and an artificial intelligence assistant. The assistant "
        "gives helpful, detailed, and polite answers to the user's questions. "
        "USER: Hi ASSISTANT: Hello.</s>USER: Bye ASSISTANT:"
    )


def test_llama_2_style_turns() -> None:
    """SeparatorStyle.LLAMA_2: "[INST] ... [/INST]" per user turn, " answer </s>" per assistant
    turn; a system text goes in <<SYS>> tags at the start of the first user turn."""
    conv = get_conv_template("mistral_instruct")
    for role, message in (("USER", "Hi"), ("ASSISTANT", "Hello."), ("USER", "Bye")):
        conv.append_message(role, message)
    conv.append_message("ASSISTANT", None)
    assert conv.get_prompt() == "[INST] Hi [/INST] Hello. </s>[INST] Bye [/INST]"
    conv.system = "Be brief."
    assert conv.get_prompt().startswith("[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST]")


def test_templates_are_copied() -> None:
    conv = get_conv_template("vicuna_v1")
    conv.append_message("USER", "changed")
    assert conv_templates["vicuna_v1"].messages == []
    assert get_conv_template("vicuna_v1").messages == []


def test_unknown_conv_mode() -> None:
    with pytest.raises(ValueError, match=r"unknown --conv-mode 'vicuna_v2'.*llava_v1"):
        get_conv_template("vicuna_v2")
    with pytest.raises(ValueError, match="unknown --conv-mode"):
        build_prompt(QUESTION, "llama_2")


# --- images -----------------------------------------------------------------------------------


def solid(width: int, height: int, colour=(10, 200, 30)) -> Image.Image:
    return Image.new("RGB", (width, height), colour)


def test_expand2square_wide_image() -> None:
    square = expand2square(solid(40, 20), CLIP_FILL)
    assert square.size == (40, 40)
    pixels = square.load()
    for x, y in [(0, 0), (39, 0), (20, 9), (0, 39), (39, 39), (20, 30)]:
        assert pixels[x, y] == CLIP_FILL, (x, y)
    for x, y in [(0, 10), (39, 10), (20, 20), (0, 29), (39, 29)]:  # rows 10..29: the image
        assert pixels[x, y] == (10, 200, 30), (x, y)


def test_expand2square_tall_and_odd() -> None:
    square = expand2square(solid(20, 40), CLIP_FILL)
    assert square.size == (40, 40)
    assert [square.getpixel((x, 20)) for x in (9, 10, 29, 30)] == [
        CLIP_FILL,
        (10, 200, 30),
        (10, 200, 30),
        CLIP_FILL,
    ]
    odd = expand2square(solid(41, 20), CLIP_FILL)  # offset (41 - 20) // 2 = 10, as LLaVA
    assert [odd.getpixel((0, y)) for y in (9, 10, 29, 30)] == [
        CLIP_FILL,
        (10, 200, 30),
        (10, 200, 30),
        CLIP_FILL,
    ]
    image = solid(16, 16)
    assert expand2square(image, CLIP_FILL) is image


class _Config:
    def __init__(self, image_aspect_ratio) -> None:
        self.image_aspect_ratio = image_aspect_ratio


class _RecordingProcessor:
    image_mean = CLIPImageProcessorPil().image_mean

    def __init__(self) -> None:
        self.seen: list[Image.Image] = []

    def __call__(self, images, return_tensors):
        self.seen = list(images)
        return {"pixel_values": torch.zeros(len(self.seen), 3, 4, 4)}


def test_process_images_pads_with_clip_mean() -> None:
    recorder = _RecordingProcessor()
    out = process_images([solid(40, 20), solid(8, 8)], recorder, _Config("pad"))
    assert out.shape == (2, 3, 4, 4)
    padded = recorder.seen[0]
    assert padded.size == (40, 40)
    assert padded.getpixel((0, 0)) == CLIP_FILL == (122, 116, 104)
    assert padded.getpixel((20, 20)) == (10, 200, 30)


def test_process_images_pad_vs_square() -> None:
    processor = CLIPImageProcessorPil(
        size={"shortest_edge": 56}, crop_size={"height": 56, "width": 56}
    )
    image = solid(40, 20)
    padded = process_images([image], processor, _Config("pad"))
    square = process_images([image], processor, _Config("square"))
    default = process_images([image], processor, object())  # no image_aspect_ratio: as square
    assert padded.shape == square.shape == (1, 3, 56, 56)
    direct = processor([expand2square(image, CLIP_FILL)], return_tensors="pt")["pixel_values"]
    assert torch.equal(padded, direct)
    assert torch.equal(square, processor([image], return_tensors="pt")["pixel_values"])
    assert torch.equal(default, square)
    mean = torch.tensor(processor.image_mean)
    std = torch.tensor(processor.image_std)
    fill = (torch.tensor(CLIP_FILL) / 255 - mean) / std
    image_colour = (torch.tensor((10, 200, 30)) / 255 - mean) / std
    # pad: the border is the fill colour, the centre the image; square: centre crop, no fill
    assert torch.allclose(padded[0, :, 0, 0], fill, atol=1e-5)
    assert torch.allclose(padded[0, :, 28, 28], image_colour, atol=1e-5)
    assert torch.allclose(square[0, :, 0, 0], image_colour, atol=1e-5)
    with pytest.raises(ValueError, match="anyres_max_9.*not supported"):
        process_images([image], processor, _Config("anyres_max_9"))


# --- tokenizer_image_token --------------------------------------------------------------------


class _WordTokenizer:
    """Whitespace words -> ids 10, 11, ... in order of first appearance; optional BOS."""

    def __init__(self, bos: int | None = 1) -> None:
        self.bos_token_id = bos
        self.vocab: dict[str, int] = {}

    def __call__(self, text: str):
        ids = [self.vocab.setdefault(w, 10 + len(self.vocab)) for w in text.split()]
        return type(
            "Encoding", (), {"input_ids": ([self.bos_token_id] if self.bos_token_id else []) + ids}
        )


def test_tokenizer_image_token_keeps_one_bos() -> None:
    tok = _WordTokenizer()
    ids = tokenizer_image_token("a b <image> c", tok)
    assert ids == [1, 10, 11, IMAGE_TOKEN_INDEX, 12]
    assert tokenizer_image_token("<image>\nc d", tok) == [1, IMAGE_TOKEN_INDEX, 12, 13]


def test_tokenizer_image_token_several_chunks() -> None:
    tok = _WordTokenizer()
    ids = tokenizer_image_token("a <image> b c <image> d <image>", tok, image_token_index=-7)
    assert ids == [1, 10, -7, 11, 12, -7, 13, -7]
    tensor = tokenizer_image_token("a <image> b", tok, return_tensors="pt")
    assert tensor.dtype == torch.long and tensor.tolist() == [1, 10, IMAGE_TOKEN_INDEX, 11]
    assert tokenizer_image_token("a b", tok) == [1, 10, 11]  # no image
    with pytest.raises(ValueError, match="unsupported tensor type"):
        tokenizer_image_token("a", tok, return_tensors="np")


def test_tokenizer_image_token_without_bos() -> None:
    tok = _WordTokenizer(bos=None)
    assert tokenizer_image_token("a b <image> c", tok) == [10, 11, IMAGE_TOKEN_INDEX, 12]


def test_tiny_tokenizer_prompt(tiny_checkpoints) -> None:
    """The tiny checkpoints' `tokenizer.json`: BOS once, the placeholder where <image> was."""
    tokenizer = load_tokenizer(tiny_checkpoints["llava"])
    ids = tokenizer_image_token(build_prompt("is there a dog ?", "vicuna_v1"), tokenizer)
    assert ids.count(1) == 1 and ids[0] == 1
    assert ids.count(IMAGE_TOKEN_INDEX) == 1
    after = ids[ids.index(IMAGE_TOKEN_INDEX) + 1 :]
    assert tokenizer.decode(after) == "is there a dog ? assistant :"


# --- the SentencePiece tokenizer on the reference checkpoint -----------------------------------


def test_sentencepiece_reproduces_reference_ids(oracle_dir) -> None:
    tokenizer = load_tokenizer(oracle_dir / "llava-v1.5-tiny")
    assert isinstance(tokenizer, SentencePieceTokenizer)
    assert (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) == (1, 2, 0)
    goldens = sorted((oracle_dir / "golden").glob("*_dense.json"))
    assert len(goldens) >= 2
    for path in goldens:
        golden = json.loads(path.read_text())
        prompt = build_prompt(golden["args"]["question"], golden["args"]["conv_mode"])
        assert prompt == golden["prompt"], path.name
        ids = tokenizer_image_token(prompt, tokenizer, IMAGE_TOKEN_INDEX)
        assert ids == golden["prompt_token_ids"], path.name
        assert ids.index(IMAGE_TOKEN_INDEX) == golden["pre_prompt_length"]
        new_tokens = golden["generated_token_ids"][1:]
        assert tokenizer.decode(new_tokens) == golden["generated_text"], path.name
        assert tokenizer.batch_decode([new_tokens])[0] == golden["generated_text"]


def test_sentencepiece_special_tokens(oracle_dir) -> None:
    """Special tokens in the text map to their ids; the text after one gets no dummy prefix
    ("▁"), as LLaVA's slow tokenizer with `legacy: false`."""
    tokenizer = load_tokenizer(oracle_dir / "llava-v1.5-tiny")
    sp = tokenizer.sp
    ids = tokenizer("USER: hi</s>ASSISTANT:").input_ids
    after = [sp.piece_to_id(p) for p in ("A", "SS", "ISTANT", ":")]
    assert sp.encode("ASSISTANT:", out_type=str)[0] == "▁ASSISTANT"  # what a prefix would give
    assert ids == [1, *sp.encode("USER: hi"), 2, *after]
    assert tokenizer.decode(ids) == "USER: hiASSISTANT:"  # special tokens skipped
    assert tokenizer.decode(ids, skip_special_tokens=False).count("hi") == 1
    assert tokenizer.encode("hi", add_bos=False) == tokenizer.encode("hi")[1:]


# --- model names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("liuhaotian/llava-v1.5-7b", "llava-v1.5-7b"),
        ("/ckpt/llava-v1.5-13b/", "llava-v1.5-13b"),
        ("llava-v1.5-7b", "llava-v1.5-7b"),
        ("runs/llava-lora/checkpoint-500", "llava-lora_checkpoint-500"),
        ("runs/llava-lora/checkpoint-500/", "llava-lora_checkpoint-500"),
    ],
)
def test_get_model_name_from_path(path: str, name: str) -> None:
    assert get_model_name_from_path(path) == name
