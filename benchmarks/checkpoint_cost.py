"""What checkpoints inside a scale cost: the file's size, the time to write and to restore it, and
that time as a share of training at the chosen interval, at a scale of the image's plan (the
paper preset's finest, balloons scale 8, by default).

    python benchmarks/checkpoint_cost.py [IMAGE] [--scale N] [--preset paper] [--iters 2] [--writes 5]

The scale trains on top of coarser generators with random weights (`singan_tf.bench.timing`), as
`singan-tf bench` does: a checkpoint costs the same whatever the weights. Writing is the real thing
(`fit`'s checkpointer: the .npz with fsync and rename, then the manifest) into a temporary model
folder; the share is write time / (interval + write time), since training waits while it writes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from singan_tf.cli.main import import_tensorflow_quietly

import_tensorflow_quietly()

import tensorflow as tf  # noqa: E402

from singan_tf import checkpoint  # noqa: E402
from singan_tf.bench.timing import random_pyramid  # noqa: E402
from singan_tf.config import preset  # noqa: E402
from singan_tf.fit import _Checkpoints, new_manifest  # noqa: E402
from singan_tf.image_io import load_image  # noqa: E402
from singan_tf.pyramid import build_reals  # noqa: E402
from singan_tf.bench.reference_runs import this_machine  # noqa: E402
from singan_tf.scale_plan import plan_scales  # noqa: E402
from singan_tf.training import ScaleTrainer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _machine() -> str:
    cpu = this_machine()
    return f"{cpu['name'] or 'unknown CPU'} (family {cpu['family']} model {cpu['model']})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", nargs="?", type=Path, default=ROOT / "assets" / "balloons.png")
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--scale", type=int, default=None, help="[default: the finest]")
    parser.add_argument("--iters", type=int, default=2, help="timed training iterations after a warm-up")
    parser.add_argument("--writes", type=int, default=5, help="timed checkpoint writes (and restores)")
    parser.add_argument("--minutes", type=float, default=checkpoint.CHECKPOINT_MINUTES, help="the interval")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    config = preset(args.preset)
    image = load_image(args.image)
    plan = plan_scales(*image.shape[:2], config)
    scale = plan.num_scales - 1 if args.scale is None else args.scale
    trainer = ScaleTrainer(scale, build_reals(image, plan)[scale], random_pyramid(plan, config, scale), config, seed=0)
    trainer.iteration(tf.constant(0))
    iteration_times = []
    for i in range(1, args.iters + 1):
        started = time.perf_counter()
        float(trainer.iteration(tf.constant(i))["d_loss"])
        iteration_times.append(time.perf_counter() - started)

    with tempfile.TemporaryDirectory() as folder:
        model_dir = Path(folder)
        manifest = new_manifest(args.image, plan, config, seed=0)
        checkpoints = _Checkpoints(model_dir, manifest, trainer, args.minutes)
        write_times, restore_times = [], []
        for k in range(args.writes):
            started = time.perf_counter()
            checkpoints.write(args.iters + 1, float(k))
            write_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            checkpoints.resume_point()
            restore_times.append(time.perf_counter() - started)
        size = checkpoint.checkpoint_path(model_dir).stat().st_size

    write = statistics.median(write_times)
    iteration = statistics.median(iteration_times)
    interval = args.minutes * 60
    h, w = plan.scale_sizes[scale]
    result = {
        "image": args.image.name, "preset": args.preset, "scale": scale, "size": [h, w],
        "channels": plan.channels[scale], "variables": sum(map(len, trainer.state.values())),
        "checkpoint_mb": size / 1e6, "write_sec": write_times, "restore_sec": restore_times,
        "sec_per_iter": iteration_times, "interval_minutes": args.minutes,
        "share_of_training": write / (interval + write) if interval else None,
        "machine": _machine(), "cores": os.cpu_count(), "tensorflow": tf.__version__,
    }
    print(f"{result['image']} {args.preset} scale {scale} ({h}x{w}, {result['channels']} channels) on "
          f"{result['machine']}, {result['cores']} cores")
    print(f"checkpoint: {result['checkpoint_mb']:.2f} MB, {result['variables']} variables")
    print(f"write (npz + fsync + rename + manifest): median {write * 1e3:.0f} ms of "
          f"{', '.join(f'{t * 1e3:.0f}' for t in write_times)}")
    print(f"restore (read + assign): median {statistics.median(restore_times) * 1e3:.0f} ms")
    print(f"training: median {iteration:.2f} s per iteration of {', '.join(f'{t:.2f}' for t in iteration_times)}")
    if interval:
        print(f"every {args.minutes:g} min: {100 * result['share_of_training']:.3f}% of training time "
              f"(one write per {interval / iteration:.0f} iterations)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
