"""Deploy latency: median ms per image at several resolutions through each way of running a model
(the Python Sampler, the SavedModel, the gRPC server over loopback, TFLite), and the export sizes.

    python benchmarks/deploy_latency.py MODEL_DIR [--factors 1,2,4] [--repeats 5]

Sizes are multiples of the training size (4 is the largest the model serves). Each path runs once
per size before timing, so graph optimisation and allocation are not counted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from singan_tf.cli.main import import_tensorflow_quietly

import_tensorflow_quietly()

import tensorflow as tf  # noqa: E402

from singan_tf.export.saved_model import export_saved_model  # noqa: E402
from singan_tf.export.tflite import TfliteSampler, export_tflite  # noqa: E402
from singan_tf.image_io import to_uint8  # noqa: E402
from singan_tf.model_store import load_pyramid  # noqa: E402
from singan_tf.sampler import Sampler  # noqa: E402
from singan_tf.serving.client import connect, predict_image  # noqa: E402
from singan_tf.serving.server import ModelServer  # noqa: E402


def median_ms(run: Callable[[int], object], repeats: int) -> float:
    run(0)
    times = []
    for seed in range(1, repeats + 1):
        start = time.perf_counter()
        run(seed)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--factors", default="1,2,4", help="Output sizes as multiples of the training size.")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    sampler = Sampler(load_pyramid(args.model_dir))
    with tempfile.TemporaryDirectory() as base:
        start = time.perf_counter()
        version_dir = export_saved_model(args.model_dir, Path(base))
        export_s = time.perf_counter() - start
        start = time.perf_counter()
        tflite_path = export_tflite(version_dir)
        convert_s = time.perf_counter() - start
        signature = tf.saved_model.load(str(version_dir)).signatures["sample"]
        lite = TfliteSampler(tflite_path, num_threads=os.cpu_count())
        server = ModelServer(Path(base), port=0)
        stub = connect(f"127.0.0.1:{server.start()}")

        paths = {
            "Python Sampler": lambda h, w, s: to_uint8(np.asarray(sampler(h, w, s))),
            "SavedModel": lambda h, w, s: signature(
                height=tf.constant(h), width=tf.constant(w), seed=tf.constant(s, tf.int64))["image"].numpy(),
            "gRPC (loopback)": lambda h, w, s: predict_image(stub, h, w, s),
            "TFLite": lambda h, w, s: lite(h, w, s),
        }
        scales = len(sampler.pyramid.scale_sizes)
        print(f"model {args.model_dir}: {scales} scales, training size {sampler.finest[0]}x{sampler.finest[1]}, "
              f"{os.cpu_count()} CPUs")
        print(f"SavedModel {folder_bytes(version_dir) / 1e6:.2f} MB (export {export_s:.1f} s); "
              f".tflite {tflite_path.stat().st_size / 1e6:.2f} MB (conversion {convert_s:.1f} s)\n")
        print("| size | " + " | ".join(f"{name} ms" for name in paths) + " |")
        print("|---" * (len(paths) + 1) + "|")
        for factor in (int(f) for f in args.factors.split(",")):
            h, w = factor * sampler.finest[0], factor * sampler.finest[1]
            cells = [f"{median_ms(lambda s: run(h, w, s), args.repeats):.1f}" for run in paths.values()]
            print(f"| {h}x{w} | " + " | ".join(cells) + " |")
        server.stop(grace=1)


if __name__ == "__main__":
    main()
