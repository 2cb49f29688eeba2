"""How a question becomes a prompt, and new tokens an answer, for each kind of checkpoint.

- `--conv-mode` given, or an original LLaVA checkpoint (default `llava_v1`, as LLaVA's loader):
  LLaVA's conversation template, tokenised as LLaVA does (each chunk around "<image>" apart);
- no `--conv-mode`, a llava-hf or Qwen-VL checkpoint: the checkpoint's own chat template for one
  user turn (the image, then the question) with the generation prompt, tokenised as transformers'
  processor does (`llava.model.chat_template`). A llava-hf checkpoint without a chat template
  (older saves) falls back to LLaVA's `llava_v1`; a Qwen-VL one needs `--conv-mode`.

The answer generators' user turn is LLaVA's ("<image>\\n" then the question text); the chat
template takes the text without the mark and places the image itself.
"""

from __future__ import annotations

from pathlib import Path

import torch

from llava.constants import DEFAULT_IMAGE_TOKEN, IMAGE_TOKEN_INDEX
from llava.conversation import get_conv_template
from llava.mm_utils import tokenizer_image_token
from llava.model.chat_template import ChatPrompter, load_chat_template

LLAVA_DEFAULT_CONV_MODE = "llava_v1"  # LLaVA's model_vqa_loader default


def conversation_prompt(user_turn: str, conv_mode: str) -> str:
    """The whole prompt: the template's system line, the user turn, the open assistant turn."""
    conv = get_conv_template(conv_mode)
    conv.append_message(conv.roles[0], user_turn)
    conv.append_message(conv.roles[1], None)
    return conv.get_prompt()


class ConversationPrompts:
    """LLaVA's conversation template `conv_mode` and the checkpoint's tokenizer."""

    def __init__(self, conv_mode: str, tokenizer) -> None:
        get_conv_template(conv_mode)  # an unknown mode fails here
        self.conv_mode, self.tokenizer = conv_mode, tokenizer

    def input_ids(self, user_turn: str) -> torch.Tensor:
        prompt = conversation_prompt(user_turn, self.conv_mode)
        return tokenizer_image_token(prompt, self.tokenizer, IMAGE_TOKEN_INDEX, return_tensors="pt")

    def decode(self, tokens) -> str:
        return self.tokenizer.batch_decode([tokens], skip_special_tokens=True)[0]

    def describe(self) -> dict:
        return {"conv_mode": self.conv_mode}


class TemplatePrompts:
    """The checkpoint's chat template (see the module)."""

    def __init__(self, folder: str | Path, image_token_id: int) -> None:
        self.prompter = ChatPrompter(folder, image_token_id)

    def input_ids(self, user_turn: str) -> torch.Tensor:
        with_image = DEFAULT_IMAGE_TOKEN in user_turn
        question = user_turn
        if with_image:  # LLaVA's mark, "<image>\n" at the start: the template places the image
            mark = DEFAULT_IMAGE_TOKEN + "\n"
            question = user_turn.replace(mark if mark in user_turn else DEFAULT_IMAGE_TOKEN, "", 1)
        return self.prompter.input_ids(question, with_image)

    def decode(self, tokens) -> str:
        return self.prompter.decode(tokens)

    def describe(self) -> dict:
        return {"conv_mode": None, "prompt": "the checkpoint's chat template"}


def prompts_for(
    model, folder: str | Path, tokenizer, conv_mode: str | None
) -> ConversationPrompts | TemplatePrompts:
    """The prompting of `model` (loaded from `folder` with `tokenizer`) for `--conv-mode`."""
    if conv_mode is not None:
        return ConversationPrompts(conv_mode, tokenizer)
    image_token = getattr(model.config, "image_token_id", None)
    if image_token is not None and load_chat_template(folder) is not None:
        return TemplatePrompts(folder, image_token)
    if getattr(model.config, "family", None) == "qwen-vl":
        raise ValueError(
            f"{folder} has no chat template (chat_template.jinja / .json, or in "
            "tokenizer_config.json); pass --conv-mode"
        )
    return ConversationPrompts(LLAVA_DEFAULT_CONV_MODE, tokenizer)
