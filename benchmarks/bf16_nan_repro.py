"""Issue 17: make the bfloat16 weight-gradient convolution return NaN from finite inputs, on demand.

The suspected cause (uxlfoundation/oneDNN #5717, fixed by PR #5723): on AMX, oneDNN's brgemm reads
the reduction dimension K in steps of 32 and lets zeros in B cancel what it reads of A past its valid
columns; when those bytes hold a NaN or Inf pattern, NaN * 0 = NaN reaches the result. For a weight
gradient K is the batch x output rows x output columns, almost never a multiple of 32 at SinGAN's
shapes. In training the bytes after a tensor are whatever the allocator left there, which is why the
NaN came and went.

This script puts NaN right after the inputs on purpose. On the CPU `tf.split` along axis 0 returns
views into its input's buffer, so splitting [x, NaN block] gives an `x` whose next bytes are NaN bit
patterns; x itself and the upstream gradient are finite. Then Conv2DBackpropFilter runs at the
3x3, 32-to-32-channel shape of each scale of the 96-px pyramid (and any --size given), in bfloat16
and in float32, with and without the NaN neighbours, and counts non-finite results.

    python benchmarks/bf16_nan_repro.py                          # ~1 min
    ONEDNN_VERBOSE=1 python benchmarks/bf16_nan_repro.py --calls 1 | grep brgconv   # which kernel ran
    ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16 python benchmarks/bf16_nan_repro.py     # AMX left out by hand
    python benchmarks/bf16_nan_repro.py --as-trained  # what `--mixed-precision` sets up (the same, on AMX)

A correct kernel gives 0 non-finite results everywhere; the bug shows as non-finite results in the
bfloat16 rows with NaN neighbours only.
"""

from __future__ import annotations

import json
import os
import platform

from singan_tf.cli.main import import_tensorflow_quietly

import_tensorflow_quietly()

import click  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from singan_tf.bench.reference_runs import this_machine  # noqa: E402
from singan_tf.precision import start_mixed_precision  # noqa: E402

# (height, width) of the generator's input at scales 0-4 of balloons at --max-size 96, plus padding.
PYRAMID_96 = [(35, 44), (43, 54), (53, 67), (66, 84), (82, 106)]
CHANNELS = 32


def weight_gradient(x: tf.Tensor, dy: tf.Tensor) -> tf.Tensor:
    return tf.raw_ops.Conv2DBackpropFilter(input=x, filter_sizes=[3, 3, CHANNELS, CHANNELS], out_backprop=dy,
                                           strides=[1, 1, 1, 1], padding="VALID")


def with_neighbours(values: np.ndarray, dtype: tf.DType, fill: float) -> tf.Tensor:
    """`values` as a tensor whose buffer is followed by a block of `fill` (a view made by tf.split)."""
    block = tf.cast(tf.constant(np.stack([values[0], np.full_like(values[0], fill)])), dtype)
    view, _ = tf.split(block, 2, axis=0)
    return view


def run_shape(height: int, width: int, calls: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for dtype in (tf.bfloat16, tf.float32):
        for neighbours in ("none", "nan", "inf"):
            bad = 0
            for _ in range(calls):
                x = rng.normal(size=(1, height, width, CHANNELS)).astype(np.float32)
                dy = rng.normal(size=(1, height - 2, width - 2, CHANNELS)).astype(np.float32)
                if neighbours == "none":
                    inputs = tf.cast(tf.constant(x), dtype), tf.cast(tf.constant(dy), dtype)
                else:
                    fill = np.nan if neighbours == "nan" else np.inf
                    inputs = with_neighbours(x, dtype, fill), with_neighbours(dy, dtype, fill)
                assert all(bool(tf.reduce_all(tf.math.is_finite(tf.cast(t, tf.float32)))) for t in inputs)
                bad += not bool(tf.reduce_all(tf.math.is_finite(tf.cast(weight_gradient(*inputs), tf.float32))))
            rows.append({"size": [height, width], "k": (height - 2) * (width - 2), "dtype": dtype.name,
                         "neighbours": neighbours, "calls": calls, "non_finite": bad})
    return rows


@click.command()
@click.option("--calls", type=click.IntRange(1), default=20, show_default=True, help="Calls per shape and case.")
@click.option("--size", "sizes", multiple=True, help="Extra input size HxW to try, e.g. 61x77.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "json_path", type=click.Path(), default=None, help="Also write the rows here.")
@click.option("--as-trained", is_flag=True,
              help="First set the process up as `singan-tf train --mixed-precision` does (AMX left out).")
def main(calls: int, sizes: tuple[str, ...], seed: int, json_path: str | None, as_trained: bool) -> None:
    """Count non-finite weight gradients from finite inputs, bfloat16 against float32."""
    if as_trained:
        print(start_mixed_precision())
    shapes = PYRAMID_96 + [tuple(int(v) for v in size.lower().split("x")) for size in sizes]
    machine = this_machine()
    units = sorted(flag for flag in machine["flags"] if flag in ("avx512_bf16", "amx_bf16", "amx_tile"))
    print(f"{machine['name']} (family {machine['family']} model {machine['model']}), bf16 units: "
          f"{', '.join(units) or 'none'}; ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA', 'unset')}; "
          f"TensorFlow {tf.__version__}")
    print("| input HxW | K | dtype | bytes after the inputs | non-finite / calls |")
    print("|---|---|---|---|---|")
    rows = []
    for height, width in shapes:
        for row in run_shape(height, width, calls, seed):
            rows.append(row)
            print(f"| {height}x{width} | {row['k']} ({row['k'] % 32} past a multiple of 32) | {row['dtype']} | "
                  f"{row['neighbours']} | {row['non_finite']} / {calls} |")
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"machine": {k: v for k, v in machine.items() if k != "flags"}, "bf16_units": units,
                       "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA"), "tensorflow": tf.__version__,
                       "python": platform.python_version(), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
