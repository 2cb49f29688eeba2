"""Text measurement with PIL's built-in scalable font (no downloads, no system fonts)."""

from __future__ import annotations

from functools import lru_cache

from PIL import ImageFont

from llava.synthetic.vocab import RGB


@lru_cache(maxsize=8)
def font(size: int) -> ImageFont.FreeTypeFont:
    """Pillow's bundled font at `size` px (needs Pillow >= 10.1 built with FreeType)."""
    loaded = ImageFont.load_default(size=size)
    if not isinstance(loaded, ImageFont.FreeTypeFont):
        raise ValueError(
            "Pillow has no FreeType support, so its default font cannot be scaled; "
            "install a Pillow wheel from PyPI (>= 10.1)"
        )
    return loaded


def text_size(text: str, size: int) -> tuple[int, int]:
    """(width, height) in pixels of `text` drawn at `size`, measured with the "mm" anchor."""
    x0, y0, x1, y1 = font(size).getbbox(text, anchor="mm")
    return x1 - x0, y1 - y0


def text_color(background: RGB) -> RGB:
    """Black on light fills, white on dark ones (ITU-R 601 luma)."""
    r, g, b = background
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 140 else (255, 255, 255)
