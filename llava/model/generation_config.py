"""A checkpoint's `generation_config.json`, honoured as transformers' `generate` honours it.

transformers starts from the checkpoint's generation config and lets every keyword the caller
passes override it (`GenerationMixin._prepare_generation_config`). LLaVA's answer generators
pass `do_sample`, `temperature`, `top_p`, `num_beams` and `max_new_tokens`; so what the file
decides is the rest: the repetition penalty (Qwen2.5-VL: 1.05, applied in greedy decoding too),
`top_k` (when sampling) and the end-of-sequence ids (Qwen: <|im_end|> and <|endoftext|>).
A flag given on the command line overrides the file (`--repetition_penalty`, `--top_k`).
Settings we do not implement are refused by name rather than ignored. transformers' own global
defaults (top_k 50 when sampling) are not applied: the settings are the file's and the flags'.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HONOURED = ("repetition_penalty", "top_k", "eos_token_id")
# Keys that change nothing here: ids, bookkeeping, the settings LLaVA's call always passes.
_INERT = {"bos_token_id", "pad_token_id", "decoder_start_token_id", "transformers_version",
          "_from_model_config", "do_sample", "temperature", "top_p", "max_new_tokens",
          "max_length", "use_cache", "num_beams", "return_dict_in_generate", "output_scores",
          "output_attentions", "output_hidden_states", "cache_implementation"}  # fmt: skip
# Defaults that mean "off": a file may state them.
_OFF = {"no_repeat_ngram_size": 0, "length_penalty": 1.0, "num_return_sequences": 1,
        "min_length": 0, "min_new_tokens": None, "typical_p": 1.0, "epsilon_cutoff": 0.0,
        "eta_cutoff": 0.0, "diversity_penalty": 0.0, "num_beam_groups": 1,
        "encoder_repetition_penalty": 1.0, "bad_words_ids": None, "suppress_tokens": None,
        "begin_suppress_tokens": None, "forced_bos_token_id": None,
        "forced_eos_token_id": None, "early_stopping": False}  # fmt: skip


def read_generation_config(folder: str | Path) -> dict[str, Any]:
    """The checkpoint's generation_config.json ({} without one)."""
    path = Path(folder) / "generation_config.json"
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise ValueError(f"{path} is not a JSON file ({err}); download it again") from err
    if not isinstance(raw, dict):
        raise ValueError(f"{path} is not a JSON object; download it again")
    return raw


def checkpoint_settings(raw: dict[str, Any], where: str = "generation_config.json") -> dict:
    """What the file decides of the generation (HONOURED keys it sets); a setting we cannot
    apply is a ValueError naming it."""
    unknown = sorted(
        key for key, value in raw.items()
        if key not in HONOURED and key not in _INERT and _OFF.get(key, object()) != value
    )  # fmt: skip
    if unknown:
        raise ValueError(
            f"{where} sets {', '.join(unknown)}, which generation here does not implement"
        )
    if raw.get("num_beams", 1) not in (1, None):
        raise ValueError(f"{where}: num_beams {raw['num_beams']}; beam search is not implemented")
    settings = {key: raw[key] for key in HONOURED if raw.get(key) is not None}
    if isinstance(settings.get("eos_token_id"), int):
        settings["eos_token_id"] = [settings["eos_token_id"]]
    return settings


def generation_settings(folder: str | Path, flags: dict[str, Any]) -> tuple[dict, dict]:
    """The keywords for `generation_options` and what to record with the answers: the file's
    settings, each overridden by a flag given (not None) in `flags`, and the flags' own."""
    path = Path(folder) / "generation_config.json"
    from_file = checkpoint_settings(read_generation_config(folder), str(path))
    given = {key: value for key, value in flags.items() if value is not None}
    settings = {**from_file, **given}
    record = {
        **settings,
        "from_generation_config": sorted(set(from_file) - set(given)),
        "overridden_by_flags": sorted(set(from_file) & set(given)),
    }
    return settings, record
