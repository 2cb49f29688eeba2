"""`checkpoint_geometry`: what pruning settings are checked against before the weights load (depth,
family, LLaVA-1.5's visual tokens per image), read from config files alone, equals what the
loaded model says, for every family and format; and a bad setting fails before loading."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_next import save_chat_tokenizer, save_hf_next, save_original_next, tiny_hf_next
from tiny_qwen import save_hf_qwen, tiny_hf_qwen

import llava.eval.answer_run
from llava.eval.model_vqa_loader import main
from llava.eval.pruning_args import model_family, visual_tokens
from llava.model.builder import Geometry, checkpoint_geometry, load_pretrained_model


@pytest.fixture(scope="module")
def saved(tiny_checkpoints, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("families")
    next_hf = save_hf_next(tiny_hf_next(), root / "next-hf")
    save_chat_tokenizer(next_hf)
    return {
        **tiny_checkpoints,
        "next-hf": next_hf,
        "next": save_original_next(tiny_hf_next(), root / "llava-v1.6-tiny"),
        "qwen": save_hf_qwen(tiny_hf_qwen(), root / "qwen"),
    }


@pytest.mark.parametrize("name", ["llava", "llava-hf", "next", "next-hf", "qwen"])
def test_geometry_before_loading_is_the_loaded_models(saved, name) -> None:
    folder = saved[name]
    _, model, _, _ = load_pretrained_model(str(folder), device="cpu", torch_dtype="float32")
    loaded = Geometry(len(model.model.layers), visual_tokens(model), model_family(model))
    assert checkpoint_geometry(str(folder)) == loaded


def test_no_geometry_without_a_sound_config(tmp_path) -> None:
    assert checkpoint_geometry(str(tmp_path)) is None  # the loader says what is missing
    (tmp_path / "config.json").write_text("[]")
    assert checkpoint_geometry(str(tmp_path)) is None


def test_a_bad_pruning_setting_fails_before_the_weights_load(saved, tmp_path, monkeypatch) -> None:
    def must_not_load(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(llava.eval.answer_run, "load_pretrained_model", must_not_load)
    image = tmp_path / "a.png"
    image.write_bytes(b"")  # never opened: the run stops first
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"question_id": 1, "image": "a.png", "text": "what?"}\n')
    answers = tmp_path / "a.jsonl"
    common = ["--model-path", str(saved["llava"]), "--question-file", str(questions),
              "--image-folder", str(tmp_path), "--answers-file", str(answers)]  # fmt: skip
    for flags, named in [
        (["--sparse", "--scale", "nan"], "--scale must be a finite number"),
        (["--sparse", "--pruning-layers", "2,6"], "4 layers"),  # the tiny model's depth
        (["--pruning-method", "fastv", "--retained-tokens", "20"], "20"),  # 16 visual tokens
    ]:
        with pytest.raises(SystemExit) as err:
            main(common + flags)
        assert named in str(err.value.code), (flags, err.value.code)
