"""The image pyramid and the pass that runs trained generators coarse to fine.

This is the one place where scales are chained: training draws its "previous scale" inputs through
it, the sampler and the applications call it, and the export traces it into the SavedModel graph.
Noise is always passed in, so each caller picks its own noise source.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from singan_tf.models import PADDING, Generator, pad
from singan_tf.resize import imresize
from singan_tf.scale_plan import ScalePlan


LEVEL_STEP = np.float32(1 / 127.5)


def quantize_8bit(images: tf.Tensor) -> tf.Tensor:
    """Truncate to the 8-bit grid the way every official `imresize` call does (uint8 cast = floor).

    The tiny offset keeps values that are exactly on the grid (e.g. decoded 8-bit pixels) from
    falling to the level below through float rounding. The levels are multiplied by a reciprocal
    rather than divided by 127.5, because grappler rewrites a division by a constant into that
    product in some graphs and not in others, and the two round differently.
    """
    levels = tf.floor(tf.clip_by_value((images + 1.0) * 127.5, 0.0, 255.0) + 1e-3)
    return levels * LEVEL_STEP - 1.0


def official_resize(images: tf.Tensor, height, width, scale_h=None, scale_w=None) -> tf.Tensor:
    """The official resize semantics: 8-bit input, MATLAB bicubic, output clamped to [-1, 1]."""
    resized = imresize(quantize_8bit(images), height, width, scale_h, scale_w)
    return tf.clip_by_value(resized, -1.0, 1.0)


def build_reals(image: np.ndarray, plan: ScalePlan) -> list[tf.Tensor]:
    """The training image at every scale, coarsest first, each resized directly from the finest."""
    h, w = plan.finest_size
    source = tf.constant(image[None], tf.float32)
    finest = official_resize(source, h, w, plan.resize_factor, plan.resize_factor)
    reals = []
    for scale, (sh, sw) in enumerate(plan.scale_sizes):
        factor = plan.pyramid_scale(scale)
        reals.append(official_resize(finest, sh, sw, factor, factor))
    return reals


def upsample(images: tf.Tensor, height, width, scale_factor: float) -> tf.Tensor:
    """Carry a scale's output to the next finer scale.

    The official code upsamples by 1/scale_factor to ceil(size/scale_factor) and crops the top-left
    corner to the next size; every output row of the bicubic matrix depends only on its own index, so
    resizing straight to the target size with the same kernel scale is the same crop.
    """
    return official_resize(images, height, width, 1.0 / scale_factor, 1.0 / scale_factor)


def noise_size(height, width, noise_padding: bool) -> tuple:
    """A noise map's size at a scale: the image's, or PADDING larger on every side with noise padding."""
    if noise_padding:
        return height + 2 * PADDING, width + 2 * PADDING
    return height, width


def generator_input(noise: tf.Tensor, prev: tf.Tensor, noise_amp, noise_padding: bool) -> tf.Tensor:
    """G's padded input, noise_amp * z + prev with a PADDING border.

    Zero padding (the official default): noise and image both get a zero border, so G sees where the
    image ends. Noise padding (the official animation models): the noise is drawn over the border
    too and only the image is zero-padded, so the borders move like the rest.
    """
    if noise_padding:
        return noise_amp * noise + pad(prev)
    return pad(noise_amp * noise + prev)


@dataclasses.dataclass
class Pyramid:
    """Trained, frozen scales: everything needed to generate, nothing needed to train."""

    generators: list[Generator]
    noise_amps: list[float]
    scale_sizes: list[tuple[int, int]]
    scale_factor: float
    z_star: tf.Tensor  # the coarsest scale's reconstruction noise, [1, H0, W0, 3] (padded size with noise padding)
    noise_padding: bool = False

    def noise_size(self, height, width) -> tuple:
        return noise_size(height, width, self.noise_padding)

    @property
    def num_scales(self) -> int:
        return len(self.generators)

    def run(
        self,
        noises: Sequence[tf.Tensor],
        sizes: Sequence[tuple],
        start_image: tf.Tensor | None = None,
        start_scale: int = 0,
        stop_scale: int | None = None,
        noise_scale: float | tf.Tensor | None = None,
        restart: Callable[[int, tf.Tensor], tf.Tensor] | None = None,
    ) -> tf.Tensor:
        """Generate from `start_scale` up to (not including) `stop_scale`.

        `noises[n]` and `sizes[n]` are used for n >= start_scale (entries below may be None);
        `start_image` is the already-upsampled input at `start_scale` (zeros when omitted, as in
        random sampling from the coarsest scale). `noise_scale` multiplies every noise amplitude
        (the sampler's diversity knob; None = as trained). `restart(n, upsampled)` turns the
        upsampled output below each scale above `start_scale` into that scale's input: the sampler
        restarts the chain there at a scale given as a tensor, so one graph serves every start scale.
        """
        stop_scale = self.num_scales if stop_scale is None else stop_scale
        image = start_image
        for n in range(start_scale, stop_scale):
            h, w = sizes[n]
            if image is None:
                prev = tf.zeros([1, h, w, 3])
            elif n == start_scale:
                prev = image
            else:
                prev = upsample(image, h, w, self.scale_factor)
                if restart is not None:
                    prev = restart(n, prev)
            # Scaled in float32 before it meets the noise, as in every graph: one product per element
            # (nothing for grappler to regroup), and a scale of 1 leaves the trained amplitude's bits.
            amplitude = self.noise_amps[n]
            if noise_scale is not None:
                amplitude = amplitude * tf.cast(noise_scale, tf.float32)
            padded_input = generator_input(noises[n], prev, amplitude, self.noise_padding)
            image = self.generators[n]([padded_input, prev], padded=True, training=False)
        return image

    def reconstruction_noise(self, scale: int) -> tf.Tensor:
        """z* of the paper: fixed noise at the coarsest scale, zeros above it."""
        if scale == 0:
            return self.z_star
        return tf.zeros([1, *self.noise_size(*self.scale_sizes[scale]), 3])

    def reconstruct(self, stop_scale: int | None = None) -> tf.Tensor:
        """G(z*): the image each trained scale reproduces, at its training size."""
        stop_scale = self.num_scales if stop_scale is None else stop_scale
        noises = [self.reconstruction_noise(n) for n in range(stop_scale)]
        return self.run(noises, self.scale_sizes, stop_scale=stop_scale)


def gray(noise: tf.Tensor) -> tf.Tensor:
    """The coarsest scale's noise is one channel repeated over RGB in the official code."""
    return tf.repeat(noise[..., :1], 3, axis=-1)
