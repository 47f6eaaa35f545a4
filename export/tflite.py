"""The export as a TFLite model with builtin ops only, for the maintained runtime (ai-edge-litert).

It is converted from the SavedModel's serving_default, so the graph is the Sampler's: the noise
(`noise.py`) and the MATLAB resize (`resize.py`) are plain arithmetic and matrix products, and the
coarsest scale's tf.cond becomes TFLite's builtin IF. The converter drops the Sampler's
tf.debugging.Assert ops (TFLite has no assert), so the TFLite model does not refuse out-of-range
sizes by itself: `TfliteSampler` checks requests against the SavedModel's `limits`, written beside
the model as JSON. (A `limits` signature inside the .tflite would do, but a second signature made
the interpreter 3-4x slower on every request.)

Files: EXPORT_BASE/NAME/VERSION.tflite and VERSION.tflite.json, beside the version folder they were
converted from. TF Serving only loads children of EXPORT_BASE/NAME named by an integer: it ignores them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tensorflow as tf

from singan_tf.errors import SinganError
from singan_tf.sampler import request_problem

SIGNATURE = "serving_default"


def tflite_path(version_dir: Path) -> Path:
    return Path(version_dir).parent / f"{Path(version_dir).name}.tflite"


def limits_path(tflite: Path) -> Path:
    return Path(tflite).with_name(Path(tflite).name + ".json")


def convert(version_dir: Path) -> bytes:
    converter = tf.lite.TFLiteConverter.from_saved_model(str(version_dir), signature_keys=[SIGNATURE])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_bytes(data)
        partial.replace(path)
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise SinganError(f"cannot write {path}: {err.strerror or err}") from None


def export_tflite(version_dir: Path) -> Path:
    """Convert an export's version folder; returns the .tflite path."""
    path = tflite_path(version_dir)
    limits = {k: int(v) for k, v in tf.saved_model.load(str(version_dir)).signatures["limits"]().items()}
    _write_atomically(limits_path(path), json.dumps(limits, indent=2, sort_keys=True).encode())
    _write_atomically(path, convert(version_dir))
    return path


class TfliteSampler:
    """Runs a converted model with ai-edge-litert, refusing what the SavedModel would refuse."""

    def __init__(self, path: Path, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
        self.limits = json.loads(limits_path(path).read_text())
        self._sample = self.interpreter.get_signature_runner(SIGNATURE)

    def request_problem(self, height: int, width: int, scale_from: int) -> str | None:
        """The Sampler's rules, from the limits exported beside the model."""
        lim = self.limits
        return request_problem(
            height, width, scale_from, (lim["training_height"], lim["training_width"]),
            (lim["min_height"], lim["min_width"]), (lim["max_height"], lim["max_width"]), lim["num_scales"],
        )

    def __call__(self, height: int, width: int, seed: int, scale_from: int = 0) -> np.ndarray:
        """uint8 [1, height, width, 3]."""
        problem = self.request_problem(height, width, scale_from)
        if problem:
            raise SinganError(problem)
        return self._sample(
            height=np.int32(height), width=np.int32(width), seed=np.int64(seed), scale_from=np.int32(scale_from)
        )["image"]
