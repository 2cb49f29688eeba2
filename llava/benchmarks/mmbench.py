"""MMBench (dev 20230712): LLaVA's TSV reading, prompt, option rounds and submission file, and the
offline CircularEval score (rules in llava.benchmarks.mmbench_circular).

Sources: haotian-liu/LLaVA c121f0432da27facab705978f83c4ada465e46fd,
llava/eval/model_vqa_mmbench.py and scripts/convert_mmbench_for_submission.py;
docs/benchmarks-suite.md sections 5 and 6.
- The TSV is read as `pandas.read_table` reads it: tab-separated, '"' quoting, blank lines
  skipped, and a cell equal to one of pandas' default NA strings ("", "NA", "None", "null",
  "nan", ...) is missing. `index` is an int; the other columns used are text.
- Options are the columns A, B, C, D in order, up to the first missing one (or text "nan" /
  "none" in any case); the prompt body is "hint\\n" (if any) + question + "\\nX. option" lines.
- --all-rounds answers a row once per option, the option texts rotated left each round while the
  printed letters stay A, B, ...
- The submission drops hint, category, source, image, comment and l2-category, puts the answer
  text in a "prediction" column at position 6 and writes an .xlsx, as pandas' to_excel does.
Nothing here prints.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from llava.benchmarks.answer_checks import (
    check_answer_keys,
    check_answer_texts,
    degenerate_answer_warnings,
)
from llava.benchmarks.jsonl import decode_utf8, output_file, read_jsonl
from llava.benchmarks.mmbench_circular import CircularResult, CircularRow, circular_eval
from llava.benchmarks.registry import Benchmark, Score

OPTION_COLUMNS = ("A", "B", "C", "D")  # model_vqa_mmbench's all_options
SUFFIXES = {
    "en": "\nAnswer with the option's letter from the given choices directly.",
    "cn": "\n请直接回答选项字母。",
}
# pandas' default na_values (pandas._libs.parsers.STR_NA_VALUES, pandas 2.x).
NA_STRINGS = frozenset({
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
})  # fmt: skip
DROPPED_COLUMNS = ("hint", "category", "source", "image", "comment", "l2-category")
PREDICTION_POSITION = 6
_CSV_FIELD_LIMIT = 2**31 - 1  # base64 images are far longer than csv's default 128 KiB


def _cell(value: str) -> str | None:
    return None if value in NA_STRINGS else value


def read_mmbench_tsv(path: str | Path) -> tuple[list[str], list[dict]]:
    """(columns, rows) of an MMBench TSV; a missing cell is None, `index` an int."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(
            f"MMBench TSV not found: {path} (download mmbench_dev_20230712.tsv or "
            "mmbench_dev_cn_20231003.tsv as LLaVA's docs/Evaluation.md says)"
        )
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    with io.StringIO(decode_utf8(path.read_bytes(), path), newline="") as f:
        reader = csv.reader(f, delimiter="\t", quotechar='"')
        columns = next(reader, None)
        if not columns or "index" not in columns:
            raise ValueError(f"{path}: the first line must be the header, with an 'index' column")
        rows = []
        for fields in reader:
            if not fields or fields == [""]:
                continue  # pandas skips blank lines
            if len(fields) > len(columns):
                raise ValueError(
                    f"{path}, line {reader.line_num}: {len(fields)} fields for "
                    f"{len(columns)} columns"
                )
            fields += [""] * (len(columns) - len(fields))  # pandas fills short rows with NaN
            row = {name: _cell(value) for name, value in zip(columns, fields, strict=True)}
            try:
                row["index"] = int(row["index"])
            except (TypeError, ValueError) as err:
                raise ValueError(
                    f"{path}, line {reader.line_num}: index {row['index']!r} is not an integer"
                ) from err
            rows.append(row)
    return columns, rows


def is_none(value: object) -> bool:
    """model_vqa_mmbench's is_none: missing, NaN, or the text "nan" / "none" in any case."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    return isinstance(value, str) and value.lower() in ("nan", "none")


def prompt_options(row: Mapping) -> list[str]:
    """The options shown to the model: columns A-D up to the first missing one."""
    options = []
    for column in OPTION_COLUMNS:
        if is_none(row.get(column)):
            break
        options.append(row[column])
    return options


def prompt_body(question: str, hint: str | None, options: Sequence[str]) -> str:
    """What model_vqa_mmbench writes as `prompt`: hint, question, then "X. option" lines."""
    if len(options) > len(OPTION_COLUMNS):
        raise ValueError(f"MMBench questions have at most 4 options, got {len(options)}")
    body = question if is_none(hint) else f"{hint}\n{question}"
    letters = OPTION_COLUMNS[: len(options)]
    return body + "".join(f"\n{c}. {text}" for c, text in zip(letters, options, strict=True))


def model_prompt(body: str, lang: str = "en", single_pred_prompt: bool = True) -> str:
    """The user turn the model sees: the image mark, the body, the language's instruction."""
    if lang not in SUFFIXES:
        raise ValueError(f"--lang must be one of {', '.join(SUFFIXES)}, got {lang!r}")
    return f"<image>\n{body}" + (SUFFIXES[lang] if single_pred_prompt else "")


def option_rounds(options: Sequence[str], all_rounds: bool) -> list[tuple[list[str], list[str]]]:
    """(options, option_char) of each round: one round, or one per option rotated left."""
    options, letters = list(options), list(OPTION_COLUMNS[: len(options)])
    rounds = []
    for _ in range(len(options) if all_rounds else 1):
        rounds.append((options, letters))
        options, letters = options[1:] + options[:1], letters[1:] + letters[:1]
    return rounds


def scoring_row(row: Mapping) -> CircularRow:
    """A TSV row as CircularEval reads it; choices are every letter column with a value."""
    letters = [c for c in row if len(c) == 1 and "A" <= c <= "Z"]
    return CircularRow(
        index=row["index"],
        choices={letter: row[letter] for letter in sorted(letters) if row[letter] is not None},
        answer=row.get("answer"),
        split=row.get("split") or "dev",
        category=row.get("category"),
        l2_category=row.get("l2-category"),
    )


def as_read_back(text: str) -> str:
    """A prediction as the scorer reads it back from the .xlsx: NA strings become "nan"."""
    return "nan" if text in NA_STRINGS else text


def read_answers(path: str | Path, indices: Sequence[int]) -> list[dict]:
    """A LLaVA answers file, refusing partial, duplicated (--all-rounds) and foreign ones."""
    answers = read_jsonl(path, "MMBench answers file")
    check_answer_texts(answers, path)
    try:
        check_answer_keys(answers, path, indices, key=lambda a: a.get("question_id"), what="row")
    except ValueError as err:
        if "more than once" in str(err):
            raise ValueError(
                f"{err}; answers from --all-rounds share a question_id, and neither the "
                "submission nor CircularEval can use them: the TSV already holds the rotations"
            ) from err
        raise
    return answers


def evaluate_mmbench(annotation_file: str | Path, result_file: str | Path) -> CircularResult:
    """CircularEval (exact matching) of a LLaVA answers file against the TSV's answers."""
    _, rows = read_mmbench_tsv(annotation_file)
    if any(row.get("answer") is None for row in rows):
        raise ValueError(
            f"{annotation_file}: rows without an 'answer'; only the dev TSVs can be scored "
            "offline, test answers go to the MMBench server"
        )
    answers = read_answers(result_file, [row["index"] for row in rows])
    predictions = {a["question_id"]: as_read_back(a["text"]) for a in answers}
    result = circular_eval([scoring_row(row) for row in rows], predictions)
    warnings = degenerate_answer_warnings(answers, result_file) + result.warnings
    return replace(result, warnings=warnings)


def submission_rows(
    columns: Sequence[str], rows: Sequence[Mapping], answers: Sequence[Mapping]
) -> tuple[list[str], list[list]]:
    """(header, rows) of LLaVA's submission table: prediction = the text answering each index."""
    text_by_index = {a["question_id"]: a["text"] for a in answers}
    kept = [c for c in columns if c not in DROPPED_COLUMNS]
    position = min(PREDICTION_POSITION, len(kept))
    header = kept[:position] + ["prediction"] + kept[position:]
    table = []
    for row in rows:
        values = [row[c] for c in kept]
        table.append(values[:position] + [text_by_index.get(row["index"])] + values[position:])
    return header, table


def write_xlsx(header: Sequence[str], rows: Sequence[Sequence], path: str | Path) -> None:
    """Write one sheet as pandas' to_excel(index=False) does: styled header, empty None cells."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils.exceptions import IllegalCharacterError

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Sheet1"
    thin = Side(style="thin")
    for column, name in enumerate(header, start=1):
        cell = sheet.cell(row=1, column=column, value=name)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="top")
        cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for row_number, values in enumerate(rows, start=2):
        for column, value in enumerate(values, start=1):
            if value is None:
                continue
            try:
                sheet.cell(row=row_number, column=column, value=value)
            except IllegalCharacterError as err:
                raise ValueError(
                    f"row {row_number - 1}, column {header[column - 1]!r}: a control character "
                    "that .xlsx cannot hold"
                ) from err
    with output_file(path, "wb") as f:
        workbook.save(f)


def convert_for_submission(
    annotation_file: str | Path, result_file: str | Path, upload_file: str | Path
) -> None:
    """convert_mmbench_for_submission.py: the answers into the TSV's table, as an .xlsx."""
    columns, rows = read_mmbench_tsv(annotation_file)
    answers = read_answers(result_file, [row["index"] for row in rows])
    write_xlsx(*submission_rows(columns, rows, answers), upload_file)


def _score(data_root: Path, answers: Path) -> Score:
    result = evaluate_mmbench(Path(data_root) / BENCHMARK.question_file, answers)
    return Score(100 * result.accuracy, result.to_dict())


def _write_synthetic(data_root: Path, *, seed: int, images: int, progress: bool = False) -> dict:
    from llava.synthetic.mmbench import write_mmbench

    return write_mmbench(data_root, seed=seed, images=images, progress=progress, lang="en")


BENCHMARK = Benchmark(
    name="mmbench",
    title="MMBench (en, dev 20230712)",
    # CircularEval accuracy x100: a question counts only if every rotation of its options is
    # answered right. It is what the MMBench server reports and LLaVA publishes (67.7 for 13B).
    metric="MMBench",
    scoring="offline",
    question_file="mmbench/mmbench_dev_20230712.tsv",
    image_folder="mmbench",  # unused: the images are base64 cells of the TSV
    answers="mmbench/answers/mmbench_dev_20230712/{experiment}.jsonl",
    answering="llava.eval.model_vqa_mmbench",
    answering_flags=("--single-pred-prompt",),
    score=_score,
    write_synthetic=_write_synthetic,
)
