"""MM-Vet: LLaVA's conversion (byte-identical on the released 7B and 13B files), the evaluator's
aggregation (every column of the released cap-score files, from the released grades), and the
whole judge path against a stub judge on 127.0.0.1: replaying the released 13B grades gives the
released files; scripted replies give the requests and files MM-Vet's own evaluator produced
(tests/data/suite/mm-vet, see its README); resume, cache and interruption."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
import subprocess
import sys
from collections import deque
from pathlib import Path

import pytest
from judge_stub import StubJudge

from llava.benchmarks import get_benchmark, mmvet
from llava.benchmarks.mmvet_grading import grading_prompt, parse_grade
from llava.eval import eval_mmvet

MODEL_ROWS = [  # (released score file, model row): every row of the four cap-score files
    ("llava-v1.5-13b_gpt-4-cap-score-1runs.csv", "llava-v1.5-13b"),
    ("llava-v1.5-13b_gpt-4-cap-score-3runs.csv", "llava-v1.5-13b"),
    ("llava-v1.5-13b_gpt-4-cap-score-3runs.csv", "llava-v1.5-7b"),
    ("llava-v1.5-7b_gpt-4-cap-score-1runs.csv", "llava-v1.5-13b"),
    ("llava-v1.5-7b_gpt-4-cap-score-1runs.csv", "llava-v1.5-7b"),
    ("llava-v1.5-7b_gpt-4-cap-score-3runs.csv", "llava-v1.5-7b"),
]


def _csv_rows(path: Path) -> dict[str, dict[str, str]]:
    rows = list(csv.reader(path.read_text().splitlines()))
    return {row[0]: dict(zip(rows[0][1:], row[1:], strict=True)) for row in rows[1:]}


def _by_set(row: dict[str, str]) -> dict:
    """Capability-set columns keyed by the set: their names' order follows string hashing."""
    return {
        name if name in ("total", "std", "runs") else frozenset(name.split("_")): value
        for name, value in row.items()
    }


@pytest.mark.parametrize("model", ["llava-v1.5-7b", "llava-v1.5-13b"])
def test_converter_is_byte_identical(shared_suite: Path, repo_root: Path, tmp_path, model: str):
    folder = shared_suite / "mm-vet"
    command = [sys.executable, "scripts/convert_mmvet_for_eval.py"]
    command += ["--src", str(folder / f"answers/{model}.jsonl"), "--dst", str(tmp_path / "r.json")]
    run = subprocess.run(command, cwd=repo_root, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "r.json").read_bytes() == (folder / f"results/{model}.json").read_bytes()


def test_converter_refuses_repeated_answers() -> None:
    answers = [{"question_id": 0, "text": "a"}, {"question_id": 0, "text": "b"}]
    with pytest.raises(ValueError, match="a.jsonl: question_id 0 answered twice"):
        mmvet.convert_for_eval(answers, "a.jsonl")


@pytest.mark.parametrize(("score_file", "model"), MODEL_ROWS)
def test_aggregation_reproduces_the_released_score_files(shared_suite: Path, score_file, model):
    results = shared_suite / "mm-vet" / "results"
    if not (results / score_file).is_file():
        pytest.skip(f"{score_file} is withheld from this copy (a held-out check)")
    released = _csv_rows(results / score_file)
    if model not in released:
        pytest.skip(f"{score_file} has no {model} row")
    runs = len(json.loads(released[model]["runs"]))
    grade_file = results / f"{model}_gpt-4-grade-{runs}runs.json"
    if not grade_file.is_file():
        pytest.skip(f"{grade_file.name} is withheld from this copy (a held-out check)")
    metadata = mmvet.load_metadata(shared_suite / "mm-vet")
    row, set_row = mmvet.aggregate(json.loads(grade_file.read_text()), metadata, runs)
    ours = _csv_rows_of(mmvet.csv_text(model, row))[model]
    assert ours == released[model]  # every column, in order, as text
    int_file = results / score_file.replace("-cap-score-", "-cap-int-score-")
    if int_file.is_file() and model in _csv_rows(int_file):
        assert _by_set(_csv_rows_of(mmvet.csv_text(model, set_row))[model]) == _by_set(
            _csv_rows(int_file)[model]
        )


def _csv_rows_of(text: str) -> dict[str, dict[str, str]]:
    rows = list(csv.reader(text.splitlines()))
    return {row[0]: dict(zip(rows[0][1:], row[1:], strict=True)) for row in rows[1:]}


def test_released_headline_numbers(shared_suite: Path) -> None:
    results = shared_suite / "mm-vet" / "results"
    metadata = mmvet.load_metadata(shared_suite / "mm-vet")
    totals = {}
    for runs in (1, 3):
        grades = json.loads((results / f"llava-v1.5-13b_gpt-4-grade-{runs}runs.json").read_text())
        row, _ = mmvet.aggregate(grades, metadata, runs)
        totals[runs] = (row["total"], row["std"], row["runs"])
    assert totals == {1: (36.1, 0.0, "[36.1]"), 3: (36.3, 0.2, "[36.1, 36.5, 36.3]")}


@pytest.mark.parametrize(
    ("reply", "grade"),
    [("0.5", 0.5), ("1.0", 1.0), ("1", 1.0), ("0.7 the answer", 0.7), ("1e-1", 0.1),
     ("0.5 ", 0.5), (" 0.5", None), ("0.6\nbecause", None), ("1.5", None), ("-0.1", None),
     ("", None), ("The answer", None), ("nan", None)],
)  # fmt: skip
def test_parse_grade(reply: str, grade: float | None) -> None:
    assert parse_grade(reply) == grade


def test_grading_prompt_layout() -> None:
    prompt = grading_prompt("What is x?", "-1<AND>-5<OR>2", "x = 3")
    assert prompt.startswith("Compare the ground truth and prediction from AI models, to give a")
    assert prompt.endswith("| 1.0\n\nWhat is x? | -1 <AND> -5 <OR> 2 | x = 3 | ")


# --- The judge path, end to end ------------------------------------------------------------------


def _replier(mmvet_dir: Path, results_file: Path, replies: dict[str, list[str]]):
    """Stub replies: the request's sample is the one whose `question | answer | prediction | `
    row ends the prompt; each request for a sample takes that sample's next reply."""
    data = json.loads((mmvet_dir / "mm-vet.json").read_text())
    results = json.loads(results_file.read_text())
    rows = {grading_prompt(v["question"], v["answer"], results[k]).split("\n")[-1]: k
            for k, v in data.items() if k in replies}  # fmt: skip
    queues = {k: deque(v) for k, v in replies.items()}

    def reply(body: dict) -> str:
        content = body["messages"][0]["content"].removesuffix(
            "\nPredict the correctness of the answer (digit): "
        )
        return queues[rows[content.split("\n")[-1]]].popleft()

    return reply


def test_replaying_the_released_grades_gives_the_released_files(
    shared_suite: Path, tmp_path: Path, judge_env, capsys: pytest.CaptureFixture
) -> None:
    folder = shared_suite / "mm-vet"
    shutil.copy(folder / "results/llava-v1.5-13b.json", tmp_path)
    for runs in (1, 3):
        released = json.loads(
            (folder / f"results/llava-v1.5-13b_gpt-4-grade-{runs}runs.json").read_text()
        )
        replies = {k: v["content"] for k, v in released.items()}
        with StubJudge(
            _replier(folder, tmp_path / "llava-v1.5-13b.json", replies), "gpt-4"
        ) as stub:
            judge_env(stub)
            argv = [
                "--mmvet_path",
                str(folder),
                "--result_file",
                str(tmp_path / "llava-v1.5-13b.json"),
            ]
            assert eval_mmvet.main([*argv, "--num_run", str(runs), "--gpt_model", "gpt-4"]) == 0
        assert len(stub.requests) == 218 * runs
        name = f"llava-v1.5-13b_gpt-4-grade-{runs}runs.json"
        assert (tmp_path / name).read_bytes() == (folder / "results" / name).read_bytes()
        score_name = f"llava-v1.5-13b_gpt-4-cap-score-{runs}runs.csv"
        ours = _csv_rows(tmp_path / score_name)
        assert ours == {
            "llava-v1.5-13b": _csv_rows(folder / "results" / score_name)["llava-v1.5-13b"]
        }
    assert "Judge gpt-4: 654 requests sent, 0 from the cache" in capsys.readouterr().out


def _official_requests(fixture: Path, name: str) -> list[dict]:
    return json.loads(gzip.decompress((fixture / name).read_bytes()))


def _bodies(requests: list[dict]) -> list[dict]:
    keys = ("model", "messages", "temperature", "max_tokens")
    return [{key: body[key] for key in keys} for body in requests]


@pytest.fixture
def scripted_dir(suite_fixtures: Path, tmp_path: Path) -> tuple[Path, Path]:
    fixture = suite_fixtures / "mm-vet"
    (tmp_path / "results").mkdir()
    shutil.copy(fixture / "llava-v1.5-13b.json", tmp_path / "results")
    return fixture, tmp_path / "results"


def _run_scripted(fixture: Path, results: Path, replies_file: str, judge_env) -> StubJudge:
    replies = json.loads((fixture / replies_file).read_text())
    result_file = results / "llava-v1.5-13b.json"
    with StubJudge(_replier(fixture, result_file, replies), "gpt-4-0613") as stub:
        judge_env(stub)
        argv = ["--mmvet_path", str(fixture), "--result_file", str(result_file), "--num_run", "2"]
        assert eval_mmvet.main(argv) == 0
    return stub


GRADE_FILE = "llava-v1.5-13b_gpt-4-0613-grade-2runs.json"


def test_requests_and_files_equal_the_official_evaluators(scripted_dir, judge_env) -> None:
    fixture, results = scripted_dir
    stub = _run_scripted(fixture, results, "judge_replies.json", judge_env)
    assert _bodies(stub.requests) == _bodies(
        _official_requests(fixture, "official_requests.json.gz")
    )
    assert (results / GRADE_FILE).read_bytes() == (fixture / GRADE_FILE).read_bytes()
    score = "llava-v1.5-13b_gpt-4-0613-cap-score-2runs.csv"
    assert (results / score).read_text() == (fixture / score).read_text()
    cap_int = "llava-v1.5-13b_gpt-4-0613-cap-int-score-2runs.csv"
    assert _by_set(_csv_rows(results / cap_int)["llava-v1.5-13b"]) == _by_set(
        _csv_rows(fixture / cap_int)["llava-v1.5-13b"]
    )


def test_resume_from_a_partial_grade_file_equals_the_official_evaluators(scripted_dir, judge_env):
    fixture, results = scripted_dir
    shutil.copy(fixture / "partial-grade-2runs.json", results / GRADE_FILE)
    stub = _run_scripted(fixture, results, "judge_replies_resume.json", judge_env)
    official = _official_requests(fixture, "official_requests_resume.json.gz")
    assert _bodies(stub.requests) == _bodies(official)
    assert (results / GRADE_FILE).read_bytes() == (fixture / GRADE_FILE).read_bytes()


def test_cache_and_complete_grade_files_send_nothing(scripted_dir, judge_env, monkeypatch):
    fixture, results = scripted_dir
    _run_scripted(fixture, results, "judge_replies.json", judge_env)
    (results / GRADE_FILE).unlink()  # the cache alone answers every request again
    stub = _run_scripted(fixture, results, "judge_replies.json", judge_env)
    assert stub.requests == []
    assert (results / GRADE_FILE).read_bytes() == (fixture / GRADE_FILE).read_bytes()
    for name in ("LLAVA_JUDGE_BASE_URL", "LLAVA_JUDGE_API_KEY"):  # no judge needed at all now
        monkeypatch.delenv(name)
    argv = ["--mmvet_path", str(fixture), "--result_file", str(results / "llava-v1.5-13b.json")]
    assert eval_mmvet.main([*argv, "--num_run", "2"]) == 0


def test_an_interrupted_grading_resumes_without_redoing_anything(scripted_dir, judge_env, capsys):
    fixture, results = scripted_dir
    replies = json.loads((fixture / "judge_replies.json").read_text())
    result_file = results / "llava-v1.5-13b.json"
    reply = _replier(fixture, result_file, replies)  # one judge: its replies go on in order
    argv = ["--mmvet_path", str(fixture), "--result_file", str(result_file), "--num_run", "2"]
    with StubJudge(reply, "gpt-4-0613") as stub:
        stub.fail_after = 12  # the endpoint goes down in the middle of run 0
        judge_env(stub, attempts=1)
        assert eval_mmvet.main(argv) == 1
    assert "gave no usable reply in 1 attempt(s) (last: HTTP 503" in capsys.readouterr().err
    partial = json.loads((results / GRADE_FILE).read_text())
    assert 0 < len(partial) < 10 and all(len(g["score"]) == 1 for g in partial.values())
    with StubJudge(reply, "gpt-4-0613") as stub:
        judge_env(stub)
        assert eval_mmvet.main(argv) == 0
    assert len(stub.requests) == 31 - 12  # the 12 answered requests are never sent again
    assert (results / GRADE_FILE).read_bytes() == (fixture / GRADE_FILE).read_bytes()


def test_without_an_endpoint_the_error_names_the_variables(scripted_dir, monkeypatch, capsys):
    fixture, results = scripted_dir
    for name in (
        "LLAVA_JUDGE_BASE_URL",
        "LLAVA_JUDGE_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    argv = ["--mmvet_path", str(fixture), "--result_file", str(results / "llava-v1.5-13b.json")]
    assert eval_mmvet.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "eval_mmvet: error: no judge endpoint configured: set LLAVA_JUDGE_BASE_URL"
    )
    assert "OPENAI_API_KEY" in err


def test_incomplete_results_are_refused(scripted_dir, judge_env, capsys) -> None:
    fixture, results = scripted_dir
    partial = json.loads((results / "llava-v1.5-13b.json").read_text())
    del partial["v1_45"]
    (results / "partial.json").write_text(json.dumps(partial))
    with StubJudge(lambda body: "0.5") as stub:
        judge_env(stub)
        argv = ["--mmvet_path", str(fixture), "--result_file", str(results / "partial.json")]
        assert eval_mmvet.main(argv) == 1
    assert "the results answer 9 of the 10 MM-Vet samples (missing e.g. v1_45)" in (
        capsys.readouterr().err
    )
    assert stub.requests == []


def test_registry_entry(tmp_path: Path) -> None:
    entry = get_benchmark("mmvet")
    assert (entry.scoring, entry.answering, entry.score) == ("judge", "llava.eval.model_vqa", None)
    assert entry.answers_file(tmp_path, "m") == tmp_path / "mm-vet/answers/m.jsonl"


def test_bard_subset_reuses_the_grades_without_a_judge(shared_suite, tmp_path, monkeypatch, capsys):
    folder = shared_suite / "mm-vet"
    for name in ("llava-v1.5-13b.json", "llava-v1.5-13b_gpt-4-grade-1runs.json"):
        shutil.copy(folder / "results" / name, tmp_path)
    for name in (
        "LLAVA_JUDGE_BASE_URL",
        "LLAVA_JUDGE_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    argv = ["--mmvet_path", str(folder), "--result_file", str(tmp_path / "llava-v1.5-13b.json")]
    assert eval_mmvet.main([*argv, "--gpt_model", "gpt-4", "--use_sub_set"]) == 0
    subset = json.loads((folder / "bard_set.json").read_text())
    grades = json.loads((tmp_path / "llava-v1.5-13b_gpt-4-grade-1runs.json").read_text())
    expected = round(sum(grades[k]["score"][0] for k in subset) / len(subset) * 100, 1)
    row = _csv_rows(tmp_path / "llava-v1.5-13b_bardset_gpt-4-cap-score-1runs.csv")
    assert float(row["llava-v1.5-13b"]["total"]) == expected
    assert "requests sent" not in capsys.readouterr().out


def test_result_file_names(tmp_path: Path) -> None:
    files = mmvet.result_files(tmp_path, "llava-v1.5-13b", "gpt-4", 3, "bardset_")
    assert files.grade.name == "llava-v1.5-13b_gpt-4-grade-3runs.json"  # no subset part
    assert files.cap_score.name == "llava-v1.5-13b_bardset_gpt-4-cap-score-3runs.csv"
    assert files.cap_int_score.name == "llava-v1.5-13b_bardset_gpt-4-cap-int-score-3runs.csv"
    other = mmvet.result_files(tmp_path, "m", "openai/gpt-4o", 1)
    assert other.grade == tmp_path / "m_openai_gpt-4o-grade-1runs.json"
