"""What every injection application needs: the trained model with its training image, the valid
injection scales, inputs brought to the training size, and the per-scale result files and grid.

Injection replaces the output of scales 0..n-1 by the user's image, so it is only defined for
n in 1..N-1; the official scripts make the user pick n and rerun, here every n is produced at once
unless one is asked for.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf

from singan_tf.errors import SinganError
from singan_tf.image_io import ImageSource, describe_source, read_image, save_grid, save_image, to_uint8
from singan_tf.model_store import load_pyramid, load_tensors, read_manifest
from singan_tf.pyramid import Pyramid, official_resize
from singan_tf.sampler import Sampler

Note = Callable[[str], None]


def ignore_note(message: str) -> None:
    """The default for callers that do not show notes."""


@dataclasses.dataclass
class TrainedModel:
    """A model folder opened for the applications."""

    model_dir: Path
    manifest: dict[str, Any]
    pyramid: Pyramid
    sampler: Sampler
    real: tf.Tensor  # the training image at the finest trained scale, [1, H, W, 3]

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.pyramid.scale_sizes[-1])

    def real_at(self, scale: int) -> tf.Tensor:
        return tf.constant(load_tensors(self.model_dir, scale)["real"])


def load_model(model_dir: Path) -> TrainedModel:
    manifest = read_manifest(model_dir)
    pyramid = load_pyramid(model_dir, manifest)
    real = tf.constant(load_tensors(model_dir, pyramid.num_scales - 1)["real"])
    return TrainedModel(Path(model_dir), manifest, pyramid, Sampler(pyramid), real)


def opened(model: TrainedModel | Path) -> TrainedModel:
    """For functions that take an opened model or its folder."""
    return model if isinstance(model, TrainedModel) else load_model(model)


def injection_scales(num_scales: int, requested: int | None) -> list[int]:
    """The scales to inject at: the one requested, or all valid ones (1..N-1)."""
    if num_scales < 2:
        raise SinganError("injection needs a model with at least 2 scales (scale 0 has no coarser scale to replace)")
    if requested is None:
        return list(range(1, num_scales))
    if not 1 <= requested < num_scales:
        raise SinganError(f"--injection-scale must be in 1..{num_scales - 1} for this model (got {requested})")
    return [requested]


def inject_at(sampler: Sampler, image: tf.Tensor, scale, seed) -> tf.Tensor:
    """`Sampler.inject` at a Python int scale, or at an int32 scalar tensor scale through
    tf.switch_case (one branch per valid scale), so an exported signature can take it as an input."""
    if isinstance(scale, (int, np.integer)):
        return sampler.inject(image, int(scale), seed)
    top = sampler.pyramid.num_scales - 1
    valid = tf.logical_and(scale >= 1, scale <= top)
    with tf.control_dependencies([tf.debugging.Assert(valid, [f"injection scale must be in 1..{top}; got", scale])]):
        index = tf.identity(scale) - 1
    branches = [functools.partial(sampler.inject, image, n, seed) for n in range(1, top + 1)]
    return tf.switch_case(index, branches)


def fit_to_size(images: tf.Tensor, size: Sequence[int]) -> tf.Tensor:
    """[1, h, w, C] at the training size [1, H, W, C], resized the official way (8-bit, MATLAB bicubic,
    scale per axis) when the size differs or is unknown inside a graph."""
    height, width = size
    if tuple(images.shape[1:3]) == (height, width):
        return images
    return official_resize(images, height, width)


def load_at_size(source: ImageSource, size: Sequence[int], what: str, note: Note = ignore_note) -> tf.Tensor:
    """A user's image (a file, a PIL image or an array) as [1, H, W, 3] at the training size, with a
    note when it had to be resized."""
    image = read_image(source)
    height, width = image.shape[:2]
    if (height, width) != tuple(size):
        stretched = abs((height / width) / (size[0] / size[1]) - 1) > 0.01
        note(
            f"note: {what} {describe_source(source)} is {height}x{width}; resized to the training size "
            f"{size[0]}x{size[1]}"
            + (" (a different aspect ratio, so it is stretched)" if stretched else "")
        )
    return fit_to_size(tf.constant(image[None]), size)


@dataclasses.dataclass
class ResultRow:
    """One kind of result across scales: files `start_scale=<n><suffix>.png`, and one grid row led
    by an input tile for comparison."""

    lead_label: str
    lead: tf.Tensor
    suffix: str
    images: dict[int, tf.Tensor]


@dataclasses.dataclass(frozen=True)
class InjectionResult:
    """What harmonization, editing or paint-to-image made, for every injection scale it ran.

    `rows` holds every kind of output (the edit's full generator output and its blend, the
    quantised painting and its rendering); the last row is the application's result, which
    `images` gives as 8-bit pixels. `extras` are whole-image files beside them (the mask used).
    """

    rows: tuple[ResultRow, ...]
    extras: dict[str, tf.Tensor] = dataclasses.field(default_factory=dict)

    @property
    def images(self) -> dict[int, np.ndarray]:
        """{injection scale: [H, W, 3] uint8}, the pixels `save` writes as start_scale=<n>*.png."""
        return {scale: to_uint8(np.asarray(image)[0]) for scale, image in self.rows[-1].images.items()}

    def save(self, out_dir: Path) -> list[Path]:
        """The official file names (see write_results) plus <extra>.png; returns the paths, grid last."""
        paths = []
        for name, image in self.extras.items():
            paths.append(Path(out_dir) / f"{name}.png")
            save_image(image, paths[-1])
        return paths + write_results(out_dir, self.rows)


def write_results(out_dir: Path, rows: Sequence[ResultRow]) -> list[Path]:
    """One PNG per scale and kind (official names), plus grid.png when there are several scales.
    Returns the written paths, the grid last."""
    out_dir = Path(out_dir)
    paths = []
    for row in rows:
        for scale, image in row.images.items():
            path = out_dir / f"start_scale={scale}{row.suffix}.png"
            save_image(np.asarray(image), path)
            paths.append(path)
    scales = list(rows[0].images)
    if len(scales) > 1:
        tiles, labels = [], []
        for row in rows:
            tiles += [np.asarray(row.lead)] + [np.asarray(row.images[s]) for s in scales]
            labels += [row.lead_label] + [f"scale {s}{row.suffix.replace('_', ' ')}" for s in scales]
        grid = out_dir / "grid.png"
        save_grid(tiles, grid, columns=len(scales) + 1, labels=labels)
        paths.append(grid)
    return paths
