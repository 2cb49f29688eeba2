"""ScienceQA's question file for model_vqa_science: a JSON array in LLaVA's conversation format.

Each item's question is its first turn (`conversations[0].value`); `id` becomes the answer's
question_id. An item with an `image` key is asked about image_folder/<image>, opened in its own
mode (not converted to RGB before padding, as LLaVA does); an item without one is asked as a
text-only prompt. The prompt (llava.benchmarks.scienceqa.science_prompt) is both what the model
is asked and what the answer records, "<image>\\n" in front for image items
(haotian-liu/LLaVA c121f0432da27facab705978f83c4ada465e46fd, llava/eval/model_vqa_science.py).
"""

from __future__ import annotations

import json
from pathlib import Path

from llava.benchmarks.jsonl import decode_utf8
from llava.benchmarks.scienceqa import science_prompt
from llava.eval.image_sources import ImageFile
from llava.eval.questions import Question, check_length


def read_science_questions(
    path: str | Path,
    image_folder: str | Path,
    single_pred_prompt: bool,
    allow_outside: bool = False,
) -> list[list[Question]]:
    """The items of llava_test_CQM-A.json (or any file in its format), one question each."""
    path, image_folder = Path(path), Path(image_folder)
    if not path.is_file():
        raise FileNotFoundError(f"question file {path} not found (--question-file)")
    try:
        items = json.loads(decode_utf8(path.read_bytes(), path))
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{path}: not valid JSON ({err.msg}, line {err.lineno}); model_vqa_science reads "
            "a JSON array such as llava_test_CQM-A.json"
        ) from err
    if not isinstance(items, list):
        raise ValueError(f"{path}: expected a JSON array of questions (llava_test_CQM-A.json)")
    rows = []
    for number, item in enumerate(items, start=1):
        where = f"{path}, item {number}"
        if not isinstance(item, dict) or "id" not in item:
            raise ValueError(f"{where}: expected an object with an 'id'")
        if "image" in item and not isinstance(item["image"], str):
            raise ValueError(f"{where} (id {item['id']!r}): 'image' must be a string")
        try:
            prompt = science_prompt(item, single_pred_prompt)
            check_length(prompt, where)
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from err
        image = None
        if "image" in item:
            image = ImageFile(image_folder, item["image"], False, allow_outside)
        rows.append([Question(where, item["id"], prompt, prompt, image)])
    return rows
