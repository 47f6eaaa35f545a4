"""Training a batch of images on Ray: one task per image, each in a fresh worker process with its
own CPUs (and GPUs), resumable, and one image's failure never stopping the others.

Ray rather than a home-made pool: the same code runs on a laptop, on a cluster of machines and on
Kubernetes (KubeRay), schedules GPUs, and re-runs the work of a worker or node that died.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from singan_tf.errors import SinganError
from singan_tf.many.inputs import ImageJob, image_seed
from singan_tf.many.progress import ProgressDisplay
from singan_tf.many.report import ImageRow
from singan_tf.many.task import ProgressBoard, model_status, train_in_worker
from singan_tf.many.ray_session import ray_session
from singan_tf.train_image import is_trained

POLL_SECONDS = 1.0


@dataclasses.dataclass(frozen=True)
class BatchSettings:
    """What every image of the batch is trained with, and what each task may use."""

    base: Path
    preset: str
    overrides: dict[str, Any]
    seed: int | None
    cpus_per_image: int = 1
    gpus_per_image: float = 0
    max_retries: int = 2
    address: str | None = None


def train_batch(jobs: list[ImageJob], rows: list[ImageRow], settings: BatchSettings, display: ProgressDisplay) -> None:
    """Skips the images whose model is finished without starting anything for them, trains the
    others on Ray, and leaves every image's outcome in its row."""
    todo = []
    for job, row in zip(jobs, rows):
        seed = None if settings.seed is None else image_seed(settings.seed, job.name)
        model_dir = settings.base / job.name
        if is_trained(job.image, model_dir, settings.preset, settings.overrides, seed):
            row.update(model_status(model_dir))
            display.change(row, "skipped (already trained)", "skipped")
        else:
            row.seed = seed
            todo.append((job, row))
    if todo:
        with ray_session(settings.address) as ray:
            _run_on_ray(ray, todo, settings, display)


def _run_on_ray(ray: Any, todo: list[tuple[ImageJob, ImageRow]], settings: BatchSettings,
                display: ProgressDisplay) -> None:
    if not settings.address:
        _check_fits_this_machine(ray, settings)
    board = ray.remote(num_cpus=0)(ProgressBoard).remote()
    task = ray.remote(num_cpus=settings.cpus_per_image, num_gpus=settings.gpus_per_image,
                      max_retries=settings.max_retries, max_calls=1)(train_in_worker)
    pending, by_name = {}, {}
    for job, row in todo:
        ref = task.remote(job.image.resolve(), (settings.base / job.name).resolve(), job.name, settings.preset,
                          settings.overrides, row.seed, settings.cpus_per_image, board)
        pending[ref], by_name[job.name] = row, row
        display.change(row, "queued")
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=POLL_SECONDS)
        for name, event, updates in ray.get(board.collect.remote()):
            state = updates.pop("state", None)
            by_name[name].update(updates)
            display.change(by_name[name], event, state)
        for ref in ready:
            row = pending.pop(ref)
            outcome = _outcome(ray, ref, settings.max_retries)
            state = outcome.pop("state")
            row.update(outcome)
            display.change(row, f"failed: {row.error}" if row.error else f"done ({row.minutes:.1f} min)", state)


def _outcome(ray: Any, ref: Any, retries: int) -> dict[str, Any]:
    """The task's summary row, or why there is none."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as err:  # a bug, or TensorFlow giving up (e.g. out of memory)
        return {"state": "failed", "error": f"{type(err.cause).__name__}: {_one_line(err.cause)}"}
    except ray.exceptions.RayError as err:  # its worker or node died, and so did every retry
        return {"state": "failed", "error": f"{type(err).__name__} (tried {retries + 1} times): {_one_line(err)}"}


def _one_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


def _check_fits_this_machine(ray: Any, settings: BatchSettings) -> None:
    """A task asking for more than the local instance has would wait forever; a cluster may still
    grow (an autoscaler adds nodes for waiting tasks), so only this machine's instance is checked."""
    available = ray.cluster_resources()
    for flag, wanted, resource in (("--cpus-per-image", settings.cpus_per_image, "CPU"),
                                   ("--gpus-per-image", settings.gpus_per_image, "GPU")):
        if wanted > available.get(resource, 0):
            raise SinganError(f"{flag} {wanted:g}: this machine has {available.get(resource, 0):g} {resource}s")
