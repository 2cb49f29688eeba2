"""Conversation templates, byte-exact with LLaVA's (haotian-liu/LLaVA @ c121f04,
llava/conversation.py) for the ones its evaluation scripts pass:

- `vicuna_v1` (every LLaVA-1.5 script, and LLaVA-NeXT's Vicuna checkpoints), `llava_v1`
  (SeparatorStyle.TWO): "<system> USER: <image>\\n<question> ASSISTANT:" (no trailing space);
- `mistral_instruct` (llava-v1.6-mistral-7b; SeparatorStyle.LLAMA_2, no system text):
  "[INST] <image>\\n<question> [/INST]";
- `chatml_direct` (llava-v1.6-34b; SeparatorStyle.MPT): "<|im_start|>system\\nAnswer the
  questions.<|im_end|><|im_start|>user\\n<image>\\n<question><|im_end|><|im_start|>assistant\\n".
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum, auto


class SeparatorStyle(Enum):
    TWO = auto()
    LLAMA_2 = auto()
    MPT = auto()


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
        if self.sep_style == SeparatorStyle.LLAMA_2:
            return self._llama_2_prompt()
        if self.sep_style == SeparatorStyle.MPT:
            # system + sep, then each turn as role + message + sep; an empty last message leaves
            # the role's header open for the model
            return (
                self.system
                + self.sep
                + "".join(
                    role + message + self.sep if message else role
                    for role, message in self.messages
                )
            )
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

    def _llama_2_prompt(self) -> str:
        """User turns as "[INST] message [/INST]" (the first one led by the system text in
        <<SYS>> tags when there is one), each after `sep`; assistant turns as " message " +
        `sep2`; an empty message adds nothing."""
        prompt = ""
        for turn, (_, message) in enumerate(self.messages):
            if not message:
                continue
            if turn == 0 and self.system:
                message = f"<<SYS>>\n{self.system}\n<</SYS>>\n\n{message}"
            if turn % 2 == 0:
                prompt += f"{self.sep}[INST] {message} [/INST]"
            else:
                prompt += f" {message} {self.sep2}"
        return prompt.removeprefix(self.sep) if self.sep else prompt

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

conv_mistral_instruct = Conversation(
    system="",
    roles=("USER", "ASSISTANT"),
    sep_style=SeparatorStyle.LLAMA_2,
    sep="",
    sep2="</s>",
    version="llama_v2",
)

conv_chatml_direct = Conversation(
    system="<|im_start|>system\nAnswer the questions.",
    roles=("<|im_start|>user\n", "<|im_start|>assistant\n"),
    sep_style=SeparatorStyle.MPT,
    sep="<|im_end|>",
    version="mpt",
)

default_conversation = conv_vicuna_v1
conv_templates = {
    "v1": conv_vicuna_v1,
    "vicuna_v1": conv_vicuna_v1,
    "llava_v1": conv_llava_v1,
    "mistral_instruct": conv_mistral_instruct,
    "chatml_direct": conv_chatml_direct,
    "mistral_direct": conv_chatml_direct,
}


def get_conv_template(name: str) -> Conversation:
    if name not in conv_templates:
        raise ValueError(
            f"unknown --conv-mode {name!r}; available: {', '.join(sorted(conv_templates))}"
        )
    return conv_templates[name].copy()
