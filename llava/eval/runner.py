"""Answering a question file: prompt, image, generation, one answer line per question.

`model_vqa_loader` is a thin command line over `answer_questions`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import shortuuid
import torch
from PIL import Image

from llava.constants import DEFAULT_IMAGE_TOKEN, IMAGE_TOKEN_INDEX
from llava.conversation import get_conv_template
from llava.eval.answers import AnswerWriter
from llava.eval.questions import Question
from llava.generate import GenerationOptions, generate
from llava.mm_utils import process_images, tokenizer_image_token
from llava.model.llava import LlavaLlamaForCausalLM
from llava.sparse.base import Pruner
from llava.sparse.budget import TokenAccounting, account


@dataclass(frozen=True)
class RunSettings:
    conv_mode: str
    options: GenerationOptions
    seed: int = 0  # sampling seed of question i is seed + i (resumable, order independent)


@dataclass(frozen=True)
class AnswerStats:
    accounting: TokenAccounting
    prefill_seconds: float
    decode_seconds: float
    new_tokens: int


def build_prompt(question_text: str, conv_mode: str) -> str:
    conv = get_conv_template(conv_mode)
    conv.append_message(conv.roles[0], DEFAULT_IMAGE_TOKEN + "\n" + question_text)
    conv.append_message(conv.roles[1], None)
    return conv.get_prompt()


def load_image(folder: Path, question: Question, question_file: Path) -> Image.Image:
    path = folder / question.image
    where = f"{question_file}:{question.line_no}"
    if not path.is_file():
        raise FileNotFoundError(f"{where}: image {path} not found (check --image-folder)")
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except OSError as err:
        raise ValueError(f"{where}: image {path} cannot be read ({err})") from err


def check_images(folder: Path, questions: list[Question], question_file: Path) -> None:
    """Fail before loading the model if an image is missing (cheap: no decoding)."""
    for question in questions:
        if not (folder / question.image).is_file():
            raise FileNotFoundError(
                f"{question_file}:{question.line_no}: image {folder / question.image} not found "
                "(check --image-folder)"
            )


def answer_questions(
    model: LlavaLlamaForCausalLM,
    tokenizer,
    image_processor,
    questions: list[Question],
    question_file: Path,
    image_folder: Path,
    pruner: Pruner,
    settings: RunSettings,
    writer: AnswerWriter,
    model_id: str,
    run_config: dict,
    first: int = 0,
) -> Iterator[AnswerStats]:
    """Answer questions[first:], writing each answer as soon as it exists."""
    for position in range(first, len(questions)):
        question = questions[position]
        image = load_image(image_folder, question, question_file)
        prompt = build_prompt(question.text, settings.conv_mode)
        input_ids = tokenizer_image_token(prompt, tokenizer, IMAGE_TOKEN_INDEX, return_tensors="pt")
        pixels = process_images([image], image_processor, model.config)
        if settings.options.do_sample:
            torch.manual_seed(settings.seed + position)
        output = generate(
            model,
            input_ids[None].to(model.device),
            pixels.to(model.device, model.dtype),
            pruner,
            settings.options,
        )
        text = tokenizer.batch_decode(output.tokens, skip_special_tokens=True)[0].strip()
        stats = output.stats[0]
        accounting = account(stats, model.config.text)
        writer.write(
            {
                "question_id": question.question_id,
                "prompt": question.text,
                "text": text,
                "answer_id": shortuuid.uuid(),
                "model_id": model_id,
                "metadata": {
                    "run": run_config,
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
                },
            }
        )
        yield AnswerStats(
            accounting, output.prefill_seconds, output.decode_seconds, output.tokens.shape[1]
        )
