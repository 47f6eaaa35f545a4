"""The training process the web app starts for each job.

It runs in a fresh (spawned) interpreter: TensorFlow's state never mixes with the server's, a crash
or an out-of-memory kill ends only this process, and cancelling a job is ending it. Everything it
has to say goes back to the server as small picklable events on a queue.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def run_training(image: str, model_dir: str, preset: str, seed: int | None, resume: bool, events: Any) -> None:
    """Train (or resume) one model exactly as `singan-tf train` does, reporting as it goes:
    ("progress", scale, iterations done, losses), ("scale_done", scale, preview path),
    ("done", samples grid path) or ("error", one-line message)."""
    from singan_tf.cli.main import import_tensorflow_quietly

    import_tensorflow_quietly()
    from singan_tf.errors import SinganError
    from singan_tf.model_store import scale_dir
    from singan_tf.train_image import train_image

    def scale_done(scale: int, manifest: dict[str, Any]) -> None:
        events.put(("scale_done", scale, str(scale_dir(Path(model_dir), scale) / "preview.png")))

    def progress(scale: int, iterations_done: int, losses: dict[str, float]) -> None:
        events.put(("progress", scale, iterations_done, losses))

    try:
        _, grid = train_image(Path(image), Path(model_dir), preset, {}, seed=seed, resume=resume, progress=False,
                              on_scale_done=scale_done, on_progress=progress)
    except SinganError as err:
        events.put(("error", str(err)))
        return
    except MemoryError:
        events.put(("error", "out of memory; train a smaller image or use the tiny or quick preset"))
        return
    events.put(("done", str(grid)))
