"""Random samples written to disk: one PNG per seed, named by it so any one can be regenerated, and
a grid to look at."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from singan_tf.errors import SinganError
from singan_tf.image_io import save_grid, save_image, to_uint8
from singan_tf.model_store import load_pyramid, read_manifest
from singan_tf.sampler import Sampler


def resolve_size(sampler: Sampler, height: int | None, width: int | None,
                 scale_h: float | None, scale_v: float | None) -> tuple[int, int]:
    """The output size from either explicit pixels or factors of the training size (official
    `scale_h`/`scale_v`), defaulting to the training size."""
    fh, fw = sampler.finest
    if (height or width) and (scale_h or scale_v):
        raise SinganError("give either --height/--width or --scale-h/--scale-v, not both")
    if scale_h or scale_v:
        return round(fh * (scale_v or 1.0)), round(fw * (scale_h or 1.0))
    return height or fh, width or fw


def sample_pixels(
    sampler: Sampler,
    num: int,
    seed: int,
    scale_from: int = 0,
    height: int | None = None,
    width: int | None = None,
    scale_h: float | None = None,
    scale_v: float | None = None,
    noise_scale: float = 1.0,
) -> np.ndarray:
    """[num, H, W, 3] uint8 for seeds seed..seed+num-1: the pixels the PNGs hold, whichever way
    (command line, Python, previews) they were asked for. A bad request is refused before any runs."""
    size = resolve_size(sampler, height, width, scale_h, scale_v)
    problem = sampler.request_problem(*size, scale_from, noise_scale)
    if problem:
        raise SinganError(problem)
    return np.stack([to_uint8(np.asarray(sampler(*size, s, scale_from, noise_scale)[0]))
                     for s in range(seed, seed + num)])


def save_samples(images: np.ndarray, seed: int, out_dir: Path) -> list[Path]:
    """One PNG per image, named by its seed (seed, seed+1, ...), then a labelled grid; returns the
    paths, the grid last."""
    paths = []
    for s, image in enumerate(images, start=seed):
        paths.append(Path(out_dir) / f"seed_{s:06d}.png")
        save_image(image, paths[-1])
    grid = Path(out_dir) / "grid.png"
    save_grid(list(images), grid, labels=[f"seed {s}" for s in range(seed, seed + len(images))])
    return paths + [grid]


def write_samples(model_dir: Path, out_dir: Path, num: int, seed: int) -> list[Path]:
    """The samples a finished training run leaves in its folder."""
    sampler = Sampler(load_pyramid(model_dir, read_manifest(model_dir)))
    return save_samples(sample_pixels(sampler, num, seed), seed, out_dir)
