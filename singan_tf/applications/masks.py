"""The official soft mask for harmonization and editing: a binary mask grown by a disk, feathered by
a Gaussian, stretched to [0, 1].

Official `dilate_mask`: channel 0 of the 8-bit mask, any non-zero pixel set; binary dilation with a
disk (radius 7 for harmonization, 20 for editing; skimage `disk`: x^2 + y^2 <= r^2, zero outside the
image); Gaussian blur sigma 5 (skimage defaults: truncated at 4 sigma, border = nearest pixel);
min-max normalisation; 3 channels. Built from TensorFlow ops with constant kernels so it runs eagerly,
in a tf.function and in an exported graph.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import tensorflow as tf

from singan_tf.applications.common import Note, ignore_note, load_at_size
from singan_tf.errors import SinganError
from singan_tf.image_io import ImageSource, describe_source
from singan_tf.pyramid import quantize_8bit

HARMONIZATION_RADIUS = 7
EDITING_RADIUS = 20
BLUR_SIGMA = 5.0
BLUR_TRUNCATE = 4.0
FLAT = 1e-4  # float32 rounding of the blur is ~1e-6; a real feathered edge spans far more


def disk(radius: int) -> np.ndarray:
    """skimage.morphology.disk: the (2r+1)^2 square's points within distance r of the centre."""
    offsets = np.arange(-radius, radius + 1)
    return (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius**2).astype(np.float32)


def binary_mask(mask: tf.Tensor) -> tf.Tensor:
    """[1, H, W, C] in [-1, 1] -> [1, H, W, 1] of 0/1: channel 0 non-zero at 8 bits (the official test:
    its uint8 mask goes straight into a binary dilation)."""
    return tf.cast(quantize_8bit(mask[..., :1]) > -1.0, tf.float32)


def dilate(binary: tf.Tensor, radius: int) -> tf.Tensor:
    """Binary dilation by a disk: a pixel is set when the disk around it covers a set pixel. A
    convolution counts the covered pixels (exact in float32), zero padding = nothing outside."""
    counts = tf.nn.conv2d(binary, disk(radius)[:, :, None, None], strides=1, padding="SAME")
    return tf.cast(counts > 0.5, tf.float32)


def blur_matrix(length: int, sigma: float, truncate: float = BLUR_TRUNCATE) -> np.ndarray:
    """[length, length] Gaussian filter along one axis with scipy's 'nearest' border (taps beyond the
    edge read the edge pixel), radius int(truncate * sigma + 0.5) as scipy.ndimage.gaussian_filter."""
    radius = int(truncate * sigma + 0.5)
    taps = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 * (taps / sigma) ** 2)
    weights /= weights.sum()
    matrix = np.zeros((length, length), np.float64)
    rows = np.repeat(np.arange(length), taps.size)
    columns = np.clip(np.arange(length)[:, None] + taps[None, :], 0, length - 1).ravel()
    np.add.at(matrix, (rows, columns), np.tile(weights, length))
    return matrix.astype(np.float32)


def gaussian_blur(images: tf.Tensor, sigma: float) -> tf.Tensor:
    """Separable Gaussian blur of [B, H, W, C] (H, W static) as two matrix products."""
    height, width = images.shape[1], images.shape[2]
    rows = tf.einsum("ih,bhwc->biwc", blur_matrix(height, sigma), images)
    return tf.einsum("jw,biwc->bijc", blur_matrix(width, sigma), rows)


def soft_mask(mask: tf.Tensor, radius: int, sigma: float = BLUR_SIGMA) -> tf.Tensor:
    """The official blending mask, [1, H, W, 3] in [0, 1], from a user mask [1, H, W, C] in [-1, 1].

    When the dilated mask covers the whole image the blur is flat up to float rounding, and stretching
    that rounding noise to [0, 1] would give a random mask: such a mask (span below FLAT) stays as the
    blur left it, all ones.
    """
    blurred = gaussian_blur(dilate(binary_mask(mask), radius), sigma)
    low, high = tf.reduce_min(blurred), tf.reduce_max(blurred)
    span = high - low
    normalised = tf.where(span > FLAT, (blurred - low) / tf.maximum(span, FLAT), blurred)
    return tf.repeat(normalised, 3, axis=-1)


def assert_not_empty(mask: tf.Tensor) -> tf.Operation:
    """The graph-side check of an empty mask (the CLI already refuses one with a SinganError)."""
    return tf.debugging.Assert(
        tf.reduce_any(binary_mask(mask) > 0), ["the mask is empty: no non-zero pixel in its first channel"]
    )


def default_mask(image: Path) -> Path:
    """The official naming: <image stem>_mask<ext> beside the image."""
    return Path(image).with_name(f"{Path(image).stem}_mask{Path(image).suffix}")


def load_mask(source: ImageSource, size: Sequence[int], note: Note = ignore_note) -> tf.Tensor:
    """A user's mask (any mode: grey, RGB, RGBA, palette; channel 0 is used) at the training size."""
    mask = load_at_size(source, size, "mask", note)
    if not bool(tf.reduce_any(binary_mask(mask) > 0)):
        raise SinganError(f"mask {describe_source(source)} is empty: its first channel has no non-zero pixel "
                          f"(at {size[0]}x{size[1]})")
    return mask
