"""Fault injection, images: `open_image` keeps image paths inside the image folder, reports
damaged files and decompression bombs by question line and file, and turns every pixel mode
into one the preprocessing can use without changing what LLaVA feeds the model for the
ordinary modes (16-bit images scaled to 8 bits instead of clipped to white)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from llava.eval.images import PADDABLE_MODES, open_image, resolve_image_path
from llava.mm_utils import expand2square

WHERE = "questions.jsonl:7"
CLIP_MEAN_FILL = (122, 116, 104)  # LLaVA's pad colour for CLIP


def png_bytes(width: int, height: int, bit_depth: int, colour_type: int, rows: bytes) -> bytes:
    """A minimal PNG (signature, IHDR, one IDAT of unfiltered rows, IEND), for what Pillow
    cannot write: 16-bit RGB, or a header announcing a huge image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def fails(folder: Path, relative: str, error=ValueError, **options) -> str:
    with pytest.raises(error) as err:
        open_image(folder, relative, WHERE, **options)
    message = str(err.value)
    assert message.startswith(f"{WHERE}: "), message
    return message


# --- where an image may come from --------------------------------------------------------------


@pytest.mark.parametrize("relative", ["../../etc/passwd", "/etc/passwd", "a/../../b.png"])
def test_paths_leaving_the_folder_are_refused(tmp_path: Path, relative: str) -> None:
    message = fails(tmp_path, relative)
    assert f"image {relative!r} points outside --image-folder {tmp_path}" in message
    with pytest.raises(ValueError, match="points outside"):  # the cheap pre-check says the same
        resolve_image_path(tmp_path, relative, WHERE)


def test_outside_paths_when_allowed(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    Image.new("RGB", (4, 4), (1, 2, 3)).save(tmp_path / "elsewhere" / "x.png")
    folder = tmp_path / "images"
    folder.mkdir()
    image = open_image(folder, "../elsewhere/x.png", WHERE, allow_outside=True)
    assert image.getpixel((0, 0)) == (1, 2, 3)
    absolute = str(tmp_path / "elsewhere" / "x.png")
    assert open_image(folder, absolute, WHERE, allow_outside=True).size == (4, 4)


def test_symbolic_links_inside_the_folder_still_work(tmp_path: Path) -> None:
    """Datasets are often folders of links to a shared copy: the check is on the path as written."""
    Image.new("RGB", (4, 4), (9, 9, 9)).save(tmp_path / "shared.png")
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "linked.png").symlink_to(tmp_path / "shared.png")
    assert open_image(folder, "linked.png", WHERE).getpixel((1, 1)) == (9, 9, 9)


@pytest.mark.parametrize("relative", ["", "  ", "a\x00.png"])
def test_names_that_are_not_file_names(tmp_path: Path, relative: str) -> None:
    assert "is not a file name" in fails(tmp_path, relative)


# --- damaged files -----------------------------------------------------------------------------


def test_missing_image(tmp_path: Path) -> None:
    message = fails(tmp_path, "nope.png", FileNotFoundError)
    assert f"image {tmp_path / 'nope.png'} not found (check --image-folder)" in message


def test_folder_instead_of_an_image(tmp_path: Path) -> None:
    (tmp_path / "dir.png").mkdir()
    assert f"image {tmp_path / 'dir.png'} is not a file" in fails(tmp_path, "dir.png")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    assert "is empty (0 bytes)" in fails(tmp_path, "empty.jpg")


def test_not_an_image(tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("hello")
    assert f"{tmp_path / 'notes.png'} is not an image Pillow can read" in fails(
        tmp_path, "notes.png"
    )


@pytest.mark.parametrize("suffix", ["png", "jpg"])
def test_truncated_image(tmp_path: Path, suffix: str) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / f"full.{suffix}")
    data = (tmp_path / f"full.{suffix}").read_bytes()
    (tmp_path / f"cut.{suffix}").write_bytes(data[: len(data) // 2])
    message = fails(tmp_path, f"cut.{suffix}")
    assert f"image {tmp_path / f'cut.{suffix}'} is truncated or corrupt" in message


def test_decompression_bomb_is_an_error(tmp_path: Path) -> None:
    """20000 x 20000 announced in the header: refused before decoding (PIL would raise
    DecompressionBombError)."""
    (tmp_path / "bomb.png").write_bytes(png_bytes(20000, 20000, 8, 2, b""))
    assert "is too large to decode safely" in fails(tmp_path, "bomb.png")


def test_over_the_limit_is_refused_not_just_warned(tmp_path: Path, monkeypatch) -> None:
    """Between the limit and twice it, PIL only warns; that is refused too."""
    Image.new("RGB", (30, 30)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 600)  # 900 pixels: over, but under twice
    assert "exceeds limit of 600 pixels" in fails(tmp_path, "big.png")


# --- pixel modes -------------------------------------------------------------------------------


def test_sixteen_bit_grey_png_is_scaled_not_white(tmp_path: Path) -> None:
    ramp = np.linspace(0, 65535, 8 * 16).astype(np.uint16).reshape(8, 16)
    Image.fromarray(ramp).save(tmp_path / "ramp16.png")
    assert Image.open(tmp_path / "ramp16.png").convert("RGB").getpixel((8, 4))[0] == 255  # PIL
    image = open_image(tmp_path, "ramp16.png", WHERE)
    assert image.mode == "RGB"
    grey = np.asarray(image)[..., 0]
    np.testing.assert_array_equal(grey, (ramp >> 8).astype(np.uint8))
    assert (np.asarray(image)[..., 1] == grey).all() and (np.asarray(image)[..., 2] == grey).all()


def test_sixteen_bit_rgb_png_keeps_its_colours(tmp_path: Path) -> None:
    pixel = struct.pack(">HHH", 0xC800, 0x1400, 0x6400)  # 200, 20, 100 in the high bytes
    rows = b"".join(b"\x00" + pixel * 5 for _ in range(3))
    (tmp_path / "rgb48.png").write_bytes(png_bytes(5, 3, 16, 2, rows))
    image = open_image(tmp_path, "rgb48.png", WHERE)
    assert image.getpixel((2, 1)) == (200, 20, 100)


@pytest.mark.parametrize(
    ("mode", "values", "expected"),
    [
        ("I", [0, 256, 65535, 70000, -5], [0, 1, 255, 255, 0]),  # taken as 16-bit data
        ("F", [0.0, 0.5, 1.0, 0.25, 0.0], [0, 128, 255, 64, 0]),  # [0, 1] floats
        ("F", [0.0, 100.0, 300.0, -2.0, 7.4], [0, 100, 255, 0, 7]),  # other floats: clipped
    ],
)
def test_wide_and_float_grey(tmp_path: Path, mode: str, values: list, expected: list) -> None:
    dtype = np.int32 if mode == "I" else np.float32
    Image.fromarray(np.array([values], dtype=dtype)).save(tmp_path / "wide.tif")
    image = open_image(tmp_path, "wide.tif", WHERE)
    assert [image.getpixel((x, 0))[0] for x in range(len(values))] == expected


def _saved(tmp_path: Path, mode: str) -> str:
    """A 6 x 4 image of `mode` with some structure, saved in a format that keeps the mode."""
    if mode == "P":
        image = Image.new("RGB", (6, 4), (200, 10, 10)).quantize(4)
        image.info["transparency"] = 0
    elif mode == "CMYK":
        image = Image.new("CMYK", (6, 4), (0, 200, 200, 0))
    else:
        image = Image.new(mode, (6, 4))
        image.paste(Image.new(mode, (3, 4), (255,) * len(image.getbands())), (0, 0))
    name = f"{mode}.tif" if mode == "CMYK" else f"{mode}.png"
    image.save(tmp_path / name, **({"transparency": 0} if mode == "P" else {}))
    return name


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16"])
def test_every_mode_becomes_usable(tmp_path: Path, mode: str) -> None:
    name = _saved(tmp_path, mode)
    assert Image.open(tmp_path / name).mode == mode
    rgb = open_image(tmp_path, name, WHERE)
    assert rgb.mode == "RGB"
    if mode not in ("I;16",):  # LLaVA's own conversion, for every 8-bit mode
        with Image.open(tmp_path / name) as original:
            assert rgb.tobytes() == original.convert("RGB").tobytes()
    native = open_image(tmp_path, name, WHERE, convert_rgb=False)
    if mode in PADDABLE_MODES:  # the science / MMBench entry points pad in the image's own mode
        assert native.mode == mode
        with Image.open(tmp_path / name) as original:
            expected = expand2square(original, CLIP_MEAN_FILL)
        assert expand2square(native, CLIP_MEAN_FILL).tobytes() == expected.tobytes()
    else:  # a mode the three-value mean colour cannot fill: RGB, so padding works
        assert native.mode == "RGB"
        assert expand2square(native, CLIP_MEAN_FILL).getpixel((0, 0)) == CLIP_MEAN_FILL


def test_exif_orientation_is_not_applied(tmp_path: Path) -> None:
    """LLaVA never calls exif_transpose: a photo tagged "rotate 90" is fed as stored."""
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    Image.new("RGB", (40, 20), (10, 120, 10)).save(tmp_path / "tagged.jpg", exif=exif)
    image = open_image(tmp_path, "tagged.jpg", WHERE)
    assert image.size == (40, 20)
