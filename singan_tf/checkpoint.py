"""The checkpoint of the scale in training: what lets a run killed at hour 6 of a scale lose minutes.

One file, MODEL_DIR/checkpoint.npz, holds every variable the next iteration reads (G_n and D_n with
their BatchNorm statistics, both Adam states with their step counters, hence the learning-rate
schedule), the number of iterations done and the settings it was made with. Nothing else is state:
the training noise, the gradient-penalty mix and the crop windows are drawn from keys of (seed,
scale, iteration), and the frozen coarser scales are read from their saved folders. So restoring the
file and running the remaining iterations gives the uninterrupted run's weights bit for bit.

The file is written under a temporary name, synced and renamed over the old one, so a kill at any
moment leaves either the previous checkpoint or the new one, never half of one. It is an .npz of
plain arrays, read with allow_pickle=False; the settings are a JSON string inside it.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from singan_tf.errors import SinganError

CHECKPOINT = "checkpoint.npz"
# Bumped when the file's layout changes: a checkpoint of another format is refused, never guessed at.
CHECKPOINT_FORMAT = 1
CHECKPOINT_MINUTES = 5.0
_PARTIAL_PREFIX = ".checkpoint-"
_META = "meta"


def checkpoint_path(model_dir: Path) -> Path:
    return Path(model_dir) / CHECKPOINT


def write_checkpoint(model_dir: Path, variables: dict[str, list], meta: dict[str, Any]) -> None:
    """Replace MODEL_DIR/checkpoint.npz with `variables` (group -> Keras variables) and `meta`.
    The variables' paths are kept in `meta` so that a restore into
    other networks is refused by name and shape, never half done."""
    arrays = {f"{group}.{i:04d}": v.numpy() for group, values in variables.items() for i, v in enumerate(values)}
    meta = {**meta, "format": CHECKPOINT_FORMAT,
            "paths": {group: [v.path for v in values] for group, values in variables.items()}}
    fd, partial = tempfile.mkstemp(dir=model_dir, prefix=_PARTIAL_PREFIX, suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as f:
            _serialize(f, {_META: np.array(json.dumps(meta)), **arrays})
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, checkpoint_path(model_dir))
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    _sync_folder(model_dir)


def _serialize(f, arrays: dict[str, np.ndarray]) -> None:
    np.savez(f, **arrays)


def _sync_folder(folder: Path) -> None:
    """Makes the rename itself durable, so a power cut after it cannot bring the old file back."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_checkpoint(model_dir: Path) -> tuple[dict[str, Any], dict[str, list[np.ndarray]]] | None:
    """(meta, group -> arrays) of the model folder's checkpoint, or None when it has none."""
    path = checkpoint_path(model_dir)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data[_META]))
            if meta.get("format") != CHECKPOINT_FORMAT:
                raise SinganError(
                    f"{path} has checkpoint format {meta.get('format')!r} (singan-tf "
                    f"{meta.get('software', {}).get('singan_tf', '?')}); this singan-tf reads {CHECKPOINT_FORMAT}: "
                    f"resume with that version, or delete the file to restart scale {meta.get('scale', '?')} "
                    f"from its first iteration")
            arrays = {group: [data[f"{group}.{i:04d}"] for i in range(len(paths))]
                      for group, paths in meta["paths"].items()}
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as err:
        raise SinganError(f"cannot read {path} ({err}); delete it to restart the scale in progress "
                          f"from its first iteration") from None
    return meta, arrays


def restore_variables(path: Path, variables: dict[str, list], meta: dict[str, Any],
                      arrays: dict[str, list[np.ndarray]]) -> None:
    """Assign a read checkpoint to `variables` (the same groups write_checkpoint was given)."""
    paths = {group: [v.path for v in values] for group, values in variables.items()}
    shapes_match = all(tuple(v.shape) == a.shape for group, values in variables.items()
                       for v, a in zip(values, arrays.get(group, [])))
    if paths != meta["paths"] or not shapes_match:
        raise SinganError(f"{path} holds other networks than this scale trains (scale {meta['scale']}, "
                          f"{sum(map(len, meta['paths'].values()))} variables); delete it to restart the scale")
    for group, values in variables.items():
        for variable, array in zip(values, arrays[group]):
            variable.assign(array)


def remove_checkpoint(model_dir: Path) -> None:
    checkpoint_path(model_dir).unlink(missing_ok=True)


def remove_partial_writes(model_dir: Path) -> None:
    """Temporary files of writes that a kill interrupted; the checkpoint beside them is whole."""
    for partial in Path(model_dir).glob(f"{_PARTIAL_PREFIX}*.partial"):
        partial.unlink(missing_ok=True)
