"""The answering loop every answer generator shares: prompt, image, generation, one answer line
per question, written as soon as it exists.

The entry points (model_vqa_loader, model_vqa, model_vqa_science, model_vqa_mmbench) differ
only in how they read questions (llava.eval.questions and its siblings) and in their defaults;
llava.eval.answer_cli is their common command line. The prompt (LLaVA's conversation template,
or the checkpoint's chat template) and the image's preparation are the model's
(`llava.model.prompting`, `llava.model.image_inputs`): every family answers through this loop.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import shortuuid
import torch

from llava.constants import DEFAULT_IMAGE_TOKEN
from llava.eval.answers import AnswerWriter
from llava.eval.questions import Question
from llava.generate import GenerationOptions, generate
from llava.model.image_inputs import image_input
from llava.model.multimodal import MultimodalCausalLM
from llava.model.prompting import ConversationPrompts, TemplatePrompts, conversation_prompt
from llava.sparse.base import NoPruning, Pruner
from llava.sparse.budget import TokenAccounting, account

# What a text-only answer's metadata says in place of the pruning: no visual token, no pruning.
TEXT_ONLY = "none: text-only prompt"


@dataclass(frozen=True)
class RunSettings:
    prompts: ConversationPrompts | TemplatePrompts  # question -> prompt ids, tokens -> answer
    options: GenerationOptions
    seed: int = 0  # sampling seed of question i is seed + i (resumable, order independent)


@dataclass(frozen=True)
class AnswerStats:
    accounting: TokenAccounting
    prefill_seconds: float
    decode_seconds: float
    new_tokens: int
    has_image: bool = True


def build_prompt(question_text: str, conv_mode: str) -> str:
    """The prompt of a question about an image, as model_vqa_loader asks it."""
    return conversation_prompt(DEFAULT_IMAGE_TOKEN + "\n" + question_text, conv_mode)


def check_images(questions: Sequence[Question]) -> None:
    """Fail before loading the model if an image is missing (cheap: no decoding)."""
    for question in questions:
        if question.image is not None:
            question.image.check(question.where)


def answer_questions(
    model: MultimodalCausalLM,
    image_processor,
    questions: Sequence[Question],
    pruner: Pruner,
    settings: RunSettings,
    writer: AnswerWriter,
    model_id: str,
    run_config: dict,
    first: int = 0,
) -> Iterator[AnswerStats]:
    """Answer questions[first:], writing each answer as soon as it exists.

    A text-only prompt has no visual token to prune: it runs without the pruning method, and
    its metadata says so (`"pruning": TEXT_ONLY`) with 0 visual tokens.
    """
    for position in range(first, len(questions)):
        question = questions[position]
        input_ids = settings.prompts.input_ids(question.user_turn)
        images, method = None, NoPruning()
        if question.image is not None:
            image = image_input(question.image.open(question.where), image_processor, model.config)
            images, method = [image.to(model.device, model.dtype)], pruner
        if settings.options.do_sample:
            torch.manual_seed(settings.seed + position)
        output = generate(model, input_ids[None].to(model.device), images, method, settings.options)
        text = settings.prompts.decode(output.tokens[0]).strip()
        stats = output.stats[0]
        accounting = account(stats, model.config.text)
        metadata = {"run": run_config}
        if question.image is None:
            metadata["pruning"] = TEXT_ONLY
        metadata |= {
            **accounting.as_dict(),
            "pruning_layers": [
                {
                    "layer": r.layer,
                    "visual_in": r.visual_in,
                    "kept": len(r.kept),
                    "merged": len(r.clusters),
                }
                for r in stats.records
            ],
            "prefill_ms": round(1000 * output.prefill_seconds, 3),
        }
        writer.write(question.answer(text, shortuuid.uuid(), model_id, metadata))
        yield AnswerStats(
            accounting,
            output.prefill_seconds,
            output.decode_seconds,
            output.tokens.shape[1],
            has_image=question.image is not None,
        )
