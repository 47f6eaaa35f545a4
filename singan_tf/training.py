"""One scale of SinGAN training: WGAN-GP on the image's patches plus a reconstruction loss.

`ScaleTrainer.iteration` is the paper's training iteration as one compiled tf.function (XLA where
`config.uses_xla`): 3 critic steps, then 3 generator steps, all noise drawn inside from a counter-based
seed, no host round-trip. Logging, previews and saving live in `fit.py`.
"""

from __future__ import annotations

from typing import Callable

import keras
import tensorflow as tf

from singan_tf.config import TrainConfig
from singan_tf.models import PADDING, Discriminator, Generator, embed_narrower
from singan_tf.precision import mixed_policy
from singan_tf.pyramid import Pyramid, generator_input, gray, noise_size, upsample

Z_STAR_SALT = 3000
# Whole-image generator passes that replace a cropped scale's BatchNorm statistics (`settle_statistics`):
# the momentum-0.1 running averages forget where they started after about 50 updates.
SETTLE_ROUNDS = 30


def _adam(learning_rate: float, steps_per_iteration: int, niter: int, config: TrainConfig,
          loss_scaling: bool = False, name: str = "adam") -> keras.optimizers.Optimizer:
    """Adam as the official code sets it up, with its one LR drop (x gamma at 80% of the iterations).

    The optimizer counts one step per update and there are several updates per iteration, so the
    boundary is placed after the last update of the last iteration before the drop. float16
    convolutions need the loss scaled so that small gradients survive (`_scaled`). The name prefixes
    the variables' paths, which a checkpoint is matched by: Keras' automatic names count optimizers
    per process, so a resumed process would name them differently.
    """
    boundary = int(config.lr_decay_at * niter) * steps_per_iteration - 1
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
        [boundary], [learning_rate, learning_rate * config.gamma]
    )
    adam = keras.optimizers.Adam(schedule, beta_1=config.beta1, beta_2=0.999, epsilon=1e-8, name=name)
    return keras.optimizers.LossScaleOptimizer(adam, name=f"{name}_loss_scale") if loss_scaling else adam


def _scaled(optimizer: keras.optimizers.Optimizer, loss: tf.Tensor) -> tf.Tensor:
    """The loss to differentiate (inside the tape): scaled up for a loss-scaling optimizer, which
    scales the gradients back down (and skips a step whose gradients overflowed) when it applies them."""
    return optimizer.scale_loss(loss) if isinstance(optimizer, keras.optimizers.LossScaleOptimizer) else loss


def window_start(draw: tf.Tensor, size: int, window: int) -> tf.Tensor:
    """Where a `window`-long crop of a `size`-long side starts, for a uniform non-negative integer draw:
    the window is centred on a uniformly drawn pixel, then moved inside the image.

    A uniformly drawn start reaches the first and the last pixel once in size - window + 1 draws,
    so the image's borders, where G reads its zero padding, were hardly trained: on mountains3 at 250
    px (96-px windows) the reconstruction error in the 8 columns at each side was 2.2x the interior's,
    and 1.0-1.1x with the whole image. Centred, a border pixel is in the window half as often as a
    central one, and none is in it more than 1.5 times as often (those one window from a border)."""
    return tf.clip_by_value(draw % size - window // 2, 0, size - window)


def conv_dtype(config: TrainConfig, height: int, width: int) -> str | None:
    """The dtype policy of a scale's convolutions while it trains, and so while it runs frozen under
    a finer scale's training: a resumed run must run it exactly as the uninterrupted one."""
    return mixed_policy() if config.sixteen_bits(height, width) else None


class ScaleTrainer:
    """Trains G_n and D_n for one scale while the coarser scales in `coarser` stay frozen."""

    def __init__(
        self,
        scale: int,
        real: tf.Tensor,
        coarser: Pyramid,
        config: TrainConfig,
        seed: int,
        warm_start: tuple[Generator, Discriminator] | None = None,
    ):
        self.scale = scale
        self.real = real
        self.coarser = coarser
        self.config = config
        self.key = tf.random.experimental.stateless_fold_in(tf.constant([0, seed], tf.int64), scale)
        _, h, w, _ = real.shape
        self.niter = config.iterations(h, w)
        channels = config.channels(scale)
        policy = conv_dtype(config, h, w)
        self.generator = Generator(channels, seed=seed * 1000 + 2 * scale, conv_dtype=policy, name=f"G{scale}")
        self.discriminator = Discriminator(channels, seed=seed * 1000 + 2 * scale + 1, conv_dtype=policy, name=f"D{scale}")
        self.generator([real, real])
        self.discriminator(real)
        if warm_start is not None and warm_start[0].channels == channels:
            self.generator.set_weights(warm_start[0].get_weights())
            self.discriminator.set_weights(warm_start[1].get_weights())
        elif warm_start is not None and config.widen_warm_start:
            embed_narrower(warm_start[0], self.generator)
            embed_narrower(warm_start[1], self.discriminator)
        float16 = policy == "mixed_float16"
        self.opt_g = _adam(config.lr_g, config.g_steps, self.niter, config, loss_scaling=float16, name=f"adam_G{scale}")
        self.opt_d = _adam(config.lr_d, config.d_steps, self.niter, config, loss_scaling=float16, name=f"adam_D{scale}")
        self.opt_g.build(self.generator.trainable_variables)
        self.opt_d.build(self.discriminator.trainable_variables)

        self.noise_shape = [1, *noise_size(h, w, config.noise_padding), 3]
        if scale == 0:
            self.z_prev = tf.zeros_like(real)
            self.noise_amp = 1.0
        else:
            self.z_prev = upsample(coarser.reconstruct(), h, w, coarser.scale_factor)
            rmse = tf.sqrt(tf.reduce_mean(tf.square(real - self.z_prev)))
            self.noise_amp = config.noise_amp * float(rmse)
        self.window = config.training_window(h, w)
        self.cropped = self.window != (h, w)
        # The steps are functions of their own so each is traced once however many times it runs;
        # XLA inlines them into the one compiled iteration.
        self._compiled_critic_step = tf.function(self._critic_step, autograph=False)
        self._compiled_generator_step = tf.function(self._generator_step, autograph=False)
        self.iteration = tf.function(self._iteration, jit_compile=config.uses_xla(h, w), autograph=False)

    def traced_iteration(self) -> Callable[[tf.Tensor], dict[str, tf.Tensor]]:
        """`iteration`'s one graph, traced through get_concrete_function: one trace per scale is by
        design, and a loop of plain calls over short scales (a resumed one, a benchmark's few
        iterations) would be reported by TensorFlow as retracing."""
        return self.iteration.get_concrete_function(tf.constant(0))

    @property
    def state(self) -> dict[str, list]:
        """Every variable the next iteration reads and the iterations change: the networks (BatchNorm
        statistics included) and both optimizers (moments and step counters, hence the learning-rate
        schedule). Everything else an iteration draws is keyed by (seed, scale, iteration)."""
        return {
            "generator": list(self.generator.variables), "discriminator": list(self.discriminator.variables),
            "opt_g": list(self.opt_g.variables), "opt_d": list(self.opt_d.variables),
        }

    def settle_statistics(self) -> None:
        """Give G_n the BatchNorm statistics of the whole image, where it was trained on windows.

        G samples with the running averages of its training batches, and a window's statistics are
        not the image's: at a cropped scale the averages end as those of the last few windows (the
        last one goes through G 6 of the 9 times per iteration), and the whole image then samples
        and reconstructs with a colour cast. The windows' own average is no cure (measured worse):
        the whole image's activations vary more than any window's. These passes repeat a
        whole-image scale's training mix, a random sample's input then the reconstruction's, with
        the final weights; their inputs are keyed past the last iteration, so a resumed run settles
        to the same numbers (docs/fast-mode.md, run 3h)."""
        if not self.cropped:
            return
        passes = tf.function(self._whole_image_passes, autograph=False).get_concrete_function(tf.constant(0))
        for k in range(SETTLE_ROUNDS):
            passes(tf.constant(self.niter + k))

    def _whole_image_passes(self, iteration: tf.Tensor) -> None:
        noise = self._scale_noise(self.noise_shape, iteration, 0, self.scale)
        prev = self._random_prev(iteration, tf.constant(0))
        self.generator([generator_input(noise, prev, self.noise_amp, self.config.noise_padding), prev],
                       padded=True, training=True)
        rec_input = generator_input(self.reconstruction_noise(iteration), self.z_prev, self.noise_amp,
                                    self.config.noise_padding)
        self.generator([rec_input, self.z_prev], padded=True, training=True)

    def reconstruction_noise(self, iteration: tf.Tensor) -> tf.Tensor:
        """The noise G_n must turn into the real image: z* at scale 0, zeros above.

        z* is re-drawn at every iteration (the official code) unless `config.fixed_z_star`."""
        if self.scale > 0:
            return tf.zeros(self.noise_shape)
        if self.config.fixed_z_star:
            return self._scale_noise(self.noise_shape, tf.constant(-1), 0, 0)
        return self._scale_noise(self.noise_shape, iteration, Z_STAR_SALT, 0)

    @property
    def z_star(self) -> tf.Tensor | None:
        """The scale-0 reconstruction noise the model keeps: the last iteration's draw (or the fixed one)."""
        return self.reconstruction_noise(tf.constant(self.niter - 1)) if self.scale == 0 else None

    def _key(self, iteration: tf.Tensor, salt) -> tf.Tensor:
        """A random key for (seed, scale, iteration, salt), so a resumed run draws the same numbers."""
        counter = tf.cast(iteration, tf.int64) * 4096 + tf.cast(salt, tf.int64)
        return tf.random.experimental.stateless_fold_in(self.key, counter)

    def _normal(self, shape: list, iteration: tf.Tensor, salt) -> tf.Tensor:
        return tf.random.stateless_normal(shape, seed=self._key(iteration, salt))

    def _scale_noise(self, shape: list, iteration: tf.Tensor, salt, scale: int) -> tf.Tensor:
        if scale == 0:
            return gray(self._normal(shape[:-1] + [1], iteration, salt))
        return self._normal(shape, iteration, salt)

    def _random_prev(self, iteration: tf.Tensor, step: tf.Tensor) -> tf.Tensor:
        """A fresh random sample from all frozen coarser scales, upsampled to this scale."""
        if self.scale == 0:
            return tf.zeros_like(self.real)
        sizes = self.coarser.scale_sizes
        noises = [
            self._scale_noise([1, *self.coarser.noise_size(h, w), 3], iteration, 1 + 64 * step + k, k)
            for k, (h, w) in enumerate(sizes)
        ]
        _, h, w, _ = self.real.shape
        return upsample(self.coarser.run(noises, sizes), h, w, self.coarser.scale_factor)

    def _crop(self, iteration: tf.Tensor, step: tf.Tensor, padded_input: tf.Tensor, prev: tf.Tensor,
              real: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """The same random window of G's padded input, of prev and of the real image (`crop_size`).

        Both networks are fully convolutional, so G's output on the window's padded input is exactly
        the whole-image output there, and D scores exactly the window's patches. The whole image
        when it fits in the window, so the official settings run the untouched graph."""
        if not self.cropped:
            return padded_input, prev, real
        (h, w), (ch, cw) = self.real.shape[1:3], self.window
        corner = tf.random.stateless_uniform([2], seed=self._key(iteration, 5000 + step), maxval=2**30, dtype=tf.int32)
        top, left = window_start(corner[0], h, ch), window_start(corner[1], w, cw)
        image_window = [[0, top, left, 0], [1, ch, cw, 3]]
        padded_window = [[0, top, left, 0], [1, ch + 2 * PADDING, cw + 2 * PADDING, 3]]
        return tf.slice(padded_input, *padded_window), tf.slice(prev, *image_window), tf.slice(real, *image_window)

    def _gradient_penalty(self, real: tf.Tensor, fake: tf.Tensor, iteration: tf.Tensor, step: tf.Tensor) -> tf.Tensor:
        """The official per-pixel penalty: RGB gradient norm at each pixel of one random mix."""
        mix = tf.random.stateless_uniform([], seed=self._key(iteration, 4000 + step))
        interpolated = mix * real + (1.0 - mix) * fake
        with tf.GradientTape() as tape:
            tape.watch(interpolated)
            score = tf.reduce_sum(self.discriminator(interpolated, training=True))
        grad = tape.gradient(score, interpolated)
        norm = tf.sqrt(tf.reduce_sum(tf.square(grad), axis=-1) + 1e-12)
        return self.config.lambda_grad * tf.reduce_mean(tf.square(norm - 1.0))

    def _critic_step(self, noise: tf.Tensor, prev: tf.Tensor, iteration: tf.Tensor, step: tf.Tensor) -> dict[str, tf.Tensor]:
        """One WGAN-GP update of D_n: push D up on real patches, down on fakes, keep |grad D| near 1."""
        G, D = self.generator, self.discriminator
        padded_input = generator_input(noise, prev, self.noise_amp, self.config.noise_padding)
        padded_input, prev, real = self._crop(iteration, step, padded_input, prev, self.real)
        fake = G([padded_input, prev], padded=True, training=True)
        with tf.GradientTape() as tape:
            d_real = -tf.reduce_mean(D(real, training=True))
            d_fake = tf.reduce_mean(D(fake, training=True))
            penalty = self._gradient_penalty(real, fake, iteration, step)
            d_loss = d_real + d_fake + penalty
            scaled = _scaled(self.opt_d, d_loss)
        self.opt_d.apply_gradients(zip(tape.gradient(scaled, D.trainable_variables), D.trainable_variables))
        return {
            "padded_input": padded_input, "prev": prev,
            "d_loss": d_loss, "wasserstein": -(d_real + d_fake), "gp": penalty,
        }

    def _generator_step(self, critic: dict[str, tf.Tensor], rec_input: tf.Tensor, rec_prev: tf.Tensor,
                        rec_real: tf.Tensor) -> dict[str, tf.Tensor]:
        """One update of G_n: fool D on a fake regenerated with the current weights from the last
        critic step's input, and reproduce the real image from the reconstruction input."""
        G, D = self.generator, self.discriminator
        with tf.GradientTape() as tape:
            fake = G([critic["padded_input"], critic["prev"]], padded=True, training=True)
            adversarial = -tf.reduce_mean(D(fake, training=True))
            reconstruction = tf.reduce_mean(tf.square(G([rec_input, rec_prev], padded=True, training=True) - rec_real))
            g_loss = adversarial + self.config.alpha * reconstruction
            scaled = _scaled(self.opt_g, g_loss)
        self.opt_g.apply_gradients(zip(tape.gradient(scaled, G.trainable_variables), G.trainable_variables))
        return {"g_adv": adversarial, "rec": reconstruction}

    def _iteration(self, iteration: tf.Tensor) -> dict[str, tf.Tensor]:
        """d_steps critic updates, then g_steps generator updates on the last critic step's input and
        window (the reconstruction is taken in the same window, or over the whole image)."""
        noise = self._scale_noise(self.noise_shape, iteration, 0, self.scale)
        shared = self.config.coarse_draws(*self.real.shape[1:3]) == 1
        shared_prev = self._random_prev(iteration, tf.constant(0)) if shared else None
        for step in range(self.config.d_steps):
            prev = self._random_prev(iteration, tf.constant(step)) if shared_prev is None else shared_prev
            critic = self._compiled_critic_step(noise, prev, iteration, tf.constant(step))
        rec_input = generator_input(self.reconstruction_noise(iteration), self.z_prev, self.noise_amp,
                                    self.config.noise_padding)
        reconstruction = (rec_input, self.z_prev, self.real)
        if not self.config.whole_image_reconstruction:
            reconstruction = self._crop(iteration, tf.constant(self.config.d_steps - 1), *reconstruction)
        selected = {k: critic[k] for k in ("padded_input", "prev")}
        for _ in range(self.config.g_steps):
            generator = self._compiled_generator_step(selected, *reconstruction)
        losses = {k: critic[k] for k in ("d_loss", "wasserstein", "gp")}
        return {**losses, **generator}
