"""Scoring a trained model: draw samples with the one Sampler, then apply `metrics` to them.

Samples are scored as a user would see them: clipped and rounded to 8 bits, like the PNGs `sample`
writes. The metrics' own randomness (patch subsets, projections) uses a fixed seed of its own, so
`--seed` changes only which samples are drawn.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from singan_tf import metrics
from singan_tf.applications.common import TrainedModel, opened
from singan_tf.errors import SinganError
from singan_tf.image_io import to_uint8
from singan_tf.sample_files import sample_pixels
from singan_tf.sampler import Sampler

METRIC_SEED = 0
PATCH_SIZE = 7
SWD_LEVELS = 4
SWD_PROJECTIONS = 64
NN_MAX_QUERIES = 256

INCEPTION_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
INCEPTION_WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/" + INCEPTION_WEIGHTS_FILE
)
SIFID_HOWTO = (
    f"SIFID needs ImageNet InceptionV3 weights: on a machine with network, download Keras' {INCEPTION_WEIGHTS_FILE} "
    f"({INCEPTION_WEIGHTS_URL}; or run `python -c \"import keras; keras.applications.InceptionV3("
    f"include_top=False)\"` and take it from ~/.keras/models/), copy it here and pass --inception-weights FILE"
)


def as_saved(images: np.ndarray) -> np.ndarray:
    """Generator output as it ends up in an 8-bit image file, back in [-1, 1]."""
    return to_uint8(images).astype(np.float32) / 127.5 - 1.0


def draw_samples(sampler: Sampler, num: int, seed: int, scale_from: int, noise_scale: float = 1.0) -> np.ndarray:
    """Samples at the training size for seeds seed..seed+num-1, [num, H, W, 3] as saved."""
    return as_saved(sample_pixels(sampler, num, seed, scale_from, noise_scale=noise_scale))


def sifid_features(weights: Path):
    """The paper's SIFID feature map: InceptionV3 up to the 3rd conv block's ReLU (64 channels,
    before the first max-pool), for inputs in [-1, 1]. Returns a callable [B, H, W, 3] -> [B, h, w, 64]."""
    import keras

    weights = Path(weights)
    if not weights.is_file():
        raise SinganError(f"--inception-weights {weights} is not a file. {SIFID_HOWTO}")
    try:
        network = keras.applications.InceptionV3(include_top=False, weights=str(weights))
    except (OSError, ValueError) as err:
        reason = " ".join(str(err).split())[:200]
        raise SinganError(
            f"cannot load InceptionV3 weights from {weights} (expected Keras' {INCEPTION_WEIGHTS_FILE}): {reason}"
        ) from None
    first_pool = next(layer for layer in network.layers if isinstance(layer, keras.layers.MaxPooling2D))
    return keras.Model(network.input, first_pool.input, name="sifid_block0")


def evaluate(
    model: TrainedModel | Path, num: int = 50, scale_from: int = 0, seed: int = 0,
    inception_weights: Path | None = None, noise_scale: float = 1.0,
) -> dict[str, Any]:
    """Every metric for a model (opened, or its folder); the dict `eval --json` prints."""
    if num < 2:
        raise SinganError(f"--num must be at least 2 to measure diversity (got {num})")
    started = time.perf_counter()
    model = opened(model)
    manifest, pyramid = model.manifest, model.pyramid
    extract = sifid_features(inception_weights) if inception_weights is not None else None
    real = model.real.numpy()[0]
    samples = draw_samples(model.sampler, num, seed, scale_from, noise_scale)

    report: dict[str, Any] = {
        "model_dir": str(model.model_dir),
        "scales": f"{pyramid.num_scales}/{len(manifest['scale_sizes'])}",
        "image_size": list(real.shape[:2]),
        "num_samples": num,
        "seed": seed,
        "scale_from": scale_from,
        "noise_scale": noise_scale,
        "diversity": metrics.diversity(samples, real),
        "patch_swd": metrics.patch_swd(real, samples, PATCH_SIZE, SWD_LEVELS, SWD_PROJECTIONS, METRIC_SEED),
        **metrics.coherence_completeness(real, samples, PATCH_SIZE, NN_MAX_QUERIES, METRIC_SEED),
        "reconstruction_rmse": metrics.rmse(pyramid.reconstruct()[0], real),
        "sifid": None,
        "settings": {
            "patch_size": PATCH_SIZE, "swd_levels": SWD_LEVELS, "swd_projections": SWD_PROJECTIONS,
            "nn_max_queries": NN_MAX_QUERIES, "metric_seed": METRIC_SEED,
        },
    }
    if extract is None:
        report["sifid_note"] = SIFID_HOWTO
    else:
        real_features = np.asarray(extract(real[None]))[0]
        sample_features = [np.asarray(extract(s[None]))[0] for s in samples]
        report["sifid"] = metrics.sifid(real_features, sample_features)
    report["seconds"] = round(time.perf_counter() - started, 2)
    return report


def format_report(report: dict[str, Any]) -> str:
    """The report as a few aligned lines, each saying which way is better."""
    swd = report["patch_swd"]
    levels = ", ".join(f"{l['size'][0]}x{l['size'][1]}: {l['swd']:.4f}" for l in swd["levels"])
    sifid = f"{report['sifid']:.4f}" if report["sifid"] is not None else "not computed"
    (h, w), first = report["image_size"], report["seed"]
    lines = [
        f"{report['model_dir']}: {report['num_samples']} samples at {h}x{w}, scale-from {report['scale_from']}, "
        f"noise scale {report['noise_scale']:g}, seeds {first}..{first + report['num_samples'] - 1}",
        f"  diversity            {report['diversity']:.4f}   "
        "(pixel std over samples / image std; paper ~0.5 from scale 0, ~0.35 from scale 1)",
        f"  patch SWD            {swd['mean']:.4f}   (lower = closer patch statistics; per level {levels})",
        f"  coherence            {report['coherence']:.4f}   "
        "(sample patch -> nearest training patch, RMS; lower = better)",
        f"  completeness         {report['completeness']:.4f}   "
        "(training patch -> nearest sample patch, RMS; lower = better)",
        f"  reconstruction RMSE  {report['reconstruction_rmse']:.4f}   (G(z*) vs training image, [-1, 1] units)",
        f"  SIFID                {sifid}   (lower = better; paper 0.09 from scale 0, 0.05 from scale 1)",
    ]
    if report.get("sifid_note"):
        lines.append(f"  note: {report['sifid_note']}")
    return "\n".join(lines)
