"""Layer shapes, the 11x11 receptive field, initialisation and BatchNorm semantics (spec §3)."""

import numpy as np
import pytest
import tensorflow as tf

from singan_tf.cost import parameter_count
from singan_tf.models import BatchNorm, ConvBlock, Discriminator, Generator, embed_narrower


def _trainable(model) -> int:
    return sum(int(np.prod(v.shape)) for v in model.trainable_variables)


@pytest.mark.parametrize("h,w,c", [(25, 34, 32), (13, 17, 8), (40, 40, 64)])
def test_generator_keeps_the_size_and_the_critic_loses_ten_pixels(h, w, c):
    x = tf.random.normal([2, h, w, 3])
    assert Generator(c)([x, x]).shape == (2, h, w, 3)
    assert Discriminator(c)(x).shape == (2, h - 10, w - 10, 1)


@pytest.mark.parametrize("channels", [32, 64, 128])
def test_parameter_counts_match_the_official_networks(channels):
    x = tf.zeros([1, 16, 16, 3])
    g, d = Generator(channels), Discriminator(channels)
    g([x, x])
    d(x)
    assert _trainable(g) == parameter_count(channels, 3)
    assert _trainable(d) == parameter_count(channels, 1)
    # The spec's counts for the official PyTorch modules (computed there independently of this code).
    expected = {32: (29_763, 29_185), 64: (114_819, 113_665), 128: (450_819, 448_513)}[channels]
    assert (_trainable(g), _trainable(d)) == expected


def _support(grad: np.ndarray) -> tuple[int, int]:
    rows = np.nonzero(np.abs(grad).sum(axis=(1, 2)))[0]
    cols = np.nonzero(np.abs(grad).sum(axis=(0, 2)))[0]
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


def test_each_output_pixel_sees_an_11x11_patch():
    x = tf.random.normal([1, 31, 31, 3])
    g, d = Generator(8, seed=1), Discriminator(8, seed=1)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        g_out = g([x, tf.zeros_like(x)])[0, 15, 15, 0]
        d_out = d(x)[0, 10, 10, 0]
    assert _support(tape.gradient(g_out, x)[0].numpy()) == (11, 11)
    assert _support(tape.gradient(d_out, x)[0].numpy()) == (11, 11)


def test_generator_output_is_residual_on_prev():
    """G adds tanh(trunk) to prev: with a fixed noisy input, changing prev shifts the output by the same amount."""
    g = Generator(8, seed=3)
    noisy = tf.random.normal([1, 20, 20, 3])
    prev = tf.random.normal([1, 20, 20, 3])
    delta = g([noisy, prev]) - g([noisy, tf.zeros_like(prev)])
    np.testing.assert_allclose(delta.numpy(), prev.numpy(), atol=1e-5)


@pytest.mark.parametrize("network", [Generator, Discriminator])
def test_a_widened_network_computes_the_narrow_one_and_keeps_its_extra_channels_own(network):
    """`embed_narrower`: the wider network's output is the narrower one's, with the batch's
    statistics and with the moving ones; its extra channels feed nothing yet but are not zero."""
    narrow, wide = network(4, seed=1), network(8, seed=2)
    x = tf.random.stateless_normal([1, 21, 27, 3], seed=[0, 1])
    inputs = [x, x] if network is Generator else x
    narrow(inputs, training=True)  # moving statistics that are not the initial ones
    wide(inputs)
    fresh = wide.blocks[1].conv.kernel.numpy()
    embed_narrower(narrow, wide)
    for training in (False, True):
        np.testing.assert_allclose(wide(inputs, training=training), narrow(inputs, training=training), atol=1e-5)
    kernel = wide.blocks[1].conv.kernel.numpy()
    assert not kernel[:, :, 4:, :4].any()
    np.testing.assert_array_equal(kernel[..., 4:], fresh[..., 4:])
    assert kernel[..., 4:].any()
    with pytest.raises(ValueError, match="does not fit"):
        embed_narrower(wide, narrow)


def test_initialisation_follows_weights_init():
    g = Generator(64, seed=0)
    x = tf.zeros([1, 12, 12, 3])
    g([x, x])
    kernels = np.concatenate([v.numpy().ravel() for v in g.weights if v.path.endswith("kernel")])
    assert kernels.std() == pytest.approx(0.02, rel=0.05) and abs(kernels.mean()) < 0.002
    gammas = np.concatenate([v.numpy().ravel() for v in g.weights if v.path.endswith("gamma")])
    assert gammas.mean() == pytest.approx(1.0, abs=0.01) and gammas.std() == pytest.approx(0.02, rel=0.3)
    bias = next(v.numpy() for v in g.weights if v.path.endswith("block1/conv/bias"))
    bound = 1 / np.sqrt(64 * 9)
    assert np.abs(bias).max() <= bound and np.abs(bias).max() > bound / 2  # PyTorch's default U(+-1/sqrt(fan_in))


def test_same_seed_same_weights():
    x = tf.zeros([1, 12, 12, 3])
    a, b, c = Generator(8, seed=5), Generator(8, seed=5), Generator(8, seed=6)
    for m in (a, b, c):
        m([x, x])
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))
    assert not all(np.array_equal(u, v) for u, v in zip(a.get_weights(), c.get_weights()))


# Eager, graph (where oneDNN's fused kernel replaces the op on x86) and XLA run different kernels.
MODES = {
    "eager": lambda f: f,
    "graph": lambda f: tf.function(f, autograph=False),
    "xla": lambda f: tf.function(f, jit_compile=True, autograph=False),
}


@pytest.mark.parametrize("mode", MODES)
def test_batchnorm_matches_pytorch_semantics(mode):
    x = tf.random.normal([1, 5, 7, 4], mean=2.0, stddev=3.0, seed=1)
    bn = BatchNorm()
    bn.build(x.shape)
    out = MODES[mode](lambda x: bn(x, training=True))(x).numpy()
    flat = x.numpy().reshape(-1, 4)
    mean, var = flat.mean(0), flat.var(0)
    gamma, beta = bn.gamma.numpy(), bn.beta.numpy()
    np.testing.assert_allclose(out.reshape(-1, 4), (flat - mean) / np.sqrt(var + 1e-5) * gamma + beta, atol=1e-4)
    # Running statistics: momentum 0.1 on the *unbiased* variance, as torch.nn.BatchNorm2d.
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.1 * mean, rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.9 + 0.1 * flat.var(0, ddof=1), rtol=1e-5)
    # Inference uses the running statistics.
    eval_out = bn(x, training=False).numpy().reshape(-1, 4)
    expected = (flat - bn.moving_mean.numpy()) / np.sqrt(bn.moving_variance.numpy() + 1e-5) * gamma + beta
    np.testing.assert_allclose(eval_out, expected, atol=1e-4)


def test_batchnorm_variance_gradient_is_exact():
    """Keras' BN stops the mean's gradient inside the variance; the exact one must match autodiff of
    the plain formula (this matters for the gradient penalty's second derivative)."""
    x = tf.random.normal([1, 4, 4, 2], seed=2)
    bn = BatchNorm()
    bn.build(x.shape)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours = tf.reduce_sum(tf.square(bn(x, training=True)))
        mean = tf.reduce_mean(x, axis=[0, 1, 2])
        var = tf.reduce_mean(tf.square(x - mean), axis=[0, 1, 2])
        plain = tf.reduce_sum(tf.square((x - mean) / tf.sqrt(var + 1e-5) * bn.gamma + bn.beta))
    np.testing.assert_allclose(tape.gradient(ours, x).numpy(), tape.gradient(plain, x).numpy(), atol=1e-5)


@pytest.mark.parametrize("mode", MODES)
def test_batchnorm_second_derivative_is_exact(mode):
    """The gradient penalty differentiates the critic's input gradient again, through BatchNorm, to
    BatchNorm's own scale and to the convolution before it."""
    x = tf.random.normal([1, 7, 8, 3], seed=3)
    kernel = tf.Variable(tf.random.normal([3, 3, 3, 4], seed=6))
    weights = tf.random.normal([1, 5, 6, 4], seed=4)
    bn = BatchNorm(seed=5)
    bn.build(weights.shape)

    def plain(h):
        mean = tf.reduce_mean(h, axis=[0, 1, 2])
        var = tf.reduce_mean(tf.square(h - mean), axis=[0, 1, 2])
        return (h - mean) / tf.sqrt(var + 1e-5) * bn.gamma + bn.beta

    def penalty_gradients(norm):
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                inner.watch(x)
                h = tf.nn.conv2d(x, kernel, 1, "VALID")
                score = tf.reduce_sum(tf.nn.leaky_relu(norm(h), 0.2) * weights)
            penalty = tf.reduce_sum(tf.square(inner.gradient(score, x)))
        return outer.gradient(penalty, [bn.gamma, kernel])

    ours = MODES[mode](lambda: penalty_gradients(lambda h: bn(h, training=True)))()
    for got, expected in zip(ours, penalty_gradients(plain)):
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-4, atol=1e-5)


def test_configs_round_trip():
    block = ConvBlock(3, 16, seed=4)
    assert ConvBlock.from_config(block.get_config()).get_config() == block.get_config()
    g = Generator(32, seed=9)
    assert Generator.from_config(g.get_config()).channels == 32
