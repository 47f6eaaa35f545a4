"""What runs on a Ray worker for one image of `train-many`, and how it tells the driver.

The driver wraps these with `ray.remote`; they import Ray only where they talk to it, so this module
loads (and its functions can be called) without the extra installed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from singan_tf.errors import SinganError
from singan_tf.model_store import MANIFEST, read_manifest
from singan_tf.train_image import train_image


class ProgressBoard:
    """Holds the tasks' state changes until the driver collects them.

    A Ray actor rather than the driver polling each model's manifest.json: it also sees a task
    start (a resumed model's manifest does not change then), and progress needs no file system
    shared between the driver and the workers.
    """

    def __init__(self) -> None:
        self._events: list[tuple[str, str, dict[str, Any]]] = []

    def report(self, name: str, event: str, updates: dict[str, Any]) -> None:
        """`event` is the line to show; `updates` the fields of the image's summary row it changes."""
        self._events.append((name, event, updates))

    def collect(self) -> list[tuple[str, str, dict[str, Any]]]:
        events, self._events = self._events, []
        return events


def model_status(model_dir: Path) -> dict[str, Any]:
    """Scales done and planned, and the seed, of whatever model the folder holds (empty if none)."""
    if not (Path(model_dir) / MANIFEST).exists():
        return {}
    manifest = read_manifest(model_dir)
    return {"scales_done": manifest["completed_scales"], "scales_total": len(manifest["scale_sizes"]),
            "seed": manifest["seed"]}


def limit_tensorflow(cpus: int) -> None:
    """Keeps TensorFlow within the CPUs Ray gave the task, so tasks side by side do not fight over
    cores. It must run before TensorFlow starts its runtime, which happens once per process: the
    driver gives every task a fresh worker process (max_calls=1), and this raises if it was not."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(cpus)
    tf.config.threading.set_inter_op_parallelism_threads(cpus)
    for gpu in tf.config.list_physical_devices("GPU"):
        # Several tasks may share a GPU (--gpus-per-image below 1); each takes only what it uses.
        tf.config.experimental.set_memory_growth(gpu, True)


def train_in_worker(image: Path, model_dir: Path, name: str, preset: str, overrides: dict[str, Any],
                    seed: int | None, cpus: int, board: Any) -> dict[str, Any]:
    """Trains or finishes one model, as `singan-tf train --resume` would; returns its row of the
    summary. A user error (a bad image, a folder with another model) is returned as a failure, not
    raised, so Ray does not retry it; only a lost worker or node is retried, and the retry resumes
    from the last checkpoint inside the scale it was training."""
    import ray

    started = time.perf_counter()
    limit_tensorflow(cpus)

    sent = []

    def report(event: str, **updates: Any) -> None:
        # Not waited for here: a task blocked in ray.get lends its CPUs to another task meanwhile.
        sent.append(board.report.remote(name, event, updates))

    def scale_done(n: int, manifest: dict[str, Any]) -> None:
        total = len(manifest["scale_sizes"])
        report(f"scale {n + 1}/{total} done", scales_done=n + 1, scales_total=total)

    try:
        status = model_status(model_dir)
        report(f"running (resuming after scale {status['scales_done']}/{status['scales_total']})" if status
               else "running", state="running", **status)
        train_image(image, model_dir, preset, overrides, seed=seed, resume=bool(status), progress=False,
                    on_scale_done=scale_done)
        outcome = {"state": "done", **model_status(model_dir)}
    except SinganError as err:
        outcome = {"state": "failed", "error": str(err)}
    ray.get(sent)  # the driver shows them before the outcome
    return {**outcome, "minutes": (time.perf_counter() - started) / 60}
