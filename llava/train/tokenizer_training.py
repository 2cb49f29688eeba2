"""A small SentencePiece tokenizer for the demo model, trained like LLaMA's.

Same conventions as LLaMA's `tokenizer.model` (BPE, byte fallback, digits split, identity
normalisation, whitespace kept as is, `<unk>`=0, `<s>`=1, `</s>`=2), so LLaVA's slow-tokenizer
behaviour, and our reproduction of it, apply unchanged. Trained on the prompts and answers of
the synthetic training distribution; every colour, shape and benchmark word is one token.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import sentencepiece as spm

from llava.conversation import conv_templates
from llava.synthetic import COLORS, NUMBER_WORDS, PLURALS, SHAPES, WORD_SHAPE, WORDS

VOCAB_SIZE = 800


def train_tokenizer(corpus: Iterable[str], output: Path) -> Path:
    """Train on `corpus` (one text per item) plus the prompt templates; write tokenizer.model."""
    templates = [conv.system for conv in conv_templates.values()] + ["USER:", "ASSISTANT:"]
    vocabulary = [*COLORS, *SHAPES, *PLURALS.values(), WORD_SHAPE, *WORDS, *NUMBER_WORDS]
    # Each closed-vocabulary word, capitalised too, appears often enough to become one piece.
    words = [f"{w} {w.capitalize()} " * 20 for w in vocabulary]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter([*templates * 50, *words, *corpus]),
        model_writer=model,
        model_type="bpe",
        vocab_size=VOCAB_SIZE,
        byte_fallback=True,
        split_digits=True,
        character_coverage=1.0,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        allow_whitespace_only_pieces=True,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        num_threads=1,
        minloglevel=2,
    )
    output.mkdir(parents=True, exist_ok=True)
    path = output / "tokenizer.model"
    path.write_bytes(model.getvalue())
    return path
