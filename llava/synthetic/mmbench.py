"""Synthetic MMBench (dev) and MMBench-CN: multiple-choice questions in LLaVA's TSV.

    <root>/mmbench/mmbench_dev_20230712.tsv          (lang "en")
    <root>/mmbench_cn/mmbench_dev_cn_20231003.tsv    (lang "cn": the same questions in Chinese)
    and a synthetic_scenes.jsonl beside each

Columns as the real file: index, question, hint, A, B, C, D, answer, category, image (base64
PNG), source, l2-category, comment, split. Most hints are empty, questions have 2 to 4 options
(unused option columns empty) and the file holds the circular copies pre-rotated as the real
dev file does: question i has rows i + k * 1,000,000 (k = 1 .. n-1), all main rows first, then
every first copy, and so on. Copy k shows option j of the original at position (j + k) mod n,
the answer letter following its option: so do all 89 two-option groups and 935 of the 938
four-option ones of LLaVA's released mmbench_dev_20230712 submission (haotian-liu/LLaVA @
32cebc3809441cc40d8ac7b2855d148308741f2a, playground/data/eval/mmbench/answers_upload/
mmbench_dev_20230712/llava-v1.5-13b.xlsx). Tab-separated, quoted only where needed, so
`pandas.read_table` reads it like the real one (an empty cell is NaN).

MMBench-CN is MMBench translated: same images, same options order, Chinese text; the words on
the boxes stay as written in the image.
"""

from __future__ import annotations

import csv
import random
from functools import partial
from pathlib import Path

from llava.synthetic.choices import LETTERS, MultipleChoice, multiple_choice
from llava.synthetic.facts import (
    RELATION_PHRASES,
    name,
    only_of_shape,
    sample_fact,
    sample_fitting,
)
from llava.synthetic.files import (
    SCENES_FILE,
    png_base64,
    progress_bar,
    question_row,
    scene_row,
    write_jsonl,
)
from llava.synthetic.scenes import Scene
from llava.synthetic.seeding import TEST, make_rng

FILES = {
    "en": "mmbench/mmbench_dev_20230712.tsv",
    "cn": "mmbench_cn/mmbench_dev_cn_20231003.tsv",
}
COLUMNS = (
    "index",
    "question",
    "hint",
    "A",
    "B",
    "C",
    "D",
    "answer",
    "category",
    "image",
    "source",
    "l2-category",
    "comment",
    "split",
)
COPY_OFFSET = 1_000_000  # circular copy k of question i has index i + k * COPY_OFFSET
# category -> l2-category, in the style of MMBench's ability hierarchy.
CATEGORIES: dict[str, str] = {
    "attribute_recognition": "finegrained_perception (instance-level)",
    "ocr": "finegrained_perception (instance-level)",
    "object_localization": "finegrained_perception (instance-level)",
    "spatial_relationship": "finegrained_perception (cross-instance)",
    "attribute_comparison": "finegrained_perception (cross-instance)",
}
# Options per question, weighted as the groups of the real dev file (4: 938, 3: 149, 2: 89).
OPTION_COUNTS, OPTION_WEIGHTS = (2, 3, 4), (89, 149, 938)
HINT_PROB = 0.25
HINTS = {  # (any question, ocr questions)
    "en": ("The image shows colored shapes on a background.",
           "Some boxes in the image have words written on them."),
    "cn": ("图中是背景上的一些彩色形状。", "图中有些方框上写着单词。"),
}  # fmt: skip
CN = {
    "red": "红色", "blue": "蓝色", "green": "绿色", "yellow": "黄色", "white": "白色",
    "black": "黑色", "purple": "紫色", "pink": "粉色",
    "circle": "圆形", "square": "正方形", "triangle": "三角形", "star": "星形", "diamond": "菱形",
    "cross": "十字形", "box": "方框",
    "top left": "左上角", "top right": "右上角", "bottom left": "左下角", "bottom right": "右下角",
    "left side": "左侧", "right side": "右侧", "Yes": "是", "No": "否",
    "left": "左边", "right": "右边", "above": "上方", "below": "下方",
}  # fmt: skip


def translate(text: str) -> str:
    """Chinese for an option or a name: "red circle" -> "红色圆形"; box words stay as written."""
    if text in CN:
        return CN[text]
    parts = text.split()
    if len(parts) == 2 and all(p in CN for p in parts):
        return CN[parts[0]] + CN[parts[1]]
    return text


def mmbench_question(
    scene: Scene, rng: random.Random, category: str
) -> tuple[MultipleChoice, str] | None:
    """(question with English options, its Chinese question text), or None."""
    n = rng.choices(OPTION_COUNTS, weights=OPTION_WEIGHTS)[0]
    if category == "attribute_comparison":
        named = only_of_shape(scene)
        if len(named) < 2:
            return None
        a, b = rng.sample(named, 2)
        sa, sb = scene.objects[a].shape, scene.objects[b].shape
        same = scene.objects[a].color == scene.objects[b].color
        question = f"Are the {sa} and the {sb} in the image the same color?"
        choice = multiple_choice(rng, question, "Yes" if same else "No", ("Yes", "No"), 2, (a, b))
        return choice, f"图中的{CN[sa]}和{CN[sb]}颜色相同吗？"
    topic = {"attribute_recognition": "color", "ocr": "word", "spatial_relationship": "relation"}
    if category == "object_localization":
        fact = sample_fact(scene, rng, "quadrant") or sample_fact(scene, rng, "side")
    else:
        fact = sample_fact(scene, rng, topic[category])
    if fact is None:
        return None
    obj = scene.objects[fact.target]
    if category == "attribute_recognition":
        question, cn = (
            f"What color is the {obj.shape} in the image?",
            f"图中的{CN[obj.shape]}是什么颜色？",
        )
    elif category == "ocr":
        question, cn = (
            f"What word is written on the {obj.color} box?",
            f"{CN[obj.color]}方框上写的是什么单词？",
        )
    elif category == "spatial_relationship":
        assert fact.reference is not None and fact.relation is not None
        reference = name(scene, fact.reference)
        question = f"Which shape is {RELATION_PHRASES[fact.relation]} the {reference}?"
        cn = f"哪个形状在{translate(reference)}的{CN[fact.relation]}？"
    else:
        question, cn = (
            f"Where is the {obj.name} in the image?",
            f"{translate(obj.name)}在图中的什么位置？",
        )
    answer, wrong = fact.answer, fact.wrong
    if fact.topic == "side":
        answer, wrong = f"{answer} side", tuple(f"{w} side" for w in wrong)
    return multiple_choice(rng, question, answer, wrong, n, fact.objects), cn


def rotations(choice: MultipleChoice) -> list[tuple[tuple[str, ...], int]]:
    """(options, answer index) of the original (k = 0) and of each circular copy k."""
    n = len(choice.options)
    return [
        (tuple(choice.options[(j - k) % n] for j in range(n)), (choice.answer + k) % n)
        for k in range(n)
    ]


def write_mmbench(
    root: str | Path,
    *,
    seed: int,
    split: str = TEST,
    images: int = 40,
    lang: str = "en",
    nonsquare_prob: float = 0.1,
    progress: bool = False,
) -> dict[str, int]:
    """Write MMBench's (lang "en") or MMBench-CN's ("cn") dev TSV under `root`.

    `images` questions, one image each, categories in turn; returns the TSV rows (questions
    the model answers, circular copies included) per category.
    """
    if lang not in FILES:
        raise ValueError(f"lang must be 'en' or 'cn', got {lang!r}")
    if images < 0:
        raise ValueError(f"images must be >= 0, got {images}")
    path = Path(root) / FILES[lang]
    path.parent.mkdir(parents=True, exist_ok=True)
    copies: list[list[list[str]]] = []  # per question, its TSV rows (original first)
    counts = dict.fromkeys(CATEGORIES, 0)
    scene_rows = []
    categories = list(CATEGORIES)
    for i in progress_bar(range(images), progress, f"mmbench ({lang}) images", images):
        category = categories[i % len(categories)]
        rng = make_rng(seed, split, f"mmbench/{i}")  # both languages: the same questions
        scene, (choice, cn_question) = sample_fitting(
            rng,
            partial(mmbench_question, category=category),
            num_objects=(3, 6),
            num_words=(0, 2),
            nonsquare_prob=nonsquare_prob,
        )
        hint = HINTS[lang][1 if category == "ocr" else 0] if rng.random() < HINT_PROB else ""
        question = cn_question if lang == "cn" else choice.question
        image = png_base64(scene)
        rows, asked = [], []
        for k, (options, answer) in enumerate(rotations(choice)):
            shown = [translate(o) if lang == "cn" else o for o in options]
            shown += [""] * (4 - len(shown))
            index = i + k * COPY_OFFSET
            rows.append(
                [
                    str(index),
                    question,
                    hint,
                    *shown,
                    LETTERS[answer],
                    category,
                    image,
                    "synthetic",
                    CATEGORIES[category],
                    "",
                    "dev",
                ]
            )
            asked.append(question_row(question, LETTERS[answer], choice.objects, question_id=index))
        copies.append(rows)
        counts[category] += len(rows)
        scene_rows.append(scene_row(str(i), scene, asked))
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(COLUMNS)
        for k in range(max((len(rows) for rows in copies), default=0)):
            writer.writerows(rows[k] for rows in copies if k < len(rows))
    write_jsonl(path.parent / SCENES_FILE, scene_rows)
    return counts
