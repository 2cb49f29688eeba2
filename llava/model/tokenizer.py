"""Tokenizers as LLaVA used them.

LLaVA loads LLaMA's SentencePiece model with the *slow* transformers tokenizer
(`use_fast=False`, `legacy: false` in LLaVA-1.5's tokenizer_config.json). transformers 5.x's
`LlamaTokenizer` no longer reproduces its ids (it drops the leading "▁" of a chunk), so we use
SentencePiece directly, the way that slow tokenizer did:
- text is split on the special tokens (`<s>`, `</s>`, `<unk>`), which map to their ids;
- the first piece is encoded with SentencePiece's dummy prefix ("▁" before the text);
- a piece that follows a special token is encoded without one (the `legacy: false` behaviour).
Decoding skips special tokens. A folder with only a `tokenizer.json` (built with the
`tokenizers` library) is loaded through that library instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import sentencepiece as spm
import tokenizers


@dataclass(frozen=True)
class Encoding:
    input_ids: list[int]


class _Tokenizer:
    """What LLaVA's code uses of a tokenizer: `__call__(text).input_ids`, `decode`,
    `batch_decode(..., skip_special_tokens=True)` and the special token ids."""

    bos_token_id: int
    eos_token_id: int
    unk_token_id: int
    pad_token_id: int | None
    model_max_length: int

    def encode(self, text: str, add_bos: bool = True) -> list[int]:
        raise NotImplementedError

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        raise NotImplementedError

    def __call__(self, text: str) -> Encoding:
        return Encoding(self.encode(text))

    def batch_decode(self, sequences, skip_special_tokens: bool = True) -> list[str]:
        return [self.decode(ids, skip_special_tokens) for ids in sequences]

    @staticmethod
    def _as_list(ids) -> list[int]:
        return ids.tolist() if hasattr(ids, "tolist") else list(ids)


class SentencePieceTokenizer(_Tokenizer):
    def __init__(self, model_file: str | Path, model_max_length: int = 2048) -> None:
        try:
            self.sp = spm.SentencePieceProcessor(model_file=str(model_file))
        except (RuntimeError, OSError) as err:
            raise ValueError(
                f"{model_file} is not a SentencePiece model ({err}); download it again"
            ) from err
        self.bos_token_id = self.sp.bos_id()
        self.eos_token_id = self.sp.eos_id()
        self.unk_token_id = self.sp.unk_id()
        if min(self.bos_token_id, self.eos_token_id) < 0:
            raise ValueError(f"{model_file} defines no BOS or no EOS token; LLaVA needs both")
        self.pad_token_id = self.unk_token_id  # LLaVA-1.5 sets pad = unk
        self.model_max_length = model_max_length
        self._special = {
            self.sp.id_to_piece(i): i
            for i in (self.bos_token_id, self.eos_token_id, self.unk_token_id)
            if i >= 0
        }
        self._split = re.compile("(" + "|".join(map(re.escape, self._special)) + ")")
        # Pieces that SentencePiece makes of the literal text "<unk>": encoding "<unk>" + text
        # and dropping them encodes `text` without the dummy prefix.
        self._unk_prefix = len(self.sp.encode("<unk>"))

    def _encode_piece(self, text: str, dummy_prefix: bool) -> list[int]:
        if dummy_prefix:
            return self.sp.encode(text)
        return self.sp.encode("<unk>" + text)[self._unk_prefix :]

    def encode(self, text: str, add_bos: bool = True) -> list[int]:
        ids = [self.bos_token_id] if add_bos else []
        after_special = False
        for piece in self._split.split(text):
            if piece in self._special:
                ids.append(self._special[piece])
                after_special = True
            elif piece:
                ids += self._encode_piece(piece, dummy_prefix=not after_special)
        return ids

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        ids = self._as_list(ids)
        if skip_special_tokens:
            ids = [i for i in ids if i not in self._special.values()]
        return self.sp.decode(ids)


class HFTokenizersTokenizer(_Tokenizer):
    """A `tokenizer.json` from the `tokenizers` library; its post-processor adds BOS."""

    def __init__(self, folder: Path, model_max_length: int = 2048) -> None:
        path = folder / "tokenizer.json"
        try:
            self.tok = tokenizers.Tokenizer.from_file(str(path))
        except Exception as err:  # noqa: BLE001 - the tokenizers library raises a bare Exception
            raise ValueError(f"{path} is not a tokenizer file ({err}); download it again") from err
        names = _special_token_names(folder)
        self.bos_token_id = self.tok.token_to_id(names.get("bos_token", "<s>"))
        self.eos_token_id = self.tok.token_to_id(names.get("eos_token", "</s>"))
        self.unk_token_id = self.tok.token_to_id(names.get("unk_token", "<unk>"))
        if self.bos_token_id is None or self.eos_token_id is None:
            raise ValueError(
                f"{path} has no BOS or no EOS token ({names.get('bos_token', '<s>')!r}, "
                f"{names.get('eos_token', '</s>')!r}); LLaVA needs both"
            )
        pad = names.get("pad_token")
        self.pad_token_id = self.tok.token_to_id(pad) if pad else self.unk_token_id
        self.model_max_length = model_max_length

    def encode(self, text: str, add_bos: bool = True) -> list[int]:
        ids = self.tok.encode(text, add_special_tokens=True).ids
        if ids[:1] != [self.bos_token_id] and add_bos:
            ids = [self.bos_token_id] + ids
        elif ids[:1] == [self.bos_token_id] and not add_bos:
            ids = ids[1:]
        return ids

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        return self.tok.decode(self._as_list(ids), skip_special_tokens=skip_special_tokens)


def _read_json_object(path: Path) -> dict:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:  # not UTF-8, or not JSON
        raise ValueError(f"{path} is not a JSON file ({err}); download it again") from err
    if not isinstance(content, dict):
        raise ValueError(f"{path} is not a JSON object; download it again")
    return content


def _special_token_names(folder: Path) -> dict[str, str]:
    names: dict[str, str] = {}
    for file in ("special_tokens_map.json", "tokenizer_config.json"):
        path = folder / file
        if path.is_file():
            for key, value in _read_json_object(path).items():
                if isinstance(value, dict):
                    value = value.get("content")
                if key.endswith("_token") and isinstance(value, str) and value:
                    names.setdefault(key, value)
    return names


def _model_max_length(folder: Path) -> int:
    """tokenizer_config.json's model_max_length (transformers writes 1e30 for "no limit")."""
    path = folder / "tokenizer_config.json"
    if not path.is_file():
        return 2048
    value = _read_json_object(path).get("model_max_length", 2048)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 1:
        raise ValueError(f"{path}: model_max_length must be a positive number, got {value!r}")
    return int(min(value, 1e9))


def load_tokenizer(folder: str | Path) -> _Tokenizer:
    folder = Path(folder)
    max_length = _model_max_length(folder)
    if (folder / "tokenizer.model").is_file():
        return SentencePieceTokenizer(folder / "tokenizer.model", max_length)
    if (folder / "tokenizer.json").is_file():
        return HFTokenizersTokenizer(folder, max_length)
    raise FileNotFoundError(
        f"no tokenizer in {folder}: expected tokenizer.model (SentencePiece, as LLaVA ships) "
        "or tokenizer.json"
    )
