"""A question's image: where it comes from and how it is opened, as each LLaVA entry point does.

model_vqa_loader and model_vqa open a file and convert it to RGB at once. model_vqa_science
opens a file and model_vqa_mmbench decodes a base64 cell, both WITHOUT converting: the image is
padded to a square in its own mode and converted only afterwards, by the image processor
(haotian-liu/LLaVA c121f0432da27facab705978f83c4ada465e46fd, llava/eval/model_vqa_science.py
and model_vqa_mmbench.py; llava.mm_utils.process_images keeps that order). For a transparent
or palette image the two orders give different pixels.
"""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

# Any three-channel colour: LLaVA's padding fills with the processor's mean colour, a 3-tuple.
_RGB_FILL = (0, 0, 0)


def _native(image: Image.Image) -> Image.Image:
    """The image in its own mode, unless that mode takes no RGB fill (L, LA, I, F, 1): there
    LLaVA's padding raises (PIL refuses a 3-tuple colour), so those are converted to RGB first.
    For square images, which are not padded, that gives the same pixels as LLaVA."""
    try:
        Image.new(image.mode, (1, 1), _RGB_FILL)
    except (TypeError, ValueError):
        return image.convert("RGB")
    return image


@dataclass(frozen=True)
class ImageFile:
    """An image file; `convert_rgb`: converted on opening (loader, model_vqa) or kept in its
    own mode until padded (science)."""

    path: Path
    convert_rgb: bool = True

    def describe(self) -> str:
        return str(self.path)

    def missing(self) -> str | None:
        """Why the image cannot be had, without decoding it (None: it is there)."""
        return None if self.path.is_file() else "not found (check --image-folder)"

    def open(self) -> Image.Image:
        with Image.open(self.path) as image:
            image.load()
            return image.convert("RGB") if self.convert_rgb else _native(image)


@dataclass(frozen=True)
class Base64Image:
    """An image held in a table cell as base64 (MMBench's TSV), kept in its own mode."""

    data: str

    def describe(self) -> str:
        return "in the 'image' column"

    def missing(self) -> str | None:
        return None if self.data.strip() else "is empty"

    def open(self) -> Image.Image:
        try:
            raw = base64.b64decode(self.data, validate=False)
        except (binascii.Error, ValueError) as err:
            raise OSError(f"not valid base64: {err}") from err
        with Image.open(io.BytesIO(raw)) as image:
            image.load()
            return _native(image)


ImageSource = ImageFile | Base64Image
