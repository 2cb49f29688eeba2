"""Where a question's image comes from: a file of the image folder, or a base64 cell of a table
(MMBench's TSV). Both are opened by llava.eval.images, RGB (model_vqa_loader, model_vqa) or in
the image's own mode until padded (model_vqa_science, model_vqa_mmbench; LLaVA's order, see
llava.mm_utils.process_images).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from llava.eval.images import decode_image_bytes, open_image, resolve_image_path

BASE64_CELL = "'image' cell"  # how messages name an image held in a table


@dataclass(frozen=True)
class ImageFile:
    folder: Path
    relative: str  # as the question file writes it
    convert_rgb: bool = True
    allow_outside: bool = False  # --allow-outside-images: absolute paths and ".." let through

    def check(self, where: str) -> None:
        """Fail if the image is missing or outside the folder, without decoding it."""
        path = resolve_image_path(
            self.folder, self.relative, where, allow_outside=self.allow_outside
        )
        if not path.is_file():
            raise FileNotFoundError(f"{where}: image {path} not found (check --image-folder)")

    def open(self, where: str) -> Image.Image:
        return open_image(
            self.folder, self.relative, where,
            allow_outside=self.allow_outside, convert_rgb=self.convert_rgb,
        )  # fmt: skip


@dataclass(frozen=True)
class Base64Image:
    data: str  # the cell's text: base64 of an image file, kept in its own mode

    def check(self, where: str) -> None:
        if not self.data.strip():
            raise ValueError(f"{where}: image {BASE64_CELL} is empty")

    def open(self, where: str) -> Image.Image:
        try:
            raw = base64.b64decode(self.data)
        except (binascii.Error, ValueError) as err:
            raise ValueError(f"{where}: image {BASE64_CELL} is not valid base64 ({err})") from err
        return decode_image_bytes(raw, where, BASE64_CELL, convert_rgb=False)


ImageSource = ImageFile | Base64Image
