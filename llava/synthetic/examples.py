"""Fresh training examples from the same distribution as the synthetic benchmarks.

The benchmark writer and this module call the same scene samplers and question functions;
only the random streams differ (training uses split "train", see `seeding`). An `Example`
carries everything a training step may want: the image, LLaVA's prompt text (exactly as the
question files write it), the target reply, and the scene with the indices of the objects the
answer rests on (feed `patches.patch_owners(example.scene)` for per-patch targets).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image

from llava.synthetic.mme import MME_CATEGORIES, mme_questions, sample_mme_scene
from llava.synthetic.pope import POPE_SPLITS, pope_negatives, pope_positives, sample_pope_scene
from llava.synthetic.questions import short_answer_prompt, textvqa_prompt
from llava.synthetic.render import render
from llava.synthetic.scenes import Scene
from llava.synthetic.stats import ObjectStats
from llava.synthetic.textvqa import ocr_tokens, sample_textvqa_scene, textvqa_questions

BENCHMARKS: tuple[str, ...] = ("pope", "mme", "textvqa")
CATEGORIES: dict[str, tuple[str, ...]] = {
    "pope": POPE_SPLITS,
    "mme": MME_CATEGORIES,
    "textvqa": ("default",),
}


@lru_cache(maxsize=1)
def _prior_stats() -> ObjectStats:
    return ObjectStats.prior()


@dataclass(frozen=True, eq=False)
class Example:
    image: Image.Image
    scene: Scene
    prompt: str  # the question-file "text": question (+ OCR line) + LLaVA's instruction line
    answer: str  # the target reply: "Yes" / "No" or the word
    benchmark: str  # one of BENCHMARKS
    category: str  # POPE split, MME category, or "default" for TextVQA
    objects: tuple[int, ...]  # indices into scene.objects the answer rests on


def sample_example(
    rng: random.Random,
    benchmark: str | None = None,
    category: str | None = None,
    *,
    stats: ObjectStats | None = None,
    nonsquare_prob: float = 0.1,
) -> Example:
    """One random example; benchmark and category are drawn uniformly when not given.

    stats: object statistics for POPE's popular/adversarial negatives; defaults to the
    sampling distribution's own (`ObjectStats.prior()`).
    """
    benchmark = benchmark if benchmark is not None else rng.choice(BENCHMARKS)
    if benchmark not in CATEGORIES:
        raise ValueError(f"unknown benchmark {benchmark!r}; expected one of {BENCHMARKS}")
    category = category if category is not None else rng.choice(CATEGORIES[benchmark])
    if category not in CATEGORIES[benchmark]:
        raise ValueError(f"{benchmark} categories are {CATEGORIES[benchmark]}, got {category!r}")

    if benchmark == "pope":
        scene = sample_pope_scene(rng, pairs=1, nonsquare_prob=nonsquare_prob)
        if rng.random() < 0.5:
            qa = pope_positives(scene, rng, 1)[0]
        else:
            qa = pope_negatives(scene, rng, stats or _prior_stats(), category, 1)[0]
        prompt = short_answer_prompt(qa.question)
    elif benchmark == "mme":
        scene = sample_mme_scene(rng, category, nonsquare_prob=nonsquare_prob)
        qa = rng.choice(mme_questions(scene, rng, category))
        prompt = short_answer_prompt(qa.question)
    else:
        scene = sample_textvqa_scene(rng, nonsquare_prob=nonsquare_prob)
        qa = textvqa_questions(scene, rng, 1)[0]
        prompt = textvqa_prompt(qa.question, ocr_tokens(scene))
    return Example(render(scene), scene, prompt, qa.reply, benchmark, category, qa.objects)
