"""MATLAB-``imresize``-compatible bicubic resizing, the resizer the official SinGAN uses.

SinGAN's image pyramid and its upsampling between scales are defined by Assaf Shocher's port of
MATLAB's ``imresize`` (Keys cubic kernel, antialiasing when shrinking, symmetric borders), not by
``tf.image.resize``. Each axis is resized by an interpolation matrix built with plain float32/int32
TensorFlow ops, so the same code runs eagerly, constant-folds inside XLA-compiled steps, accepts
sizes computed inside a graph, and converts to TFLite with builtin ops only.
"""

import math
import numbers

import tensorflow as tf


def _cubic(x: tf.Tensor) -> tf.Tensor:
    """Keys' cubic convolution kernel with a = -0.5, the kernel MATLAB calls 'cubic'."""
    a = tf.abs(x)
    # Horner form: no sum of a constant and a difference, which grappler regroups in some graphs
    near = (1.5 * a - 2.5) * (a * a) + 1.0
    far = ((2.5 - 0.5 * a) * a - 4.0) * a + 2.0
    return tf.where(a <= 1.0, near, tf.where(a <= 2.0, far, tf.zeros_like(a)))


def resize_matrix(in_len, out_len, scale=None) -> tf.Tensor:
    """The [out_len, in_len] float32 matrix that resizes one axis like MATLAB ``imresize``.

    ``scale`` is the kernel scale, which SinGAN passes separately because its output sizes are
    rounded up (``ceil(len * scale)``) and so differ slightly from ``out_len / in_len``.

    Instead of gathering a fixed number of taps per output, the kernel is evaluated on every
    position (inside or beyond the image) that any output's taps reach, and the positions beyond
    the border are then folded onto the pixels they mirror with a 0/1 matrix. That needs only
    builtin TFLite ops, and memory does not grow with out_len * in_len * kernel width (a wide
    antialiasing kernel when shrinking a large photo would make that hundreds of megabytes).
    """
    in_len = tf.cast(in_len, tf.int32)
    out_len = tf.cast(out_len, tf.int32)
    if scale is None:
        scale = tf.cast(out_len, tf.float32) * (1.0 / tf.cast(in_len, tf.float32))
    scale = tf.cast(scale, tf.float32)
    # Shrinking stretches the kernel by 1/scale so that it averages (antialiases) instead of
    # skipping input pixels.
    stretch = tf.minimum(scale, 1.0)
    width = 4.0 / stretch

    out_coords = tf.cast(tf.range(1, out_len + 1), tf.float32)
    # Reciprocals times, never divisions by a value that may be a constant: grappler rewrites a
    # division by a constant into such a product, which rounds differently, in some graphs and not
    # in others; written this way the matrix is bit-identical in eager code, every graph and TFLite.
    inverse = 1.0 / scale
    match = out_coords * inverse + 0.5 * (1.0 - inverse)
    left = tf.floor(match - width / 2.0)
    # Output o uses taps left[o] - 1 .. left[o] + ceil(width); outside its own taps the kernel is 0.
    first = tf.cast(left[0], tf.int32) - 1
    last = tf.cast(left[-1] + tf.math.ceil(width), tf.int32)
    positions = tf.range(first, last + 1)
    # (1-based positions, the +1 in integers: grappler would regroup a float "- p - 1.0" with constants)
    offsets = match[:, None] - tf.cast(positions + 1, tf.float32)[None, :]
    weights = stretch * _cubic(stretch * offsets)

    # MATLAB 'symmetric' border: positions -2 -1 | 0 .. n-1 | n n+1
    # read pixels                           1  0 | 0 .. n-1 | n-1 n-2.
    period = 2 * in_len
    wrapped = tf.math.floormod(positions, period)
    source = tf.minimum(wrapped, period - 1 - wrapped)
    fold = tf.cast(tf.equal(source[:, None], tf.range(in_len)[None, :]), tf.float32)
    matrix = tf.matmul(weights, fold)

    row_sums = tf.reduce_sum(matrix, axis=1, keepdims=True)
    return matrix / tf.where(tf.equal(row_sums, 0.0), tf.ones_like(row_sums), row_sums)


def _dim(images: tf.Tensor, axis: int):
    """A static dimension as a Python int when known, so the matrices get static shapes."""
    size = images.shape[axis]
    return size if size is not None else tf.shape(images)[axis]


def imresize(images: tf.Tensor, out_h, out_w, scale_h=None, scale_w=None) -> tf.Tensor:
    """Resize [B, H, W, C] float32 images to [B, out_h, out_w, C] like MATLAB ``imresize``.

    The kernel scales default to out/in per axis; SinGAN passes its pyramid factor instead.
    """
    m_h = resize_matrix(_dim(images, 1), out_h, scale_h)
    m_w = resize_matrix(_dim(images, 2), out_w, scale_w)
    rows = tf.einsum("ih,bhwc->biwc", m_h, images)
    return tf.einsum("jw,biwc->bijc", m_w, rows)


def rescale(images: tf.Tensor, scale) -> tf.Tensor:
    """Resize by ``scale`` to ceil(H * scale) x ceil(W * scale), as SinGAN builds its pyramid.

    With static H, W and a Python ``scale`` the sizes are computed in float64 exactly like the
    reference (``math.ceil(h * scale)``); otherwise they are computed in float32 inside the graph,
    which can round differently when H * scale lies within float32 precision of an integer.
    """
    h, w = images.shape[1], images.shape[2]
    if isinstance(scale, numbers.Real) and h is not None and w is not None:
        out_h, out_w = math.ceil(h * scale), math.ceil(w * scale)
    else:
        sizes = tf.cast(tf.shape(images)[1:3], tf.float32) * tf.cast(scale, tf.float32)
        out_h, out_w = tf.unstack(tf.cast(tf.math.ceil(sizes), tf.int32))
    return imresize(images, out_h, out_w, scale, scale)
