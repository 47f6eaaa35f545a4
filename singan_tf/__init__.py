"""SinGAN in TensorFlow 2 / Keras 3: learn a generative model from a single natural image.

    import singan_tf
    model = singan_tf.train("photo.jpg", preset="quick", seed=0, out="models/photo")
    model = singan_tf.load("models/photo")
    images = model.sample(num=8, seed=0, scale_from=1)      # uint8 [8, H, W, 3]

The public names are those in `__all__`; every other module is internal. They are loaded on first
use, so `import singan_tf` stays cheap and leaves TensorFlow's start-up to the caller (the command
line silences its C++ start-up lines before importing it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from singan_tf.errors import SinganError

__version__ = "0.1.0"

_PUBLIC = {
    "train": "singan_tf.api",
    "load": "singan_tf.api",
    "SinGAN": "singan_tf.api",
    "InjectionResult": "singan_tf.applications.common",
    "TrainConfig": "singan_tf.config",
    "PRESETS": "singan_tf.config",
    "ScalePlan": "singan_tf.scale_plan",
}

__all__ = ["SinganError", "__version__", *_PUBLIC]

if TYPE_CHECKING:
    from singan_tf.api import SinGAN, load, train
    from singan_tf.applications.common import InjectionResult
    from singan_tf.config import PRESETS, TrainConfig
    from singan_tf.scale_plan import ScalePlan


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'singan_tf' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
