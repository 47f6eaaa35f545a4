"""singan-tf from Python: train a model, open one, and use it in a notebook or a pipeline.

The `singan-tf` commands that train, sample, apply, evaluate and export a model are thin wrappers
over these functions, so Python and the command line run one code path and give the same pixels
for the same arguments. Images come back as uint8
numpy arrays [H, W, 3] (batches [N, H, W, 3]), the form notebooks display and PIL saves; images
going in may be a file path, a PIL image or such an array. Errors are `SinganError`, with the
command line's one-line messages.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image

from singan_tf.applications import animation, common, harmonize, masks, paint, super_resolution
from singan_tf.checkpoint import CHECKPOINT_MINUTES
from singan_tf.config import DEFAULT_PRESET, TrainConfig
from singan_tf.errors import SinganError
from singan_tf.image_io import ImageSource, to_uint8
from singan_tf.model_store import read_manifest, scale_dir, unfinished_note
from singan_tf.sample_files import sample_pixels
from singan_tf.scale_plan import ScalePlan, plan_scales

Note = Callable[[str], None]


def print_note(message: str) -> None:
    """Notes (an input resized, a model still in training) go to stderr, as the commands print them."""
    print(message, file=sys.stderr)


class SinGAN:
    """A trained model folder (or the finished scales of one still in training), opened once.

    Use `singan_tf.load` or `singan_tf.train` to get one. The folder is read when the object is made:
    load it again to see scales finished since.
    """

    def __init__(self, path: str | Path, note: Note = print_note):
        self._path = Path(path)
        self._note = note
        manifest = read_manifest(self._path)
        message = unfinished_note(self._path, manifest)
        if message:
            note(message)
        self._model = common.load_model(self._path)

    def __repr__(self) -> str:
        height, width = self.size
        return (f"SinGAN('{self._path}', {self.num_scales}/{len(self._model.manifest['scale_sizes'])} scales, "
                f"{height}x{width} px)")

    @property
    def path(self) -> Path:
        """The model folder: what `singan-tf` commands take as MODEL_DIR."""
        return self._path

    @property
    def manifest(self) -> dict[str, Any]:
        """A copy of manifest.json: what was trained, how, on which image, and how far it got."""
        return copy.deepcopy(self._model.manifest)

    @property
    def config(self) -> TrainConfig:
        """The settings it was trained with (the preset plus overrides, as recorded)."""
        return TrainConfig.from_dict(self._model.manifest["config"])

    @property
    def plan(self) -> ScalePlan:
        """The pyramid the training run laid out: sizes, channels and the ratio between scales."""
        height, width = self._model.manifest["image"]["size"]
        return plan_scales(height, width, self.config)

    @property
    def num_scales(self) -> int:
        """The scales that take part: the finished ones."""
        return self._model.pyramid.num_scales

    @property
    def finished(self) -> bool:
        """Whether every planned scale is trained; if not, outputs are at the last finished scale's size."""
        return self.num_scales == len(self._model.manifest["scale_sizes"])

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the finest finished scale: what `sample` makes by default."""
        return self._model.size

    @property
    def real(self) -> np.ndarray:
        """The training image as the finest finished scale saw it."""
        return to_uint8(self._model.real.numpy()[0])

    def reconstruction(self) -> np.ndarray:
        """G(z*): the image the pyramid rebuilds from its fixed noise; close to `real` when training worked."""
        return to_uint8(self._model.pyramid.reconstruct().numpy()[0])

    def previews(self) -> list[np.ndarray]:
        """Each finished scale's preview picture (real | reconstruction | random samples), coarsest first."""
        previews = []
        for n in range(self.num_scales):
            with Image.open(scale_dir(self._path, n) / "preview.png") as picture:
                previews.append(np.asarray(picture.convert("RGB")))
        return previews

    def sample(self, num: int = 8, seed: int = 0, scale_from: int = 0, height: int | None = None,
               width: int | None = None, scale_h: float | None = None, scale_v: float | None = None,
               noise_scale: float = 1.0) -> np.ndarray:
        """[num, H, W, 3] uint8 random images; image i is seed + i's, the pixels of `singan-tf sample`.

        scale_from: 0 = fully random; K > 0 keeps the training image's layout below scale K.
        height/width in pixels, or scale_h/scale_v as multiples of the training size (default: that size).
        noise_scale: below 1 closer to the training image, above 1 more varied.
        """
        return sample_pixels(self._model.sampler, num, seed, scale_from, height, width, scale_h, scale_v, noise_scale)

    def harmonize(self, image: ImageSource, mask: ImageSource | None = None, injection_scale: int | None = None,
                  seed: int = 0) -> common.InjectionResult:
        """Blend an object pasted into the training image into its look, inside `mask` (default for a
        file: <stem>_mask<ext> beside it). Every injection scale unless one is given."""
        return harmonize.masked_injection(self._model, image, self._mask(image, mask), masks.HARMONIZATION_RADIUS,
                                          injection_scale, seed, keep_unmasked=False, note=self._note)

    def edit(self, image: ImageSource, mask: ImageSource | None = None, injection_scale: int | None = None,
             seed: int = 0) -> common.InjectionResult:
        """Re-draw a hand-edited training image inside `mask`; `images` are the blended results, the
        generator's full outputs are the first row."""
        return harmonize.masked_injection(self._model, image, self._mask(image, mask), masks.EDITING_RADIUS,
                                          injection_scale, seed, keep_unmasked=True, note=self._note)

    def paint(self, painting: ImageSource, injection_scale: int | None = None, seed: int = 0, quantize: bool = False,
              iters: int | None = None, progress: bool = True) -> common.InjectionResult:
        """Render a clip-art painting with the training image's texture. `quantize` maps it to the
        image's 5 main colours and re-trains the injection scale on such inputs (kept in the folder)."""
        return paint.paint(self._model, painting, injection_scale, seed, quantize, iters, self._note, progress)

    def super_resolve(self, image: ImageSource | None = None, factor: float = 4.0, seed: int = 0) -> np.ndarray:
        """Upscale by `factor` through the finest generator: the training image by default (the official
        use, with a model trained as `singan-tf super-resolve` trains it), or another image."""
        start = super_resolution.sr_input(self._model, image, self._note)
        return to_uint8(super_resolution.super_resolve(self._model.pyramid, start, factor, seed).numpy()[0])

    def animate(self, frames: int = 100, start_scale: int = 0, alpha: float = 0.1, beta: float = 0.9,
                seed: int = 0) -> np.ndarray:
        """[frames, H, W, 3] uint8: the official momentum random walk around z* (beta = smoothness,
        alpha = pull back to the image, start_scale = how much of the layout stays)."""
        return np.stack(animation.animation_frames(self._model.pyramid, frames, start_scale, alpha, beta, seed))

    def evaluate(self, num: int = 50, scale_from: int = 0, seed: int = 0, noise_scale: float = 1.0,
                 inception_weights: str | Path | None = None) -> dict[str, Any]:
        """The report of `singan-tf eval --json`: diversity, patch SWD, coherence, completeness,
        reconstruction RMSE (and SIFID with Keras' InceptionV3 no-top weights file)."""
        from singan_tf.evaluation import evaluate

        weights = Path(inception_weights) if inception_weights is not None else None
        return evaluate(self._model, num, scale_from, seed, weights, noise_scale)

    def export(self, out: str | Path, name: str = "singan", version: int | None = None,
               tflite: bool = False) -> Path:
        """The SavedModel of `singan-tf export` in OUT/NAME/VERSION/ (TF Serving's layout); with `tflite`
        also OUT/NAME/VERSION.tflite. Returns the version folder."""
        from singan_tf.export.saved_model import export_saved_model

        version_dir = export_saved_model(self._model, Path(out), name, version)
        if tflite:
            from singan_tf.export.tflite import export_tflite

            export_tflite(version_dir)
        return version_dir

    @staticmethod
    def _mask(image: ImageSource, mask: ImageSource | None) -> ImageSource:
        if mask is not None:
            return mask
        if isinstance(image, (str, os.PathLike)):
            return masks.default_mask(Path(image))
        raise SinganError("give the mask: only an image file has a default mask (<stem>_mask<ext> beside it)")


def load(path: str | Path, note: Note = print_note) -> SinGAN:
    """Open a model folder written by `train`; a model still in training opens with its finished
    scales, and `note` is told so (by default on stderr)."""
    return SinGAN(path, note)


def train(image: str | Path, out: str | Path | None = None, preset: str = DEFAULT_PRESET, seed: int | None = None,
          resume: bool = False, progress: bool = True, checkpoint_minutes: float = CHECKPOINT_MINUTES,
          tensorboard: str | Path | None = None, **settings: Any) -> SinGAN:
    """Train a SinGAN on one image file, coarse to fine, into `out` (default models/<image stem>),
    and return it opened. Exactly `singan-tf train`: the same folder, checkpoints and samples.

    preset: "fast" (the paper's image size in about a tenth of its time), "paper" (the official
    settings, hours on a CPU), "quick" (minutes) or "tiny" (tests); `settings` override
    any field of TrainConfig, e.g. `max_size=128, niter=500`. `resume=True` continues an interrupted
    run in `out` from its last checkpoint. `progress` shows Keras progress bars, one per scale.
    """
    from singan_tf.train_image import train_image

    fields = [f.name for f in dataclasses.fields(TrainConfig)]
    unknown = sorted(set(settings) - set(fields))
    if unknown:
        raise SinganError(f"unknown setting {', '.join(unknown)}; settings are the fields of TrainConfig: "
                          f"{', '.join(fields)}")
    image = Path(image)
    model_dir = Path(out) if out is not None else Path("models") / image.stem
    train_image(image, model_dir, preset, settings, seed=seed, resume=resume, progress=progress,
                tensorboard=Path(tensorboard) if tensorboard is not None else None,
                checkpoint_minutes=checkpoint_minutes)
    return load(model_dir)

