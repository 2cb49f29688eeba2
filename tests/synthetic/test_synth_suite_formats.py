"""The new stand-ins' files: determinism, layout, fields, types, ids, suffixes, images."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import sys
from pathlib import Path

import pytest
from PIL import Image

from llava.synthetic.__main__ import main
from llava.synthetic.files import SCENES_FILE

GQA_SUFFIX = "\nAnswer the question using a single word or phrase."
LETTER_SUFFIX = "\nAnswer with the option's letter from the given choices directly."
VIZWIZ_SUFFIX = (
    "\nWhen the provided information is insufficient, respond with 'Unanswerable'."
    "\nAnswer the question using a single word or phrase."
)
MMBENCH_COLUMNS = [
    "index", "question", "hint", "A", "B", "C", "D", "answer", "category", "image", "source",
    "l2-category", "comment", "split",
]  # fmt: skip
SCENE_FOLDERS = (
    "gqa", "scienceqa", "mmbench", "mmbench_cn", "vqav2", "vizwiz", "seed_bench", "mm-vet",
    "llava-bench-in-the-wild",
)  # fmt: skip


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _decodable(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        image.load()
        assert image.format == "PNG" and image.mode == "RGB"
        return image.size


def _tsv(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(sys.maxsize)
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    assert rows[0] == MMBENCH_COLUMNS
    assert all(len(row) == len(MMBENCH_COLUMNS) for row in rows)
    return [dict(zip(MMBENCH_COLUMNS, row, strict=True)) for row in rows[1:]]


def test_same_arguments_same_bytes_other_seed_or_split_differ(suite_root, write_suite, tmp_path):
    first = _files(suite_root)
    write_suite(tmp_path / "again")
    assert _files(tmp_path / "again") == first
    write_suite(tmp_path / "other", seed=1)
    other = _files(tmp_path / "other")
    write_suite(tmp_path / "train", split="train")
    train = _files(tmp_path / "train")
    for name in ("gqa/llava_gqa_testdev_balanced.jsonl", "mmbench/mmbench_dev_20230712.tsv",
                 "seed_bench/SEED-Bench.json", "mm-vet/mm-vet.json"):  # fmt: skip
        assert other[name] != first[name] and train[name] != first[name], name


def test_counts_sum_to_the_answered_lines(suite):
    root, counts = suite
    lines = {
        "gqa": len(_jsonl(root / "gqa" / "llava_gqa_testdev_balanced.jsonl")),
        "sqa": len(_json(root / "scienceqa" / "llava_test_CQM-A.json")),
        "mmbench": len(_tsv(root / "mmbench" / "mmbench_dev_20230712.tsv")),
        "mmbench_cn": len(_tsv(root / "mmbench_cn" / "mmbench_dev_cn_20231003.tsv")),
        "vqav2": len(_jsonl(root / "vqav2" / "llava_vqav2_mscoco_test-dev2015.jsonl")),
        "vizwiz": len(_jsonl(root / "vizwiz" / "llava_test.jsonl")),
        "seed": len(_jsonl(root / "seed_bench" / "llava-seed-bench.jsonl")),
        "mmvet": len(_jsonl(root / "mm-vet" / "llava-mm-vet.jsonl")),
        "llavabench": len(_jsonl(root / "llava-bench-in-the-wild" / "questions.jsonl")),
    }
    assert {name: sum(per_category.values()) for name, per_category in counts.items()} == lines
    assert counts["seed"] == dict.fromkeys(counts["seed"], 1)  # 9 image + 3 video dimensions
    assert len(counts["seed"]) == 12 and all(n > 0 for n in counts["mmbench"].values())


def test_gqa(suite_root):
    folder = suite_root / "gqa"
    questions = _jsonl(folder / "llava_gqa_testdev_balanced.jsonl")
    truth = _json(folder / "data" / "testdev_balanced_questions.json")
    assert len(questions) == 5 * 3 and list(truth) == [q["question_id"] for q in questions]
    structural = set()
    for q in questions:
        assert list(q) == ["question_id", "image", "text", "category"]
        assert isinstance(q["question_id"], str) and q["question_id"].isdigit()
        assert q["category"] == "default" and q["text"].endswith(GQA_SUFFIX)
        entry = truth[q["question_id"]]
        assert entry["question"] == q["text"][: -len(GQA_SUFFIX)]
        assert q["image"] == entry["imageId"] + ".png" and re.fullmatch(r"n\d+", entry["imageId"])
        assert _decodable(folder / "data" / "images" / q["image"])
        assert entry["isBalanced"] is True and entry["answer"] == entry["answer"].lower()
        types = entry["types"]
        assert types["structural"] in ("verify", "logical", "choose", "compare", "query")
        assert types["semantic"] in ("attr", "cat", "global", "obj", "rel")
        assert (entry["groups"]["global"] is None) == (types["structural"] != "query")
        if types["structural"] in ("verify", "logical", "compare"):
            assert entry["answer"] in ("yes", "no")
        steps = entry["semantic"]
        assert steps and all(set(s) == {"operation", "dependencies", "argument"} for s in steps)
        assert all(d < k for k, s in enumerate(steps) for d in s["dependencies"])
        structural.add(types["structural"])
    assert "query" in structural and structural - {"query"}  # open and binary questions


def test_scienceqa(suite_root):
    folder = suite_root / "scienceqa"
    items = _json(folder / "llava_test_CQM-A.json")
    problems = _json(folder / "problems.json")
    assert _json(folder / "pid_splits.json") == {"test": [item["id"] for item in items]}
    assert list(problems) == [item["id"] for item in items] and len(items) == 6 + 3
    with_image = [item for item in items if "image" in item]
    assert len(with_image) == 6 and any(
        "Context: " in i["conversations"][0]["value"] for i in items
    )
    for item in items:
        assert list(item) == ["id", "image", "conversations"][: len(item) - 1] + ["conversations"]
        human, gpt = item["conversations"]
        assert (human["from"], gpt["from"]) == ("human", "gpt")
        problem = problems[item["id"]]
        assert problem["split"] == "test" and 2 <= len(problem["choices"]) <= 5
        assert gpt["value"] == "ABCDE"[problem["answer"]]
        options = "\n".join(f"{'ABCDE'[k]}. {c}" for k, c in enumerate(problem["choices"]))
        assert human["value"].endswith(f"{problem['question']}\n{options}")
        if "image" in item:
            assert item["image"] == f"{item['id']}/image.png" and problem["image"] == "image.png"
            assert human["value"].startswith("<image>\n")
            assert _decodable(folder / "images" / "test" / item["image"])
        else:
            assert problem["image"] is None and "<image>" not in human["value"]
        if problem["hint"]:
            assert f"Context: {problem['hint']}\n" in human["value"]


@pytest.mark.parametrize("lang", ["en", "cn"])
def test_mmbench_rows_and_rotations(suite_root, lang):
    path = {
        "en": "mmbench/mmbench_dev_20230712.tsv",
        "cn": "mmbench_cn/mmbench_dev_cn_20231003.tsv",
    }
    rows = _tsv(suite_root / path[lang])
    by_index = {int(r["index"]): r for r in rows}
    assert len(by_index) == len(rows)
    mains = [r for r in rows if int(r["index"]) < 1_000_000]
    assert [int(r["index"]) for r in mains] == list(range(10))
    assert rows[: len(mains)] == mains  # main rows first, then the copies block by block
    assert sum(1 for r in mains if r["hint"]) < len(mains)  # most hints empty
    for main_row in mains:
        options = [main_row[c] for c in "ABCD" if main_row[c]]
        n = len(options)
        assert 2 <= n <= 4 and all(not main_row[c] for c in "ABCD"[n:])
        true_option = main_row[main_row["answer"]]
        for k in range(1, 4):
            copy = by_index.get(int(main_row["index"]) + k * 1_000_000)
            assert (copy is not None) == (k < n)
            if copy is None:
                continue
            shown = [copy[c] for c in "ABCD"[:n]]
            assert shown == [options[(j - k) % n] for j in range(n)]
            assert copy[copy["answer"]] == true_option
            same = ("question", "hint", "category", "image", "l2-category", "split")
            assert all(copy[c] == main_row[c] for c in same)
        assert main_row["split"] == "dev" and main_row["comment"] == ""
        with Image.open(io.BytesIO(base64.b64decode(main_row["image"]))) as image:
            assert image.format == "PNG" and max(image.size) == 336
        has_cjk = bool(re.search(r"[\u4e00-\u9fff]", main_row["question"]))
        assert has_cjk == (lang == "cn")


def test_mmbench_cn_translates_en(suite_root):
    en = _tsv(suite_root / "mmbench" / "mmbench_dev_20230712.tsv")
    cn = _tsv(suite_root / "mmbench_cn" / "mmbench_dev_cn_20231003.tsv")
    keep = ("index", "answer", "category", "image", "l2-category")
    assert [[r[c] for c in keep] for r in en] == [[r[c] for c in keep] for r in cn]
    assert [r["question"] for r in en] != [r["question"] for r in cn]


def test_mmbench_reads_with_pandas(suite_root):
    pandas = pytest.importorskip("pandas")
    frame = pandas.read_table(suite_root / "mmbench" / "mmbench_dev_20230712.tsv")
    assert list(frame.columns) == MMBENCH_COLUMNS and frame["index"].dtype.kind == "i"
    two = frame[frame["C"].isna()]
    assert len(two) and two["D"].isna().all()  # an empty option cell ends the options


def test_vqav2(suite_root):
    folder = suite_root / "vqav2"
    test = _jsonl(folder / "llava_vqav2_mscoco_test2015.jsonl")
    dev = _jsonl(folder / "llava_vqav2_mscoco_test-dev2015.jsonl")
    questions = _json(folder / "synthetic_test-dev2015_questions.json")["questions"]
    annotations = _json(folder / "synthetic_test-dev2015_annotations.json")["annotations"]
    assert len(dev) == 4 * 3 and len(test) == (4 + 2) * 3
    dev_ids = [q["question_id"] for q in dev]
    assert [q for q in test if q["question_id"] in set(dev_ids)] == dev  # a subset, same order
    assert (
        [q["question_id"] for q in questions] == [a["question_id"] for a in annotations] == dev_ids
    )
    for q in test:
        assert isinstance(q["question_id"], int) and q["category"] == "default"
        image_id = q["question_id"] // 1000
        assert q["image"] == f"COCO_test2015_{image_id:012d}.png" and q["text"].endswith(GQA_SUFFIX)
        assert _decodable(folder / "test2015" / q["image"])
    for q, entry, line in zip(questions, annotations, dev, strict=True):
        assert line["text"] == q["question"] + GQA_SUFFIX
        assert entry["image_id"] == q["image_id"] == q["question_id"] // 1000
        assert entry["answer_type"] in ("yes/no", "number", "other")
        answers = entry["answers"]
        assert [a["answer_id"] for a in answers] == list(range(1, 11))
        assert all(a["answer_confidence"] in ("yes", "maybe", "no") for a in answers)
        assert sum(a["answer"] == entry["multiple_choice_answer"] for a in answers) >= 6
        assert entry["question_type"] == "none of the above" or q["question"].lower().startswith(
            entry["question_type"] + " "
        )
    assert len({a["answer"] for e in annotations for a in e["answers"]}) > len(annotations) / 2


def test_vizwiz(suite_root):
    folder = suite_root / "vizwiz"
    questions = _jsonl(folder / "llava_test.jsonl")
    annotations = _json(folder / "synthetic_test_annotations.json")
    assert [q["question_id"] for q in questions] == list(range(12))
    for q, entry in zip(questions, annotations, strict=True):
        assert q["image"] == f"VizWiz_test_{q['question_id']:08d}.png" == entry["image"]
        assert q["text"] == entry["question"] + VIZWIZ_SUFFIX and q["category"] == "default"
        assert _decodable(folder / "test" / q["image"])
        assert set(entry) == {"image", "question", "answers", "answer_type", "answerable"}
        assert len(entry["answers"]) == 10
        assert all(set(a) == {"answer", "answer_confidence"} for a in entry["answers"])
        unanswerable = entry["answer_type"] == "unanswerable"
        assert entry["answerable"] == int(not unanswerable)
        count = sum(a["answer"] == "unanswerable" for a in entry["answers"])
        assert count >= 6 if unanswerable else count == 0


def test_vizwiz_suffix_is_the_real_files(suite_root, shared_suite):
    real = json.loads((shared_suite / "vizwiz" / "llava_test.jsonl").open().readline())
    ours = _jsonl(suite_root / "vizwiz" / "llava_test.jsonl")[0]
    assert real["text"].endswith(VIZWIZ_SUFFIX) and ours["text"].endswith(VIZWIZ_SUFFIX)
    assert list(ours) == list(real)


def test_seed(suite_root):
    folder = suite_root / "seed_bench"
    lines = _jsonl(folder / "llava-seed-bench.jsonl")
    data = _json(folder / "SEED-Bench.json")
    assert list(data) == ["questions", "question_type"]
    assert sorted(data["question_type"].values()) == list(range(1, 13))
    names = {v: k for k, v in data["question_type"].items()}
    assert len(lines) == len(data["questions"]) == 12
    for line, entry in zip(lines, data["questions"], strict=True):
        assert str(line["question_id"]) == entry["question_id"]
        assert line["category"] == names[entry["question_type_id"]]
        options = [entry[f"choice_{c}"] for c in "abcd"]
        body = f"{entry['question']}\n" + "\n".join(
            f"{c}. {o}" for c, o in zip("ABCD", options, strict=True)
        )
        assert line["text"] == body + LETTER_SUFFIX and entry["answer"] in "ABCD"
        assert len(set(options)) == 4
        if entry["data_type"] == "image":
            assert isinstance(line["question_id"], int) and entry["question_type_id"] <= 9
            assert line["image"] == f"SEED-Bench-image/{entry['data_id']}"
        else:
            assert re.fullmatch(r"v\d+", line["question_id"]) and entry["question_type_id"] >= 10
            assert (
                line["image"]
                == f"SEED-Bench-video-image/{entry['question_type_id']}_{line['question_id']}.png"
            )
            assert ("segment" in entry) == (entry["question_type_id"] in (11, 12))
        assert _decodable(folder / line["image"])
    types = [e["data_type"] for e in data["questions"]]
    assert types == sorted(types, key=lambda t: t == "video")  # image questions first
    assert [line["question_id"] for line in lines if isinstance(line["question_id"], str)] == [
        "v0",
        "v1",
        "v2",
    ]


def test_mmvet(suite_root):
    folder = suite_root / "mm-vet"
    lines = _jsonl(folder / "llava-mm-vet.jsonl")
    truth = _json(folder / "mm-vet.json")
    assert [line["question_id"] for line in lines] == list(range(len(lines)))
    assert list(truth) == [f"v1_{line['question_id']}" for line in lines]
    order = ["rec", "ocr", "know", "gen", "spat", "math"]
    for line in lines:
        entry = truth[f"v1_{line['question_id']}"]
        assert (
            list(line) == ["image", "text", "category", "question_id"]
            and line["category"] == "conv"
        )
        assert entry["imagename"] == line["image"] and entry["question"] == line["text"]
        first = int(line["image"][len("v1_") : -len(".png")])
        assert first <= line["question_id"]  # named after the first question asked about it
        assert entry["capability"] == [c for c in order if c in entry["capability"]]
        assert entry["capability"] and entry["answer"]
        assert _decodable(folder / "images" / line["image"])
    assert (folder / "mm-vet.json").read_text().startswith('{\n    "v1_0": {')  # indented as real


def test_llavabench(suite_root):
    folder = suite_root / "llava-bench-in-the-wild"
    questions = _jsonl(folder / "questions.jsonl")
    contexts = _jsonl(folder / "context.jsonl")
    references = _jsonl(folder / "answers_gpt4.jsonl")
    assert [q["category"] for q in questions] == ["conv", "detail", "complex"] * 2
    assert [q["question_id"] for q in questions] == [r["question_id"] for r in references]
    assert [c["image"] for c in contexts] == ["001.png", "002.png"]
    assert [c["id"] for c in contexts] == ["001", "002"]
    for q, ref in zip(questions, references, strict=True):
        assert list(q) == ["image", "text", "category", "question_id"]
        assert list(ref) == ["question_id", "prompt", "text", "answer_id", "model_id", "metadata"]
        assert ref["prompt"] == q["text"] and ref["model_id"] == "gpt-4-0314"
        assert len(ref["answer_id"]) == 22 and ref["text"]
        assert _decodable(folder / "images" / q["image"])
    assert len({r["answer_id"] for r in references}) == len(references)


def test_scene_files_name_every_question(suite_root):
    for folder in SCENE_FOLDERS:
        rows = _jsonl(suite_root / folder / SCENES_FILE)
        assert rows, folder
        for row in rows:
            n = len(row["scene"]["objects"])
            assert row["questions"], folder
            for q in row["questions"]:
                assert {"text", "answer", "objects"} <= set(q)
                assert all(0 <= i < n for i in q["objects"]), (folder, q)


def test_cli_subset_and_errors(tmp_path, capsys):
    main(["--root", str(tmp_path), "--benchmarks", "seed,vizwiz", "--seed-images", "9",
          "--vizwiz-images", "2", "--no-progress"])  # fmt: skip
    out = capsys.readouterr().out
    assert "seed: 12 questions" in out and "vizwiz: 2 questions" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed_bench", "vizwiz"]
    for bad in (["--benchmarks", "gqa,nope"], ["--gqa-images", "-1"], ["--split", "a/b"]):
        with pytest.raises(SystemExit) as stop:
            main(["--root", str(tmp_path / "bad"), *bad])
        assert stop.value.code == 2
        err = capsys.readouterr().err
        assert "python -m llava.synthetic: error:" in err and "Traceback" not in err
    assert not (tmp_path / "bad").exists()
