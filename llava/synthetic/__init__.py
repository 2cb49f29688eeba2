"""Synthetic stand-ins for LLaVA-1.5's benchmarks and their training distribution.

Small coloured shapes and word boxes on varied backgrounds, with questions whose answers hang
on a few of the 576 visual tokens, in each benchmark's own style and files: POPE, MME,
TextVQA, GQA, ScienceQA, MMBench (en, cn), VQAv2, VizWiz, SEED-Bench, MM-Vet and
LLaVA-Bench. `python -m llava.synthetic --root playground/data/eval` writes them in LLaVA's
layout; training draws fresh examples with `sample_example(make_rng(seed, "train", name))`.
"""

from llava.synthetic.examples import BENCHMARKS, CATEGORIES, Example, sample_example
from llava.synthetic.gqa import write_gqa
from llava.synthetic.llavabench import write_llavabench
from llava.synthetic.mmbench import write_mmbench
from llava.synthetic.mme import MME_CATEGORIES, mme_questions, sample_mme_scene
from llava.synthetic.mmvet import write_mmvet
from llava.synthetic.patches import NO_OBJECT, object_patches, patch_coverage, patch_owners
from llava.synthetic.pope import (
    POPE_SPLITS,
    pope_negatives,
    pope_positives,
    pope_questions,
    sample_pope_scene,
)
from llava.synthetic.questions import (
    INSTRUCTION,
    MME_SUFFIX,
    QA,
    mme_ground_truth_question,
    short_answer_prompt,
    textvqa_prompt,
)
from llava.synthetic.render import object_mask, render
from llava.synthetic.scenes import (
    KINDS,
    Background,
    Kind,
    Scene,
    SceneObject,
    sample_scene,
    scene_from_dict,
    scene_to_dict,
)
from llava.synthetic.scienceqa import write_scienceqa
from llava.synthetic.seed import write_seed
from llava.synthetic.seeding import TEST, TRAIN, derive_seed, make_rng
from llava.synthetic.stats import ObjectStats
from llava.synthetic.suite import SYNTHETIC_BENCHMARKS, BenchmarkSizes, write_benchmarks
from llava.synthetic.textvqa import (
    human_answers,
    ocr_tokens,
    sample_textvqa_scene,
    textvqa_questions,
)
from llava.synthetic.vizwiz import write_vizwiz
from llava.synthetic.vocab import (
    BACKGROUNDS,
    COLORS,
    GRID,
    IMAGE_SIDE,
    NUMBER_WORDS,
    PATCH_SIZE,
    PLURALS,
    SHAPES,
    WORD_SHAPE,
    WORDS,
)
from llava.synthetic.vqav2 import write_vqav2
from llava.synthetic.write import write_mme, write_pope, write_textvqa

__all__ = [
    "BACKGROUNDS", "BENCHMARKS", "CATEGORIES", "COLORS", "GRID", "IMAGE_SIDE", "INSTRUCTION",
    "KINDS", "MME_CATEGORIES", "MME_SUFFIX", "NO_OBJECT", "NUMBER_WORDS", "PATCH_SIZE",
    "PLURALS", "POPE_SPLITS", "QA", "SHAPES", "SYNTHETIC_BENCHMARKS", "TEST", "TRAIN", "WORDS",
    "WORD_SHAPE",
    "Background", "BenchmarkSizes", "Example", "Kind", "ObjectStats", "Scene", "SceneObject",
    "derive_seed", "human_answers", "make_rng", "mme_ground_truth_question", "mme_questions",
    "object_mask", "object_patches", "ocr_tokens", "patch_coverage", "patch_owners",
    "pope_negatives", "pope_positives", "pope_questions", "render", "sample_example",
    "sample_mme_scene", "sample_pope_scene", "sample_scene", "sample_textvqa_scene",
    "scene_from_dict", "scene_to_dict", "short_answer_prompt", "textvqa_prompt",
    "textvqa_questions", "write_benchmarks", "write_gqa", "write_llavabench", "write_mmbench",
    "write_mme", "write_mmvet", "write_pope", "write_scienceqa", "write_seed", "write_textvqa",
    "write_vizwiz", "write_vqav2",
]  # fmt: skip
