"""Counter-based Gaussian noise that gives the same numbers in eager TF, graphs, XLA and TFLite.

SinGAN draws a noise map at every scale. A sample must be reproducible from (seed, stream) alone,
whether it is drawn eagerly, inside a tf.function / SavedModel, under XLA, or by a TFLite model
converted with builtin ops only (TFLite has no stateless random ops without the Flex delegate).
``tf.random`` cannot give that, so the noise is built from exact int32 arithmetic and a handful of
float32 builtins (cast, add, mul, select, log, sqrt, cos).

How it works:

* All integers are residues modulo the prime ``P = 46337``: the product of two residues stays below
  2**31, so no int32 operation ever overflows (TFLite's overflow behaviour is not relied upon).
* The mixer is a Feistel round on a pair of residues, ``(a, b) -> (b, a + (b + k)**3 mod P)``.
  It is a bijection of Z_P x Z_P for any round key ``k``, and the cube is non-linear and itself a
  bijection because ``P = 2 (mod 3)``.
* Seed and stream are reduced to residues and absorbed into a two-residue sponge; squeezing it
  gives ``ROUNDS`` round keys per draw. Every round depends on the seed, so different seeds give
  unrelated permutations rather than shifted copies of one sequence.
* Element ``n`` (the row-major flat index) is written as the pair ``(n mod P, n div P)`` and run
  through ``ROUNDS`` keyed rounds, once per draw. Each draw's output pair ``(x, y)`` is two
  ~15.5-bit uniforms, combined into ``v = x * P + y``, uniform on [0, P**2), i.e. the uniform
  ``u = (v + 0.5) / P**2`` in (0, 1).
* Two draws feed Box-Muller: ``sqrt(-2 log u1) * cos(2 pi u2)``.

Everything up to ``v`` is exact integer arithmetic and identical on every backend. Eager TF and
tf.function run the same kernels and agree bit for bit; XLA (own log/cos, fused multiply-add) and
TFLite (XNNPACK's log/cos) differ from them by a few float32 ulps, about 1e-6 in absolute terms.
"""

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

P = 46337
"""Largest prime with (P - 1)**2 < 2**31; P = 2 (mod 3) makes cubing a bijection."""

ROUNDS = 8
"""Feistel rounds per draw. Four already pass the statistical tests; eight leave a margin."""

# Five primes whose product exceeds 2**64, so the residues of an int64 identify it uniquely (Chinese
# remainder theorem). Reducing by floor_mod alone keeps int64 seeds TFLite-convertible: TFLite has
# an int64 FLOOR_MOD builtin but no int64 FLOOR_DIV, so base-P digits are not an option.
_MODULI = (46337, 46327, 46309, 46307, 46301)

_INV_P_SQUARED = np.float32(1.0 / (P * P))
_TWO_PI_OVER_P_SQUARED = np.float32(2.0 * np.pi / (P * P))
_SERIES_BELOW = np.float32(2.0**-8)  # -log(1 - w) by its series when w is below this

ShapeLike = Sequence[int | tf.Tensor] | tf.Tensor


def normal(seed: int | tf.Tensor, stream: int | tf.Tensor, shape: ShapeLike) -> tf.Tensor:
    """Standard normal float32 noise of ``shape``, a pure function of (seed, stream, shape).

    ``seed``: any int64 value (Python int, int32 or int64 scalar tensor); equal values give equal
    noise whatever the dtype. ``stream``: any int64 value likewise; use it to make independent
    noise within one seed, e.g. ``scale_index * 1000 + sample_index``. Distinct (seed, stream)
    pairs give unrelated noise, but since their key state is 31 bits they coincide with
    probability about 2**-31 per pair.

    ``shape``: a list of Python ints and/or int32 scalar tensors, or a 1-D int32 tensor. The
    result is the first ``prod(shape)`` values of the stream's flat sequence, reshaped row-major,
    so a map of another size is not a crop of this one. Element ``n`` and ``n + P**2`` coincide,
    so maps beyond P**2 (about 2.1e9) elements repeat.
    """
    shape = tf.convert_to_tensor(shape, tf.int32)
    n = tf.range(tf.reduce_prod(shape))
    state = _absorb((tf.constant(0), tf.constant(0)), _residues(seed) + _residues(stream), 1)
    v1, v2 = (_encrypt(n, _round_keys(_absorb(state, [draw], 100))) for draw in (0, 1))
    # The angle 2 pi u2 may round to 2 pi in float32: the same angle as 0, so it needs no clamp.
    z = tf.sqrt(2.0 * _minus_log_uniform(v1)) * tf.cos(_midpoint(v2, _TWO_PI_OVER_P_SQUARED))
    return tf.reshape(z, shape)


def _residues(value: int | tf.Tensor) -> list[tf.Tensor]:
    """int32 residues of an int64 value modulo ``_MODULI``: all in [0, P), unique per int64."""
    value = tf.cast(value, tf.int64)
    return [tf.cast(tf.math.floormod(value, q), tf.int32) for q in _MODULI]


def _round(a: tf.Tensor, b: tf.Tensor, key: int | tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """One Feistel round on residues: a bijection of the pair for any key, non-linear in b."""
    v = (b + key) % P
    return b, (a + v * v % P * v % P) % P


def _absorb(
    state: tuple[tf.Tensor, tf.Tensor], digits: list[int | tf.Tensor], first_constant: int
) -> tuple[tf.Tensor, tf.Tensor]:
    """Sponge absorption: add each residue to the state, then mix it with two rounds.

    The rounds use the distinct constants ``first_constant, first_constant + 1, ...`` so that no
    two steps are identical maps (identical steps would let shifted inputs give related states).
    """
    a, b = state
    constant = first_constant
    for digit in digits:
        a = (a + digit) % P
        for _ in range(2):
            a, b = _round(a, b, constant)
            constant += 1
    return a, b


def _round_keys(state: tuple[tf.Tensor, tf.Tensor]) -> list[tf.Tensor]:
    """Squeeze ``ROUNDS`` round keys out of the sponge, one round each."""
    a, b = state
    keys = []
    for i in range(ROUNDS):
        a, b = _round(a, b, 200 + i)
        keys.append(b)
    return keys


def _encrypt(n: tf.Tensor, keys: list[tf.Tensor]) -> tf.Tensor:
    """Run the counters through the keyed Feistel rounds: a permutation of [0, P**2).

    Being a permutation, one draw never repeats a value within a stream. ``x * P + y < P**2 <
    2**31`` is exact in int32.
    """
    x, y = n % P, n // P
    for key in keys:
        x, y = _round(x, y, key)
    return x * P + y


def _midpoint(v: tf.Tensor, scale: np.float32) -> tf.Tensor:
    """``(v + 0.5) * scale`` in float32; for ``scale = 1 / P**2`` the uniform ``u`` in (0, 1).

    Callers fold any further constant factor into ``scale``: in graphs grappler reassociates chains
    of constant multiplications, which changes the rounding and would break eager == graph.
    """
    return (tf.cast(v, tf.float32) + 0.5) * scale


def _minus_log_uniform(v: tf.Tensor) -> tf.Tensor:
    """``-log(u)`` for ``u = (v + 0.5) / P**2``, accurate to float32 precision even near u = 1.

    Near 1, backends' log is accurate only in absolute terms (XNNPACK: ~1e-7), and Box-Muller turns
    that into errors up to 1e-4 in the small radii ``sqrt(-2 log u)``; float32 ``u`` also cannot
    resolve 1 - u there. So for ``w = 1 - u < 2**-8``, computed from the exact integer
    complement, the series ``w + w**2 / 2 + w**3 / 3`` (relative error < 2**-26) replaces the log.
    """
    w = _midpoint(P * P - 1 - v, _INV_P_SQUARED)
    series = w * (1.0 + w * (0.5 + w * np.float32(1.0 / 3.0)))
    return tf.where(w < _SERIES_BELOW, series, -tf.math.log(_midpoint(v, _INV_P_SQUARED)))
