"""The per-scale networks of SinGAN: a residual patch generator and a patch critic (WGAN-GP).

Both are five valid 3x3 convolutions, so each output pixel sees an 11x11 patch of its input; the
generator pads its input once by 5 so its output keeps the input size (the paper's "zero padding at
the input" variant, as the official code does it).
"""

from __future__ import annotations

import math
from typing import Any

import keras
import tensorflow as tf

KERNEL_SIZE = 3
NUM_LAYERS = 5
PADDING = NUM_LAYERS * (KERNEL_SIZE - 1) // 2


def pad(images: tf.Tensor) -> tf.Tensor:
    """The zero border that lets five valid 3x3 convolutions return the input's size."""
    return tf.pad(images, [[0, 0], [PADDING, PADDING], [PADDING, PADDING], [0, 0]])


def _seed(seed: int | None, offset: int) -> int | None:
    return None if seed is None else seed * 97 + offset


@keras.saving.register_keras_serializable(package="singan_tf")
class BatchNorm(keras.layers.Layer):
    """Batch normalisation with PyTorch's exact semantics, which the official model was trained with.

    Keras' own layer stops the gradient of the mean inside the variance (the gradient penalty's second
    derivative then differs by ~1%), uses the biased variance for its moving average, and has other
    defaults; this layer uses exact moments, momentum 0.1 on the unbiased variance, epsilon 1e-5 and
    gamma ~ N(1, 0.02) as the official `weights_init` sets it.
    """

    def __init__(self, momentum: float = 0.1, epsilon: float = 1e-5, seed: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.momentum = momentum
        self.epsilon = epsilon
        self.seed = seed

    def build(self, input_shape: tuple) -> None:
        channels = (input_shape[-1],)
        self.gamma = self.add_weight(
            shape=channels, name="gamma", initializer=keras.initializers.RandomNormal(1.0, 0.02, seed=self.seed)
        )
        self.beta = self.add_weight(shape=channels, name="beta", initializer="zeros")
        self.moving_mean = self.add_weight(shape=channels, name="moving_mean", initializer="zeros", trainable=False)
        self.moving_variance = self.add_weight(
            shape=channels, name="moving_variance", initializer="ones", trainable=False
        )

    def call(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        if not training:
            # (x - mean) * rsqrt(var + eps) * gamma + beta as one per-channel scale and shift, the
            # form the SavedModel and TFLite run.
            scale = self.gamma * tf.math.rsqrt(self.moving_variance + self.epsilon)
            return x * scale + (self.beta - self.moving_mean * scale)
        # The fused op normalises with the biased batch variance, returns the running averages
        # with the unbiased one (PyTorch's rule), and its gradient is the exact one, second
        # derivative included. On CPU it is oneDNN's kernel: forward + backward ~2.5x faster than
        # the same formula written out (measured at the scale-7 and scale-8 shapes).
        y, moving_mean, moving_variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=x, scale=self.gamma, offset=self.beta, mean=self.moving_mean, variance=self.moving_variance,
            epsilon=self.epsilon, exponential_avg_factor=self.momentum, is_training=True,
        )
        self.moving_mean.assign(tf.stop_gradient(moving_mean))
        self.moving_variance.assign(tf.stop_gradient(moving_variance))
        return y

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "epsilon": self.epsilon, "seed": self.seed}


def conv3x3(
    in_channels: int, filters: int, seed: int | None, name: str, dtype: str | None = None
) -> keras.layers.Conv2D:
    """A valid 3x3 convolution initialised as the official code leaves it.

    Weights ~ N(0, 0.02) (its `weights_init`); biases keep PyTorch's default U(+-1/sqrt(fan_in)),
    which `weights_init` does not touch. `dtype` is a Keras dtype policy (None = float32).
    """
    bound = 1.0 / math.sqrt(in_channels * KERNEL_SIZE * KERNEL_SIZE)
    return keras.layers.Conv2D(
        filters,
        KERNEL_SIZE,
        padding="valid",
        kernel_initializer=keras.initializers.RandomNormal(0.0, 0.02, seed=seed),
        bias_initializer=keras.initializers.RandomUniform(-bound, bound, seed=_seed(seed, 1)),
        name=name,
        dtype=dtype,
    )


@keras.saving.register_keras_serializable(package="singan_tf")
class ConvBlock(keras.layers.Layer):
    """Conv 3x3 (valid) -> BatchNorm -> LeakyReLU(0.2); the convolution in `conv_dtype` (a Keras
    dtype policy, None = float32), the normalisation always in float32."""

    def __init__(
        self, in_channels: int, filters: int, seed: int | None = None, conv_dtype: str | None = None, **kwargs: Any
    ):
        super().__init__(**kwargs)
        self.in_channels = in_channels
        self.filters = filters
        self.seed = seed
        self.conv_dtype = conv_dtype
        self.conv = conv3x3(in_channels, filters, seed, name="conv", dtype=conv_dtype)
        self.norm = BatchNorm(seed=_seed(seed, 2), name="norm")

    def call(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        return tf.nn.leaky_relu(self.norm(self.conv(x), training=training), alpha=0.2)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(), "in_channels": self.in_channels, "filters": self.filters, "seed": self.seed,
            "conv_dtype": self.conv_dtype,
        }


class _PatchNetwork(keras.Model):
    """The shared trunk: head block, three body blocks and a bare 3x3 tail convolution.

    `conv_dtype` is a Keras dtype policy for the convolutions (None = float32; see `precision.choose_policy`);
    weights stay float32, so a network trained that way saves, loads and samples like any other.
    The output is float32.
    """

    def __init__(
        self, channels: int, out_channels: int, image_channels: int = 3, seed: int | None = None,
        conv_dtype: str | None = None, **kwargs,
    ):
        super().__init__(**kwargs)
        self.channels = channels
        self.image_channels = image_channels
        self.seed = seed
        self.conv_dtype = conv_dtype
        self.blocks = [
            ConvBlock(
                image_channels if i == 0 else channels, channels, seed=_seed(seed, 10 * i), conv_dtype=conv_dtype,
                name=f"block{i}",
            )
            for i in range(NUM_LAYERS - 1)
        ]
        self.tail = conv3x3(channels, out_channels, _seed(seed, 100), name="tail", dtype=conv_dtype)

    def trunk(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        for block in self.blocks:
            x = block(x, training=training)
        return tf.cast(self.tail(x), tf.float32)

    def get_config(self) -> dict[str, Any]:
        return {
            "channels": self.channels, "image_channels": self.image_channels, "seed": self.seed,
            "conv_dtype": self.conv_dtype,
        }


def embed_narrower(narrow: _PatchNetwork, wide: _PatchNetwork) -> None:
    """Give `wide`, the same network with more channels, the function of `narrow`.

    Each of narrow's weights fills the leading corner of wide's; the weights from wide's extra input
    channels into the old output channels are zero; the extra output channels keep wide's own
    initialisation. So the extra channels compute from the start but feed nothing until training
    grows their outgoing weights: a warm start that needs no symmetry breaking (Net2Net's copied
    channels would stay identical without added noise)."""
    if type(narrow) is not type(wide) or len(narrow.weights) != len(wide.weights):
        raise ValueError(f"{narrow.name} and {wide.name} are not the same network")
    for small, large in zip(narrow.weights, wide.weights):
        if len(small.shape) != len(large.shape) or any(a > b for a, b in zip(small.shape, large.shape)):
            raise ValueError(f"{small.path} {small.shape} does not fit into {large.path} {large.shape}")
        value = large.numpy()
        if len(small.shape) == 4:  # a kernel [k, k, in, out]
            value[:, :, small.shape[2]:, : small.shape[3]] = 0
        value[tuple(slice(0, n) for n in small.shape)] = small.numpy()
        large.assign(value)


@keras.saving.register_keras_serializable(package="singan_tf")
class Generator(_PatchNetwork):
    """G_n: adds detail to the upsampled coarser image `prev`, driven by the noisy input.

    Called as G([noisy, prev]) with `noisy = noise_amp * z + prev`; both are unpadded [B, H, W, C] and
    the output has the same size. The residual is not clipped, as in the official code.
    """

    def __init__(
        self, channels: int, image_channels: int = 3, seed: int | None = None, conv_dtype: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(channels, image_channels, image_channels, seed, conv_dtype, **kwargs)

    def call(self, inputs: tuple[tf.Tensor, tf.Tensor], training: bool = False, padded: bool = False) -> tf.Tensor:
        """`padded=True`: `noisy` already has its PADDING border ([B, H+10, W+10, C]), e.g. random
        noise there (noise padding), or it is a window of a larger image's padded input."""
        noisy, prev = inputs
        if not padded:
            noisy = pad(noisy)
        return tf.tanh(self.trunk(noisy, training)) + prev


@keras.saving.register_keras_serializable(package="singan_tf")
class Discriminator(_PatchNetwork):
    """D_n: a WGAN critic scoring every 11x11 patch; [B, H, W, C] -> [B, H-10, W-10, 1]."""

    def __init__(
        self, channels: int, image_channels: int = 3, seed: int | None = None, conv_dtype: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(channels, 1, image_channels, seed, conv_dtype, **kwargs)

    def call(self, images: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.trunk(images, training)
