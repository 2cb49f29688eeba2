"""Grade MM-Vet results with the judge and write MM-Vet's score files, as MM-Vet's evaluator:
`python -m llava.eval.eval_mmvet --mmvet_path mm-vet --result_file results/CKPT.json
[--result_path DIR] [--gpt_model M] [--num_run N] [--decimal_places D] [--use_sub_set]`.

The result file is what scripts/convert_mmvet_for_eval.py writes. Grades go to
DIR/CKPT_M-grade-Nruns.json (default DIR: the result file's folder), saved after every sample
and reused like the evaluator reuses them: a complete grade file needs no judge, a partial one
is completed. The scores go to DIR/CKPT_M-cap-score-Nruns.csv and -cap-int-score-Nruns.csv.

The judge: an OpenAI-compatible endpoint from LLAVA_JUDGE_BASE_URL / LLAVA_JUDGE_API_KEY (or
OPENAI_BASE_URL / OPENAI_API_KEY); LLAVA_JUDGE_MODEL or --gpt_model picks the model (default
the evaluator's gpt-4-0613; LLaVA graded with gpt-4). Every judgement is cached in
DIR/judge-cache/<grade file stem>.jsonl (--judge-cache to move it), so a rerun never pays twice.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a file (`python llava/eval/eval_mmvet.py`)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from llava.benchmarks.jsonl import read_json  # noqa: E402
from llava.benchmarks.judge import (  # noqa: E402
    JudgeCache,
    JudgeClient,
    JudgeError,
    judge_config_from_env,
)
from llava.benchmarks.mmvet import (  # noqa: E402
    aggregate,
    check_grades,
    csv_text,
    load_metadata,
    result_files,
)
from llava.benchmarks.mmvet_grading import (  # noqa: E402
    OFFICIAL_JUDGE_MODEL,
    grade_runs,
    needs_more_runs,
    save_grade_file,
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="eval_mmvet", description=__doc__.split("\n\n")[0])
    parser.add_argument("--mmvet_path", required=True, help="folder with mm-vet.json")
    parser.add_argument("--result_file", required=True, help="results/CKPT.json to grade")
    parser.add_argument("--result_path", help="where grades and scores go (default: its folder)")
    parser.add_argument(
        "--gpt_model", help="judge model (default: $LLAVA_JUDGE_MODEL or gpt-4-0613)"
    )
    parser.add_argument("--num_run", type=int, default=1, help="independent gradings (default 1)")
    parser.add_argument("--decimal_places", type=int, default=1, help="rounding (default 1)")
    parser.add_argument("--use_sub_set", action="store_true", help="grade bard_set.json only")
    parser.add_argument("--judge-cache", help="the judgement cache file (JSON lines)")
    args = parser.parse_args(argv)
    if args.num_run < 1:
        parser.error("--num_run must be at least 1")
    if not args.result_file.lower().endswith(".json"):
        parser.error("--result_file must be a .json file (what convert_mmvet_for_eval.py writes)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    model = Path(args.result_file).stem
    result_path = Path(args.result_path or Path(args.result_file).parent)
    try:
        config = judge_config_from_env(os.environ)
        gpt_model = args.gpt_model or config.judge_model(OFFICIAL_JUDGE_MODEL)
        metadata = load_metadata(args.mmvet_path, args.use_sub_set)
        files = result_files(result_path, model, gpt_model, args.num_run, metadata.subset_name)
        results = read_json(args.result_file, "MM-Vet result file")
        if not isinstance(results, dict) or not all(isinstance(v, str) for v in results.values()):
            raise ValueError(f"{args.result_file}: expected {{sample id: answer text}}")
        grades = {}
        if files.grade.is_file():
            grades = check_grades(read_json(files.grade, "grade file"), files.grade)
        if needs_more_runs(grades, metadata, args.num_run):
            cache_file = result_path / "judge-cache" / f"{files.grade.stem}.jsonl"
            client = JudgeClient(config, JudgeCache(args.judge_cache or cache_file))
            result_path.mkdir(parents=True, exist_ok=True)
            grade_runs(
                client, gpt_model, metadata, results, grades, args.num_run,
                save=lambda g: save_grade_file(files.grade, g),
            )  # fmt: skip
            print(f"Judge {gpt_model}: {client.sent} requests sent, {client.cached} from the cache")
        row, set_row = aggregate(grades, metadata, args.num_run, args.decimal_places)
    except (ValueError, JudgeError) as err:
        print(f"eval_mmvet: error: {err}", file=sys.stderr)
        return 1
    files.cap_score.write_text(csv_text(model, row), encoding="utf-8")
    files.cap_int_score.write_text(csv_text(model, set_row), encoding="utf-8")
    print(csv_text(model, row) + "\n" + csv_text(model, set_row))
    print(f"Grading results are saved in:\n{files.grade}\n{files.cap_score}\n{files.cap_int_score}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
