"""Training one image into one model folder, the way `singan-tf train` does it.

`train` and `train-many` both call this, so a model trained in a batch on a cluster has the same
manifest, settings and files as one trained by hand, and a folder either of them left behind can
be finished by the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from singan_tf.checkpoint import CHECKPOINT_MINUTES
from singan_tf.config import TrainConfig, preset as make_config
from singan_tf.fit import fit
from singan_tf.image_io import image_hash
from singan_tf.model_store import MANIFEST, read_manifest
from singan_tf.sample_files import write_samples

SAMPLES = "samples"
SAMPLE_COUNT = 8
SAMPLE_SEED = 0


def training_config(model_dir: Path, preset: str, overrides: dict[str, Any], resume: bool) -> TrainConfig:
    """A resumed run keeps its recorded settings (flags that contradict them are refused by fit());
    a new one starts from the preset."""
    if resume and (Path(model_dir) / MANIFEST).exists():
        return TrainConfig.from_dict(read_manifest(model_dir)["config"]).with_overrides(**overrides)
    return make_config(preset, **overrides)


def train_image(
    image: Path,
    model_dir: Path,
    preset: str,
    overrides: dict[str, Any],
    seed: int | None = None,
    resume: bool = False,
    progress: bool = True,
    tensorboard: Path | None = None,
    on_scale_done: Callable[[int, dict[str, Any]], None] | None = None,
    checkpoint_minutes: float = CHECKPOINT_MINUTES,
    on_progress: Callable[[int, int, dict[str, float]], None] | None = None,
) -> tuple[dict[str, Any], Path]:
    """Trains (or finishes) the model, then writes the samples people look at first; returns the
    manifest and the samples' grid."""
    config = training_config(model_dir, preset, overrides, resume)
    manifest = fit(image, model_dir, config, seed=seed, resume=resume, progress=progress,
                   tensorboard=tensorboard, on_scale_done=on_scale_done, checkpoint_minutes=checkpoint_minutes,
                   on_progress=on_progress)
    grid = write_samples(model_dir, Path(model_dir) / SAMPLES, num=SAMPLE_COUNT, seed=SAMPLE_SEED)[-1]
    return manifest, grid


def is_trained(image: Path, model_dir: Path, preset: str, overrides: dict[str, Any], seed: int | None) -> bool:
    """Whether `model_dir` already holds the finished model (samples included) that `train_image`
    would produce with these arguments, so that nothing needs to run for it."""
    model_dir = Path(model_dir)
    if not (model_dir / SAMPLES / "grid.png").exists() or not (model_dir / MANIFEST).exists():
        return False
    manifest = read_manifest(model_dir)
    return (
        manifest["completed_scales"] == len(manifest["scale_sizes"])
        and manifest["image"]["sha256"] == image_hash(image)
        and training_config(model_dir, preset, overrides, resume=True) == TrainConfig.from_dict(manifest["config"])
        and seed in (None, manifest["seed"])
    )
