"""Random samples from a trained pyramid at any size: the graph the CLI, the applications and the
export all run.

Per-scale sizes follow the official arbitrary-size rule, round(size_n * requested / trained), done in
integer arithmetic so Python, the SavedModel and TFLite agree. Noise comes from the counter-based
generator in `noise.py`, keyed by (seed, scale), so a seed names the same image everywhere.
"""

from __future__ import annotations

import tensorflow as tf

from singan_tf import noise
from singan_tf.pyramid import Pyramid, gray, official_resize, upsample

# Requests may be at most this many times the training size per side: memory grows with the area
# times 128 channels at the fine scales, and past this the model only repeats its patches anyway.
MAX_UPSCALE = 4


def scaled_size(trained: int, requested, finest: int):
    """round(trained * requested / finest), half up, in integers (exact on every backend)."""
    return (2 * trained * requested + finest) // (2 * finest)


def request_problem(height: int, width: int, scale_from: int, trained: tuple[int, int],
                    min_size: tuple[int, int], max_size: tuple[int, int], num_scales: int) -> str | None:
    """The serving rules in words, shared by every runner that cannot assert them in its graph
    (the Python sampler before it runs, the TFLite runner whose converter drops the asserts)."""
    if not (min_size[0] <= height <= max_size[0] and min_size[1] <= width <= max_size[1]):
        return (
            f"size {height}x{width} is outside what this model serves: height "
            f"{min_size[0]}..{max_size[0]}, width {min_size[1]}..{max_size[1]}"
        )
    if not 0 <= scale_from < num_scales:
        return f"scale_from {scale_from} is outside 0..{num_scales - 1}"
    if scale_from > 0 and (height, width) != tuple(trained):
        return (
            f"scale_from > 0 keeps the training image's layout, so it needs the training size "
            f"{trained[0]}x{trained[1]} (got {height}x{width})"
        )
    return None


class Sampler:
    """Draws images from a pyramid; one compiled graph serves every size, seed and start scale."""

    def __init__(self, pyramid: Pyramid):
        self.pyramid = pyramid
        self.finest = pyramid.scale_sizes[-1]
        self.max_size = (MAX_UPSCALE * self.finest[0], MAX_UPSCALE * self.finest[1])
        self.min_size = tuple(-(-f // (2 * c)) for f, c in zip(self.finest, pyramid.scale_sizes[0]))
        self.sample = tf.function(
            self._sample,
            autograph=False,
            input_signature=[
                tf.TensorSpec([], tf.int32, name="height"),
                tf.TensorSpec([], tf.int32, name="width"),
                tf.TensorSpec([], tf.int64, name="seed"),
                tf.TensorSpec([], tf.int32, name="scale_from"),
            ],
        )

    def sizes_for(self, height, width) -> list[tuple]:
        fh, fw = self.finest
        return [(scaled_size(h, height, fh), scaled_size(w, width, fw)) for h, w in self.pyramid.scale_sizes]

    def request_problem(self, height: int, width: int, scale_from: int) -> str | None:
        """Why a request cannot be served, in words, or None; the graph asserts the same rules."""
        return request_problem(height, width, scale_from, self.finest, self.min_size, self.max_size,
                               self.pyramid.num_scales)

    def _assert_valid(self, height: tf.Tensor, width: tf.Tensor, scale_from: tf.Tensor) -> list:
        in_range = tf.logical_and(
            tf.logical_and(height >= self.min_size[0], height <= self.max_size[0]),
            tf.logical_and(width >= self.min_size[1], width <= self.max_size[1]),
        )
        valid_from = tf.logical_and(scale_from >= 0, scale_from < self.pyramid.num_scales)
        trained_size = tf.logical_and(tf.equal(height, self.finest[0]), tf.equal(width, self.finest[1]))
        return [
            tf.debugging.Assert(
                in_range, [f"height must be in {self.min_size[0]}..{self.max_size[0]} and width in "
                           f"{self.min_size[1]}..{self.max_size[1]}; got", height, width]
            ),
            tf.debugging.Assert(valid_from, [f"scale_from must be in 0..{self.pyramid.num_scales - 1}; got", scale_from]),
            tf.debugging.Assert(
                tf.logical_or(tf.equal(scale_from, 0), trained_size),
                [f"scale_from > 0 needs the training size {self.finest[0]}x{self.finest[1]}; got", height, width],
            ),
        ]

    def _noises(self, sizes: list[tuple], seed: tf.Tensor, scale_from: tf.Tensor) -> list[tf.Tensor]:
        """Random noise from `scale_from` up; below it the reconstruction noise z* (zeros above 0)."""
        h0, w0 = self.pyramid.noise_size(*sizes[0])
        coarsest = tf.cond(
            scale_from > 0,
            lambda: self.pyramid.z_star,
            lambda: gray(noise.normal(seed, 0, [1, h0, w0, 1])),
        )
        # A no-op reshape: the exported tf.cond output is unranked, and TFLite's CONV_2D needs rank and channels.
        noises = [tf.reshape(coarsest, [1, h0, w0, 3])]
        for n, size in enumerate(sizes[1:], start=1):
            keep = tf.cast(n >= scale_from, tf.float32)
            noises.append(keep * noise.normal(seed, n, [1, *self.pyramid.noise_size(*size), 3]))
        return noises

    def _sample(self, height: tf.Tensor, width: tf.Tensor, seed: tf.Tensor, scale_from: tf.Tensor) -> tf.Tensor:
        with tf.control_dependencies(self._assert_valid(height, width, scale_from)):
            sizes = self.sizes_for(tf.identity(height), tf.identity(width))
        return self.pyramid.run(self._noises(sizes, seed, scale_from), sizes)

    def injection_start(self, image: tf.Tensor, scale: int) -> tf.Tensor:
        """An image at the training size as if scale-1 had produced it: shrunk to scale-1, upsampled
        back to `scale` (the official injection used by harmonization, editing and paint-to-image)."""
        sizes, factor = self.pyramid.scale_sizes, self.pyramid.scale_factor
        # Both axes shrink by the pyramid's factor, not by their own size ratios (which `ceil` skews).
        shrink = factor ** (self.pyramid.num_scales - scale)
        coarser = official_resize(image, *sizes[scale - 1], shrink, shrink)
        return upsample(coarser, *sizes[scale], factor)

    def inject(self, image: tf.Tensor, scale: int, seed: int) -> tf.Tensor:
        """Generate from `scale` (1..N-1) up, starting from `image` ([1, H, W, 3] at the training size)
        instead of the coarser scales' output; random noise from `scale` up, keyed like `sample`."""
        sizes = self.pyramid.scale_sizes
        noises = [None] * scale + [
            noise.normal(seed, n, [1, *self.pyramid.noise_size(*size), 3]) for n, size in enumerate(sizes) if n >= scale
        ]
        return self.pyramid.run(noises, sizes, start_image=self.injection_start(image, scale), start_scale=scale)

    def __call__(self, height: int, width: int, seed: int, scale_from: int = 0) -> tf.Tensor:
        return self.sample(
            tf.constant(height, tf.int32), tf.constant(width, tf.int32), tf.constant(seed, tf.int64),
            tf.constant(scale_from, tf.int32),
        )
