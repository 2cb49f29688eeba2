"""Opening a question's image: confined to the image folder, decoded completely, in a mode the
model's preprocessing can use, every failure a ValueError (or FileNotFoundError) naming the
question line and the file.

What LLaVA's entry points do, and what is kept:
- `Image.open(os.path.join(image_folder, image_file))`, then `.convert('RGB')` in
  `model_vqa_loader` / `model_vqa`; `model_vqa_science` and `model_vqa_mmbench` keep the image's
  own mode and pad in it (docs: benchmarks-suite.md section 1.3): `convert_rgb=False`.
- EXIF orientation is NOT applied (LLaVA never calls `ImageOps.exif_transpose`): a photo stored
  sideways with an orientation tag is seen sideways, as LLaVA's published numbers saw it.
- Alpha is dropped by `.convert('RGB')`, not composited on a background, as in LLaVA.

What is changed, because LLaVA silently feeds the model a wrong picture or crashes:
- 16-bit and 32-bit grayscale (`I;16*`, `I`) are scaled to 8 bits (the high byte, as Pillow
  reads 16-bit RGB PNGs) instead of clipped to 255: PIL's own `.convert` turns a 16-bit PNG
  almost uniformly white. `I` is taken as 16-bit data, which is how older Pillow versions opened
  16-bit PNGs. Float images (`F`) in [0, 1] are scaled by 255, other float images clipped to
  [0, 255].
- With `convert_rgb=False`, modes LLaVA's square padding cannot fill with its three-value mean
  colour (`1`, `L`, `LA`, `PA`, the 16-bit and float modes) become RGB; the others keep their
  mode (RGB, RGBA, P, CMYK, ...), so padding still happens in it.
- An image path that leaves the image folder (`../../etc/passwd`, an absolute path) is refused
  unless `allow_outside=True` (LLaVA's `os.path.join` lets both through). The check is on the
  path as written, so image files that are symbolic links to another disk still work.
- Images larger than Pillow's decompression-bomb limit (`PIL.Image.MAX_IMAGE_PIXELS`, about
  89 megapixels; raise it in code to allow more) are refused with a message rather than a
  `DecompressionBombError` traceback or a warning.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path, PurePath
from typing import BinaryIO

import numpy as np
from PIL import Image

# Modes in which LLaVA's `expand2square` can paint its (R, G, B) mean colour.
PADDABLE_MODES = frozenset({"RGB", "RGBA", "RGBX", "RGBa", "P", "CMYK", "YCbCr", "LAB", "HSV"})
_WIDE_INTEGER_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})


def resolve_image_path(
    folder: str | Path, relative: str, where: str, *, allow_outside: bool = False
) -> Path:
    """`folder / relative`, refusing a path that leaves `folder` unless `allow_outside`.

    Cheap (no file access): a runner can check every question this way before loading a model.
    """
    if not isinstance(relative, str) or not relative.strip() or "\x00" in relative:
        raise ValueError(f"{where}: image {relative!r} is not a file name")
    written = PurePath(relative)
    if not allow_outside and (written.is_absolute() or ".." in written.parts):
        raise ValueError(
            f"{where}: image {relative!r} points outside --image-folder {folder}; image paths "
            "must stay inside it (--allow-outside-images permits them if the file is trusted)"
        )
    return Path(folder) / relative


def open_image(
    folder: str | Path,
    relative: str,
    where: str,
    *,
    allow_outside: bool = False,
    convert_rgb: bool = True,
) -> Image.Image:
    """The image `relative` of `folder`, fully decoded: RGB with `convert_rgb` (LLaVA's
    loader), else in its own mode when padding can fill it (LLaVA's science and MMBench entry
    points). `where` ("questions.jsonl:12") starts every error message."""
    path = resolve_image_path(folder, relative, where, allow_outside=allow_outside)
    if not path.exists():
        raise FileNotFoundError(f"{where}: image {path} not found (check --image-folder)")
    if not path.is_file():
        raise ValueError(f"{where}: image {path} is not a file")
    if path.stat().st_size == 0:
        raise ValueError(f"{where}: image {path} is empty (0 bytes); replace the file")
    return _usable(_decode(path, where, str(path)), where, str(path), convert_rgb)


def decode_image_bytes(
    data: bytes, where: str, name: str, *, convert_rgb: bool = True
) -> Image.Image:
    """An image held in memory (MMBench's base64 cells), decoded and converted as `open_image`
    does; `name` says where the bytes came from in messages ("in the 'image' column")."""
    if not data:
        raise ValueError(f"{where}: image {name} is empty")
    return _usable(_decode(io.BytesIO(data), where, name), where, name, convert_rgb)


def _usable(image: Image.Image, where: str, name: str, convert_rgb: bool) -> Image.Image:
    """RGB with `convert_rgb`, else the image's own mode when padding can fill it."""
    try:
        image = _eight_bit(image)
        if convert_rgb or image.mode not in PADDABLE_MODES:
            with warnings.catch_warnings():
                # "Palette images with Transparency expressed in bytes should be converted to
                # RGBA images": the alpha is dropped either way, as in LLaVA.
                warnings.simplefilter("ignore", UserWarning)
                image = image.convert("RGB")
    except ValueError as err:  # a mode Pillow cannot convert
        raise ValueError(
            f"{where}: image {name} (mode {image.mode}) cannot be converted to RGB ({err})"
        ) from err
    return image


def _decode(source: Path | BinaryIO, where: str, name: str) -> Image.Image:
    """Open and fully decode `source` (decoding errors surface here, not in the model's
    preprocessing); a file is closed on return."""
    try:
        with warnings.catch_warnings():
            # Over MAX_IMAGE_PIXELS Pillow only warns (it raises over twice that): refuse both.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as image:
                image.load()
                return image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ValueError(
            f"{where}: image {name} is too large to decode safely ({err}); shrink it, or raise "
            "PIL.Image.MAX_IMAGE_PIXELS if it is genuine"
        ) from err
    except Image.UnidentifiedImageError as err:
        raise ValueError(f"{where}: {name} is not an image Pillow can read") from err
    except OSError as err:
        raise ValueError(
            f"{where}: image {name} is truncated or corrupt ({err}); replace the file"
        ) from err
    except Exception as err:  # noqa: BLE001 - Pillow's decoders fail in many ways on bad bytes
        raise ValueError(
            f"{where}: image {name} cannot be decoded ({type(err).__name__}: {err}); replace it"
        ) from err


def _eight_bit(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit and float grayscale as 8-bit `L`; other modes unchanged."""
    if image.mode in _WIDE_INTEGER_MODES:
        values = np.clip(np.asarray(image, dtype=np.int64), 0, 65535) >> 8
        return Image.fromarray(values.astype(np.uint8))
    if image.mode == "F":
        values = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0.0)
        if values.size and values.min() >= 0.0 and values.max() <= 1.0:
            values = values * 255.0
        return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8))
    return image
