"""Super-resolution: a pyramid trained with a strong reconstruction weight, whose finest generator is
then applied again and again above the training size, each time after a bicubic step up.

Official SR.py: steps of about 2^(1/3) (r0 = (1/2)^(1/3), iter_num = round(log_r0(1/factor)),
in_scale = factor^(1/iter_num); x4 = 6 steps of 1.26), trained with alpha = 100, min_size = 18 and
scale_factor = 1/in_scale as the initial pyramid ratio (re-fitted per image like any training).
Inference: x <- imresize(x, in_scale); x <- G_N(noise_amp_N * z + x, x), iter_num times, starting
from the training image at its finest scale; the first step's noise is one channel repeated over RGB
(it runs as "scale 0" in the official loop); then a top-left crop to round(factor * H) x round(factor * W).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import tensorflow as tf

from singan_tf import noise
from singan_tf.applications.common import Note, TrainedModel, ignore_note
from singan_tf.config import TrainConfig, preset
from singan_tf.errors import SinganError
from singan_tf.fit import is_finished, train_unless_finished
from singan_tf.image_io import ImageSource, describe_source, image_hash, read_image
from singan_tf.pyramid import Pyramid, gray, upsample

SR_ALPHA = 100.0
SR_MIN_SIZE = 18
FIRST_STEP = 0.5 ** (1 / 3)
MAX_FACTOR = 16.0


def sr_steps(factor: float) -> tuple[int, float]:
    """(iter_num, in_scale) of the official `calc_init_scale`."""
    if not 1 < factor <= MAX_FACTOR:
        raise SinganError(f"--factor must be in (1, {MAX_FACTOR:g}] (got {factor:g})")
    steps = round(math.log(1 / factor, FIRST_STEP))
    if steps < 1:
        raise SinganError(f"--factor {factor:g} is less than one upsampling step; use at least {2 ** (1 / 6):.3f}")
    return steps, factor ** (1 / steps)


def sr_config(base: TrainConfig, factor: float) -> TrainConfig:
    """The official SR training settings on top of a preset."""
    _, in_scale = sr_steps(factor)
    return base.with_overrides(alpha=SR_ALPHA, min_size=SR_MIN_SIZE, scale_factor=1 / in_scale)


def step_sizes(size: Sequence[int], in_scale: float, steps: int) -> list[tuple[int, int]]:
    """Sizes after each step: ceil(size * in_scale), as imresize rounds."""
    sizes, (h, w) = [], size
    for _ in range(steps):
        h, w = math.ceil(h * in_scale), math.ceil(w * in_scale)
        sizes.append((h, w))
    return sizes


def super_resolve(pyramid: Pyramid, image: tf.Tensor, factor: float, seed) -> tf.Tensor:
    """[1, H, W, 3] -> [1, round(factor*H), round(factor*W), 3] through the finest generator.

    The repeated steps are a pyramid of their own: G_N at every level, linked by 1/in_scale, started
    from the first bicubic step, so Pyramid.run does the loop exactly as the official SinGAN_generate.
    """
    steps, in_scale = sr_steps(factor)
    height, width = image.shape[1], image.shape[2]
    sizes = step_sizes((height, width), in_scale, steps)
    chain = Pyramid([pyramid.generators[-1]] * steps, [pyramid.noise_amps[-1]] * steps, sizes, 1 / in_scale, None)
    first = gray(noise.normal(seed, 0, [1, *sizes[0], 1]))
    noises = [first] + [noise.normal(seed, n, [1, h, w, 3]) for n, (h, w) in enumerate(sizes[1:], start=1)]
    start = upsample(image, *sizes[0], chain.scale_factor)
    result = chain.run(noises, sizes, start_image=start)
    return result[:, : round(factor * height), : round(factor * width)]


def train_sr_model(image_path: Path, model_dir: Path, factor: float = 4.0, preset_name: str = "paper",
                   niter: int | None = None, seed: int = 0, note: Note = ignore_note, progress: bool = True) -> None:
    """The super-resolve command's model: a finished one in `model_dir` is used as it is; otherwise
    one is trained (or resumed) there the SR way."""
    sr_steps(factor)
    if not is_finished(model_dir):
        note(f"training an SR model (alpha {SR_ALPHA:g}, min size {SR_MIN_SIZE}) in {model_dir}")
    config = sr_config(preset(preset_name, niter=niter), factor)
    train_unless_finished(Path(image_path), Path(model_dir), config, seed=seed, progress=progress)


def sr_input(model: TrainedModel, image: ImageSource | None, note: Note = ignore_note) -> tf.Tensor:
    """What gets upscaled: the model's training image at its finest scale when `image` is None or
    that image's file (official), else `image` as given."""
    manifest = model.manifest
    if manifest["config"]["alpha"] != SR_ALPHA:
        alpha = manifest["config"]["alpha"]
        note(f"note: {model.model_dir} was not trained for SR (alpha {alpha:g}, not {SR_ALPHA:g})")
    is_file = isinstance(image, (str, os.PathLike))
    if image is None or (is_file and manifest["image"]["sha256"] == image_hash(image)):
        return model.real
    note(f"note: {model.model_dir} was trained on {manifest['image']['name']}; applying it to "
         f"{describe_source(image)} as given")
    return tf.constant(read_image(image)[None])
