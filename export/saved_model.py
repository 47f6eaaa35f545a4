"""A trained pyramid as ONE SavedModel, in the folder layout TF Serving watches (BASE/NAME/VERSION/).

Every endpoint runs `Sampler.sample`, the graph `singan-tf sample` runs, and converts to 8-bit pixels
exactly like `image_io.to_uint8`, so a seed and a size give the same PNG pixels from the CLI,
`tf.saved_model.load`, TF Serving, `singan-tf serve` and other TF code.

Why a hand-made tf.Module instead of saving the Keras generators: a Keras 3 variable saves a second
copy of itself, and the TF1/C++ loader (TF Serving, `saved_model_cli run`) then fails with
`Could not find variable G0/kernel` (keras-team/keras #19274). The module tracks the generators' raw
tf.Variables only; the Sampler and its Keras objects are not trackable attributes, so they stay out
of the object graph while their variables are captured by the traced functions.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

import tensorflow as tf

from singan_tf.applications.common import TrainedModel, opened
from singan_tf.applications.harmonize import MaskedInjection
from singan_tf.applications.masks import HARMONIZATION_RADIUS
from singan_tf.errors import SinganError
from singan_tf.model_store import MANIFEST
from singan_tf.sampler import MAX_NOISE_SCALE, Sampler

DEFAULT_NAME = "singan"
SERVING_TAG = "serve"

_HEIGHT = tf.TensorSpec([], tf.int32, name="height")
_WIDTH = tf.TensorSpec([], tf.int32, name="width")
_SEED = tf.TensorSpec([], tf.int64, name="seed")
_SCALE_FROM = tf.TensorSpec([], tf.int32, name="scale_from")
_NOISE_SCALE = tf.TensorSpec([], tf.float32, name="noise_scale")
# Any rank holding one value: a Keras Input (shape [1]) or a tf.data element (shape []) both fit.
_REQUEST = {
    "height": tf.TensorSpec(None, tf.int32, name="height"),
    "width": tf.TensorSpec(None, tf.int32, name="width"),
    "seed": tf.TensorSpec(None, tf.int64, name="seed"),
}


def to_uint8(images: tf.Tensor) -> tf.Tensor:
    """`image_io.to_uint8` in graph ops: tf.round rounds half to even like np.round."""
    unit = tf.clip_by_value((images + 1.0) / 2.0, 0.0, 1.0)
    return tf.cast(tf.round(unit * 255.0), tf.uint8)


def from_uint8(pixels: tf.Tensor) -> tf.Tensor:
    """8-bit pixels to [-1, 1] with the same float32 operations as `image_io.load_image`."""
    return tf.cast(pixels, tf.float32) / 255.0 * 2.0 - 1.0


class PyramidModule(tf.Module):
    """The export's root object: the generators' variables plus one traced function per endpoint."""

    def __init__(self, sampler: Sampler, harmonizer: MaskedInjection):
        super().__init__(name="singan")
        self.generator_variables = [w.value for g in sampler.pyramid.generators for w in g.weights]
        # Plain objects, not tracked, so no Keras variable reaches the object graph.
        self._sampler = sampler
        self._harmonizer = harmonizer

    @tf.function(input_signature=[_HEIGHT, _WIDTH, _SEED, _SCALE_FROM, _NOISE_SCALE])
    def sample_with_noise_scale(self, height, width, seed, scale_from, noise_scale):
        """serving_default plus the diversity knob: the random scales' noise amplitude times
        noise_scale (0..MAX_NOISE_SCALE; 1 = serving_default). A signature of its own because
        signature inputs cannot have defaults, and clients of serving_default send four inputs."""
        return {"image": to_uint8(self._sampler.sample(height, width, seed, scale_from, noise_scale))}

    @tf.function(input_signature=[_HEIGHT, _WIDTH, _SEED, _SCALE_FROM])
    def sample_from(self, height, width, seed, scale_from):
        """serving_default: a random image of height x width; scales below scale_from keep the
        training image's layout (its reconstruction, retargeted to the requested size)."""
        return self.sample_with_noise_scale(height, width, seed, scale_from, tf.constant(1.0))

    @tf.function(input_signature=[_HEIGHT, _WIDTH, _SEED])
    def sample(self, height, width, seed):
        """A fully random image (scale_from = 0)."""
        return self.sample_from(height, width, seed, tf.constant(0))

    @tf.function(input_signature=[
        tf.TensorSpec([], tf.float32, name="scale_v"), tf.TensorSpec([], tf.float32, name="scale_h"), _SEED,
    ])
    def sample_by_factor(self, scale_v, scale_h, seed):
        """Size as multiples of the training size (official scale_v / scale_h), rounded like
        `singan-tf sample --scale-v/--scale-h` (half to even, in float64)."""
        trained_h, trained_w = self._sampler.finest
        height = tf.cast(tf.round(trained_h * tf.cast(scale_v, tf.float64)), tf.int32)
        width = tf.cast(tf.round(trained_w * tf.cast(scale_h, tf.float64)), tf.int32)
        return self.sample_from(height, width, seed, tf.constant(0))

    @tf.function(input_signature=[])
    def reconstruct(self):
        """The training image as the model reproduces it from its fixed noise z*."""
        return {"image": to_uint8(self._sampler.pyramid.reconstruct())}

    @tf.function(input_signature=[])
    def limits(self):
        """What the model serves, so clients can check a request before sending it."""
        s = self._sampler
        values = {
            "training_height": s.finest[0], "training_width": s.finest[1],
            "min_height": s.min_size[0], "min_width": s.min_size[1],
            "max_height": s.max_size[0], "max_width": s.max_size[1],
            "num_scales": s.pyramid.num_scales,
        }
        limits = {key: tf.constant(value, tf.int32) for key, value in values.items()}
        return {**limits, "max_noise_scale": tf.constant(MAX_NOISE_SCALE, tf.float32)}

    @tf.function(input_signature=[
        tf.TensorSpec([1, None, None, 3], tf.uint8, name="image"),
        tf.TensorSpec([1, None, None, None], tf.uint8, name="mask"),
        tf.TensorSpec([], tf.int32, name="injection_scale"),
        _SEED,
    ])
    def harmonize(self, image, mask, injection_scale, seed):
        """`singan-tf harmonize` as a service: a naively pasted composite and its mask (any size,
        resized to the training size; channel 0 non-zero = inside) in, the harmonized training
        image out. Injection scale 1..N-1; out-of-range scales and empty masks are INVALID_ARGUMENT."""
        result = self._harmonizer(from_uint8(image), from_uint8(mask), injection_scale, seed)
        return {"image": to_uint8(result["blended"])}

    @tf.function(input_signature=[_REQUEST])
    def generate(self, request):
        """The keras.layers.TFSMLayer endpoint: one dict argument (TFSMLayer passes inputs
        positionally, so it cannot call the keyword-only signatures); uint8 [1, H, W, 3]."""
        height, width, seed = (tf.reshape(request[key], []) for key in ("height", "width", "seed"))
        return self.sample(height, width, seed)["image"]


def signatures(module: PyramidModule) -> dict:
    return {
        "serving_default": module.sample_from,
        "sample_with_noise_scale": module.sample_with_noise_scale,
        "sample": module.sample,
        "sample_by_factor": module.sample_by_factor,
        "reconstruct": module.reconstruct,
        "harmonize": module.harmonize,
        "limits": module.limits,
    }


def model_versions(model_base: Path) -> list[int]:
    """The version folders TF Serving would see: children named by a non-negative integer."""
    if not Path(model_base).is_dir():
        return []
    return sorted(int(p.name) for p in Path(model_base).iterdir() if p.is_dir() and p.name.isdigit())


def export_saved_model(model: TrainedModel | Path, export_base: Path, name: str = DEFAULT_NAME,
                       version: int | None = None) -> Path:
    """Write EXPORT_BASE/NAME/VERSION/ (VERSION defaults to the next free number); returns it.

    Written under a non-numeric name and renamed when complete, so a TF Serving instance watching
    EXPORT_BASE/NAME never loads a half-written version.
    """
    if not name or Path(name).name != name or name.startswith("."):
        raise SinganError(f"model name {name!r} must be a plain folder name")
    model_base = Path(export_base) / name
    version = (max(model_versions(model_base), default=0) + 1) if version is None else version
    target = model_base / str(version)
    if target.exists():
        raise SinganError(f"{target} already exists; pick another --version or remove it")
    model = opened(model)
    module = PyramidModule(model.sampler, MaskedInjection(model.pyramid, model.real, HARMONIZATION_RADIUS))
    partial = model_base / f".partial-{version}-{secrets.token_hex(4)}"
    try:
        tf.saved_model.save(module, str(partial), signatures=signatures(module))
        # assets.extra is where SavedModel users keep files the graph does not load; TF Serving ignores it.
        (partial / "assets.extra").mkdir(exist_ok=True)
        shutil.copyfile(model.model_dir / MANIFEST, partial / "assets.extra" / MANIFEST)
        os.replace(partial, target)
    except OSError as err:
        raise SinganError(f"cannot write the export to {target}: {err.strerror or err}") from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target
