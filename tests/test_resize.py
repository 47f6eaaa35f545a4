import math

import numpy as np
import pytest
import tensorflow as tf

from singan_tf.resize import imresize, rescale, resize_matrix

SCALE = 0.7781

# (in_len, out_len, kernel scale or None for out/in)
CASES = [
    (37, 16, None),
    (250, 25, None),
    (186, 145, SCALE),
    (25, 33, 1 / SCALE),
    (10, 40, None),
    (3, 1, None),  # kernel much wider than the image: mirrors several times
    (7, 7, 1.0),
]


def coordinate_tolerance(*lengths):
    """float32 sample coordinates near n are only accurate to about n * 2**-23."""
    return 1e-6 + 1e-7 * max(lengths)


def _cubic(x):
    a = np.abs(x)
    return (1.5 * a**3 - 2.5 * a**2 + 1) * (a <= 1) + (
        -0.5 * a**3 + 2.5 * a**2 - 4 * a + 2
    ) * ((1 < a) & (a <= 2))


def reference_matrix(in_len, out_len, scale=None):
    """Shocher's ``contributions`` in float64, with the intended mirror instead of the uint cast."""
    scale = out_len / in_len if scale is None else scale
    if scale < 1:
        kernel, width = (lambda x: scale * _cubic(scale * x)), 4.0 / scale
    else:
        kernel, width = _cubic, 4.0
    match = np.arange(1, out_len + 1) / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(match - width / 2)
    taps = np.arange(int(np.ceil(width)) + 2)
    fov = left[:, None] + taps[None, :] - 1
    weights = kernel(match[:, None] - fov - 1)
    sums = weights.sum(axis=1, keepdims=True)
    sums[sums == 0] = 1
    weights = weights / sums
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len)[::-1]])
    source = mirror[np.mod(fov.astype(np.int64), 2 * in_len)]
    matrix = np.zeros((out_len, in_len))
    for o in range(out_len):
        for t in taps:
            matrix[o, source[o, t]] += weights[o, t]
    return matrix


def reference_imresize(images, out_h, out_w, scale_h=None, scale_w=None):
    m_h = reference_matrix(images.shape[1], out_h, scale_h)
    m_w = reference_matrix(images.shape[2], out_w, scale_w)
    return np.einsum("ih,bhwc,jw->bijc", m_h, images.astype(np.float64), m_w, optimize=True)


@pytest.mark.parametrize("in_len,out_len,scale", CASES)
def test_matrix_matches_reference(in_len, out_len, scale):
    got = resize_matrix(in_len, out_len, scale).numpy()
    assert got.shape == (out_len, in_len)
    assert got.dtype == np.float32
    want = reference_matrix(in_len, out_len, scale)
    np.testing.assert_allclose(got, want, atol=coordinate_tolerance(in_len, out_len))


@pytest.mark.parametrize("in_len,out_len,scale", CASES)
def test_rows_sum_to_one(in_len, out_len, scale):
    row_sums = resize_matrix(in_len, out_len, scale).numpy().sum(axis=1)
    np.testing.assert_allclose(row_sums, 1.0, atol=1e-6)


def test_imresize_matches_reference_on_random_images():
    images = np.random.default_rng(0).uniform(-1, 1, (2, 37, 25, 3)).astype(np.float32)
    for out_h, out_w, scale_h, scale_w in [(16, 33, None, 1 / SCALE), (29, 20, SCALE, SCALE)]:
        got = imresize(tf.constant(images), out_h, out_w, scale_h, scale_w).numpy()
        want = reference_imresize(images, out_h, out_w, scale_h, scale_w)
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_identity_scale_returns_input():
    images = np.random.default_rng(1).uniform(-1, 1, (1, 13, 9, 3)).astype(np.float32)
    resized = imresize(tf.constant(images), 13, 9, 1.0, 1.0)
    np.testing.assert_allclose(resized.numpy(), images, atol=1e-6)
    np.testing.assert_allclose(rescale(tf.constant(images), 1.0).numpy(), images, atol=1e-6)


def test_constant_image_stays_constant():
    images = tf.fill([1, 30, 22, 2], 0.37)
    np.testing.assert_allclose(imresize(images, 11, 40).numpy(), 0.37, atol=1e-6)


def test_upscaling_by_two_keeps_a_linear_ramp():
    ramp = tf.reshape(tf.range(20, dtype=tf.float32), [1, 20, 1, 1])
    out = imresize(ramp, 40, 1).numpy()[0, :, 0, 0]
    # Output i (0-based) samples input position (i + 1) / 2 - 0.75; borders are mirrored.
    interior = np.arange(6, 34)
    np.testing.assert_allclose(out[interior], (interior + 1) / 2 - 0.75, atol=1e-5)


def test_rows_depend_only_on_the_output_index():
    long = resize_matrix(25, 40, 1 / SCALE).numpy()
    short = resize_matrix(25, 33, 1 / SCALE).numpy()
    np.testing.assert_allclose(short, long[:33], atol=1e-6)


def test_dynamic_sizes_in_a_graph_match_eager():
    @tf.function(input_signature=[tf.TensorSpec([], tf.int32)] * 2)
    def dynamic(in_len, out_len):
        scaled = resize_matrix(in_len, out_len, tf.constant(1 / SCALE))
        return resize_matrix(in_len, out_len), scaled

    for in_len, out_len in [(37, 16), (25, 33), (3, 1)]:
        default, scaled = dynamic(tf.constant(in_len), tf.constant(out_len))
        atol = coordinate_tolerance(in_len, out_len)
        want_default = resize_matrix(in_len, out_len).numpy()
        want_scaled = resize_matrix(in_len, out_len, 1 / SCALE).numpy()
        np.testing.assert_allclose(default.numpy(), want_default, atol=atol)
        np.testing.assert_allclose(scaled.numpy(), want_scaled, atol=atol)


def test_xla_compiled_with_static_sizes_matches_eager():
    images = tf.random.stateless_uniform([2, 25, 19, 3], seed=[3, 4])
    compiled = tf.function(lambda x: imresize(x, 33, 15, 1 / SCALE, None), jit_compile=True)
    want = imresize(images, 33, 15, 1 / SCALE).numpy()
    np.testing.assert_allclose(compiled(images).numpy(), want, atol=1e-5)


@pytest.mark.parametrize("h,w", [(186, 250), (250, 188), (25, 33)])
def test_rescale_sizes_follow_math_ceil(h, w):
    images = tf.zeros([1, h, w, 1])
    dynamic = tf.function(
        rescale, input_signature=[tf.TensorSpec([1, None, None, 1]), tf.TensorSpec([])]
    )
    for k in range(1, 9):
        scale = SCALE**k
        want = (1, math.ceil(h * scale), math.ceil(w * scale), 1)
        assert tuple(rescale(images, scale).shape) == want
        assert tuple(dynamic(images, tf.constant(scale, tf.float32)).shape) == want


def test_rescale_values_match_reference():
    images = np.random.default_rng(2).uniform(0, 1, (1, 186, 40, 3)).astype(np.float32)
    want = reference_imresize(images, 145, 32, SCALE, SCALE)
    np.testing.assert_allclose(rescale(tf.constant(images), SCALE).numpy(), want, atol=1e-5)


def test_converts_to_tflite_with_builtin_ops_only():
    interpreter_module = pytest.importorskip("ai_edge_litert.interpreter")

    @tf.function(
        input_signature=[
            tf.TensorSpec([1, 20, 24, 3], tf.float32),
            tf.TensorSpec([], tf.int32),
            tf.TensorSpec([], tf.int32),
        ]
    )
    def resize(images, out_h, out_w):
        return imresize(images, out_h, out_w)

    concrete = resize.get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], resize)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    interpreter = interpreter_module.Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    inputs = {detail["name"]: detail["index"] for detail in interpreter.get_input_details()}
    output = interpreter.get_output_details()[0]["index"]
    images = np.random.default_rng(3).uniform(0, 1, (1, 20, 24, 3)).astype(np.float32)
    for out_h, out_w in [(9, 31), (20, 24), (40, 5)]:
        interpreter.set_tensor(inputs["images"], images)
        interpreter.set_tensor(inputs["out_h"], np.int32(out_h))
        interpreter.set_tensor(inputs["out_w"], np.int32(out_w))
        interpreter.invoke()
        want = resize(tf.constant(images), tf.constant(out_h), tf.constant(out_w)).numpy()
        np.testing.assert_allclose(interpreter.get_tensor(output), want, atol=1e-5)
