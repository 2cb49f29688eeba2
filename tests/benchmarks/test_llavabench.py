"""LLaVA-Bench: the summary of the released reviews gives the official numbers; the reviewer,
against a stub judge on 127.0.0.1, sends the requests and writes the lines LLaVA's own reviewer
did (tests/data/suite/llava-bench, see its README), and replaying the released reviews through
the whole judge path gives them back; parse failures, rate limits, cache, resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from judge_stub import StubJudge

from llava.benchmarks import get_benchmark
from llava.benchmarks.jsonl import read_jsonl
from llava.benchmarks.llavabench import parse_scores, summarize
from llava.eval import eval_gpt_review_bench, summarize_gpt_review

RUNS = [(model, run) for model in ("13b", "7b") for run in (1, 2, 3)]


def _assistant2(body: dict) -> str:
    user = body["messages"][1]["content"]
    return user.split("[Assistant 2]\n", 1)[1].split("\n\n[End of Assistant 2]", 1)[0]


def _without_judge_model(path: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "judge_model"} for r in read_jsonl(path, "r")]


@pytest.mark.parametrize(
    ("review", "pair"),
    [("8 9\nwhy", [8.0, 9.0]), ("8,9", [8.0, 9.0]), ("7.5 8.5", [7.5, 8.5]),
     ("8, 9", [-1, -1]), ("9 8 7", [-1, -1]), ("7 6 ", [-1, -1]), ("8  9", [-1, -1]),
     ("good fine", [-1, -1]), ("", [-1, -1]), ("8\n9", [-1, -1])],
)  # fmt: skip
def test_parse_scores(review: str, pair: list) -> None:
    assert parse_scores(review) == pair


@pytest.mark.parametrize(("model", "run"), RUNS)
def test_summaries_of_the_released_reviews(shared_suite: Path, model: str, run: int) -> None:
    path = shared_suite / f"llava-bench-in-the-wild/reviews/llava-v1.5-{model}-eval{run}.jsonl"
    if not path.is_file():
        pytest.skip(f"{path.name} is withheld from this copy (a held-out check)")
    expected = json.loads((shared_suite / "EXPECTED_RESULTS.json").read_text())
    expected = expected["llava_bench_in_the_wild"][f"llava-v1.5-{model}"]
    summary = summarize(read_jsonl(path, "reviews"))
    assert summary["all"][0] == expected["runs_all_relative"][run - 1]
    if run == 1:
        per_category = {k.removeprefix("llava_bench_"): list(v) for k, v in summary.items()}
        assert per_category == expected["eval1"]


def test_summary_printout_equals_llavas(shared_suite, suite_fixtures, capsys) -> None:
    reviews = shared_suite / "llava-bench-in-the-wild/reviews"
    files = [str(reviews / f"llava-v1.5-13b-eval{run}.jsonl") for run in (3, 1, 2)]
    assert summarize_gpt_review.main(["-f", *files]) == 0
    expected = suite_fixtures / "llava-bench/official_summary_13b_released.txt"
    assert capsys.readouterr().out == expected.read_text()


def test_summary_of_a_folder_with_select_and_ignore(shared_suite, capsys) -> None:
    reviews = shared_suite / "llava-bench-in-the-wild/reviews"
    assert summarize_gpt_review.main(["-d", str(reviews), "-s", "eval2"]) == 0
    assert capsys.readouterr().out.startswith("llava-v1.5-13b-eval2\nall 72.7 86.5 62.9\n")
    ignored = summarize(read_jsonl(reviews / "llava-v1.5-13b-eval1.jsonl", "r"), ignore={0})
    assert ignored != summarize(read_jsonl(reviews / "llava-v1.5-13b-eval1.jsonl", "r"))


# --- The reviewer, against LLaVA's own on the scripted fixture ---------------------------------


@pytest.fixture
def bench(suite_fixtures: Path, tmp_path: Path) -> Path:
    """The scripted fixture in a folder of its own, with reviews/ beside it."""
    folder = tmp_path / "llava-bench-in-the-wild"
    shutil.copytree(suite_fixtures / "llava-bench", folder)
    return folder


def _review_argv(folder: Path, output: Path, answers: str = "answers.jsonl") -> list[str]:
    return [
        "--question", str(folder / "questions.jsonl"), "--context", str(folder / "context.jsonl"),
        "--rule", str(folder / "rule.json"), "--answer-list", str(folder / "answers_gpt4.jsonl"),
        str(folder / answers), "--output", str(output),
    ]  # fmt: skip


def _scripted_judge(folder: Path) -> StubJudge:
    replies = json.loads((folder / "judge_replies.json").read_text())
    return StubJudge(lambda body: replies[_assistant2(body)], model="gpt-4-0314")


def test_requests_and_reviews_equal_llavas(bench: Path, judge_env, capsys) -> None:
    output = bench / "reviews" / "reviews.jsonl"
    with _scripted_judge(bench) as stub:
        judge_env(stub)
        assert eval_gpt_review_bench.main(_review_argv(bench, output)) == 0
    assert stub.requests == json.loads((bench / "official_requests.json").read_text())
    assert _without_judge_model(output) == read_jsonl(bench / "official_reviews.jsonl", "r")
    assert {r["judge_model"] for r in read_jsonl(output, "r")} == {"gpt-4-0314"}
    assert "7 reviews written, 0 already there; judge gpt-4-0314: 7 requests sent" in (
        capsys.readouterr().out
    )
    assert summarize_gpt_review.main(["-f", str(output)]) == 0  # [-1, -1] stays in the means
    assert capsys.readouterr().out == (bench / "official_summary.txt").read_text()


def test_resume_appends_like_llavas(bench: Path, judge_env) -> None:
    output = bench / "reviews" / "reviews.jsonl"
    output.parent.mkdir()
    shutil.copy(bench / "partial_reviews.jsonl", output)
    with _scripted_judge(bench) as stub:
        judge_env(stub)
        assert eval_gpt_review_bench.main(_review_argv(bench, output)) == 0
    assert stub.requests == json.loads((bench / "official_requests_resume.json").read_text())
    assert _without_judge_model(output) == read_jsonl(bench / "official_reviews.jsonl", "r")


def test_rate_limit_cache_and_interruption(bench: Path, judge_env, capsys) -> None:
    output = bench / "reviews" / "reviews.jsonl"
    expected = read_jsonl(bench / "official_reviews.jsonl", "r")
    with _scripted_judge(bench) as stub:
        stub.faults.extend([429, 500])  # a rate limit, then a server error: retried
        stub.fail_after = 3  # then the endpoint goes down after three reviews
        judge_env(stub, attempts=3)
        assert eval_gpt_review_bench.main(_review_argv(bench, output)) == 1
    assert "gave no usable reply in 3 attempt(s) (last: HTTP 503" in capsys.readouterr().err
    assert _without_judge_model(output) == expected[:3]
    with _scripted_judge(bench) as stub:
        judge_env(stub)
        assert eval_gpt_review_bench.main(_review_argv(bench, output)) == 0
    assert len(stub.requests) == 4 and _without_judge_model(output) == expected
    output.unlink()  # reviewing again from scratch: the cache answers everything
    with _scripted_judge(bench) as stub:
        judge_env(stub)
        assert eval_gpt_review_bench.main(_review_argv(bench, output)) == 0
    assert stub.requests == [] and _without_judge_model(output) == expected
    assert "judge gpt-4-0314: 0 requests sent, 7 from the cache" in capsys.readouterr().out


def test_misaligned_or_foreign_files_are_refused(bench: Path, judge_env, capsys) -> None:
    answers = (bench / "answers.jsonl").read_text().splitlines(keepends=True)
    (bench / "short.jsonl").write_text("".join(answers[:-1]))
    (bench / "swapped.jsonl").write_text("".join([answers[1], answers[0], *answers[2:]]))
    output = bench / "reviews" / "reviews.jsonl"
    with StubJudge(lambda body: "8 9") as stub:
        judge_env(stub)
        assert eval_gpt_review_bench.main(_review_argv(bench, output, "short.jsonl")) == 1
        assert "short.jsonl has 6 lines for the 7 questions" in capsys.readouterr().err
        assert eval_gpt_review_bench.main(_review_argv(bench, output, "swapped.jsonl")) == 1
        assert "swapped.jsonl, line 1: question_id 1 where" in capsys.readouterr().err
        output.parent.mkdir()  # an output holding the reviews of other questions
        reviews = (bench / "official_reviews.jsonl").read_text()
        output.write_text(reviews.replace('"question_id": 1,', '"question_id": 9,'))
        assert eval_gpt_review_bench.main(_review_argv(bench, output)) == 1
        assert "reviews.jsonl, line 2: a review of question 9 where question 1 comes" in (
            capsys.readouterr().err
        )
    assert stub.requests == []


# --- Replaying the released reviews through the whole judge path ------------------------------


def _placeholder_inputs(reviews: list[dict], folder: Path, answers_file: Path) -> Path:
    """Questions, contexts and reference answers with the reviews' ids and categories (the real
    ones are not available); the model's answers are the released ones."""
    folder.mkdir(parents=True)
    lines = {"questions.jsonl": [], "context.jsonl": [], "answers_gpt4.jsonl": []}
    for review in reviews:
        qid, image = review["question_id"], f"{review['question_id']:03d}.jpg"
        category = review["category"].removeprefix("llava_bench_")
        lines["questions.jsonl"].append(
            {"image": image, "text": "Describe this photo in detail.", "category": category,
             "question_id": qid}
        )  # fmt: skip
        lines["context.jsonl"].append({"id": qid, "image": image, "caption": "a placeholder"})
        lines["answers_gpt4.jsonl"].append(
            {
                "question_id": qid,
                "text": "A placeholder reference.",
                "answer_id": review["answer1_id"],
            }
        )
    for name, records in lines.items():
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in records))
    shutil.copy(answers_file, folder / "answers.jsonl")
    return folder


@pytest.mark.parametrize(("model", "run"), RUNS)
def test_replaying_the_released_reviews(
    shared_suite, suite_fixtures, tmp_path, judge_env, model, run
):
    folder = shared_suite / "llava-bench-in-the-wild"
    released = folder / f"reviews/llava-v1.5-{model}-eval{run}.jsonl"
    if not released.is_file():
        pytest.skip(f"{released.name} is withheld from this copy (a held-out check)")
    reviews = read_jsonl(released, "reviews")
    bench = _placeholder_inputs(
        reviews, tmp_path / "bench", folder / f"answers/llava-v1.5-{model}.jsonl"
    )
    shutil.copy(suite_fixtures / "llava-bench/rule.json", bench)
    recorded = {}
    for review, answer in zip(reviews, read_jsonl(bench / "answers.jsonl", "a"), strict=True):
        assert review["answer2_id"] == answer["answer_id"]
        recorded[answer["text"]] = review["content"]
    output = tmp_path / "reviews" / released.name
    with StubJudge(lambda body: recorded[_assistant2(body)], model="gpt-4-0314") as stub:
        judge_env(stub)
        assert eval_gpt_review_bench.main(_review_argv(bench, output)) == 0
    assert _without_judge_model(output) == reviews
    expected = json.loads((shared_suite / "EXPECTED_RESULTS.json").read_text())
    runs = expected["llava_bench_in_the_wild"][f"llava-v1.5-{model}"]["runs_all_relative"]
    assert summarize(read_jsonl(output, "r"))["all"][0] == runs[run - 1]


def test_registry_entry(tmp_path: Path) -> None:
    entry = get_benchmark("llavabench")
    assert (entry.scoring, entry.answering, entry.score) == ("judge", "llava.eval.model_vqa", None)
    assert entry.answers_file(tmp_path, "m") == tmp_path / "llava-bench-in-the-wild/answers/m.jsonl"
