"""Write the synthetic POPE, MME and TextVQA benchmarks in LLaVA's files and layout.

    <root>/pope/{llava_pope_test.jsonl, coco/coco_pope_{adversarial,popular,random}.json,
                 val2014/*.png, synthetic_scenes.jsonl}
    <root>/MME/{llava_mme.jsonl, MME_Benchmark_release_version/<category>/<stem>.{png,txt},
                synthetic_scenes.jsonl}
    <root>/textvqa/{llava_textvqa_val_v051_ocr.jsonl, TextVQA_0.5.1_val.json, train_images/*.png,
                    synthetic_scenes.jsonl}

Question and ground-truth files follow the official formats exactly (llava.md §4-5), so the
real scorers run on them. `synthetic_scenes.jsonl` is ours: per image its scene and, per
question, the indices of the objects the answer rests on (to measure which of their visual
tokens a pruning method keeps). Each image draws from its own stream (seed, split, name): the
same arguments give byte-identical files, and split "test" never meets training's "train".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llava.synthetic.files import (
    SCENES_FILE,
    progress_bar,
    question_row,
    save_png,
    scene_row,
    write_json,
    write_jsonl,
)
from llava.synthetic.mme import MME_CATEGORIES, mme_questions, sample_mme_scene
from llava.synthetic.pope import POPE_ID_OFFSETS, POPE_SPLITS, pope_questions, sample_pope_scene
from llava.synthetic.questions import (
    QA,
    mme_ground_truth_question,
    short_answer_prompt,
    textvqa_prompt,
)
from llava.synthetic.seeding import TEST, make_rng
from llava.synthetic.stats import ObjectStats
from llava.synthetic.textvqa import (
    human_answers,
    ocr_tokens,
    sample_textvqa_scene,
    textvqa_questions,
)


def _qa_row(qa: QA, **extra: Any) -> dict[str, Any]:
    return question_row(qa.question, qa.answer, qa.objects, **extra)


def write_pope(
    root: Path,
    *,
    seed: int,
    split: str = TEST,
    images: int = 25,
    pairs: int = 2,
    nonsquare_prob: float = 0.1,
    progress: bool = False,
) -> dict[str, int]:
    """Write `<root>/pope`; returns the number of questions per POPE split."""
    folder = Path(root) / "pope"
    (folder / "coco").mkdir(parents=True, exist_ok=True)
    (folder / "val2014").mkdir(parents=True, exist_ok=True)
    names = [f"synth_val2014_{i:06d}.png" for i in range(images)]
    scenes = [
        sample_pope_scene(
            make_rng(seed, split, f"pope/scene/{i}"), pairs=pairs, nonsquare_prob=nonsquare_prob
        )
        for i in range(images)
    ]
    # POPE ranks "popular" negatives by frequency over the benchmark's own images.
    stats = ObjectStats.from_scenes(scenes)
    per_image = [
        pope_questions(scene, make_rng(seed, split, f"pope/questions/{i}"), stats, pairs=pairs)
        for i, scene in enumerate(scenes)
    ]
    for name, scene in progress_bar(
        zip(names, scenes, strict=True), progress, "pope images", images
    ):
        save_png(scene, folder / "val2014" / name)

    question_rows, scene_questions = [], [[] for _ in scenes]
    for pope_split in POPE_SPLITS:
        label_rows = []
        for i, name in enumerate(names):
            for qa in per_image[i][pope_split]:
                local_id = len(label_rows) + 1
                question_id = POPE_ID_OFFSETS[pope_split] + local_id
                label_rows.append(
                    {
                        "question_id": local_id,
                        "image": name,
                        "text": qa.question,
                        "label": qa.answer,
                    }
                )
                question_rows.append(
                    {
                        "question_id": question_id,
                        "image": name,
                        "text": short_answer_prompt(qa.question),
                        "category": pope_split,
                    }
                )
                scene_questions[i].append(_qa_row(qa, question_id=question_id, category=pope_split))
        write_jsonl(folder / "coco" / f"coco_pope_{pope_split}.json", label_rows)
    write_jsonl(folder / "llava_pope_test.jsonl", question_rows)
    write_jsonl(
        folder / SCENES_FILE,
        (scene_row(n, s, q) for n, s, q in zip(names, scenes, scene_questions, strict=True)),
    )
    return {pope_split: images * 2 * pairs for pope_split in POPE_SPLITS}


def write_mme(
    root: Path,
    *,
    seed: int,
    split: str = TEST,
    images: int = 30,
    categories: tuple[str, ...] = MME_CATEGORIES,
    nonsquare_prob: float = 0.1,
    progress: bool = False,
) -> dict[str, int]:
    """Write `<root>/MME`; returns the number of questions per category."""
    folder = Path(root) / "MME"
    release = folder / "MME_Benchmark_release_version"
    question_rows, scene_rows = [], []
    for category in categories:
        (release / category).mkdir(parents=True, exist_ok=True)
        for i in progress_bar(range(images), progress, f"MME {category}", images):
            rng = make_rng(seed, split, f"mme/{category}/{i}")
            scene = sample_mme_scene(rng, category, nonsquare_prob=nonsquare_prob)
            pair = mme_questions(scene, rng, category)  # (yes, no): MME's line order
            stem = f"synth_{i:06d}"
            image = f"{category}/{stem}.png"
            save_png(scene, release / category / f"{stem}.png")
            lines = [f"{mme_ground_truth_question(qa.question)}\t{qa.reply}\n" for qa in pair]
            with (release / category / f"{stem}.txt").open(
                "w", encoding="utf-8", newline="\n"
            ) as f:
                f.writelines(lines)
            for qa in pair:
                question_rows.append(
                    {
                        "question_id": image,
                        "image": image,
                        "text": short_answer_prompt(qa.question),
                        "category": category,
                    }
                )
            scene_rows.append(scene_row(image, scene, [_qa_row(qa) for qa in pair]))
    write_jsonl(folder / "llava_mme.jsonl", question_rows)
    write_jsonl(folder / SCENES_FILE, scene_rows)
    return {category: 2 * images for category in categories}


def write_textvqa(
    root: Path,
    *,
    seed: int,
    split: str = TEST,
    images: int = 75,
    questions_per_image: int = 2,
    nonsquare_prob: float = 0.1,
    progress: bool = False,
) -> dict[str, int]:
    """Write `<root>/textvqa`; returns {"default": number of questions}."""
    folder = Path(root) / "textvqa"
    (folder / "train_images").mkdir(parents=True, exist_ok=True)
    question_rows, annotations, scene_rows = [], [], []
    used_ids: set[str] = set()
    for i in progress_bar(range(images), progress, "textvqa images", images):
        rng = make_rng(seed, split, f"textvqa/{i}")
        scene = sample_textvqa_scene(
            rng, num_words=(questions_per_image, max(4, questions_per_image)),
            nonsquare_prob=nonsquare_prob,
        )  # fmt: skip
        image_id = f"{rng.getrandbits(64):016x}"  # TextVQA ids: 16 hex digits
        while image_id in used_ids:
            image_id = f"{rng.getrandbits(64):016x}"
        used_ids.add(image_id)
        image = f"{image_id}.png"
        save_png(scene, folder / "train_images" / image)
        ocr = ocr_tokens(scene)
        qas = textvqa_questions(scene, rng, questions_per_image)
        for qa in qas:
            question_rows.append(
                {
                    "question_id": image_id,
                    "image": image,
                    "text": textvqa_prompt(qa.question, ocr),
                    "category": "default",
                }
            )
            annotations.append(
                {
                    "question": qa.question,
                    "image_id": image_id,
                    "image_classes": [],
                    "image_width": scene.size[0],
                    "image_height": scene.size[1],
                    "answers": human_answers(rng, qa.answer, ocr),
                    "question_tokens": qa.question.lower().rstrip("?").split(),
                    "question_id": len(annotations),
                    "set_name": "val",
                }
            )
        scene_rows.append(scene_row(image, scene, [_qa_row(qa, ocr_tokens=ocr) for qa in qas]))
    write_jsonl(folder / "llava_textvqa_val_v051_ocr.jsonl", question_rows)
    dataset = {
        "dataset_type": "val",
        "dataset_name": "textvqa",
        "dataset_version": "0.5.1",
        "data": annotations,
    }
    write_json(folder / "TextVQA_0.5.1_val.json", dataset)
    write_jsonl(folder / SCENES_FILE, scene_rows)
    return {"default": len(annotations)}
