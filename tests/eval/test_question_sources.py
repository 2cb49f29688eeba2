"""The answer generators' question readers and image opening, without a model: ScienceQA's JSON
array, MMBench's TSV (rounds, rows, base64 images), JSON lines, and LLaVA's image order (padded in
the image's own mode, then converted as its processor did)."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
import torch
from PIL import Image
from transformers import CLIPImageProcessorPil

from llava.eval.image_sources import Base64Image, ImageFile
from llava.eval.mmbench_questions import read_mmbench_questions
from llava.eval.questions import Question, read_questions
from llava.eval.science_questions import read_science_questions
from llava.mm_utils import expand2square, process_images

SUFFIX = "\nAnswer with the option's letter from the given choices directly."
CN_SUFFIX = "\n请直接回答选项字母。"


class PadConfig:
    image_aspect_ratio = "pad"


def _processor(size: int) -> CLIPImageProcessorPil:
    return CLIPImageProcessorPil(
        size={"shortest_edge": size}, crop_size={"height": size, "width": size}
    )


# --- ScienceQA ------------------------------------------------------------------------------------

TEXT_ONLY = "Which figure of speech is used?\nSing, O goddess.\nA. chiasmus\nB. apostrophe"
WITH_IMAGE = "<image>\nWhat is the name of the colony shown?\nA. Maryland\nB. Vermont "
SQA_ITEMS = [
    {
        "id": "4",
        "conversations": [{"from": "human", "value": TEXT_ONLY}, {"from": "gpt", "value": "B"}],
    },
    {
        "id": "11",
        "image": "11/image.png",
        "conversations": [{"from": "human", "value": WITH_IMAGE}, {"from": "gpt", "value": "A"}],
    },
]


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("single_pred", [True, False])
def test_science_items(tmp_path, single_pred):
    qfile = write_json(tmp_path / "llava_test_CQM-A.json", SQA_ITEMS)
    rows = read_science_questions(qfile, tmp_path / "images", single_pred)
    assert [len(row) for row in rows] == [1, 1]
    text_only, with_image = rows[0][0], rows[1][0]
    suffix = SUFFIX if single_pred else ""
    # model_vqa_science: the text without "<image>", stripped; "<image>\n" back for image items
    assert (
        text_only.prompt
        == text_only.user_turn
        == (
            "Which figure of speech is used?\nSing, O goddess.\nA. chiasmus\nB. apostrophe" + suffix
        )
    )
    assert (
        with_image.prompt
        == with_image.user_turn
        == ("<image>\nWhat is the name of the colony shown?\nA. Maryland\nB. Vermont" + suffix)
    )
    assert (text_only.question_id, with_image.question_id) == ("4", "11")
    assert text_only.image is None
    assert with_image.image == ImageFile(tmp_path / "images", "11/image.png", False)
    assert with_image.where == f"{qfile}, item 2"
    answer = with_image.answer("A", "id", "m", {})
    assert list(answer) == ["question_id", "prompt", "text", "answer_id", "model_id", "metadata"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"id": "1"}, "expected a JSON array"),
        ([SQA_ITEMS[0], {"conversations": []}], "item 2: expected an object with an 'id'"),
        ([{"id": "7", "conversations": []}], "item 1: ScienceQA item '7' has no conversations"),
        ([dict(SQA_ITEMS[1], image=None)], "item 1 (id '11'): 'image' must be a string"),
    ],
)
def test_science_errors_name_the_item(tmp_path, data, message):
    qfile = write_json(tmp_path / "q.json", data)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_science_questions(qfile, tmp_path, True)


def test_science_file_must_be_json(tmp_path):
    qfile = tmp_path / "q.jsonl"
    qfile.write_text(json.dumps(SQA_ITEMS[0]) + "\n" + json.dumps(SQA_ITEMS[1]) + "\n")
    with pytest.raises(ValueError, match="a JSON array such as llava_test_CQM-A.json"):
        read_science_questions(qfile, tmp_path, True)
    with pytest.raises(FileNotFoundError, match="question file .* not found"):
        read_science_questions(tmp_path / "none.json", tmp_path, True)


# --- MMBench --------------------------------------------------------------------------------------


def png_base64(size=(20, 12), mode="RGB", colour=(200, 30, 30)) -> str:
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


MMB_COLUMNS = ["index", "question", "hint", "A", "B", "C", "D", "answer", "category", "image"]


def write_tsv(path: Path, rows: list[list[str]], columns=MMB_COLUMNS) -> Path:
    lines = ["\t".join(columns)] + ["\t".join(row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def mmbench_tsv(tmp_path) -> Path:
    image = png_base64()
    return write_tsv(
        tmp_path / "mmbench_dev.tsv",
        [
            ["0", "Which shape?", "A hint.", "circle", "square", "star", "", "B", "c", image],
            ["1", "What colour?", "nan", "red", "blue", "", "", "A", "c", image],
        ],
    )


def test_mmbench_one_round_per_row(mmbench_tsv):
    rows = read_mmbench_questions(mmbench_tsv, lang="en", single_pred_prompt=True, all_rounds=False)
    assert [len(row) for row in rows] == [1, 1]
    first, second = rows[0][0], rows[1][0]
    body = "A hint.\nWhich shape?\nA. circle\nB. square\nC. star"
    assert (first.question_id, first.prompt) == (0, body)
    assert first.user_turn == "<image>\n" + body + SUFFIX
    assert second.prompt == "What colour?\nA. red\nB. blue"  # "nan" hint: none
    answer = first.answer("B", "id", "m", {})
    assert list(answer) == [
        "question_id", "round_id", "prompt", "text", "options", "option_char",
        "answer_id", "model_id", "metadata",
    ]  # fmt: skip
    assert (answer["round_id"], answer["options"], answer["option_char"]) == (
        0,
        ["circle", "square", "star"],
        ["A", "B", "C"],
    )
    assert first.where == f"{mmbench_tsv}, row 1 (index 0)"
    assert isinstance(first.image, Base64Image)


def test_mmbench_all_rounds_rotate_the_options(mmbench_tsv):
    rows = read_mmbench_questions(mmbench_tsv, lang="cn", single_pred_prompt=True, all_rounds=True)
    assert [len(row) for row in rows] == [3, 2]
    rounds = rows[0]
    assert [q.question_id for q in rounds] == [0, 0, 0]
    assert [q.before_prompt["round_id"] for q in rounds] == [0, 1, 2]
    assert [q.after_text["options"] for q in rounds] == [
        ["circle", "square", "star"],
        ["square", "star", "circle"],
        ["star", "circle", "square"],
    ]
    assert [q.after_text["option_char"] for q in rounds] == [
        ["A", "B", "C"],
        ["B", "C", "A"],
        ["C", "A", "B"],
    ]
    # the printed letters stay A, B, C; the texts move
    assert rounds[1].prompt == "A hint.\nWhich shape?\nA. square\nB. star\nC. circle"
    assert rounds[1].user_turn == "<image>\n" + rounds[1].prompt + CN_SUFFIX
    assert len({q.identity()["prompt"] for q in rounds}) == 3


def test_mmbench_without_single_pred_prompt(mmbench_tsv):
    (question,), _ = read_mmbench_questions(
        mmbench_tsv, lang="en", single_pred_prompt=False, all_rounds=False
    )
    assert question.user_turn == "<image>\n" + question.prompt


def test_mmbench_errors(tmp_path):
    no_image = write_tsv(tmp_path / "a.tsv", [["0", "q", "", "x", "y", "", "", "A", "c"]],
                         MMB_COLUMNS[:-1])  # fmt: skip
    with pytest.raises(ValueError, match=r"a.tsv: no column\(s\) image"):
        read_mmbench_questions(no_image, lang="en", single_pred_prompt=True, all_rounds=False)
    empty = write_tsv(tmp_path / "b.tsv", [["5", "q", "", "x", "y", "", "", "A", "c", ""]])
    with pytest.raises(ValueError, match=r"b.tsv, row 1 \(index 5\): the image is empty"):
        read_mmbench_questions(empty, lang="en", single_pred_prompt=True, all_rounds=False)


# --- Encodings ------------------------------------------------------------------------------------

LATIN1 = "Quelle forme a l'objet à gauche ?".encode("latin-1")


def test_a_question_file_not_in_utf8_names_its_line(tmp_path):
    jsonl = tmp_path / "q.jsonl"
    good = json.dumps({"question_id": 1, "image": "a.png", "text": "ok"}).encode()
    jsonl.write_bytes(good + b"\n" + b'{"question_id": 2, "image": "a.png", "text": "'
                      + LATIN1 + b'"}\n')  # fmt: skip
    with pytest.raises(ValueError, match=rf"{jsonl}:2: not UTF-8 text .*re-encode"):
        read_questions(jsonl, tmp_path)
    science = tmp_path / "sqa.json"
    science.write_bytes(b'[\n  {"id": "1",\n   "text": "' + LATIN1 + b'"}\n]')
    with pytest.raises(ValueError, match=rf"{science}:3: not UTF-8 text"):
        read_science_questions(science, tmp_path, single_pred_prompt=True)
    tsv = tmp_path / "mmb.tsv"
    tsv.write_bytes(b"index\tquestion\n0\t" + LATIN1 + b"\n")
    with pytest.raises(ValueError, match=rf"{tsv}:2: not UTF-8 text"):
        read_mmbench_questions(tsv, lang="en", single_pred_prompt=True, all_rounds=False)


def test_a_byte_order_mark_is_not_an_error(tmp_path):
    jsonl = tmp_path / "q.jsonl"
    jsonl.write_bytes(b"\xef\xbb\xbf" + json.dumps({"question_id": 1, "image": "a.png",
                                                      "text": "ok"}).encode())  # fmt: skip
    assert read_questions(jsonl, tmp_path)[0][0].question_id == 1


# --- JSON lines -----------------------------------------------------------------------------------


def test_jsonl_question_with_its_own_image_mark_is_refused(tmp_path):
    qfile = tmp_path / "q.jsonl"
    qfile.write_text(json.dumps({"question_id": 1, "image": "a.png", "text": "<image>\nwhat ?"}))
    with pytest.raises(ValueError, match=rf"{qfile}:1: the question text holds '<image>' itself"):
        read_questions(qfile, tmp_path)


def test_a_text_only_question_takes_no_image_mark():
    with pytest.raises(ValueError, match="'<image>' in a question without image"):
        Question("q.json, item 1", "1", "p", "<image>\np", None)


# --- images ---------------------------------------------------------------------------------------


def save(path: Path, image: Image.Image) -> Path:
    image.save(path)
    return path


def opened(path: Path, convert_rgb: bool) -> Image.Image:
    return ImageFile(path.parent, path.name, convert_rgb).open("questions.json, item 1")


def palette_image(size=(30, 18)) -> Image.Image:
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((20, 40, 220), (0, 0, size[0] // 2, size[1]))
    return image.convert("P")


def test_science_images_keep_their_mode_loader_images_are_rgb(tmp_path):
    path = save(tmp_path / "p.png", palette_image())
    assert opened(path, False).mode == "P"
    assert opened(path, True).mode == "RGB"
    rgba = save(tmp_path / "a.png", Image.new("RGBA", (8, 6), (1, 2, 3, 0)))
    assert opened(rgba, False).mode == "RGBA"
    assert Base64Image(png_base64(mode="RGBA", colour=(1, 2, 3, 4))).open("test").mode == "RGBA"


def test_padding_in_the_images_own_mode_then_converting(tmp_path):
    """LLaVA pads a palette image in palette mode and converts afterwards: the pasted content
    keeps its palette indices under the new canvas's palette. Converting first (the loader's
    order) gives other pixels; the science path gives exactly LLaVA's."""
    path = save(tmp_path / "p.png", palette_image())
    processor, config = _processor(28), PadConfig()
    native = process_images([opened(path, False)], processor, config)
    converted = process_images([opened(path, True)], processor, config)
    fill = tuple(int(m * 255) for m in processor.image_mean)
    llava = expand2square(Image.open(path), fill).convert("RGB")
    assert torch.equal(native, processor([llava], return_tensors="pt")["pixel_values"])
    assert not torch.equal(native, converted)


def test_transparent_pixels_convert_as_llavas_processor_did():
    """transformers 4.37's CLIP processor converted with PIL's convert("RGB"), keeping a
    transparent pixel's colour; today's processors composite it onto white."""
    processor = _processor(28)
    transparent_red = Image.new("RGBA", (28, 28), (255, 0, 0, 0))
    red = Image.new("RGB", (28, 28), (255, 0, 0))
    pixels = process_images([transparent_red], processor, PadConfig())
    assert torch.equal(pixels, processor([red], return_tensors="pt")["pixel_values"])


def test_modes_without_rgb_fill_are_converted_first(tmp_path):
    """Grey images cannot take LLaVA's RGB padding colour (PIL raises): they are converted to
    RGB first, which for a square image gives what LLaVA gives."""
    grey = save(tmp_path / "g.png", Image.new("L", (30, 18), 90))
    grey_image = opened(grey, False)
    assert grey_image.mode == "RGB"
    assert process_images([grey_image], _processor(28), PadConfig()).shape == (1, 3, 28, 28)
    square = save(tmp_path / "s.png", Image.new("L", (28, 28), 90))
    processor = _processor(28)
    assert torch.equal(
        process_images(
            [opened(square, False)],
            processor,
            PadConfig(),
        ),
        processor([Image.open(square)], return_tensors="pt")["pixel_values"],
    )


def test_unreadable_base64_image_names_the_row():
    where = "t.tsv, row 3 (index 9)"
    with pytest.raises(ValueError, match=r"t.tsv, row 3 \(index 9\): 'image' cell is not an image"):
        Base64Image("bm90IGFuIGltYWdl").open(where)  # "not an image"
    with pytest.raises(ValueError, match=r"index 9\): image 'image' cell is not valid base64"):
        Base64Image("bm90IGF").open(where)  # padding missing
    with pytest.raises(ValueError, match=r"index 9\): image 'image' cell is empty"):
        Base64Image(" ").check(where)
