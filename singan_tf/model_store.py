"""The model folder: a manifest plus one sub-folder per finished scale.

Layout (the contract the sampler, the applications, the export and users rely on):

    MODEL_DIR/manifest.json          what was trained, how, and how far it got
    MODEL_DIR/scale_NN/generator.weights.h5, discriminator.weights.h5
    MODEL_DIR/scale_NN/tensors.npz   real image at this scale, reconstruction noise (z*)
    MODEL_DIR/scale_NN/preview.png   real | reconstruction | random samples
    MODEL_DIR/checkpoint.npz         the scale in training, every few minutes (`checkpoint.py`)

A scale's folder is written under a temporary name and renamed when complete, and the manifest is
replaced atomically afterwards, so an interrupted run loses at most the iterations since the scale
in progress was last checkpointed.
Nothing here unpickles: weights are HDF5, arrays are .npz loaded with allow_pickle=False.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf

from singan_tf.config import TrainConfig
from singan_tf.errors import SinganError
from singan_tf.image_io import save_grid
from singan_tf.models import Discriminator, Generator
from singan_tf.pyramid import Pyramid

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


def scale_dir(model_dir: Path, scale: int) -> Path:
    return Path(model_dir) / f"scale_{scale:02d}"


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_manifest(model_dir: Path) -> dict[str, Any]:
    path = Path(model_dir) / MANIFEST
    if not path.is_file():
        raise SinganError(f"{model_dir} is not a singan-tf model folder (no {MANIFEST})")
    try:
        manifest = json.loads(path.read_text())
    except (ValueError, OSError) as err:
        raise SinganError(f"cannot read {path}: {err}") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise SinganError(
            f"{path} has format_version {manifest.get('format_version')!r}; this singan-tf reads {FORMAT_VERSION}"
        )
    return manifest


def unfinished_note(model_dir: Path, manifest: dict[str, Any]) -> str | None:
    """What a command that uses a model still in training should tell its user, or None when the
    model is finished: only the finished scales take part, so outputs are at the last one's size."""
    done, total = manifest["completed_scales"], len(manifest["scale_sizes"])
    if done == total:
        return None
    running = manifest.get("in_progress")
    progress = (f"; scale {running['scale']} is in training, at iteration {running['iterations_done']} of "
                f"{running['niter']}" if running else "")
    size = "x".join(map(str, manifest["scale_sizes"][done - 1])) if done else "-"
    return (f"note: {model_dir} has {done} of {total} scales trained{progress}; using scales 0..{done - 1} "
            f"({size} px at the training size)")


def save_scale(
    model_dir: Path,
    scale: int,
    generator: Generator,
    discriminator: Discriminator,
    tensors: dict[str, np.ndarray],
    preview: tuple[list[np.ndarray], list[str]] | None = None,
) -> None:
    """Write one finished scale; the folder appears under its final name only once it is complete.

    `preview` is (images, labels) for a labelled grid people can look at.
    """


    def write(folder: Path) -> None:
        generator.save_weights(str(folder / "generator.weights.h5"))
        discriminator.save_weights(str(folder / "discriminator.weights.h5"))
        np.savez(folder / "tensors.npz", **tensors)
        if preview is not None:
            save_grid(preview[0], folder / "preview.png", columns=len(preview[0]), labels=preview[1])

    write_folder_atomic(scale_dir(model_dir, scale), write)


def write_folder_atomic(final: Path, write: Callable[[Path], None]) -> None:
    """`write(folder)` fills a temporary folder, which then replaces `final` in one rename."""
    final = Path(final)
    partial = final.with_name(final.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    write(partial)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(partial, final)


def load_tensors(model_dir: Path, scale: int) -> dict[str, np.ndarray]:
    with np.load(scale_dir(model_dir, scale) / "tensors.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def load_network(model_dir: Path, scale: int, kind: type, channels: int, size: tuple[int, int],
                 conv_dtype: str | None = None):
    """Rebuild a scale's Generator or Discriminator at its trained size and load its weights."""
    path = scale_dir(model_dir, scale) / ("generator" if kind is Generator else "discriminator")
    return load_network_file(Path(f"{path}.weights.h5"), kind, channels, size, name=f"{kind.__name__[0]}{scale}",
                             conv_dtype=conv_dtype)


def load_network_file(path: Path, kind: type, channels: int, size: tuple[int, int], name: str,
                      conv_dtype: str | None = None):
    """A Generator or Discriminator built at `size` with the weights in `path` (a .weights.h5 file);
    `conv_dtype` is the convolutions' dtype policy (None = float32, what sampling and export use)."""
    network = kind(channels, conv_dtype=conv_dtype, name=name)
    dummy = tf.zeros([1, *size, 3])
    if kind is Generator:
        network([dummy, dummy])
    else:
        network(dummy)
    try:
        network.load_weights(str(path))
    except (OSError, ValueError) as err:
        raise SinganError(f"cannot load {path}: {err}") from None
    return network


def load_pyramid(model_dir: Path, manifest: dict[str, Any] | None = None,
                 conv_dtypes: Sequence[str | None] | None = None) -> Pyramid:
    """The trained scales of a model folder, ready to generate (`conv_dtypes`: each scale's, as in
    load_network_file; float32 everywhere if not given)."""
    manifest = manifest or read_manifest(model_dir)
    count = manifest["completed_scales"]
    if count == 0:
        raise SinganError(f"{model_dir} has no finished scale yet; train it (or resume) first")
    sizes = [tuple(s) for s in manifest["scale_sizes"][:count]]
    generators = [load_network(model_dir, n, Generator, manifest["channels"][n], sizes[n],
                               conv_dtypes[n] if conv_dtypes else None)
                  for n in range(count)]
    z_star = tf.constant(load_tensors(model_dir, 0)["z_star"])
    noise_padding = TrainConfig.from_dict(manifest["config"]).noise_padding
    return Pyramid(generators, list(manifest["noise_amps"][:count]), sizes, manifest["scale_factor"], z_star,
                   noise_padding)
