"""Training a whole pyramid, coarse to fine, with progress, previews and resumable checkpoints.

The maths of one scale is in `training.py`; this module decides what runs when, what is shown and
what is written, and never touches the compiled step's internals.
"""

from __future__ import annotations

import datetime
import time
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf

import singan_tf
from singan_tf import checkpoint, model_store
from singan_tf.config import TrainConfig, option_name
from singan_tf.errors import SinganError
from singan_tf.image_io import image_hash, load_image, make_grid
from singan_tf.models import Discriminator
from singan_tf.precision import start_mixed_precision
from singan_tf.pyramid import Pyramid, build_reals
from singan_tf.sampler import Sampler
from singan_tf.scale_plan import ScalePlan, plan_scales
from singan_tf.training import ScaleTrainer, conv_dtype

LOG_EVERY = 25
PREVIEW_SAMPLES = 4


def _software() -> dict[str, str]:
    return {"singan_tf": singan_tf.__version__, "tensorflow": tf.__version__, "keras": keras.__version__}


def new_manifest(image_path: Path, plan: ScalePlan, config: TrainConfig, seed: int) -> dict[str, Any]:
    return {
        "format_version": model_store.FORMAT_VERSION,
        "software": _software(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "image": {"name": Path(image_path).name, "sha256": image_hash(image_path), "size": list(plan.source_size)},
        "scale_sizes": [list(s) for s in plan.scale_sizes],
        "scale_factor": plan.scale_factor,
        "channels": list(plan.channels),
        "noise_amps": [],
        "config": config.to_dict(),
        "seed": seed,
        "completed_scales": 0,
        "scales": [],
    }


def _flag(name: str, value: Any) -> str:
    """The command-line flag that sets a config field to `value` (a preset's default may have
    changed since the model was started: its own value is what resumes it)."""
    flag = option_name(name)
    if isinstance(value, bool):
        return f"--{flag}" if value else f"--no-{flag}"
    return f"--{flag} {value}"


def _check_resumable(manifest: dict[str, Any], image_path: Path, config: TrainConfig, seed: int | None) -> None:
    if manifest["image"]["sha256"] != image_hash(image_path):
        raise SinganError(f"{image_path} is not the image this model was trained on ({manifest['image']['name']})")
    recorded, current = TrainConfig.from_dict(manifest["config"]).to_dict(), config.to_dict()
    if recorded != current:
        changed = sorted(k for k in current if recorded[k] != current[k])
        differences = ", ".join(f"{k}: the model has {recorded[k]}, now {current[k]}" for k in changed)
        restore = " ".join(_flag(k, recorded[k]) for k in changed)
        raise SinganError(f"--resume with different settings ({differences}); resume with {restore}")
    if seed is not None and seed != manifest["seed"]:
        raise SinganError(f"--resume with a different --seed ({seed}; the run used {manifest['seed']})")


def _preview(pyramid: Pyramid, real: tf.Tensor, seed: int) -> tuple[list[np.ndarray], list[str]]:
    """real | reconstruction | a few random samples, as one picture for people to look at."""
    sampler = Sampler(pyramid)
    h, w = pyramid.scale_sizes[-1]
    samples = [sampler(h, w, seed + i)[0] for i in range(PREVIEW_SAMPLES)]
    images = [real[0], pyramid.reconstruct()[0], *samples]
    labels = ["real", "reconstruction"] + [f"seed {seed + i}" for i in range(PREVIEW_SAMPLES)]
    return [np.asarray(im) for im in images], labels


class _ResumedProgbar(keras.utils.Progbar):
    """A Progbar that starts part-way: its time per iteration (and so the time left) counts only the
    iterations run since it started, not the ones done before the resume."""

    def __init__(self, target: int, start: int, **kwargs: Any):
        super().__init__(target, **kwargs)
        self.start = start

    def _estimate_step_duration(self, current: int, now: float) -> float:
        return super()._estimate_step_duration(current - self.start, now)


class _Progress:
    """A progress bar per scale with the latest losses, read from the device every LOG_EVERY iterations."""

    def __init__(self, scale: int, num_scales: int, niter: int, enabled: bool, writer, start: int = 0):
        self.niter, self.enabled, self.writer, self.scale = niter, enabled, writer, scale
        if enabled:
            resumed = f": resumed at iteration {start} of {niter}" if start else ""
            print(f"scale {scale + 1}/{num_scales}{resumed}")
            self.bar = _ResumedProgbar(niter, start, stateful_metrics=["d_loss", "wasserstein", "gp", "g_adv", "rec"])
            if start:
                self.bar.update(start)

    def update(self, iteration: int, losses: dict[str, tf.Tensor]) -> dict[str, float]:
        values = {k: float(v) for k, v in losses.items()}
        if self.enabled:
            self.bar.update(iteration + 1, list(values.items()))
        if self.writer is not None:
            with self.writer.as_default(step=iteration):
                for name, value in values.items():
                    tf.summary.scalar(f"scale_{self.scale:02d}/{name}", value)
        return values


class _Checkpoints:
    """Writes the scale in training to MODEL_DIR/checkpoint.npz every `minutes` of wall time (0 =
    never) and notes it in the manifest, so `sample` can say how far the run got."""

    def __init__(self, model_dir: Path, manifest: dict[str, Any], trainer: ScaleTrainer, minutes: float):
        self.model_dir, self.manifest, self.trainer = model_dir, manifest, trainer
        self.interval = minutes * 60
        self.next_due = time.monotonic() + self.interval

    def identity(self) -> dict[str, Any]:
        """What a checkpoint must share with the run that resumes it."""
        return {"scale": self.trainer.scale, "seed": self.manifest["seed"],
                "image_sha256": self.manifest["image"]["sha256"], "config": self.trainer.config.to_dict()}

    def resume_point(self) -> tuple[int, float]:
        """(iterations done, seconds spent) of this scale: restored from the checkpoint when there is
        one for it, else (0, 0). A checkpoint of a scale already saved is a leftover and goes."""
        found = checkpoint.read_checkpoint(self.model_dir)
        if found is None:
            return 0, 0.0
        meta, arrays = found
        path, scale = checkpoint.checkpoint_path(self.model_dir), self.trainer.scale
        if meta["scale"] < scale:
            checkpoint.remove_checkpoint(self.model_dir)
            return 0, 0.0
        mine = self.identity()
        differs = sorted(k for k in mine if meta.get(k) != mine[k])
        if differs:
            raise SinganError(f"{path} was written by another run ({', '.join(differs)} differ from "
                              f"{self.model_dir / model_store.MANIFEST}); delete it to restart scale {scale}")
        checkpoint.restore_variables(path, self.trainer.state, meta, arrays)
        return meta["iterations_done"], meta["elapsed_seconds"]

    def due(self) -> bool:
        return self.interval > 0 and time.monotonic() >= self.next_due

    def write(self, iterations_done: int, elapsed: float) -> None:
        meta = {**self.identity(), "iterations_done": iterations_done, "elapsed_seconds": elapsed,
                "software": _software()}
        checkpoint.write_checkpoint(self.model_dir, self.trainer.state, meta)
        self.manifest["in_progress"] = {"scale": self.trainer.scale, "iterations_done": iterations_done,
                                        "niter": self.trainer.niter, "checkpoint": checkpoint.CHECKPOINT}
        model_store.write_json_atomic(self.model_dir / model_store.MANIFEST, self.manifest)
        self.next_due = time.monotonic() + self.interval

    def finish(self) -> None:
        """After the scale's folder and the manifest that counts it are written."""
        checkpoint.remove_checkpoint(self.model_dir)


def _check_finite(losses: dict[str, float], scale: int, iteration: int, model_dir: Path) -> None:
    """A NaN or infinite loss never recovers (the weights it updated are lost), so stop before a
    scale that cannot sample is written; the finished scales stay as they are."""
    broken = sorted(name for name, value in losses.items() if not np.isfinite(value))
    if broken:
        raise SinganError(
            f"training diverged at scale {scale}, iteration {iteration} ({', '.join(broken)} not finite); "
            f"{model_dir} keeps scales 0..{scale - 1}: train again in a new --out with other settings "
            f"(without --mixed-precision, or another --seed)"
        )


def fit(
    image_path: Path,
    model_dir: Path,
    config: TrainConfig,
    seed: int | None = None,
    resume: bool = False,
    progress: bool = True,
    tensorboard: Path | None = None,
    on_scale_done: Callable[[int, dict[str, Any]], None] | None = None,
    checkpoint_minutes: float = checkpoint.CHECKPOINT_MINUTES,
    on_progress: Callable[[int, int, dict[str, float]], None] | None = None,
) -> dict[str, Any]:
    """Train (or finish training) every scale; returns the final manifest.

    `resume` continues from the scale in progress's checkpoint when there is one (written every
    `checkpoint_minutes` of wall time, 0 = never), else from the last finished scale.
    `on_progress(scale, iterations_done, losses)` hears what the progress bar shows, when it shows
    it (the web app's live view), without a device read of its own."""
    image_path, model_dir = Path(image_path), Path(model_dir)
    # before TensorFlow's first oneDNN operation: see precision.py
    precision_note = start_mixed_precision(config) if config.mixed_precision else None
    image = load_image(image_path)
    plan = plan_scales(image.shape[0], image.shape[1], config)
    if (model_dir / model_store.MANIFEST).exists():
        if not resume:
            raise SinganError(f"{model_dir} already holds a model; pass --resume to continue it or choose another --out")
        manifest = model_store.read_manifest(model_dir)
        _check_resumable(manifest, image_path, config, seed)
        checkpoint.remove_partial_writes(model_dir)
    else:
        if seed is None:
            seed = int(np.random.default_rng().integers(0, 2**31 - 1))
        model_dir.mkdir(parents=True, exist_ok=True)
        manifest = new_manifest(image_path, plan, config, seed)
        model_store.write_json_atomic(model_dir / model_store.MANIFEST, manifest)
    seed = manifest["seed"]
    if progress and precision_note:
        print(precision_note)
    reals = build_reals(image, plan)
    writer = tf.summary.create_file_writer(str(tensorboard)) if tensorboard else None

    done = manifest["completed_scales"]
    dtypes = [conv_dtype(config, *size) for size in plan.scale_sizes[:done]]
    pyramid = model_store.load_pyramid(model_dir, manifest, dtypes) if done else None
    previous = None
    if done and done < plan.num_scales:
        previous = (
            pyramid.generators[-1],
            model_store.load_network(model_dir, done - 1, Discriminator, plan.channels[done - 1], plan.scale_sizes[done - 1]),
        )
    for n in range(done, plan.num_scales):
        coarser = Pyramid(
            pyramid.generators if pyramid else [], list(manifest["noise_amps"]), list(plan.scale_sizes[:n]),
            plan.scale_factor, pyramid.z_star if pyramid else None, config.noise_padding,
        )
        trainer = ScaleTrainer(n, reals[n], coarser, config, seed, warm_start=previous)
        checkpoints = _Checkpoints(model_dir, manifest, trainer, checkpoint_minutes)
        start, spent = checkpoints.resume_point()
        started = time.perf_counter() - spent
        bar = _Progress(n, plan.num_scales, trainer.niter, progress, writer, start)
        iteration = trainer.traced_iteration()
        for i in range(start, trainer.niter):
            losses = iteration(tf.constant(i))
            if i % LOG_EVERY == 0 or i == trainer.niter - 1:
                final_losses = bar.update(i, losses)
                _check_finite(final_losses, n, i, model_dir)
                if on_progress:
                    on_progress(n, i + 1, final_losses)
            if checkpoints.due() and i + 1 < trainer.niter:  # after the last one the scale is saved
                _check_finite({k: float(v) for k, v in losses.items()}, n, i, model_dir)
                checkpoints.write(i + 1, time.perf_counter() - started)
        trainer.settle_statistics()
        seconds = time.perf_counter() - started

        z_star = trainer.z_star if n == 0 else coarser.z_star
        pyramid = Pyramid(
            coarser.generators + [trainer.generator], coarser.noise_amps + [trainer.noise_amp],
            list(plan.scale_sizes[: n + 1]), plan.scale_factor, z_star, config.noise_padding,
        )
        tensors = {"real": reals[n].numpy()}
        if n == 0:
            tensors["z_star"] = z_star.numpy()
        preview = _preview(pyramid, reals[n], seed)
        model_store.save_scale(model_dir, n, trainer.generator, trainer.discriminator, tensors, preview)
        if writer is not None:
            with writer.as_default(step=n):
                tf.summary.image("preview", make_grid(preview[0], columns=len(preview[0]), labels=preview[1])[None])
        manifest["noise_amps"].append(trainer.noise_amp)
        manifest["scales"].append({"train_seconds": round(seconds, 3), "niter": trainer.niter,
                                   "final_losses": final_losses})
        manifest["completed_scales"] = n + 1
        manifest.pop("in_progress", None)
        model_store.write_json_atomic(model_dir / model_store.MANIFEST, manifest)
        checkpoints.finish()
        previous = (trainer.generator, trainer.discriminator)
        if on_scale_done:
            on_scale_done(n, manifest)
    return manifest


def is_finished(model_dir: Path) -> bool:
    """Whether `model_dir` holds a model with every planned scale trained."""
    if not (Path(model_dir) / model_store.MANIFEST).exists():
        return False
    manifest = model_store.read_manifest(model_dir)
    return manifest["completed_scales"] == len(manifest["scale_sizes"])


def train_unless_finished(image_path: Path, model_dir: Path, config: TrainConfig, seed: int | None = None,
                          progress: bool = True) -> dict[str, Any]:
    """The applications that need a model of their own (super-resolution, animation) train it on
    first use, finish an interrupted one, and reuse a finished one as it is."""
    if is_finished(model_dir):
        return model_store.read_manifest(model_dir)
    resume = (Path(model_dir) / model_store.MANIFEST).exists()
    return fit(image_path, model_dir, config, seed=seed, resume=resume, progress=progress)
