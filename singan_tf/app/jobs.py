"""Training jobs for the web app: a queue served by one worker thread, one process per job.

One training at a time: two would share 2 CPU cores and each take twice as long, so later jobs wait
their turn. The process is spawned, not forked (a forked TensorFlow runtime is not safe), and its
events are folded into a `TrainingJob` that the page reads every second.
"""

from __future__ import annotations

import dataclasses
import itertools
import multiprocessing
import queue
import signal
import threading
import time
from pathlib import Path
from typing import Any

from singan_tf.app.worker import run_training

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED_STATES = (DONE, FAILED, CANCELLED)
PROCESS_PREFIX = "singan-train-"
_POLL_SECONDS = 0.2


@dataclasses.dataclass
class TrainingJob:
    """One training run as the page shows it. `scale_gflop` is each scale's whole cost (its
    iterations x GFLOP per iteration, from `singan_tf.cost`): the time left is the GFLOP still to
    run at the rate this job has run so far, so a fine scale's cost is foreseen before it starts."""

    name: str
    image: Path
    model_dir: Path
    preset: str
    seed: int | None
    resume: bool
    scale_niter: list[int]
    scale_gflop: list[float]
    previews: list[str] = dataclasses.field(default_factory=list)
    id: int = 0
    state: str = QUEUED
    scale: int = 0
    iterations_done: int = 0
    losses: dict[str, float] = dataclasses.field(default_factory=dict)
    message: str = ""
    grid: str | None = None
    cancel_requested: bool = False
    _rate_start: tuple[float, float] | None = None
    _rate_latest: tuple[float, float] | None = None

    @property
    def num_scales(self) -> int:
        return len(self.scale_gflop)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    def gflop_done(self) -> float:
        share = self.iterations_done / self.scale_niter[self.scale]
        return sum(self.scale_gflop[: self.scale]) + self.scale_gflop[self.scale] * share

    def record(self, event: tuple, now: float | None = None) -> None:
        """Fold one event from the worker into what the page shows."""
        kind, *values = event
        if kind == "progress":
            self.scale, self.iterations_done, self.losses = values
            point = (time.monotonic() if now is None else now, self.gflop_done())
            if self._rate_start is None:
                self._rate_start = point
            self._rate_latest = point
        elif kind == "scale_done":
            scale, preview = values
            self.previews.append(preview)
            if scale + 1 < self.num_scales:
                self.scale, self.iterations_done = scale + 1, 0
        elif kind == "done":
            self.state, self.grid = DONE, values[0]
            self.scale, self.iterations_done = self.num_scales - 1, self.scale_niter[-1]
        elif kind == "error":
            self.state, self.message = FAILED, values[0]

    def seconds_left(self) -> float | None:
        """None until two progress reports give a rate."""
        if self._rate_start is None or self._rate_latest is None:
            return None
        (t0, g0), (t1, g1) = self._rate_start, self._rate_latest
        if t1 <= t0 or g1 <= g0:
            return None
        return (sum(self.scale_gflop) - g1) * (t1 - t0) / (g1 - g0)

    def status(self, ahead: int = 0) -> str:
        """One line for the page."""
        if self.state == QUEUED:
            return f"queued: {ahead} training{'s' if ahead != 1 else ''} ahead of this one" if ahead else "starting"
        if self.state == DONE:
            return f"done, {self.num_scales} scales in {self.model_dir}"
        if self.state in (FAILED, CANCELLED):
            return f"{self.state}: {self.message}"
        line = (f"scale {self.scale + 1}/{self.num_scales}, "
                f"iteration {self.iterations_done}/{self.scale_niter[self.scale]}")
        if self.losses:
            line += " - " + " ".join(f"{k} {v:.4f}" for k, v in self.losses.items())
        left = self.seconds_left()
        if left is not None:
            line += f" - about {_duration(left)} left"
        return line


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def exit_message(exitcode: int) -> str:
    """Why a training process ended without saying so itself."""
    if exitcode < 0:
        try:
            cause = f"killed by signal {-exitcode} ({signal.Signals(-exitcode).name})"
        except ValueError:
            cause = f"killed by signal {-exitcode}"
    else:
        cause = f"ended with exit code {exitcode}"
    return f"the training process was {cause}; the finished scales are kept, train again to resume"


class TrainingQueue:
    """Runs submitted jobs one after the other, each in its own process."""

    def __init__(self) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._pending: queue.Queue[TrainingJob] = queue.Queue()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._jobs: dict[int, TrainingJob] = {}
        self._process: Any = None
        self._running: TrainingJob | None = None
        threading.Thread(target=self._serve, name="singan-training-queue", daemon=True).start()

    def submit(self, job: TrainingJob) -> TrainingJob:
        with self._lock:
            job.id = next(self._ids)
            self._jobs[job.id] = job
        self._pending.put(job)
        return job

    def get(self, job_id: int) -> TrainingJob:
        return self._jobs[job_id]

    def ahead_of(self, job: TrainingJob) -> int:
        """How many jobs run before this one starts."""
        with self._lock:
            return sum(1 for other in self._jobs.values() if other.id < job.id and not other.finished)

    def cancel(self, job_id: int) -> TrainingJob:
        """A queued job never starts; a running one's process is ended. Models are written
        atomically, so what was saved before stays readable."""
        with self._lock:
            job = self._jobs[job_id]
            if job.finished:
                return job
            job.cancel_requested = True
            if job is self._running and self._process is not None:
                self._process.terminate()
            elif job.state == QUEUED:
                job.state, job.message = CANCELLED, "it never started"
        return job

    def _serve(self) -> None:
        while True:
            job = self._pending.get()
            if job.state == QUEUED:
                self._train(job)

    def _train(self, job: TrainingJob) -> None:
        events = self._context.Queue()
        process = self._context.Process(
            target=run_training, name=f"{PROCESS_PREFIX}{job.id}", daemon=True,
            args=(str(job.image), str(job.model_dir), job.preset, job.seed, job.resume, events),
        )
        with self._lock:
            if job.cancel_requested:
                return
            job.state, self._running, self._process = RUNNING, job, process
            process.start()
        while process.is_alive():
            self._take(job, events, _POLL_SECONDS)
        process.join()
        while self._take(job, events, _POLL_SECONDS):
            pass
        with self._lock:
            self._running = self._process = None
            if job.state == RUNNING:
                if job.cancel_requested:
                    job.state, job.message = CANCELLED, "the finished scales are kept; train again to resume"
                else:
                    job.state, job.message = FAILED, exit_message(process.exitcode)
        events.close()

    @staticmethod
    def _take(job: TrainingJob, events: Any, timeout: float) -> bool:
        try:
            event = events.get(timeout=timeout)
        except queue.Empty:
            return False
        job.record(event)
        return True
