"""The POPE, MME and TextVQA writers: determinism, exact formats, the real scorers on them."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from llava.synthetic.__main__ import main
from llava.synthetic.files import SCENES_FILE
from llava.synthetic.mme import MME_CATEGORIES
from llava.synthetic.pope import POPE_SPLITS
from llava.synthetic.questions import INSTRUCTION, MME_SUFFIX, OCR_PREFIX
from llava.synthetic.seeding import derive_seed
from llava.synthetic.suite import BenchmarkSizes, write_benchmarks

SIZES = BenchmarkSizes(
    pope_images=5, pope_pairs=2, mme_images=4, textvqa_images=5, textvqa_questions_per_image=2,
    nonsquare_prob=0.3,
)  # fmt: skip
QUESTION_KEYS = ["question_id", "image", "text", "category"]
BENCHMARKS = ("pope", "mme", "textvqa")


def _write(root: Path, seed: int, split: str = "test") -> Path:
    write_benchmarks(root, seed=seed, split=split, sizes=SIZES, benchmarks=BENCHMARKS)
    return root


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return _write(tmp_path_factory.mktemp("synthetic"), seed=0)


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _majority(answers: list[str]) -> str:
    return Counter(a.lower() for a in answers).most_common(1)[0][0]


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_same_seed_gives_identical_files_and_other_seeds_differ(root, tmp_path):
    again = _files(_write(tmp_path / "again", seed=0))
    assert again == _files(root)
    other = _files(_write(tmp_path / "other", seed=1))
    assert set(other) != set(again) or any(other[k] != again[k] for k in again)
    assert other["pope/llava_pope_test.jsonl"] != again["pope/llava_pope_test.jsonl"]
    train = _files(_write(tmp_path / "train", seed=0, split="train"))
    assert train["MME/llava_mme.jsonl"] != again["MME/llava_mme.jsonl"]
    assert derive_seed(0, "train", "pope/scene/0") != derive_seed(0, "test", "pope/scene/0")


def test_layout(root):
    expected = [
        "pope/llava_pope_test.jsonl",
        *(f"pope/coco/coco_pope_{s}.json" for s in ("adversarial", "popular", "random")),
        "MME/llava_mme.jsonl",
        "textvqa/llava_textvqa_val_v051_ocr.jsonl",
        "textvqa/TextVQA_0.5.1_val.json",
        f"pope/{SCENES_FILE}", f"MME/{SCENES_FILE}", f"textvqa/{SCENES_FILE}",
    ]  # fmt: skip
    for name in expected:
        assert (root / name).is_file(), name
    release = root / "MME" / "MME_Benchmark_release_version"
    assert sorted(p.name for p in release.iterdir()) == sorted(MME_CATEGORIES)
    sizes = set()
    for png in root.rglob("*.png"):
        with Image.open(png) as image:
            assert image.format == "PNG" and image.mode == "RGB"
            assert max(image.size) == 336
            sizes.add(image.size)
    assert (336, 336) in sizes


def test_pope_files(root):
    questions = _jsonl(root / "pope" / "llava_pope_test.jsonl")
    per_split = 2 * SIZES.pope_images * SIZES.pope_pairs
    assert len(questions) == 3 * per_split
    assert all(list(q) == QUESTION_KEYS for q in questions)
    assert [q["category"] for q in questions] == [s for s in POPE_SPLITS for _ in range(per_split)]
    offsets = {"adversarial": 0, "random": 10_000_000, "popular": 20_000_000}
    for split in POPE_SPLITS:
        block = [q for q in questions if q["category"] == split]
        assert [q["question_id"] for q in block] == [
            offsets[split] + i + 1 for i in range(per_split)
        ]
        labels = _jsonl(root / "pope" / "coco" / f"coco_pope_{split}.json")
        assert all(list(r) == ["question_id", "image", "text", "label"] for r in labels)
        assert [r["question_id"] for r in labels] == list(range(1, per_split + 1))
        assert [r["label"] for r in labels] == ["yes", "no"] * (per_split // 2)
        for question, label in zip(block, labels, strict=True):
            assert question["image"] == label["image"]
            assert question["text"] == label["text"] + "\n" + INSTRUCTION
            assert label["text"].startswith("Is there a ") and label["text"].endswith(
                " in the image?"
            )
            assert (root / "pope" / "val2014" / question["image"]).is_file()
    assert len({q["question_id"] for q in questions}) == len(questions)


def test_mme_files(root):
    questions = _jsonl(root / "MME" / "llava_mme.jsonl")
    release = root / "MME" / "MME_Benchmark_release_version"
    assert len(questions) == 2 * len(MME_CATEGORIES) * SIZES.mme_images
    assert all(list(q) == QUESTION_KEYS for q in questions)
    assert [q["category"] for q in questions[:: 2 * SIZES.mme_images]] == list(MME_CATEGORIES)
    for first, second in zip(questions[::2], questions[1::2], strict=True):
        assert first["question_id"] == first["image"] == second["question_id"] == second["image"]
        category, name = first["image"].split("/")
        assert category == first["category"] and name.endswith(".png")
        assert (release / first["image"]).is_file()
        lines = (release / category / name.replace(".png", ".txt")).read_text().split("\n")
        assert lines[2:] == [""] and len(lines) == 3  # two lines, each ending in a newline
        gt = [line.split("\t") for line in lines[:2]]
        assert [answer for _, answer in gt] == ["Yes", "No"]
        for (question, _), row in zip(gt, (first, second), strict=True):
            assert question.endswith(MME_SUFFIX) and question.count("?") == 1
            assert row["text"] == question.replace(MME_SUFFIX, "\n" + INSTRUCTION)


def test_textvqa_files(root):
    questions = _jsonl(root / "textvqa" / "llava_textvqa_val_v051_ocr.jsonl")
    dataset = json.loads((root / "textvqa" / "TextVQA_0.5.1_val.json").read_text())
    data = dataset["data"]
    n = SIZES.textvqa_images * SIZES.textvqa_questions_per_image
    assert len(questions) == len(data) == n
    assert all(list(q) == QUESTION_KEYS and q["category"] == "default" for q in questions)
    for question, entry in zip(questions, data, strict=True):
        assert question["question_id"] == entry["image_id"] and len(entry["image_id"]) == 16
        assert question["image"] == entry["image_id"] + ".png"
        assert (root / "textvqa" / "train_images" / question["image"]).is_file()
        lines = question["text"].split("\n")
        assert lines[0] == entry["question"] and lines[2] == INSTRUCTION
        assert lines[1].startswith(OCR_PREFIX)
        ocr = lines[1][len(OCR_PREFIX) :].split(", ")
        assert len(entry["answers"]) == 10 and all(isinstance(a, str) for a in entry["answers"])
        word = _majority(entry["answers"])
        assert word in ocr and sum(a.lower() == word for a in entry["answers"]) >= 8
    keys = [(e["image_id"], e["question"].lower()) for e in data]
    assert len(set(keys)) == len(keys)
    assert len({e["question_id"] for e in data}) == len(data)


def _answers_file(path: Path, questions: list[dict], replies: list[str]) -> Path:
    with path.open("w") as f:
        for i, (question, reply) in enumerate(zip(questions, replies, strict=True)):
            f.write(json.dumps({
                "question_id": question["question_id"], "prompt": question["text"],
                "text": reply, "answer_id": f"a{i}", "model_id": "synthetic", "metadata": {},
            }) + "\n")  # fmt: skip
    return path


def test_real_pope_scorer(root, tmp_path):
    pope = pytest.importorskip("llava.benchmarks.pope")
    question_file = root / "pope" / "llava_pope_test.jsonl"
    questions = _jsonl(question_file)
    labels = {
        s: [r["label"] for r in _jsonl(root / "pope" / "coco" / f"coco_pope_{s}.json")]
        for s in POPE_SPLITS
    }
    truth = [lab.capitalize() for s in POPE_SPLITS for lab in labels[s]]
    perfect = _answers_file(tmp_path / "perfect.jsonl", questions, truth)
    result = pope.evaluate_pope(root / "pope" / "coco", question_file, perfect)
    assert sorted(result.splits) == sorted(POPE_SPLITS)
    for split_result in result.splits.values():
        assert split_result.accuracy == 1.0 and split_result.f1 == 1.0
    all_yes = _answers_file(tmp_path / "yes.jsonl", questions, ["Yes"] * len(questions))
    result = pope.evaluate_pope(root / "pope" / "coco", question_file, all_yes)
    for split_result in result.splits.values():
        assert split_result.accuracy == 0.5 and split_result.recall == 1.0
        assert split_result.precision == 0.5 and split_result.yes_ratio == 1.0
        assert split_result.f1 == pytest.approx(2 / 3)


def test_real_mme_scorer(root, tmp_path):
    mme = pytest.importorskip("llava.benchmarks.mme")
    questions = _jsonl(root / "MME" / "llava_mme.jsonl")
    release = root / "MME" / "MME_Benchmark_release_version"
    perfect = _answers_file(
        tmp_path / "perfect.jsonl", questions, ["Yes", "No"] * (len(questions) // 2)
    )
    result = mme.evaluate_mme(release, perfect)
    assert list(result.categories) == list(MME_CATEGORIES)
    assert all(r.score == 200.0 for r in result.categories.values())
    assert result.perception == 200.0 * len(MME_CATEGORIES)
    all_yes = _answers_file(tmp_path / "yes.jsonl", questions, ["Yes"] * len(questions))
    result = mme.evaluate_mme(release, all_yes)
    assert all(r.acc == 0.5 and r.acc_plus == 0.0 for r in result.categories.values())
    assert all(r.score == 50.0 for r in result.categories.values())


def test_real_textvqa_scorer(root, tmp_path):
    textvqa = pytest.importorskip("llava.benchmarks.textvqa")
    questions = _jsonl(root / "textvqa" / "llava_textvqa_val_v051_ocr.jsonl")
    data = json.loads((root / "textvqa" / "TextVQA_0.5.1_val.json").read_text())["data"]
    words = [_majority(e["answers"]) for e in data]
    annotation = root / "textvqa" / "TextVQA_0.5.1_val.json"
    perfect = _answers_file(tmp_path / "perfect.jsonl", questions, [w.capitalize() for w in words])
    assert textvqa.evaluate_textvqa(annotation, perfect).accuracy == 1.0
    all_yes = _answers_file(tmp_path / "yes.jsonl", questions, ["yes"] * len(questions))
    result = textvqa.evaluate_textvqa(annotation, all_yes)
    assert result.samples == len(questions) and result.accuracy == 0.0


def test_cli(tmp_path, capsys):
    main([
        "--root", str(tmp_path), "--seed", "3", "--pope-images", "2", "--mme-images", "1",
        "--textvqa-images", "2", "--benchmarks", "pope,mme,textvqa", "--no-progress",
    ])  # fmt: skip
    out = capsys.readouterr().out
    assert "pope: 24 questions" in out and "mme: 8 questions" in out and "textvqa: 4" in out
    assert len(_jsonl(tmp_path / "pope" / "llava_pope_test.jsonl")) == 24
    with pytest.raises(ValueError):
        BenchmarkSizes(textvqa_questions_per_image=0)
