"""Conversation templates, byte-exact with LLaVA's `vicuna_v1` and `llava_v1` (SeparatorStyle.TWO).

`vicuna_v1` is the template every LLaVA-1.5 evaluation script passes:
"<system> USER: <image>\\n<question> ASSISTANT:"  (no space after the final colon).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum, auto


class SeparatorStyle(Enum):
    TWO = auto()


@dataclass
class Conversation:
    system: str
    roles: tuple[str, str]
    messages: list[list] = field(default_factory=list)
    sep_style: SeparatorStyle = SeparatorStyle.TWO
    sep: str = " "
    sep2: str = "</s>"
    version: str = "v1"

    def append_message(self, role: str, message: str | None) -> None:
        self.messages.append([role, message])

    def get_prompt(self) -> str:
        # SeparatorStyle.TWO: turns alternate between `sep` (after the user) and `sep2`
        # (after the assistant); an empty last message leaves "ROLE:" open for the model.
        separators = (self.sep, self.sep2)
        prompt = self.system + separators[0]
        for turn, (role, message) in enumerate(self.messages):
            if message:
                prompt += f"{role}: {message}{separators[turn % 2]}"
            else:
                prompt += f"{role}:"
        return prompt

    def copy(self) -> Conversation:
        return dataclasses.replace(self, messages=[list(m) for m in self.messages])


conv_vicuna_v1 = Conversation(
    system="A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions.",
    roles=("USER", "ASSISTANT"),
)

conv_llava_v1 = Conversation(
    system="A chat between a curious human and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the human's questions.",
    roles=("USER", "ASSISTANT"),
)

default_conversation = conv_vicuna_v1
conv_templates = {
    "v1": conv_vicuna_v1,
    "vicuna_v1": conv_vicuna_v1,
    "llava_v1": conv_llava_v1,
}


def get_conv_template(name: str) -> Conversation:
    if name not in conv_templates:
        raise ValueError(
            f"unknown --conv-mode {name!r}; available: {', '.join(sorted(conv_templates))}"
        )
    return conv_templates[name].copy()
