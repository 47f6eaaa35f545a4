"""Random samples from a trained pyramid at any size: the graph the CLI, the applications and the
export all run.

Per-scale sizes follow the official arbitrary-size rule, round(size_n * requested / trained), done in
integer arithmetic so Python, the SavedModel and TFLite agree. Noise comes from the counter-based
generator in `noise.py`, keyed by (seed, scale), so a seed names the same image everywhere.

A start scale K > 0 keeps the training image's layout at any size (retargeting): the reconstruction
G(z*) runs at the training sizes below K, its scale K-1 result is resized to the requested layout
there, and generation goes on from K at the requested sizes. `noise_scale` multiplies the noise
amplitude of every random scale: the diversity knob, 1 = the trained model.
"""

from __future__ import annotations

import functools

import tensorflow as tf

from singan_tf import noise
from singan_tf.limits import MAX_NOISE_SCALE, MAX_UPSCALE
from singan_tf.pyramid import Pyramid, gray, official_resize, upsample


def scaled_size(trained: int, requested, finest: int):
    """round(trained * requested / finest), half up, in integers (exact on every backend)."""
    return (2 * trained * requested + finest) // (2 * finest)


def retarget_scale(target, source) -> tf.Tensor:
    """The kernel scale that resizes `source` pixels to `target`: target / source, as the official
    imresize_to_shape and `resize_matrix` take it, but exactly 1 for equal lengths. target * (1 / source)
    is 1 +- 1 ulp for some lengths, and the 8-bit floor of the next resize can turn that into whole
    levels; exactly 1 makes retargeting at the training size the identity it should be."""
    ratio = tf.cast(target, tf.float32) * (1.0 / tf.cast(source, tf.float32))
    return tf.where(tf.equal(target, source), tf.constant(1.0), ratio)


def request_problem(height: int, width: int, scale_from: int, noise_scale: float, min_size: tuple[int, int],
                    max_size: tuple[int, int], num_scales: int, max_noise_scale: float = MAX_NOISE_SCALE) -> str | None:
    """The serving rules in words, shared by every runner that cannot assert them in its graph
    (the Python sampler before it runs, the TFLite runner whose converter drops the asserts)."""
    if not (min_size[0] <= height <= max_size[0] and min_size[1] <= width <= max_size[1]):
        return (
            f"size {height}x{width} is outside what this model serves: height "
            f"{min_size[0]}..{max_size[0]}, width {min_size[1]}..{max_size[1]}"
        )
    if not 0 <= scale_from < num_scales:
        return f"scale_from {scale_from} is outside 0..{num_scales - 1}"
    if not 0 <= noise_scale <= max_noise_scale:  # also refuses NaN
        return f"noise_scale {noise_scale:g} is outside 0..{max_noise_scale:g}"
    return None


class Sampler:
    """Draws images from a pyramid; one compiled graph serves every size, seed, start scale and noise scale."""

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
                tf.TensorSpec([], tf.float32, name="noise_scale"),
            ],
        )

    def sizes_for(self, height, width) -> list[tuple]:
        fh, fw = self.finest
        return [(scaled_size(h, height, fh), scaled_size(w, width, fw)) for h, w in self.pyramid.scale_sizes]

    def request_problem(self, height: int, width: int, scale_from: int = 0, noise_scale: float = 1.0) -> str | None:
        """Why a request cannot be served, in words, or None; the graph asserts the same rules."""
        return request_problem(height, width, scale_from, noise_scale, self.min_size, self.max_size,
                               self.pyramid.num_scales)

    def _assert_valid(self, height: tf.Tensor, width: tf.Tensor, scale_from: tf.Tensor,
                      noise_scale: tf.Tensor) -> list:
        in_range = tf.logical_and(
            tf.logical_and(height >= self.min_size[0], height <= self.max_size[0]),
            tf.logical_and(width >= self.min_size[1], width <= self.max_size[1]),
        )
        valid_from = tf.logical_and(scale_from >= 0, scale_from < self.pyramid.num_scales)
        valid_noise = tf.logical_and(noise_scale >= 0.0, noise_scale <= MAX_NOISE_SCALE)
        return [
            tf.debugging.Assert(
                in_range, [f"height must be in {self.min_size[0]}..{self.max_size[0]} and width in "
                           f"{self.min_size[1]}..{self.max_size[1]}; got", height, width]
            ),
            tf.debugging.Assert(valid_from, [f"scale_from must be in 0..{self.pyramid.num_scales - 1}; got", scale_from]),
            tf.debugging.Assert(valid_noise, [f"noise_scale must be in 0..{MAX_NOISE_SCALE:g}; got", noise_scale]),
        ]

    @functools.cached_property
    def reconstructions(self) -> list[tf.Tensor]:
        """G(z*) at every scale but the finest, at the training sizes: what retargeting starts from.

        Fixed per model, so computed once (init_scope lifts it out of a trace in progress) and held
        as constants by the sampling graph, the SavedModel and TFLite, instead of re-running the
        coarse scales on z* for every request. Computed in a graph, not eagerly: TensorFlow's graph
        rewrites fuse each generator's zero padding into its first convolution, which rounds unlike
        eager execution, and these must be the pixels the sampling graph always gave from scale K.
        Traced through get_concrete_function: every Sampler traces its own once, by design, and a
        plain call would count towards TensorFlow's warning about functions traced over and over
        (a 5-scale training builds a Sampler per scale for its previews).
        """
        def below_finest() -> list[tf.Tensor]:
            return [self.pyramid.reconstruct(n + 1) for n in range(self.pyramid.num_scales - 1)]

        with tf.init_scope():
            return tf.function(below_finest, autograph=False).get_concrete_function()()

    def _noises(self, sizes: list[tuple], seed: tf.Tensor) -> list[tf.Tensor]:
        """Random noise at every scale; the scales below a start scale K > 0 draw it too, and their
        output is then replaced (a tensor K cannot remove them from the graph)."""
        h0, w0 = self.pyramid.noise_size(*sizes[0])
        noises = [gray(noise.normal(seed, 0, [1, h0, w0, 1]))]
        for n, size in enumerate(sizes[1:], start=1):
            noises.append(noise.normal(seed, n, [1, *self.pyramid.noise_size(*size), 3]))
        return noises

    def _restart(self, scale_from: tf.Tensor, sizes: list[tuple]):
        """Scale n's input: at n = scale_from the reconstruction of scale n-1 retargeted to the
        requested layout (the official imresize_to_shape), upsampled; elsewhere the chain's own.

        A tf.cond (TFLite's builtin IF), so a request runs only its own start scale's resizes: as a
        select every scale's ran, some hundred small ops that made the SavedModel ~9% slower."""
        def restart(n: int, upsampled: tf.Tensor) -> tf.Tensor:
            def retargeted_start() -> tf.Tensor:
                reconstruction = self.reconstructions[n - 1]
                (h, w), (source_h, source_w) = sizes[n - 1], reconstruction.shape[1:3]
                retargeted = official_resize(reconstruction, h, w, retarget_scale(h, source_h),
                                             retarget_scale(w, source_w))
                return upsample(retargeted, *sizes[n], self.pyramid.scale_factor)

            start = tf.cond(tf.equal(scale_from, n), retargeted_start, lambda: upsampled)
            # A no-op reshape: the exported tf.cond output is unranked, and TFLite's CONV_2D needs rank and channels.
            return tf.reshape(start, [1, *sizes[n], 3])

        return restart

    def _sample(self, height: tf.Tensor, width: tf.Tensor, seed: tf.Tensor, scale_from: tf.Tensor,
                noise_scale: tf.Tensor) -> tf.Tensor:
        with tf.control_dependencies(self._assert_valid(height, width, scale_from, noise_scale)):
            sizes = self.sizes_for(tf.identity(height), tf.identity(width))
        return self.pyramid.run(self._noises(sizes, seed), sizes, noise_scale=noise_scale,
                                restart=self._restart(scale_from, sizes))

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

    @functools.cached_property
    def _traced(self):
        """`sample`'s one graph, traced through get_concrete_function for the same reason as
        `reconstructions`: a process that builds a Sampler per model and calls each once (the
        previews, `eval`, a notebook) would otherwise be warned about retracing."""
        return self.sample.get_concrete_function()

    def __call__(self, height: int, width: int, seed: int, scale_from: int = 0, noise_scale: float = 1.0) -> tf.Tensor:
        return self._traced(
            tf.constant(height, tf.int32), tf.constant(width, tf.int32), tf.constant(seed, tf.int64),
            tf.constant(scale_from, tf.int32), tf.constant(noise_scale, tf.float32),
        )
