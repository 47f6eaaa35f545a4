"""Paint-to-image: inject a rough painting at scale n and let the finer scales fill in texture.

With colour quantisation (official `--quantization_flag`): the training image at scale n is reduced to
5 colours by k-means, the painting is mapped to the nearest of them, and scale n alone is re-trained
from scratch with its "previous scale" inputs mapped to the same colours, so G_n learns to turn flat
5-colour regions into the image's texture. The quantised painting is then resized straight to scale n
(the official code skips the down-and-up step there, keeping its colours flat).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from singan_tf.applications.common import (
    InjectionResult, Note, ResultRow, TrainedModel, ignore_note, injection_scales, load_at_size,
)
from singan_tf.config import TrainConfig
from singan_tf.image_io import ImageSource
from singan_tf.model_store import MANIFEST, load_network_file, write_folder_atomic, write_json_atomic
from singan_tf.models import Generator
from singan_tf.pyramid import Pyramid, official_resize
from singan_tf.sampler import Sampler
from singan_tf.training import ScaleTrainer

COLOURS = 5
RETRAINED = "paint_retrained"
KMEANS_RESTARTS = 10
KMEANS_MAX_ITER = 300


def kmeans(points: np.ndarray, k: int = COLOURS, seed: int = 0, restarts: int = KMEANS_RESTARTS) -> np.ndarray:
    """[k, D] cluster centres of [P, D] points: k-means++ seeding from a fixed seed, Lloyd iterations,
    best of `restarts` by inertia (what scikit-learn's KMeans(n_clusters=5, random_state=0) does)."""
    points = np.asarray(points, np.float64)
    rng = np.random.default_rng(seed)
    best, best_inertia = None, np.inf
    for _ in range(restarts):
        centres = _kmeans_plus_plus(points, k, rng)
        for _ in range(KMEANS_MAX_ITER):
            labels = nearest_centre(points, centres)
            updated = np.array([points[labels == c].mean(0) if np.any(labels == c) else centres[c] for c in range(k)])
            converged = np.allclose(updated, centres, atol=1e-6)
            centres = updated
            if converged:
                break
        inertia = np.sum((points - centres[nearest_centre(points, centres)]) ** 2)
        if inertia < best_inertia:
            best, best_inertia = centres, inertia
    return best.astype(np.float32)


def nearest_centre(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return np.argmin(((points[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)


def _kmeans_plus_plus(points: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Each next seed drawn with probability proportional to its squared distance to the chosen ones."""
    centres = [points[rng.integers(len(points))]]
    for _ in range(1, k):
        distance = ((points[:, None, :] - np.array(centres)[None]) ** 2).sum(-1).min(1)
        total = distance.sum()
        pick = rng.choice(len(points), p=distance / total) if total > 0 else rng.integers(len(points))
        centres.append(points[pick])
    return np.array(centres)


def nearest_colours(images: tf.Tensor, centres) -> tf.Tensor:
    """Every pixel of [B, H, W, 3] replaced by the nearest of the [k, 3] centres (TF ops, XLA-friendly)."""
    centres = tf.constant(centres, tf.float32)
    distance = tf.reduce_sum(tf.square(images[..., None, :] - centres), axis=-1)
    return tf.gather(centres, tf.argmin(distance, axis=-1))


class QuantizedScaleTrainer(ScaleTrainer):
    """ScaleTrainer for the official `train_paint`: fresh G_n/D_n, and both the random previous-scale
    input and the reconstruction input mapped to the colour centres. noise_amp is measured on the
    un-quantised reconstruction before the mapping, as the official code does."""

    def __init__(self, scale: int, real: tf.Tensor, coarser: Pyramid, config: TrainConfig, seed: int, centres):
        self.centres = centres
        super().__init__(scale, real, coarser, config, seed, warm_start=None)
        self.z_prev = nearest_colours(self.z_prev, centres)

    def _random_prev(self, iteration: tf.Tensor, step: tf.Tensor) -> tf.Tensor:
        return nearest_colours(super()._random_prev(iteration, step), self.centres)


def retrained_dir(model: TrainedModel, scale: int, centres, niter: int) -> Path:
    """Where the re-trained G_scale is kept in the model folder, named by everything its training
    depends on: the model (its manifest), the scale, the iterations and the colour centres. The
    painting is not among them: like the official `train_paint`, the re-training sees only the
    training image's colours, so every painting with the same settings reuses it."""
    settings = {
        "manifest": hashlib.sha256((model.model_dir / MANIFEST).read_bytes()).hexdigest(),
        "scale": scale, "niter": niter, "centres": np.round(np.asarray(centres, np.float64), 6).tolist(),
    }
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    return model.model_dir / RETRAINED / f"scale_{scale:02d}-{key}"


def _train_quantized(model: TrainedModel, scale: int, centres, config: TrainConfig, progress: bool) -> ScaleTrainer:
    pyramid = model.pyramid
    coarser = dataclasses.replace(pyramid, generators=pyramid.generators[:scale], noise_amps=pyramid.noise_amps[:scale],
                                  scale_sizes=pyramid.scale_sizes[:scale])
    trainer = QuantizedScaleTrainer(scale, model.real_at(scale), coarser, config, model.manifest["seed"], centres)
    bar = keras.utils.Progbar(trainer.niter) if progress else None
    for i in range(trainer.niter):
        trainer.iteration(tf.constant(i))
        if bar is not None:
            bar.update(i + 1)
    trainer.settle_statistics()
    return trainer


def retrain_quantized(model: TrainedModel, scale: int, centres, niter: int | None = None,
                      progress: bool = False, note: Note = ignore_note) -> Pyramid:
    """The model's pyramid with G_scale replaced by one trained on colour-quantised inputs: trained
    once per setting and kept in the model folder, then loaded in seconds."""
    config = TrainConfig.from_dict(model.manifest["config"])
    if niter is not None:  # these iterations, whatever the model's schedule gave this scale
        config = config.with_overrides(niter=niter, small_niter=0)
    size = model.pyramid.scale_sizes[scale]
    iterations = config.iterations(*size)
    folder = retrained_dir(model, scale, centres, iterations)
    if (folder / "retrained.json").is_file():
        note(f"reusing scale {scale} re-trained on 5-colour inputs ({folder})")
        noise_amp = json.loads((folder / "retrained.json").read_text())["noise_amp"]
        generator = load_network_file(folder / "generator.weights.h5", Generator, config.channels(scale), size,
                                      name=f"G{scale}")
    else:
        note(f"re-training scale {scale} on 5-colour inputs ({iterations} iterations)")
        trainer = _train_quantized(model, scale, centres, config, progress)
        generator, noise_amp = trainer.generator, trainer.noise_amp

        def write(partial: Path) -> None:
            generator.save_weights(str(partial / "generator.weights.h5"))
            info = {"scale": scale, "niter": iterations, "noise_amp": noise_amp, "centres": np.asarray(centres).tolist()}
            write_json_atomic(partial / "retrained.json", info)

        write_folder_atomic(folder, write)
    generators, amps = list(model.pyramid.generators), list(model.pyramid.noise_amps)
    generators[scale], amps[scale] = generator, noise_amp
    return dataclasses.replace(model.pyramid, generators=generators, noise_amps=amps)


class DirectInjection(Sampler):
    """Injects an image resized straight to the injection scale (quantised paint-to-image)."""

    def injection_start(self, image: tf.Tensor, scale: int) -> tf.Tensor:
        factor = self.pyramid.scale_factor ** (self.pyramid.num_scales - 1 - scale)
        return official_resize(image, *self.pyramid.scale_sizes[scale], factor, factor)


def paint_quantized(model: TrainedModel, painting: tf.Tensor, scale: int, seed: int, niter: int | None = None,
                    progress: bool = False, note: Note = ignore_note) -> tuple[tf.Tensor, tf.Tensor]:
    """(result, quantised painting): 5 colours from the training image at `scale`, G_scale re-trained."""
    centres = kmeans(model.real_at(scale).numpy().reshape(-1, 3))
    quantized = nearest_colours(painting, centres)
    pyramid = retrain_quantized(model, scale, centres, niter, progress, note)
    return DirectInjection(pyramid).inject(quantized, scale, seed), quantized


def paint(
    model: TrainedModel,
    painting: ImageSource,
    scale: int | None = None,
    seed: int = 0,
    quantize: bool = False,
    niter: int | None = None,
    note: Note = ignore_note,
    progress: bool = False,
) -> InjectionResult:
    """Paint-to-image at one injection scale or all of them; saved as start_scale=<n>.png per scale
    and, for several scales, a grid led by the painting; with `quantize` also
    start_scale=<n>_quantized_paint.png (what was injected)."""
    scales = injection_scales(model.pyramid.num_scales, scale)
    painting = load_at_size(painting, model.size, "painting", note)
    if not quantize:
        results = {n: model.sampler.inject(painting, n, seed) for n in scales}
        return InjectionResult((ResultRow("painting", painting, "", results),))
    results, quantized = {}, {}
    for n in scales:
        results[n], quantized[n] = paint_quantized(model, painting, n, seed, niter, progress, note)
    return InjectionResult((ResultRow("painting", painting, "_quantized_paint", quantized),
                            ResultRow("training", model.real, "", results)))
