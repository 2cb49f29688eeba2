"""Train the small LLaVA-1.5 shipped with the repository, on the synthetic benchmarks' distribution.

    python -m llava.train.train_demo --output playground/models/llava-v1.5-synthetic --seed 0

Architecture: LLaVA-1.5's, narrow: a CLIP ViT tower on 336 x 336 images with 14-px patches (so
24 x 24 = 576 visual tokens, as LLaVA-1.5), hidden state -2, `mlp2x_gelu` projector, and a
32-layer LLaMA decoder (hidden 64), so SparseVLM's default pruning layers and the papers'
token budgets apply unchanged. Recipe (each stage warm-starts the next):
  A. vision tower: per-patch colour / shape / word classification;
  B. projector: each patch's output is aligned with the decoder's word embeddings of its
     object's colour and shape (and word) (`ProjectorAlignment`), so question words and
     matching patches start out similar; the head that looks "colour shape" up starts as that
     similarity (`init_lookup_heads`);
  C. decoder on multi-turn conversations (several questions per image; tower and projector
     frozen), a short curriculum of easy scenes first, with auxiliary targets
     (`llava/train/data.py`): attention targets for the first question's words and last token,
     and linear read-outs of what they must know (the colour and shape asked, then whether
     the image holds such an object). Large VLMs learn such grounding from web-scale data; a
     CPU run of an hour does not.
`--init-from` runs stage C on an earlier output (its decoder, trained or not, included);
`--tower-from` runs stages B and C on an earlier output's tokenizer and vision tower;
`--qa-steps 0` stops after stages A and B, whose result is saved.
The result is saved in the original LLaVA checkpoint format (float16).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn
from transformers import CLIPImageProcessorPil, CLIPVisionConfig, CLIPVisionModel

from llava.constants import IGNORE_INDEX, IMAGE_TOKEN_INDEX
from llava.model.builder import load_pretrained_model
from llava.model.config import LlamaConfig, LlavaConfig
from llava.model.llava import LlavaLlamaForCausalLM
from llava.model.tokenizer import SentencePieceTokenizer
from llava.model.vision import CLIPVisionTower
from llava.synthetic import COLORS, WORDS, make_rng, sample_example
from llava.train.checkpoint import TOWER_FOLDER, save_checkpoint
from llava.train.data import (
    LOOKUP_HEAD,
    SHAPE_IDS,
    WORD_LAYERS,
    Sample,
    build_sample,
    sample_conversation,
)
from llava.train.objectives import (
    AskedHeads,
    GroundingRecorder,
    ProjectorAlignment,
    TowerHeads,
    answer_loss,
    pair_directions,
)
from llava.train.tokenizer_training import train_tokenizer

DEFAULT_OUTPUT = Path("playground/models/llava-v1.5-synthetic")


@dataclass(frozen=True)
class Schedule:
    tower_steps: int = 5000
    tower_lr: float = 3e-3
    align_steps: int = 600
    qa_steps: int = 2000
    easy_fraction: float = 0.1  # of qa_steps, on easy scenes
    batch: int = 8
    lr: float = 1.5e-3
    grounding_weight: float = 0.5
    eval_every: int = 200
    heldout_per_benchmark: int = 60


def architecture(vocab_size: int) -> tuple[LlavaConfig, CLIPVisionConfig]:
    text = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=172,  # LLaMA's 11008 / 4096 ratio
        num_hidden_layers=32,
        # Two heads of 32 dimensions and RoPE base 1e6 (Code Llama's): a question word looks
        # its object up among patches 30-650 positions back, which only RoPE's slowest
        # dimensions can compare by content alone. With base 1e4 only 1 of a 16-dimension
        # head's 8 frequency pairs turns less than 0.6 rad over 600 positions; with these, 7 of 16.
        num_attention_heads=2,
        num_key_value_heads=2,
        rms_norm_eps=1e-5,
        rope_theta=1e6,
    )
    vision = CLIPVisionConfig(
        hidden_size=96,
        intermediate_size=384,
        num_hidden_layers=4,
        num_attention_heads=4,
        image_size=336,
        patch_size=14,
        projection_dim=96,
        hidden_act="quick_gelu",
    )
    config = LlavaConfig(
        text=text,
        mm_vision_tower=TOWER_FOLDER,
        mm_hidden_size=vision.hidden_size,
        mm_projector_type="mlp2x_gelu",
        mm_vision_select_layer=-2,
        mm_vision_select_feature="patch",
        image_aspect_ratio="pad",
    )
    return config, vision


def sincos_positions(width: int, grid: int) -> torch.Tensor:
    """(1 + grid * grid, width): a zero row for CLS, then per patch sin / cos of its row and
    column at geometric frequencies (a quarter of the width each)."""
    quarter = width // 4
    frequencies = 1.0 / 100 ** (torch.arange(quarter) / quarter)
    rows, cols = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
    parts = []
    for coordinate in (rows.flatten(), cols.flatten()):
        angle = coordinate[:, None].float() * frequencies[None]
        parts += [angle.sin(), angle.cos()]
    return torch.cat((torch.zeros(1, width), torch.cat(parts, dim=1)), dim=0)


def build_model(vocab_size: int) -> LlavaLlamaForCausalLM:
    config, vision = architecture(vocab_size)
    clip = CLIPVisionModel(vision)
    # A patch tells a shape only from its neighbours (inside an object all patches look alike).
    # Learned absolute positions start without any notion of neighbour; a 2-D sin-cos start
    # lets attention find nearby patches from the first step. Scaled to the patch embedding.
    with torch.no_grad():
        grid = vision.image_size // vision.patch_size
        clip.embeddings.position_embedding.weight.copy_(
            0.5 * sincos_positions(vision.hidden_size, grid)
        )
    tower = CLIPVisionTower(clip, -2, "patch")
    model = LlavaLlamaForCausalLM(config, tower)
    for name, param in model.model.named_parameters():
        # Same scale for every matrix, residual outputs included (no depth scaling): what one
        # token's attention reads from another must weigh in its residual stream from the start.
        if not name.startswith("vision_tower") and param.dim() >= 2:
            nn.init.normal_(param, 0.0, 0.02)
    nn.init.normal_(model.lm_head.weight, 0.0, 0.02)
    return model


def init_lookup_heads(
    model: LlavaLlamaForCausalLM,
    colour_rows: torch.Tensor,
    shape_rows: torch.Tensor,
    sharpness: float = 20.0,
    pairs_used: int = 7,
) -> None:
    """Start LOOKUP_HEAD of WORD_LAYERS as a similarity between a colour-and-shape question
    and the patches stage B aligned with it (training goes on from there).

    Queries and keys both project onto the main directions of the colour + shape embedding
    sums, in the head's `pairs_used` slowest RoPE frequency pairs (which hardly turn between a
    question and the image): at the shape word of "red circle", once it has read "red", the
    red circles' patches then score about `sharpness` x cosine similarity. Learned from a
    random start, that match stayed too weak to beat the attention sink.
    """
    config = model.config.text
    head_dim, half = config.head_dim, config.head_dim // 2
    # RoPE turns dimension i with i + half, at frequencies falling with i: take the last ones.
    dims = [*range(half - pairs_used, half), *range(head_dim - pairs_used, head_dim)]
    rows = [LOOKUP_HEAD * head_dim + d for d in dims]
    pairs = pair_directions(colour_rows, shape_rows)
    directions = torch.linalg.svd(pairs, full_matrices=False).Vh[: len(rows)]  # (rows, D)
    # |RMSNorm(x)| = sqrt(D), and scores are divided by sqrt(head_dim).
    scale = math.sqrt(sharpness * math.sqrt(head_dim) / config.hidden_size)
    with torch.no_grad():
        for layer in WORD_LAYERS:
            attention = model.model.layers[layer].self_attn
            for projection in (attention.q_proj, attention.k_proj):
                projection.weight[rows] = scale * directions


def image_processor() -> CLIPImageProcessorPil:
    return CLIPImageProcessorPil(
        size={"shortest_edge": 336},
        crop_size={"height": 336, "width": 336},
        resample=3,
        image_mean=[0.48145466, 0.4578275, 0.40821073],
        image_std=[0.26862954, 0.26130258, 0.27577711],
    )


class Batches:
    """An endless stream of training batches drawn from the synthetic distribution."""

    def __init__(self, seed: int, tokenizer, processor, config: LlavaConfig) -> None:
        self.rng = make_rng(seed, "train", "conversations")
        self.tokenizer, self.processor, self.config = tokenizer, processor, config

    def samples(self, n: int, easy: bool) -> list[Sample]:
        return [
            build_sample(
                *sample_conversation(self.rng, easy), self.tokenizer, self.processor, self.config
            )
            for _ in range(n)
        ]


def collate(samples: list[Sample], num_visual: int) -> dict[str, torch.Tensor]:
    length = max(len(s.input_ids) for s in samples)
    ids = torch.zeros(len(samples), length, dtype=torch.long)
    labels = torch.full((len(samples), length), IGNORE_INDEX)
    for row, sample in enumerate(samples):
        ids[row, : len(sample.input_ids)] = torch.tensor(sample.input_ids)
        labels[row, : len(sample.labels)] = torch.tensor(sample.labels)
    at = samples[0].input_ids.index(IMAGE_TOKEN_INDEX)
    # Labels over the spliced sequence: the placeholder becomes num_visual unlabelled rows.
    spliced = torch.cat(
        (labels[:, :at], torch.full((len(samples), num_visual), IGNORE_INDEX), labels[:, at + 1 :]),
        dim=1,
    )
    return {
        "input_ids": ids,
        "labels": spliced,
        "pixels": torch.stack([s.pixels for s in samples]),
        "image_at": at,
        "colour": torch.stack([s.patch_colour for s in samples]),
        "shape": torch.stack([s.patch_shape for s in samples]),
        "word": torch.stack([s.patch_word for s in samples]),
    }


@torch.no_grad()
def heldout_accuracy(model, tokenizer, processor, examples) -> dict[str, float]:
    """Greedy first answer token vs. the reference reply, per benchmark (dense, one turn)."""
    from llava.eval.runner import build_prompt
    from llava.mm_utils import process_images, tokenizer_image_token

    hits: dict[str, list[bool]] = {}
    for example in examples:
        ids = tokenizer_image_token(
            build_prompt(example.prompt, "vicuna_v1"), tokenizer, return_tensors="pt"
        )[None]
        pixels = process_images([example.image], processor, model.config)
        logits, _, _ = model(ids, pixels)
        target = tokenizer.encode(" " + example.answer, add_bos=False)
        target = [t for t in target if tokenizer.sp.id_to_piece(t) != "▁"][0]
        hits.setdefault(example.benchmark, []).append(int(logits[0, -1].argmax()) == target)
    return {name: sum(v) / len(v) for name, v in sorted(hits.items())}


def _log(log, **fields) -> None:
    line = json.dumps(fields)
    print(line, flush=True)
    log.write(line + "\n")
    log.flush()


def train(
    output: Path,
    seed: int,
    schedule: Schedule,
    init_from: Path | None = None,
    tower_from: Path | None = None,
) -> None:
    """All three stages; with `init_from` (an earlier output), only stage C, continued; with
    `tower_from`, stages B and C on its tokenizer and vision tower (stage A's result)."""
    if init_from and tower_from:
        raise ValueError("give --init-from or --tower-from, not both")
    torch.manual_seed(seed)
    processor = image_processor()
    work = output / "training"
    work.mkdir(parents=True, exist_ok=True)
    log = (work / "log.jsonl").open("a" if init_from else "w")
    if tower_from is not None:
        tokenizer_file = work / "tokenizer.model"
        tokenizer_file.write_bytes((tower_from / "tokenizer.model").read_bytes())
        _, earlier, _, _ = load_pretrained_model(
            str(tower_from), device="cpu", torch_dtype="float32"
        )
        model = build_model(SentencePieceTokenizer(tokenizer_file).sp.get_piece_size())
        model.model.vision_tower.load_state_dict(earlier.model.vision_tower.state_dict())
        schedule = replace(schedule, tower_steps=0)
    elif init_from is None:
        corpus_rng = make_rng(seed, "train", "tokenizer")
        corpus = [
            text
            for _ in range(3000)
            for turn in sample_conversation(corpus_rng, easy=False)[1]
            for text in turn
        ]
        tokenizer_file = train_tokenizer(corpus, work)
        model = build_model(SentencePieceTokenizer(tokenizer_file).sp.get_piece_size())
    else:
        tokenizer_file = work / "tokenizer.model"
        if tokenizer_file.resolve() != (init_from / "tokenizer.model").resolve():
            tokenizer_file.write_bytes((init_from / "tokenizer.model").read_bytes())
        _, model, _, _ = load_pretrained_model(str(init_from), device="cpu", torch_dtype="float32")
        model.train()
    tokenizer = SentencePieceTokenizer(tokenizer_file)
    config = model.config
    tower = model.model.vision_tower
    num_visual = tower.num_patches
    batches = Batches(seed, tokenizer, processor, config)
    heldout_rng = make_rng(seed, "heldout", "examples")
    heldout = [
        sample_example(heldout_rng, name)
        for name in ("pope", "mme", "textvqa")
        for _ in range(schedule.heldout_per_benchmark)
    ]
    started = time.time()

    if init_from is not None:
        tower.requires_grad_(False)
        schedule = replace(schedule, tower_steps=0, align_steps=0, easy_fraction=0.0)
    # A. The vision tower learns what is under each patch.
    heads = TowerHeads(tower.vision_tower.config.hidden_size)
    tower_parameters = [*tower.parameters(), *heads.parameters()]
    optimizer = torch.optim.AdamW(tower_parameters, lr=schedule.tower_lr)
    for step in range(schedule.tower_steps):
        for group in optimizer.param_groups:
            group["lr"] = schedule.tower_lr * min(1.0, (step + 1) / 100)
        batch = collate(batches.samples(schedule.batch, easy=False), num_visual)
        loss, accuracy = heads.loss(tower(batch["pixels"]), batch)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(tower_parameters, 1.0)
        optimizer.step()
        if step % 50 == 0 or step == schedule.tower_steps - 1:
            _log(
                log,
                stage="tower",
                step=step,
                loss=loss.item(),
                patch_accuracy=accuracy,
                minutes=(time.time() - started) / 60,
            )
    tower.requires_grad_(False)

    # B. The projector maps each patch onto its object's colour / shape / word embeddings.
    embed = model.model.embed_tokens.weight.detach()

    def token(word: str) -> int:
        return [
            t
            for t in tokenizer.encode(" " + word, add_bos=False)
            if tokenizer.sp.id_to_piece(t) != "▁"
        ][0]

    colour_rows = embed[[token(c) for c in COLORS]]
    shape_rows = embed[[token(s) for s in SHAPE_IDS]]
    alignment = ProjectorAlignment(colour_rows, shape_rows, embed[[token(w) for w in WORDS]])
    projector = model.model.mm_projector
    optimizer = torch.optim.AdamW(projector.parameters(), lr=schedule.lr)
    for step in range(schedule.align_steps):
        batch = collate(batches.samples(schedule.batch, easy=False), num_visual)
        with torch.no_grad():
            features = tower(batch["pixels"])
        loss = alignment.loss(projector(features), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 50 == 0 or step == schedule.align_steps - 1:
            _log(
                log,
                stage="align",
                step=step,
                loss=loss.item(),
                minutes=(time.time() - started) / 60,
            )

    if schedule.align_steps:
        init_lookup_heads(model, colour_rows, shape_rows)
        save_checkpoint(model, output, tokenizer_file, processor, tower.vision_tower.config)

    # C. The decoder answers questions. Tower and projector stay frozen: fine-tuned along with a
    # decoder that starts from scratch, the projector loses what stage B aligned (its outputs
    # stop telling colours apart), and every later stage depends on it.
    projector.requires_grad_(False)
    asked_heads = AskedHeads(config.text.hidden_size)
    trainable = [p for p in model.parameters() if p.requires_grad]
    trainable += list(asked_heads.parameters())
    optimizer = torch.optim.AdamW(trainable, lr=schedule.lr, weight_decay=0.0)
    warmup = 100

    def lr_at(step: int) -> float:
        if step < warmup:
            return schedule.lr * (step + 1) / warmup
        progress = (step - warmup) / max(1, schedule.qa_steps - warmup)
        return schedule.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))

    easy_steps = int(schedule.easy_fraction * schedule.qa_steps)
    for step in range(schedule.qa_steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step)
        samples = batches.samples(schedule.batch, easy=step < easy_steps)
        batch = collate(samples, num_visual)
        recorder = GroundingRecorder(samples)
        state = model.prepare_state(batch["input_ids"], batch["pixels"])
        state, _ = model.model.run_layers(state, None, recorder)
        qa_loss = answer_loss(model, state.hidden, batch["labels"])
        ground = recorder.loss(samples) + asked_heads.loss(recorder.asked_hidden, samples)
        loss = qa_loss + schedule.grounding_weight * ground
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        if step % 25 == 0:
            _log(
                log,
                stage="qa",
                step=step,
                loss=qa_loss.item(),
                grounding=ground.item(),
                lr=lr_at(step),
                minutes=(time.time() - started) / 60,
            )
        if (step + 1) % schedule.eval_every == 0 or step == schedule.qa_steps - 1:
            model.eval()
            _log(
                log,
                stage="heldout",
                step=step,
                accuracy=heldout_accuracy(model, tokenizer, processor, heldout),
                minutes=(time.time() - started) / 60,
            )
            save_checkpoint(model, output, tokenizer_file, processor, tower.vision_tower.config)
            model.train()
    log.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--init-from",
        type=Path,
        default=None,
        help="continue stage C from an earlier output folder",
    )
    parser.add_argument(
        "--tower-from",
        type=Path,
        default=None,
        help="skip stage A: take the tokenizer and vision tower of an earlier output folder",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    for name, value in vars(Schedule()).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args(argv)
    schedule = Schedule(**{name: getattr(args, name) for name in vars(Schedule())})
    if args.threads:
        torch.set_num_threads(args.threads)
    train(args.output, args.seed, schedule, args.init_from, args.tower_from)


if __name__ == "__main__":
    main()
