"""Prompts in a checkpoint's own chat template, as transformers' processor builds them, for
checkpoints that carry one (llava-hf, Qwen-VL) when no LLaVA `--conv-mode` is asked.

One user turn: the image, then the question (`[{"role": "user", "content": [{"type": "image"},
{"type": "text", "text": question}]}]`), with the generation prompt. The processor
(transformers 5, `ProcessorMixin.apply_chat_template`) renders the template with the tokenizer's
special tokens as variables in a sandboxed Jinja environment (trim_blocks, lstrip_blocks, loop
controls, a `tojson` filter without HTML escaping, `raise_exception`, `strftime_now`), then
tokenises the text with the checkpoint's `tokenizer.json`, adding special tokens (LLaMA's BOS)
unless the text already starts with the BOS token, and repeats the image placeholder token once
per image row. We tokenise with one placeholder and put IMAGE_TOKEN_INDEX in its place (the
placeholder is a special token, so its neighbours tokenise alike); the model splices the rows in.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import tokenizers
import torch
from jinja2.exceptions import TemplateError
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

from llava.constants import IMAGE_TOKEN_INDEX

SPECIAL_TOKEN_NAMES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
                       "cls_token", "mask_token")  # fmt: skip
# transformers' clean_up_tokenization: spaces the word-piece decoders leave before punctuation
_CLEAN_UP = ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
             (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"))  # fmt: skip


def load_chat_template(folder: str | Path) -> str | None:
    """The checkpoint's chat template: chat_template.jinja (transformers 5 saves),
    chat_template.json (the processor's), or tokenizer_config.json's; None without one."""
    folder = Path(folder)
    if (folder / "chat_template.jinja").is_file():
        return (folder / "chat_template.jinja").read_text(encoding="utf-8")
    for name in ("chat_template.json", "tokenizer_config.json"):
        path = folder / name
        if path.is_file():
            template = json.loads(path.read_text(encoding="utf-8")).get("chat_template")
            if isinstance(template, list):  # named templates: the default one
                named = {entry.get("name"): entry.get("template") for entry in template}
                template = named.get("default")
            if template:
                return template
    return None


def _tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False) -> str:
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _raise(message: str):
    raise TemplateError(message)


def render_chat_template(
    template: str, messages: list[dict], variables: dict, add_generation_prompt: bool = True
) -> str:
    environment = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]
    )
    environment.filters["tojson"] = _tojson
    environment.globals["raise_exception"] = _raise
    environment.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return environment.from_string(template).render(
        messages=messages, add_generation_prompt=add_generation_prompt, **variables
    )


def one_turn(question: str, with_image: bool = True) -> list[dict]:
    """One user message: the image (if any), then the question."""
    content = [{"type": "image"}] if with_image else []
    return [{"role": "user", "content": [*content, {"type": "text", "text": question}]}]


def _special_tokens(folder: Path) -> dict[str, str]:
    names: dict[str, str] = {}
    for file in ("special_tokens_map.json", "tokenizer_config.json"):
        path = folder / file
        if not path.is_file():
            continue
        for key, value in json.loads(path.read_text(encoding="utf-8")).items():
            if key in SPECIAL_TOKEN_NAMES and value:
                names.setdefault(key, value["content"] if isinstance(value, dict) else value)
    return names


class ChatPrompter:
    """A checkpoint's chat template and fast tokenizer: prompt ids for a question about an
    image, and answers decoded as the processor decodes them (special tokens skipped)."""

    def __init__(self, folder: str | Path, image_token_id: int) -> None:
        folder = Path(folder)
        template = load_chat_template(folder)
        if template is None:
            raise ValueError(
                f"{folder} has no chat template (chat_template.jinja / .json, or in "
                "tokenizer_config.json): pass --conv-mode"
            )
        if not (folder / "tokenizer.json").is_file():
            raise ValueError(f"{folder} has no tokenizer.json, which its chat template needs")
        self.template = template
        self.tokenizer = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.special = _special_tokens(folder)
        self.image_token = self.tokenizer.id_to_token(image_token_id)
        if self.image_token is None:
            raise ValueError(f"{folder}: image token id {image_token_id} is not in its vocabulary")
        self.image_token_id = image_token_id
        config = folder / "tokenizer_config.json"
        settings = json.loads(config.read_text(encoding="utf-8")) if config.is_file() else {}
        self.clean_up = bool(settings.get("clean_up_tokenization_spaces", False))

    def prompt(self, question: str, with_image: bool = True) -> str:
        return render_chat_template(self.template, one_turn(question, with_image), self.special)

    def input_ids(self, question: str, with_image: bool = True) -> torch.Tensor:
        """(L,) the prompt's ids, IMAGE_TOKEN_INDEX where the image's rows go."""
        text = self.prompt(question, with_image)
        bos = self.special.get("bos_token")
        add_special = not (bos and text.startswith(bos))
        ids = self.tokenizer.encode(text, add_special_tokens=add_special).ids
        if with_image and ids.count(self.image_token_id) != 1:
            raise ValueError(
                f"the chat template put {ids.count(self.image_token_id)} image tokens "
                f"({self.image_token!r}) in a one-image prompt"
            )
        return torch.tensor([IMAGE_TOKEN_INDEX if i == self.image_token_id else i for i in ids])

    def decode(self, tokens) -> str:
        ids = tokens.tolist() if hasattr(tokens, "tolist") else list(tokens)
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        if self.clean_up:
            for before, after in _CLEAN_UP:
                text = text.replace(before, after)
        return text
