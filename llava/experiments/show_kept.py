"""Kept-token pictures: which image patches a pruning method kept, recycled or dropped.

    python -m llava.experiments.show_kept --model-path P --image IMG --question "..." \\
        [--pruning-method fastv --retained-tokens 64 | --sparse ...] --output out.png

Runs one prefill with the method and draws one panel per pruning layer, left to right: the image
as the model sees it (LLaVA-1.5's `pad`: padded to a square with the processor's mean colour,
shown at 336 x 336), each patch of the G x G grid (24 x 24 for LLaVA-1.5) overlaid after that
layer as kept (clear), recycled into a merged token (yellow tint) or dropped (dark), above a
caption strip with the layer, the counts and the question. The PNG is
`336 * panels` x `336 + 44` pixels (panels = pruning layers; one panel, all kept, when dense).

Statuses come from the method's `PruneRecord`s: int labels are patch indices; a merged label
"m<layer>.<i>" is cluster i of that layer's record, whose members may themselves be merged
labels (resolved recursively).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from llava.constants import IMAGE_TOKEN_INDEX
from llava.eval.pruning_args import add_pruning_args, pruner_from_args
from llava.eval.runner import build_prompt
from llava.generate import prefill
from llava.mm_utils import expand2square, get_model_name_from_path, tokenizer_image_token
from llava.model.builder import default_device, load_pretrained_model
from llava.sparse.base import PruneRecord
from llava.synthetic.fonts import font

PANEL = 336  # LLaVA-1.5's input side
CAPTION = 44  # caption strip height: two lines of 14 px text
LEGEND, LEGEND_ENTRY = 26, 220  # the key under the panels: its height, one entry's width
KEPT, RECYCLED, DROPPED = "kept", "recycled", "dropped"
TINTS = {RECYCLED: ((255, 214, 0), 0.45), DROPPED: ((0, 0, 0), 0.72)}  # colour, opacity


def resolve(label, clusters: dict[str, list]) -> set[int]:
    """Patch indices behind a label: itself if an int, else its merged members, recursively
    (VisionZip's kept CLS token stands for no patch)."""
    if isinstance(label, int):
        return {label}
    if label not in clusters:
        return set()
    patches: set[int] = set()
    for member in clusters[label]:
        patches |= resolve(member, clusters)
    return patches


def patch_statuses(records: list[PruneRecord], num_patches: int) -> list[list[str]]:
    """For each record (pruning layer), the status of every patch after that layer."""
    clusters: dict[str, list] = {}  # merged label -> member labels
    statuses = []
    for record in records:
        for i, members in enumerate(record.clusters):
            clusters[f"m{record.layer}.{i}"] = members
        status = [DROPPED] * num_patches
        present = record.kept + [f"m{record.layer}.{i}" for i in range(len(record.clusters))]
        for label in present:
            for patch in resolve(label, clusters):
                if status[patch] != KEPT:
                    status[patch] = KEPT if isinstance(label, int) else RECYCLED
        statuses.append(status)
    return statuses


def draw_panel(image: Image.Image, status: list[str], caption: list[str]) -> Image.Image:
    """One panel: `image` (PANEL x PANEL) with the patch overlay, and the caption strip."""
    side = math.isqrt(len(status))
    panel = Image.new("RGB", (PANEL, PANEL + CAPTION), "white")
    overlay = image.convert("RGBA")
    tint = Image.new("RGBA", overlay.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(tint)
    for patch, state in enumerate(status):
        if state == KEPT:
            continue
        row, col = divmod(patch, side)
        box = [col * PANEL // side, row * PANEL // side]
        box += [(col + 1) * PANEL // side - 1, (row + 1) * PANEL // side - 1]
        colour, opacity = TINTS[state]
        draw.rectangle(box, fill=(*colour, round(255 * opacity)))
    panel.paste(Image.alpha_composite(overlay, tint).convert("RGB"), (0, 0))
    text = ImageDraw.Draw(panel)
    for line, y in zip(caption, (PANEL + 4, PANEL + 23), strict=False):
        text.text((4, y), fit(line, PANEL - 8), fill="black", font=font(12))
    return panel


def fit(line: str, width: int) -> str:
    """`line`, cut with an ellipsis to fit `width` pixels."""
    if font(12).getlength(line) <= width:
        return line
    while line and font(12).getlength(line + "…") > width:
        line = line[:-1]
    return line + "…"


def kept_picture(image: Image.Image, records: list[PruneRecord], num_patches: int, question: str):
    """The figure: one panel per record (or one all-kept panel without any)."""
    if math.isqrt(num_patches) ** 2 != num_patches:
        raise ValueError(f"{num_patches} visual tokens do not form a square patch grid")
    square = image.resize((PANEL, PANEL), Image.Resampling.BICUBIC)
    panels = []
    for record, status in zip(records, patch_statuses(records, num_patches), strict=True):
        counts = {s: status.count(s) for s in (KEPT, RECYCLED, DROPPED)}
        where = (
            "before the LLM" if record.layer < 0
            else f"{'before' if record.before else 'after'} layer {record.layer}"
        )  # fmt: skip
        title = (
            f"{where}: {counts[KEPT]} kept, {counts[RECYCLED]} merged, {counts[DROPPED]} dropped"
        )
        panels.append(draw_panel(square, status, [title, f"Q: {question}"]))
    if not panels:
        title = f"no pruning: all {num_patches} patches kept"
        panels.append(draw_panel(square, [KEPT] * num_patches, [title, f"Q: {question}"]))
    figure = Image.new("RGB", (max(PANEL * len(panels), 3 * LEGEND_ENTRY), PANEL + CAPTION
                                + LEGEND), "white")  # fmt: skip
    for i, panel in enumerate(panels):
        figure.paste(panel, (i * PANEL, 0))
    draw_legend(ImageDraw.Draw(figure), PANEL + CAPTION)
    return figure


def draw_legend(draw: ImageDraw.ImageDraw, top: int) -> None:
    """A key under the panels: what each tint means."""
    entries = [
        (KEPT, (255, 255, 255), "kept as it is"),
        (RECYCLED, TINTS[RECYCLED][0], "merged into a recycled token"),
        (DROPPED, TINTS[DROPPED][0], "dropped"),
    ]
    for i, (_, colour, meaning) in enumerate(entries):
        x = 6 + i * LEGEND_ENTRY
        draw.rectangle((x, top + 6, x + 14, top + 20), fill=colour, outline=(0, 0, 0))
        draw.text((x + 20, top + 6), meaning, fill="black", font=font(12))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m llava.experiments.show_kept", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--model-path", required=True)
    parser.add_argument("--model-base", default=None)
    parser.add_argument("--image", required=True, type=Path)
    parser.add_argument("--question", required=True)
    parser.add_argument("--output", required=True, type=Path, help="PNG file to write")
    parser.add_argument("--conv-mode", default="vicuna_v1")
    parser.add_argument("--device", default=None, help="default: cuda if available")
    parser.add_argument(
        "--dtype", default="auto", choices=["auto", "float32", "float16", "bfloat16"]
    )
    add_pruning_args(parser)
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> Image.Image:
    if not args.image.is_file():
        raise FileNotFoundError(f"image {args.image} not found")
    tokenizer, model, processor, _ = load_pretrained_model(
        args.model_path,
        args.model_base,
        get_model_name_from_path(args.model_path),
        device=args.device or default_device(),
        torch_dtype=args.dtype,
    )
    pruner = pruner_from_args(args, model)
    with Image.open(args.image) as opened:
        image = opened.convert("RGB")
    if getattr(model.config, "image_aspect_ratio", None) == "pad":  # what the model sees
        image = expand2square(image, tuple(int(m * 255) for m in processor.image_mean))
    pixels = processor([image], return_tensors="pt")["pixel_values"]
    prompt = build_prompt(args.question, args.conv_mode)
    ids = tokenizer_image_token(prompt, tokenizer, IMAGE_TOKEN_INDEX, return_tensors="pt")
    with torch.inference_mode():
        _, _, (stats,) = prefill(
            model, ids[None].to(model.device), pixels.to(model.device, model.dtype), pruner
        )
    return kept_picture(image, stats.records, stats.image_tokens, args.question)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        figure = run(args)
    except (ValueError, FileNotFoundError) as err:
        sys.exit(f"show_kept: error: {err}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    figure.save(args.output, format="PNG")
    print(f"wrote {args.output} ({figure.width} x {figure.height})")


if __name__ == "__main__":
    main()
