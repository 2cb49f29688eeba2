"""VQAv2: LLaVA's conversion for EvalAI, a check of the upload, and the official VQA accuracy on
a split with public answers.

- Conversion (haotian-liu/LLaVA c121f04, scripts/convert_vqav2_for_submission.py): the answers
  of `answers/<split>/<ckpt>/merge.jsonl`, keyed by question_id, give one entry per question of
  the *full* test2015 list (EvalAI wants every test2015 question in every phase), in its order:
  `{"question_id": id, "answer": EvalAI-processed text}`, or `""` for a question without an
  answer. The upload is that JSON array as `json.dump` writes it by default.
- Scoring (EvalAI's VQA challenge: GT-Vision-Lab/VQA c4e6a0e, vqaEval.py): the uploaded answer
  is processed *again* (`vqa_eval_prediction`), the ten human answers get the punctuation step
  when they disagree, then the leave-one-out accuracy; overall, per answer type and per
  question type are 100 x the mean, rounded to 2 decimals. Test-dev answers are hidden, so this
  runs on a split with public answers (val2014 in the official VQA format, or the synthetic
  stand-in): LLaVA answer files go through the converter, then the server's processing.

Where LLaVA's converter uploads "" for unanswered questions of the split or skips unreadable
lines, this module refuses with a message naming the file. Nothing here prints.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from llava.benchmarks.answer_checks import (
    check_answer_keys,
    check_answer_texts,
    degenerate_answer_warnings,
)
from llava.benchmarks.jsonl import read_json, read_jsonl
from llava.benchmarks.registry import Benchmark, Score
from llava.benchmarks.vqa_answers import (
    evalai_answer,
    leave_one_out_accuracy,
    vqa_eval_human_answers,
    vqa_eval_prediction,
)

SPLIT = "llava_vqav2_mscoco_test-dev2015"  # LLaVA's vqav2.sh
TEST_QUESTION_FILE = "llava_vqav2_mscoco_test2015.jsonl"  # every test2015 question
DECIMALS = 2  # vqaEval.py's default precision (n=2)
ANNOTATION_KEYS = ("question_id", "question_type", "answer_type", "answers")


def read_questions(path: str | Path, what: str = "VQAv2 question file") -> list[dict]:
    """A LLaVA question file: one question per line with an int `question_id`, none twice."""
    questions = read_jsonl(path, what)
    seen = set()
    for line, question in enumerate(questions, start=1):
        qid = question.get("question_id")
        if not isinstance(qid, int) or isinstance(qid, bool):
            raise ValueError(f"{what} {path}, question #{line}: 'question_id' must be an int")
        if qid in seen:
            raise ValueError(f"{what} {path}: question_id {qid} appears more than once")
        seen.add(qid)
    return questions


def convert_for_submission(
    answers: Sequence[dict],
    answers_path: str | Path,
    test_questions: Sequence[dict],
    split_questions: Sequence[dict],
) -> list[dict]:
    """The EvalAI upload: every test2015 question, in order, answered where the split is.

    The answers must cover the split's questions exactly (the split is a subset of test2015).
    """
    test_ids = {q["question_id"] for q in test_questions}
    outside = [q["question_id"] for q in split_questions if q["question_id"] not in test_ids]
    if outside:
        raise ValueError(
            f"{len(outside)} questions of the split are not in the test2015 question file "
            f"(e.g. {outside[0]}); use {TEST_QUESTION_FILE} of the same release"
        )
    check_answer_texts(answers, answers_path)
    split_ids = [q["question_id"] for q in split_questions]
    check_answer_keys(answers, answers_path, split_ids, key=lambda a: a.get("question_id"))
    texts = {answer["question_id"]: answer["text"] for answer in answers}
    return [
        {"question_id": qid, "answer": evalai_answer(texts[qid]) if qid in texts else ""}
        for qid in (q["question_id"] for q in test_questions)
    ]


def upload_text(upload: Sequence[dict]) -> str:
    """The upload file's content, byte for byte as LLaVA's `json.dump(all_answers, f)`."""
    return json.dumps(list(upload))


def check_upload(upload: object, test_questions: Sequence[dict], path: str | Path) -> int:
    """What EvalAI needs: a JSON array with one `{"question_id": int, "answer": str}` per
    test2015 question, none missing, repeated or foreign. Returns the non-empty answers."""
    if not isinstance(upload, list):
        raise ValueError(f"{path}: an upload is a JSON array of {{question_id, answer}} objects")
    seen = set()
    for position, entry in enumerate(upload, start=1):
        if not isinstance(entry, dict) or set(entry) != {"question_id", "answer"}:
            raise ValueError(
                f"{path}, entry #{position}: expected exactly the keys question_id and answer"
            )
        qid = entry["question_id"]
        if not isinstance(qid, int) or isinstance(qid, bool) or qid in seen:
            raise ValueError(f"{path}, entry #{position}: question_id {qid!r} is not a new int")
        if not isinstance(entry["answer"], str):
            raise ValueError(f"{path}, entry #{position}: the answer must be a string")
        seen.add(qid)
    expected = {q["question_id"] for q in test_questions}
    if seen != expected:
        raise ValueError(
            f"{path}: {len(seen)} entries, {len(expected - seen)} test2015 questions missing and "
            f"{len(seen - expected)} foreign question ids; EvalAI needs all {len(expected)} "
            f"questions of {TEST_QUESTION_FILE}, each once"
        )
    return sum(1 for entry in upload if entry["answer"])


# --- The official accuracy on a split with public answers --------------------------------------


def load_annotations(annotation_file: str | Path, question_file: str | Path) -> dict[int, dict]:
    """An official-format annotation file (`{"annotations": [...]}`) checked against its question
    file (`{"questions": [...]}`): question_id -> annotation, in annotation-file order."""
    content = read_json(annotation_file, "VQA annotation file")
    if not isinstance(content, dict) or not isinstance(content.get("annotations"), list):
        raise ValueError(f'{annotation_file}: expected {{"annotations": [...]}} (official format)')
    annotations: dict[int, dict] = {}
    for position, ann in enumerate(content["annotations"], start=1):
        if not isinstance(ann, dict) or not all(key in ann for key in ANNOTATION_KEYS):
            raise ValueError(
                f"{annotation_file}, annotation #{position}: needs {', '.join(ANNOTATION_KEYS)}"
            )
        qid, records = ann["question_id"], ann["answers"]
        if not records or not all(
            isinstance(r, dict) and isinstance(r.get("answer"), str) for r in records
        ):
            raise ValueError(
                f"{annotation_file}, question_id {qid}: answers must be a list of "
                "{answer, answer_confidence, answer_id} with string answers"
            )
        if qid in annotations:
            raise ValueError(f"{annotation_file}: question_id {qid} is annotated twice")
        if any(records.count(record) > 1 for record in records):
            # vqaEval.py leaves out every record equal to the current one, not just itself
            raise ValueError(
                f"{annotation_file}, question_id {qid}: two identical answer records (answer_id "
                "repeats); each human answer needs its own answer_id"
            )
        annotations[qid] = ann
    questions = read_json(question_file, "VQA question file")
    if not isinstance(questions, dict) or not isinstance(questions.get("questions"), list):
        raise ValueError(f'{question_file}: expected {{"questions": [...]}} (official format)')
    question_ids = {q.get("question_id") for q in questions["questions"]}
    if question_ids != set(annotations):
        raise ValueError(
            f"{question_file} and {annotation_file} do not list the same questions "
            f"({len(question_ids)} vs {len(annotations)}); use the pair of one split"
        )
    return annotations


def _mean_percent(values: Sequence[float]) -> float:
    return round(100 * float(sum(values)) / len(values), DECIMALS)  # vqaEval.setAccuracy


@dataclass(frozen=True)
class VQAv2Result:
    per_question: dict[int, float]  # question_id -> accuracy (a fraction), annotation order
    overall: float  # as the server reports it: 100 x mean, 2 decimals
    per_answer_type: dict[str, float]
    per_question_type: dict[str, float]
    warnings: list[str] = field(default_factory=list)

    @property
    def samples(self) -> int:
        return len(self.per_question)

    def to_dict(self) -> dict:
        return {
            "samples": self.samples,
            "overall": self.overall,
            "per_answer_type": self.per_answer_type,
            "per_question_type": self.per_question_type,
            "warnings": self.warnings,
        }


def score_uploaded_answers(
    uploaded: Mapping[int, str], annotations: Mapping[int, dict]
) -> VQAv2Result:
    """The server's scoring of uploaded (already converted) answers, one per annotated question."""
    per_question: dict[int, float] = {}
    by_answer_type: dict[str, list[float]] = {}
    by_question_type: dict[str, list[float]] = {}
    for qid, ann in annotations.items():
        humans = vqa_eval_human_answers([record["answer"] for record in ann["answers"]])
        accuracy = leave_one_out_accuracy(vqa_eval_prediction(uploaded[qid]), humans)
        per_question[qid] = accuracy
        by_answer_type.setdefault(ann["answer_type"], []).append(accuracy)
        by_question_type.setdefault(ann["question_type"], []).append(accuracy)
    return VQAv2Result(
        per_question=per_question,
        overall=_mean_percent(list(per_question.values())),
        per_answer_type={name: _mean_percent(v) for name, v in by_answer_type.items()},
        per_question_type={name: _mean_percent(v) for name, v in by_question_type.items()},
    )


def read_upload(path: str | Path, annotations: Mapping[int, dict]) -> dict[int, str]:
    """An upload file's answers to the annotated questions (other entries are ignored, as the
    server scores a phase's questions only); every annotated question must be there once."""
    upload = read_json(path, "VQAv2 upload file")
    if not isinstance(upload, list) or not all(isinstance(e, dict) for e in upload):
        raise ValueError(f"{path}: an upload is a JSON array of {{question_id, answer}} objects")
    if not all(isinstance(e.get("answer"), str) for e in upload):
        raise ValueError(f"{path}: every entry needs a string 'answer'")
    ids = [e.get("question_id") for e in upload]
    wanted = [e for e in upload if e.get("question_id") in annotations]
    if len(ids) != len(set(ids)):
        raise ValueError(f"{path}: {len(ids) - len(set(ids))} question ids appear twice")
    if len(wanted) != len(annotations):
        raise ValueError(
            f"{path}: answers {len(wanted)} of the {len(annotations)} annotated questions; the "
            "upload must cover the whole split"
        )
    return {e["question_id"]: e["answer"] for e in wanted}


def evaluate_upload(
    annotation_file: str | Path, question_file: str | Path, upload_file: str | Path
) -> VQAv2Result:
    """Score an EvalAI upload file (converted answers) on a split with public answers."""
    annotations = load_annotations(annotation_file, question_file)
    return score_uploaded_answers(read_upload(upload_file, annotations), annotations)


def evaluate_answers(
    annotation_file: str | Path, question_file: str | Path, answers_file: str | Path
) -> VQAv2Result:
    """Score a LLaVA answers file as the server would score its upload: LLaVA's conversion, then
    the official processing and accuracy."""
    annotations = load_annotations(annotation_file, question_file)
    answers = read_jsonl(answers_file, "VQAv2 answers file")
    check_answer_texts(answers, answers_file)
    check_answer_keys(answers, answers_file, annotations, key=lambda a: a.get("question_id"))
    uploaded = {answer["question_id"]: evalai_answer(answer["text"]) for answer in answers}
    result = score_uploaded_answers(uploaded, annotations)
    return replace(result, warnings=degenerate_answer_warnings(answers, answers_file))


# The synthetic stand-in's public answers, in the official formats (llava.synthetic.vqav2).
SYNTHETIC_ANNOTATIONS = "vqav2/synthetic_test-dev2015_annotations.json"
SYNTHETIC_QUESTIONS = "vqav2/synthetic_test-dev2015_questions.json"


def _score(data_root: Path, answers: Path) -> Score:
    root = Path(data_root)
    result = evaluate_answers(root / SYNTHETIC_ANNOTATIONS, root / SYNTHETIC_QUESTIONS, answers)
    return Score(result.overall, result.to_dict())


def _write_synthetic(data_root: Path, *, seed: int, images: int, progress: bool = False) -> dict:
    from llava.synthetic.vqav2 import write_vqav2

    return write_vqav2(data_root, seed=seed, images=images, progress=progress)


BENCHMARK = Benchmark(
    name="vqav2",
    title="VQAv2 (test-dev)",
    metric="VQAv2",  # VQA accuracy x100; the real number comes from EvalAI
    scoring="server",
    question_file=f"vqav2/{SPLIT}.jsonl",
    image_folder="vqav2/test2015",
    answers=f"vqav2/answers/{SPLIT}/{{experiment}}/merge.jsonl",
    score=_score,
    write_synthetic=_write_synthetic,
)
