"""The export as a TFLite model with builtin ops only, for the maintained runtime (ai-edge-litert).

It is converted from the SavedModel's sample_with_noise_scale (serving_default plus noise_scale), so
the graph is the Sampler's: the noise (`noise.py`) and the MATLAB resize (`resize.py`) are plain
arithmetic and matrix products, and the start scale is a tf.cond per scale (TFLite's builtin IF). The
converter drops the Sampler's tf.debugging.Assert ops (TFLite has no assert), so the TFLite model does
not refuse out-of-range requests by itself: `TfliteSampler` checks them against the SavedModel's
`limits`, written beside the model as JSON. (A `limits` signature inside the .tflite would do, but a
second signature made the interpreter 3-4x slower on every request; for the same reason
serving_default is not converted too.)

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

SIGNATURE = "sample_with_noise_scale"
# What .tflite files converted before noise_scale existed hold: serving_default, four inputs, and a
# graph that needs the training size for scale_from > 0.
LEGACY_SIGNATURE = "serving_default"


def tflite_path(version_dir: Path) -> Path:
    return Path(version_dir).parent / f"{Path(version_dir).name}.tflite"


def limits_path(tflite: Path) -> Path:
    return Path(tflite).with_name(Path(tflite).name + ".json")


def convert(version_dir: Path, signature: str = SIGNATURE) -> bytes:
    converter = tf.lite.TFLiteConverter.from_saved_model(str(version_dir), signature_keys=[signature])
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
    limits = {k: v.numpy().item() for k, v in tf.saved_model.load(str(version_dir)).signatures["limits"]().items()}
    _write_atomically(limits_path(path), json.dumps(limits, indent=2, sort_keys=True).encode())
    _write_atomically(path, convert(version_dir))
    return path


class TfliteSampler:
    """Runs a converted model with ai-edge-litert, refusing what the SavedModel would refuse.

    Files converted before noise_scale existed still run, with noise_scale 1 only and, for
    scale_from > 0, the training size only (what their graph was made for)."""

    def __init__(self, path: Path, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
        self.limits = json.loads(limits_path(path).read_text())
        self.legacy = SIGNATURE not in self.interpreter.get_signature_list()
        self._sample = self.interpreter.get_signature_runner(LEGACY_SIGNATURE if self.legacy else SIGNATURE)

    def request_problem(self, height: int, width: int, scale_from: int = 0, noise_scale: float = 1.0) -> str | None:
        """The Sampler's rules, from the limits exported beside the model."""
        lim = self.limits
        trained = (lim["training_height"], lim["training_width"])
        if self.legacy and noise_scale != 1:
            return "this .tflite predates noise_scale, so it serves noise_scale 1 only; re-export the model (--tflite)"
        if self.legacy and scale_from > 0 and (height, width) != trained:
            return (f"this .tflite predates retargeting, so scale_from > 0 needs the training size "
                    f"{trained[0]}x{trained[1]}; re-export the model (--tflite)")
        return request_problem(
            height, width, scale_from, noise_scale, (lim["min_height"], lim["min_width"]),
            (lim["max_height"], lim["max_width"]), lim["num_scales"], lim.get("max_noise_scale", 1.0),
        )

    def __call__(self, height: int, width: int, seed: int, scale_from: int = 0, noise_scale: float = 1.0) -> np.ndarray:
        """uint8 [1, height, width, 3]."""
        problem = self.request_problem(height, width, scale_from, noise_scale)
        if problem:
            raise SinganError(problem)
        inputs = {"height": np.int32(height), "width": np.int32(width), "seed": np.int64(seed),
                  "scale_from": np.int32(scale_from)}
        if not self.legacy:
            inputs["noise_scale"] = np.float32(noise_scale)
        return self._sample(**inputs)["image"]
