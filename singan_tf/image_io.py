"""Reading the user's training image and writing samples and preview grids.

Pixels live in float32 [-1, 1] everywhere inside singan-tf (the range the official SinGAN
normalises to); this module is the only place that converts to and from files.
"""

from __future__ import annotations

import hashlib
import math
import os
import secrets
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from singan_tf.errors import SinganError

PathLike = str | os.PathLike[str]
# What a user may hand over as an image: a file, or what a notebook already holds.
ImageSource = PathLike | Image.Image | np.ndarray

_BACKGROUND = 128  # mid grey: neither dark nor light samples blend into it
_LABEL_COLOUR = 0
_DEFAULT_FORMAT = "PNG"


def load_image(path: PathLike) -> np.ndarray:
    """Decodes a user-supplied image into the [H, W, 3] float32 [-1, 1] array SinGAN trains on.

    Everything that can go wrong with a user's file becomes a one-line SinganError naming it,
    and it goes wrong here, up front: the full decode is forced so that a truncated file fails
    now rather than producing a half-grey training image.  Alpha is dropped without compositing,
    as the official SinGAN does, so transparent pixels keep their stored colour.
    """
    try:
        with Image.open(path) as picture:
            picture.load()
            picture = ImageOps.exif_transpose(picture)
            if 0 in picture.size:
                raise SinganError(f"cannot read image '{path}': it has zero size {picture.size}")
            unit = _unit_rgb(picture)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as err:
        raise SinganError(f"cannot read image '{path}': {_reason(err)}") from err
    return (unit * 2 - 1).astype(np.float32)


def read_image(source: ImageSource) -> np.ndarray:
    """`load_image` for a file; a Pillow image or an array (a notebook's image, another model's
    output) converted by the same rules, so every way in gives the same training pixels."""
    if isinstance(source, (str, os.PathLike)):
        return load_image(source)
    if isinstance(source, Image.Image):
        unit = _unit_rgb(source)
    elif hasattr(source, "__array__"):
        unit = _unit_array(np.asarray(source))
    else:
        raise SinganError(f"expected an image file, a PIL image or an array, got {type(source).__name__}")
    return (unit * 2 - 1).astype(np.float32)


def describe_source(source: ImageSource) -> str:
    """How messages name an image: its file name, or what kind of object it was."""
    if isinstance(source, (str, os.PathLike)):
        return Path(source).name
    return "the PIL image" if isinstance(source, Image.Image) else "the array"


def _unit_array(array: np.ndarray) -> np.ndarray:
    """[H, W], [H, W, 1], [H, W, 3] or [H, W, 4] pixels to [H, W, 3] in [0, 1]: 8- and 16-bit
    integers scaled by their range, floats taken to be in [0, 1] (Pillow's 'F' rule), alpha dropped."""
    if array.ndim == 3 and array.shape[-1] in (1, 3, 4):
        array = array[..., 0] if array.shape[-1] == 1 else array[..., :3]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] != 3) or 0 in array.shape:
        raise SinganError(f"expected an image array of shape [H, W], [H, W, 1], [H, W, 3] or [H, W, 4], "
                          f"got {list(array.shape)}")
    if array.dtype == np.uint8:  # float32 like Pillow's 8-bit modes below, for the same pixels
        unit = array.astype(np.float32) / 255
        return np.repeat(unit[..., np.newaxis], 3, axis=-1) if unit.ndim == 2 else unit
    if array.dtype == np.uint16:
        unit = array.astype(np.float64) / 65535
    elif np.issubdtype(array.dtype, np.floating) or array.dtype == bool:
        unit = array.astype(np.float64)
    else:
        raise SinganError(f"expected an image array of uint8, uint16 or float values, got {array.dtype}")
    return _grey_to_rgb(unit) if unit.ndim == 2 else np.clip(unit, 0, 1)


def _unit_rgb(picture: Image.Image) -> np.ndarray:
    """Maps any Pillow mode to [H, W, 3] in [0, 1].

    High-bit-depth grey is scaled by hand because Pillow's convert('RGB') clips it to 255
    instead of rescaling; 'I' counts as 16-bit because older Pillows decode 16-bit PNGs into
    it, and float ('F') images are taken to be in [0, 1] already.
    """
    if picture.mode == "I" or picture.mode.startswith("I;16"):
        return _grey_to_rgb(np.asarray(picture, np.float64) / 65535)
    if picture.mode == "F":
        return _grey_to_rgb(np.asarray(picture, np.float64))
    if picture.mode in ("P", "PA"):
        # Via RGBA so Pillow applies the palette's transparency instead of warning about it;
        # the alpha is then dropped like any other.
        picture = picture.convert("RGBA")
    return np.asarray(picture.convert("RGB"), np.float32) / 255


def _grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(np.clip(grey, 0, 1)[..., np.newaxis], 3, axis=-1)


def _reason(err: BaseException) -> str:
    """Says what is wrong with the file in words a user can act on, on one line."""
    if isinstance(err, UnidentifiedImageError):
        return "not an image file, or in a format Pillow cannot read"
    if isinstance(err, Image.DecompressionBombError):
        return f"{_one_line(err)} Downscale it first."
    if isinstance(err, OSError) and err.strerror:
        return err.strerror  # the OS refused: missing file, a directory, no permission, ...
    return f"the file is truncated or corrupt ({_one_line(err)})"


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def image_hash(path: PathLike) -> str:
    """Identifies the exact training file (e.g. to tie a checkpoint to it) without decoding it.

    Streamed, so a large file never has to fit in memory.
    """
    try:
        with open(path, "rb") as file:
            return hashlib.file_digest(file, "sha256").hexdigest()
    except OSError as err:
        raise SinganError(f"cannot read '{path}': {_reason(err)}") from err


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Converts [-1, 1] floats (one image or a batch) to 8-bit pixels.

    Uses the official SinGAN's denorm, clip((x + 1) / 2, 0, 1), so out-of-range generator output
    saturates instead of wrapping; then * 255 and np.round (half to even), which makes
    load_image followed by to_uint8 return the original 8-bit values exactly. 8-bit pixels pass
    through as they are, so anything written as an image may be handed over in either form.
    """
    if isinstance(image, np.ndarray) and image.dtype == np.uint8:
        return image
    unit = np.clip((np.asarray(image, np.float32) + 1) / 2, 0, 1)
    return np.round(unit * 255).astype(np.uint8)


def save_image(image: np.ndarray, path: PathLike) -> None:
    """Writes a [H, W, 3] or [1, H, W, 3] float [-1, 1] image (numpy or tf tensor) or uint8 pixels.

    The format follows the extension (PNG if there is none).  Written atomically, so an
    interrupted run never leaves a half-written sample where a finished one is expected.
    """
    _write_pixels(to_uint8(_single_image(image)), Path(path))


def _single_image(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 3 or array.shape[-1] != 3:
        raise ValueError(f"expected an image of shape [H, W, 3] or [1, H, W, 3], got {array.shape}")
    return array


def _write_pixels(pixels: np.ndarray, path: Path) -> None:
    file_format = _format_for(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _replace_atomically(Image.fromarray(pixels), path, file_format)
    except OSError as err:
        raise SinganError(f"cannot write image '{path}': {_reason(err)}") from err


def _format_for(path: Path) -> str:
    if not path.suffix:
        return _DEFAULT_FORMAT
    file_format = Image.registered_extensions().get(path.suffix.lower())
    if file_format not in Image.SAVE:
        raise SinganError(
            f"cannot write image '{path}': Pillow cannot write '{path.suffix}' files; use .png"
        )
    return file_format


def _replace_atomically(picture: Image.Image, path: Path, file_format: str) -> None:
    """Writes beside the target, then renames over it: same folder, so the rename is atomic.

    The temporary file is created with open(..., 'x') rather than tempfile so that it gets the
    usual umask permissions, which the final file then keeps.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    file = open(temporary, "xb")
    try:
        with file:
            picture.save(file, format=file_format)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def make_grid(
    images: Sequence[np.ndarray],
    columns: int | None = None,
    pad: int = 2,
    labels: Sequence[str] | None = None,
) -> np.ndarray:
    """Tiles float [-1, 1] images (or uint8 pixels) of possibly different sizes into one uint8 [H, W, 3] picture.

    Meant for comparing samples across scales, so each column is as wide as its widest tile
    (or label) and each row as tall as its tallest tile, with tiles centred in their cells;
    a uniform cell size would drown the coarse scales in background.  Single-line labels go
    under each tile in Pillow's built-in default font, so no font file is needed.
    """
    tiles = [to_uint8(_single_image(image)) for image in images]
    if not tiles:
        raise ValueError("make_grid needs at least one image")
    if labels is not None and len(labels) != len(tiles):
        raise ValueError(f"got {len(labels)} labels for {len(tiles)} images")
    columns = min(columns or math.ceil(math.sqrt(len(tiles))), len(tiles))
    font = ImageFont.load_default()
    label_boxes = [font.getbbox(label) for label in labels or [""] * len(tiles)]

    widths = [max(tile.shape[1], box[2]) for tile, box in zip(tiles, label_boxes)]
    column_widths = [max(widths[c::columns]) for c in range(columns)]
    row_heights = [
        max(tile.shape[0] for tile in tiles[start : start + columns])
        for start in range(0, len(tiles), columns)
    ]
    label_height = pad + max(box[3] for box in label_boxes) if labels else 0
    lefts = _offsets(column_widths, pad)
    tops = _offsets([height + label_height for height in row_heights], pad)

    canvas = Image.new("RGB", (lefts[-1], tops[-1]), (_BACKGROUND,) * 3)
    draw = ImageDraw.Draw(canvas)
    for index, tile in enumerate(tiles):
        row, column = divmod(index, columns)
        left, top = lefts[column], tops[row]
        width, height = column_widths[column], row_heights[row]
        tile_height, tile_width = tile.shape[:2]
        corner = (left + (width - tile_width) // 2, top + (height - tile_height) // 2)
        canvas.paste(Image.fromarray(tile), corner)
        if labels:
            label_corner = (left + (width - label_boxes[index][2]) // 2, top + height + pad)
            draw.text(label_corner, labels[index], fill=(_LABEL_COLOUR,) * 3, font=font)
    return np.array(canvas)  # a copy: np.asarray of a Pillow image is read-only


def _offsets(sizes: Sequence[int], pad: int) -> list[int]:
    """Start of each cell, then the total length, with pad before, between and after cells."""
    offsets = [pad]
    for size in sizes:
        offsets.append(offsets[-1] + size + pad)
    return offsets


def save_grid(
    images: Sequence[np.ndarray],
    path: PathLike,
    columns: int | None = None,
    labels: Sequence[str] | None = None,
) -> None:
    """Writes make_grid's picture, atomically and by extension like save_image."""
    _write_pixels(make_grid(images, columns=columns, labels=labels), Path(path))
