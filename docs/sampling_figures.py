"""The pictures of docs/sampling.md, from a trained model folder:

    python docs/sampling_figures.py MODEL_DIR [--out docs/images]

noise-scale.png: one row of samples (seeds 0..5) per start scale (0, 1) and noise scale (0.5, 1, 1.5, 2).
retarget.png: the training image, its reconstruction, and samples from scale 1 twice as wide and tall.
Both are written with 256 colours, which keeps them small enough for the repository.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from singan_tf.image_io import make_grid
from singan_tf.model_store import load_pyramid, load_tensors
from singan_tf.sampler import Sampler

SEEDS = range(6)
START_SCALES = (0, 1)
NOISE_SCALES = (0.5, 1.0, 1.5, 2.0)


def save_small_png(pixels: np.ndarray, path: Path) -> None:
    Image.fromarray(pixels).quantize(256, dither=Image.Dither.NONE).save(path, optimize=True)


def noise_scale_rows(sampler: Sampler) -> tuple[list[np.ndarray], list[str]]:
    images, labels = [], []
    h, w = sampler.finest
    for scale_from in START_SCALES:
        for noise_scale in NOISE_SCALES:
            for seed in SEEDS:
                images.append(np.asarray(sampler(h, w, seed, scale_from, noise_scale)[0]))
                labels.append(f"K={scale_from} x{noise_scale:g} s{seed}")
    return images, labels


def retargeting_row(sampler: Sampler, real: np.ndarray) -> tuple[list[np.ndarray], list[str]]:
    h, w = sampler.finest
    images = [real, np.asarray(sampler.pyramid.reconstruct()[0])]
    labels = ["training image", "reconstruction"]
    for (height, width), name in (((h, 2 * w), "2x wide"), ((2 * h, w * 3 // 4), "tall")):
        for seed in (0, 1):
            images.append(np.asarray(sampler(height, width, seed, 1)[0]))
            labels.append(f"K=1 {name} s{seed}")
    return images, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "images")
    args = parser.parse_args()

    pyramid = load_pyramid(args.model_dir)
    sampler = Sampler(pyramid)
    real = load_tensors(args.model_dir, pyramid.num_scales - 1)["real"][0]
    images, labels = noise_scale_rows(sampler)
    save_small_png(make_grid(images, columns=len(SEEDS), labels=labels), args.out / "noise-scale.png")
    images, labels = retargeting_row(sampler, real)
    save_small_png(make_grid(images, columns=len(images), labels=labels), args.out / "retarget.png")


if __name__ == "__main__":
    main()
