"""Image and prompt helpers with LLaVA's names and behaviour."""

from __future__ import annotations

import torch
from PIL import Image

from llava.constants import IMAGE_TOKEN_INDEX


def expand2square(pil_img: Image.Image, background_color: tuple[int, ...]) -> Image.Image:
    """Pad to a square canvas of `background_color`, the image centred (LLaVA-1.5's `pad`)."""
    width, height = pil_img.size
    if width == height:
        return pil_img
    side = max(width, height)
    canvas = Image.new(pil_img.mode, (side, side), background_color)
    canvas.paste(pil_img, ((side - width) // 2, (side - height) // 2))
    return canvas


def process_images(images: list[Image.Image], image_processor, model_cfg):
    """(B, 3, S, S) pixel values. `pad` fills with the processor's mean colour, as LLaVA does:
    tuple(int(m * 255) for m in image_mean) = (122, 116, 104) for CLIP. `anyres` (LLaVA-NeXT,
    original checkpoints) gives each image's (1 + tiles, 3, S, S) crops, stacked when they all
    have as many (LLaVA's return value; pass `image_sizes` to `generate` with them).

    Images are padded in their own mode, then converted to RGB with PIL's plain `convert`, as
    the CLIP processor of LLaVA's pinned transformers 4.37.2 did (haotian-liu/LLaVA c121f04,
    pyproject.toml; transformers.image_transforms.convert_to_rgb). Today's processors composite
    transparent pixels onto white instead, which would change RGBA and palette images.
    """
    aspect = getattr(model_cfg, "image_aspect_ratio", None)
    if aspect == "anyres":
        from llava.model.anyres import anyres_image

        images = [image if image.mode == "RGB" else image.convert("RGB") for image in images]
        crops = [anyres_image(image, image_processor, model_cfg.anyres).pixels for image in images]
        same = all(c.shape == crops[0].shape for c in crops)
        return torch.stack(crops) if same else crops
    if aspect == "pad":
        fill = tuple(int(m * 255) for m in image_processor.image_mean)
        images = [expand2square(image, fill) for image in images]
    elif aspect not in (None, "square"):
        raise ValueError(f"image_aspect_ratio {aspect!r} is not supported (pad, square, anyres)")
    images = [image if image.mode == "RGB" else image.convert("RGB") for image in images]
    return image_processor(images, return_tensors="pt")["pixel_values"]


def tokenizer_image_token(
    prompt: str, tokenizer, image_token_index: int = IMAGE_TOKEN_INDEX, return_tensors=None
):
    """Tokenise each chunk around "<image>" separately (each would get a BOS; only the first
    is kept) and put `image_token_index` between chunks."""
    chunks = [tokenizer(chunk).input_ids for chunk in prompt.split("<image>")]
    bos = getattr(tokenizer, "bos_token_id", None)
    offset = 1 if chunks[0][:1] == [bos] else 0
    input_ids = chunks[0][:1] if offset else []
    for i, chunk in enumerate(chunks):
        if i > 0:
            input_ids.append(image_token_index)
        input_ids.extend(chunk[offset:])
    if return_tensors == "pt":
        return torch.tensor(input_ids, dtype=torch.long)
    if return_tensors is not None:
        raise ValueError(f"unsupported tensor type: {return_tensors}")
    return input_ids


def get_model_name_from_path(model_path: str) -> str:
    parts = model_path.strip("/").split("/")
    if parts[-1].startswith("checkpoint-"):
        return parts[-2] + "_" + parts[-1]
    return parts[-1]
