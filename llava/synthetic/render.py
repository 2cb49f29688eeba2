"""Turn a `Scene` into pixels: background, then each object as a flat-coloured shape.

The same drawing routine fills the image and the per-object masks (`object_mask`), so the
per-patch targets in `patches.py` match the rendered pixels exactly. Rendering is a pure
function of the scene (the background noise has its own seed in the scene), hence
deterministic: the same scene always gives the same PNG bytes.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from llava.synthetic.fonts import font, text_color
from llava.synthetic.scenes import Background, Scene, SceneObject
from llava.synthetic.vocab import BACKGROUNDS, COLORS, WORD_FONT_SIZE, WORD_SHAPE

Point = tuple[float, float]


def shape_polygon(shape: str, bbox: tuple[int, int, int, int]) -> list[Point] | None:
    """The outline of a polygonal shape inside `bbox`; None for circles and rectangles."""
    x0, y0, x1, y1 = bbox
    right, bottom = x1 - 1, y1 - 1  # PIL coordinates are inclusive
    cx, cy = (x0 + right) / 2, (y0 + bottom) / 2
    if shape == "triangle":
        return [(x0, bottom), (right, bottom), (cx, y0)]
    if shape == "diamond":
        return [(cx, y0), (right, cy), (cx, bottom), (x0, cy)]
    if shape == "star":
        outer = (right - x0) / 2
        inner = 0.5 * outer  # chunky, so the star still covers a few patches
        cy_star = cy + 0.1 * outer  # a 5-point star's bbox centre sits below its centre
        points = []
        for k in range(10):
            radius = outer if k % 2 == 0 else inner
            angle = -math.pi / 2 + k * math.pi / 5
            points.append((cx + radius * math.cos(angle), cy_star + radius * math.sin(angle)))
        return points
    if shape == "cross":
        arm = (right - x0 + 1) / 3
        a0, a1 = x0 + arm, right - arm
        b0, b1 = y0 + arm, bottom - arm
        return [
            (a0, y0), (a1, y0), (a1, b0), (right, b0), (right, b1), (a1, b1),
            (a1, bottom), (a0, bottom), (a0, b1), (x0, b1), (x0, b0), (a0, b0),
        ]  # fmt: skip
    if shape in ("circle", "square", WORD_SHAPE):
        return None
    raise ValueError(f"unknown shape {shape!r}")


def draw_shape(draw: ImageDraw.ImageDraw, obj: SceneObject, fill: int | tuple[int, ...]) -> None:
    """Fill `obj`'s shape (not its word) with `fill` on `draw`."""
    x0, y0, x1, y1 = obj.bbox
    polygon = shape_polygon(obj.shape, obj.bbox)
    if polygon is not None:
        draw.polygon(polygon, fill=fill)
    elif obj.shape == "circle":
        draw.ellipse((x0, y0, x1 - 1, y1 - 1), fill=fill)
    else:
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=fill)


def object_mask(obj: SceneObject, size: tuple[int, int]) -> np.ndarray:
    """(H, W) bool: the pixels `obj` covers in an image of `size` = (width, height)."""
    mask = Image.new("L", size, 0)
    draw_shape(ImageDraw.Draw(mask), obj, 255)
    return np.asarray(mask) > 0


def background_pixels(background: Background, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8: a solid colour or a two-colour gradient, plus optional grey noise."""
    width, height = size
    first = np.array(BACKGROUNDS[background.colors[0]], dtype=np.float32)
    if len(background.colors) == 1:
        pixels = np.broadcast_to(first, (height, width, 3)).copy()
    else:
        second = np.array(BACKGROUNDS[background.colors[1]], dtype=np.float32)
        xs = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
        ys = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
        if background.direction == "horizontal":
            t = np.broadcast_to(xs, (height, width))
        elif background.direction == "vertical":
            t = np.broadcast_to(ys, (height, width))
        elif background.direction == "diagonal":
            t = (xs + ys) / 2
        else:
            raise ValueError(f"unknown gradient direction {background.direction!r}")
        pixels = first * (1 - t[..., None]) + second * t[..., None]
    if background.noise > 0:
        noise_rng = np.random.default_rng(background.noise_seed)
        amplitude = background.noise
        noise = noise_rng.integers(
            -amplitude, amplitude + 1, size=(height, width, 1), dtype=np.int16
        )
        pixels = pixels + noise
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def render(scene: Scene) -> Image.Image:
    """The RGB image of `scene` (size `scene.size`)."""
    image = Image.fromarray(background_pixels(scene.background, scene.size))
    draw = ImageDraw.Draw(image)
    for obj in scene.objects:
        fill = COLORS[obj.color]
        draw_shape(draw, obj, fill)
        if obj.word is not None:
            cx, cy = obj.center
            draw.text(
                (cx, cy), obj.word, fill=text_color(fill), font=font(WORD_FONT_SIZE), anchor="mm"
            )
    return image
