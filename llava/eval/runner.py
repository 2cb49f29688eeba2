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
from llava.eval.batching import bucketed_batches
from llava.eval.pruning_args import visual_tokens
from llava.eval.questions import Question
from llava.generate import GenerationOptions, generate
from llava.model.image_inputs import image_input, visual_token_count
from llava.model.multimodal import MultimodalCausalLM
from llava.model.prompting import ConversationPrompts, TemplatePrompts, conversation_prompt
from llava.sparse.base import Pruner
from llava.sparse.budget import TokenAccounting, account

# What a text-only answer's metadata says in place of the pruning: no visual token, no pruning.
TEXT_ONLY = "none: text-only prompt"


@dataclass(frozen=True)
class RunSettings:
    prompts: ConversationPrompts | TemplatePrompts  # question -> prompt ids, tokens -> answer
    options: GenerationOptions
    seed: int = 0  # sampling seed of question i is seed + i (resumable, order independent)
    batch_size: int = 1
    context: int | None = None  # positions the model has (None: unchecked)
    truncate_long_prompts: bool = False  # cut a too-long question instead of refusing it


@dataclass(frozen=True)
class AnswerStats:
    accounting: TokenAccounting
    prefill_seconds: float  # this answer's share of its batch's prefill
    decode_seconds: float  # likewise for decoding
    new_tokens: int
    has_image: bool = True
    padded_tokens: int = 0  # prefill padding of its batch, counted on the batch's first answer
    useful_tokens: int = 0


@dataclass(frozen=True)
class Prepared:
    """A question ready for the model: its prompt ids and how many positions it takes."""

    position: int  # in the run's question list
    question: Question
    input_ids: torch.Tensor  # (L,) with IMAGE_TOKEN_INDEX where the image goes
    positions: int  # prompt length once the image's rows are spliced in
    truncated_from: int | None = None  # positions before --truncate-long-prompts cut it


def build_prompt(question_text: str, conv_mode: str) -> str:
    """The prompt of a question about an image, as model_vqa_loader asks it."""
    return conversation_prompt(DEFAULT_IMAGE_TOKEN + "\n" + question_text, conv_mode)


def prepare(
    question: Question, position: int, settings: RunSettings, image_tokens: int
) -> Prepared:
    """Tokenise a question's prompt and check it fits the model's positions with its answer
    (`image_tokens`: the visual tokens of its image, if it has one)."""

    def tokenize(user_turn: str) -> tuple[torch.Tensor, int]:
        ids = settings.prompts.input_ids(user_turn)
        extra = image_tokens - 1 if question.image is not None else 0
        return ids, len(ids) + extra

    ids, positions = tokenize(question.user_turn)
    answer = settings.options.max_new_tokens
    if settings.context is None:
        return Prepared(position, question, ids, positions)
    room = settings.context - answer
    if positions <= room:
        return Prepared(position, question, ids, positions)
    if not settings.truncate_long_prompts:
        raise ValueError(
            f"{question.where}: the prompt takes {positions} positions (an image counts "
            f"{image_tokens}) and its answer up to {answer} more, past the "
            f"model's {settings.context}: shorten the question, lower --max_new_tokens, or pass "
            "--truncate-long-prompts to cut the question's end (recorded in the answer)"
        )
    # Keep the longest start of the user turn that fits (the template and image mark stay).
    mark = question.user_turn.find("\n") + 1 if question.image is not None else 0
    low, high = mark, len(question.user_turn)
    while low < high:
        middle = (low + high + 1) // 2
        if tokenize(question.user_turn[:middle])[1] <= room:
            low = middle
        else:
            high = middle - 1
    ids, cut = tokenize(question.user_turn[:low])
    if cut > room:
        raise ValueError(
            f"{question.where}: even without its question the prompt takes {cut} positions, "
            f"past the model's {settings.context} minus --max_new_tokens {answer}"
        )
    return Prepared(position, question, ids, cut, truncated_from=positions)


def _metadata(item: Prepared, stats, accounting, run_config: dict, prefill_ms: float, size: int):
    metadata = {"run": run_config}
    if item.question.image is None:
        metadata["pruning"] = TEXT_ONLY
    if item.truncated_from is not None:
        metadata["truncated"] = {"from_positions": item.truncated_from, "to": item.positions}
    return metadata | {
        **accounting.as_dict(),
        "pruning_layers": [
            {
                "layer": r.layer,
                "visual_in": r.visual_in,
                "kept": len(r.kept),
                "merged": len(r.clusters),
            }
            for r in stats.records
        ],  # fmt: skip
        "prefill_ms": round(prefill_ms, 3),
        "batch_size": size,
    }


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
    """Answer questions[first:], `settings.batch_size` at a time, writing answers in question
    order as soon as a window of batches is done (`llava.eval.batching`).

    Each sample is pruned by its own decisions, exactly as alone. A text-only prompt has no
    visual token to prune; its metadata says so (`"pruning": TEXT_ONLY`) with 0 visual tokens.
    """
    fixed = visual_tokens(model)  # None: each image has its own count (LLaVA-NeXT, Qwen-VL)
    prepared = [
        prepare(
            questions[i], i, settings, _image_tokens(questions[i], fixed, image_processor, model)
        )
        for i in range(first, len(questions))
    ]
    lengths = [item.positions for item in prepared]
    done: dict[int, tuple[dict, AnswerStats]] = {}
    next_position = first
    for window in bucketed_batches(lengths, settings.batch_size):
        for batch in window:
            items = [prepared[i] for i in batch]
            done |= _answer_batch(items, model, image_processor, pruner, settings, model_id,
                                  run_config)  # fmt: skip
            # Written in question order as soon as every earlier question is answered.
            while next_position in done:
                answer, stats = done.pop(next_position)
                writer.write(answer)
                next_position += 1
                yield stats


def _image_tokens(question: Question, fixed: int | None, image_processor, model) -> int:
    """The visual tokens of the question's image: the model's count, or where each image has
    its own, this one's (its size read by opening it; it is opened again when answered)."""
    if question.image is None or fixed is not None:
        return fixed or 0
    image = question.image.open(question.where)
    return visual_token_count(image, image_processor, model)


def _answer_batch(
    items, model, image_processor, pruner, settings, model_id, run_config
) -> dict[int, tuple[dict, AnswerStats]]:
    """One batch through the model: each question's answer line and stats, by position."""
    images = [_image(item.question, image_processor, model) for item in items]
    seeds = [settings.seed + item.position for item in items]
    output = generate(
        model, [item.input_ids for item in items], images, pruner, settings.options, seeds
    )
    texts = [settings.prompts.decode(tokens) for tokens in output.tokens]
    share = len(items)
    eos = torch.tensor(settings.options.eos_token_ids or (model.config.text.eos_token_id,))
    answers = {}
    for row, item in enumerate(items):
        stats = output.stats[row]
        accounting = account(stats, model.config.text)
        prefill_ms = 1000 * output.prefill_seconds / share
        metadata = _metadata(item, stats, accounting, run_config, prefill_ms, share)
        answer = item.question.answer(texts[row].strip(), shortuuid.uuid(), model_id, metadata)
        new_tokens = min(
            int((~torch.isin(output.tokens[row], eos)).sum()) + 1, output.tokens.shape[1]
        )
        answers[item.position] = (
            answer,
            AnswerStats(
                accounting,
                output.prefill_seconds / share,
                output.decode_seconds / share,
                new_tokens,
                has_image=item.question.image is not None,
                padded_tokens=output.padded_tokens if row == 0 else 0,
                useful_tokens=output.useful_tokens if row == 0 else 0,
            ),
        )
    return answers


def _image(question: Question, image_processor, model):
    """The question's image as the model takes it (`llava.model.image_inputs`), or None."""
    if question.image is None:
        return None
    image = image_input(question.image.open(question.where), image_processor, model.config)
    return image.to(model.device, model.dtype)
