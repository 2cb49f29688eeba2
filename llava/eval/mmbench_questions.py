"""MMBench's question file for model_vqa_mmbench: a TSV, one row per question, images in base64.

Each row is read as LLaVA reads it (llava.benchmarks.mmbench: pandas' TSV reading, options A-D
up to the first missing one, the prompt body "hint\\nquestion\\nA. ..."); the image is decoded
and kept in its own mode until padded. Without --all-rounds a row is one question; with it, one
per option, the option texts rotated left each round while the printed letters stay A, B, ...
The answer records `round_id`, the body as `prompt`, `options` and `option_char`
(haotian-liu/LLaVA c121f0432da27facab705978f83c4ada465e46fd, llava/eval/model_vqa_mmbench.py).
"""

from __future__ import annotations

from pathlib import Path

from llava.benchmarks.mmbench import (
    model_prompt,
    option_rounds,
    prompt_body,
    prompt_options,
    read_mmbench_tsv,
)
from llava.eval.image_sources import Base64Image
from llava.eval.questions import Question, check_length

REQUIRED_COLUMNS = ("index", "question", "image")


def read_mmbench_questions(
    path: str | Path, *, lang: str, single_pred_prompt: bool, all_rounds: bool
) -> list[list[Question]]:
    """The TSV's rows, each with its questions (one, or one per option with all_rounds)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"question file {path} not found (--question-file)")
    columns, table = read_mmbench_tsv(path)
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise ValueError(
            f"{path}: no column(s) {', '.join(missing)}; an MMBench TSV has "
            f"{', '.join(REQUIRED_COLUMNS)}, hint and the options A-D"
        )
    rows = []
    for number, row in enumerate(table, start=1):
        where = f"{path}, row {number} (index {row['index']})"
        if row["question"] is None:
            raise ValueError(f"{where}: the question is empty")
        if row["image"] is None:
            raise ValueError(f"{where}: the image is empty")
        image = Base64Image(row["image"])
        questions = []
        for round_id, (options, letters) in enumerate(
            option_rounds(prompt_options(row), all_rounds)
        ):
            body = prompt_body(row["question"], row.get("hint"), options)
            check_length(body, where)
            questions.append(
                Question(
                    where,
                    row["index"],
                    body,
                    model_prompt(body, lang, single_pred_prompt),
                    image,
                    before_prompt={"round_id": round_id},
                    after_text={"options": options, "option_char": letters},
                )
            )
        rows.append(questions)
    return rows
