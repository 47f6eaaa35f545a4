"""Animation: a smooth random walk in noise space around the reconstruction noise z*, rendered frame
by frame through the pyramid (official `generate_gif`).

Per scale n >= start_scale, with Z_opt = z* at scale 0 and zeros above (our models' reconstruction
noise): z_prev1 = 0.95 Z_opt + 0.05 noise, z_prev2 = Z_opt; per frame
diff = beta (z_prev1 - z_prev2) + (1 - beta) noise and z = alpha Z_opt + (1 - alpha)(z_prev1 + diff):
beta is the walk's momentum, alpha its pull back to Z_opt. Scales below start_scale keep Z_opt, so
the coarse layout stays the training image's.

Like the official animation script, `singan-tf animate IMAGE` trains a model of its own for it (on
first use, then reused): "noise padding" (noise drawn over the generators' input border too, so the
borders move like the rest) and min_size 20. An existing model folder is animated as it is.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf
from PIL import Image

from singan_tf import noise
from singan_tf.applications.common import Note, ignore_note
from singan_tf.config import TrainConfig
from singan_tf.errors import SinganError
from singan_tf.fit import is_finished, train_unless_finished
from singan_tf.image_io import to_uint8
from singan_tf.pyramid import Pyramid, gray

ANIMATION_MIN_SIZE = 20
# Noise streams per scale: stream = scale * STREAMS_PER_SCALE + draw, draw 0 = the walk's start.
STREAMS_PER_SCALE = 1_000_000
FORMATS = (".gif", ".mp4")


class MomentumWalk:
    """The official second-order random walk around `anchor`; `draw(i)` gives the i-th fresh noise."""

    def __init__(self, anchor: tf.Tensor, draw: Callable[[int], tf.Tensor], alpha: float, beta: float):
        self.anchor, self.draw, self.alpha, self.beta = anchor, draw, alpha, beta
        self.previous = 0.95 * anchor + 0.05 * draw(0)
        self.before = anchor
        self.count = 0

    def step(self) -> tf.Tensor:
        self.count += 1
        diff = self.beta * (self.previous - self.before) + (1 - self.beta) * self.draw(self.count)
        current = self.alpha * self.anchor + (1 - self.alpha) * (self.previous + diff)
        self.before, self.previous = self.previous, current
        return current


def _scale_noise(seed: int, scale: int, size: Sequence[int]) -> Callable[[int], tf.Tensor]:
    height, width = size

    def draw(i: int) -> tf.Tensor:
        stream = scale * STREAMS_PER_SCALE + i
        if scale == 0:
            return gray(noise.normal(seed, stream, [1, height, width, 1]))
        return noise.normal(seed, stream, [1, height, width, 3])

    return draw


def animation_frames(pyramid: Pyramid, frames: int, start_scale: int = 0, alpha: float = 0.1,
                     beta: float = 0.9, seed: int = 0) -> list[np.ndarray]:
    """`frames` images [H, W, 3] uint8 at the training size, one random-walk step apart."""
    if not 0 <= start_scale < pyramid.num_scales:
        raise SinganError(f"--start-scale must be in 0..{pyramid.num_scales - 1} for this model (got {start_scale})")
    sizes = pyramid.scale_sizes
    walks = [
        MomentumWalk(pyramid.reconstruction_noise(n), _scale_noise(seed, n, pyramid.noise_size(*size)), alpha, beta)
        if n >= start_scale else None
        for n, size in enumerate(sizes)
    ]
    fixed = [pyramid.reconstruction_noise(n) for n in range(start_scale)]
    render = tf.function(lambda noises: pyramid.run(noises, sizes), autograph=False)
    images = []
    for _ in range(frames):
        noises = fixed + [walk.step() for walk in walks[start_scale:]]
        images.append(to_uint8(render(noises)[0].numpy()))
    return images


def check_animation_path(path: Path) -> None:
    """Refuse an output the writer cannot produce before any frame is rendered."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise SinganError(f"--out must end in .gif or .mp4 (got '{Path(path).name}')")
    if suffix == ".mp4" and shutil.which("ffmpeg") is None:
        raise SinganError("writing .mp4 needs ffmpeg on the PATH, which is not installed here; use a .gif --out")


def write_animation(frames: Sequence[np.ndarray], path: Path, fps: int) -> Path:
    """A looping GIF (Pillow) or an MP4 (ffmpeg, H.264-compatible yuv420p), written atomically."""
    path = Path(path)
    check_animation_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.{secrets.token_hex(8)}{path.suffix}")
    try:
        if path.suffix.lower() == ".gif":
            pictures = [Image.fromarray(frame) for frame in frames]
            pictures[0].save(temporary, format="GIF", save_all=True, append_images=pictures[1:],
                             duration=round(1000 / fps), loop=0)
        else:
            _encode_mp4(frames, temporary, fps)
        os.replace(temporary, path)
    except OSError as err:
        raise SinganError(f"cannot write '{path}': {err.strerror or err}") from None
    finally:
        temporary.unlink(missing_ok=True)
    return path


def _encode_mp4(frames: Sequence[np.ndarray], path: Path, fps: int) -> None:
    """Raw RGB frames piped into ffmpeg; odd sizes are padded by one pixel (yuv420p needs even ones)."""
    height, width = frames[0].shape[:2]
    command = [
        shutil.which("ffmpeg"), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
        "-s", f"{width}x{height}", "-r", str(fps), "-i", "-",
        "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-pix_fmt", "yuv420p", str(path),
    ]
    done = subprocess.run(command, input=b"".join(np.ascontiguousarray(f).tobytes() for f in frames),
                          capture_output=True)
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()
        raise SinganError(f"ffmpeg could not encode the animation: {reason[-1] if reason else done.returncode}")


def animation_config(base: TrainConfig) -> TrainConfig:
    """The official `animation_train` settings on top of a preset."""
    return base.with_overrides(min_size=ANIMATION_MIN_SIZE, noise_padding=True)


def train_animation_model(image_path: Path, model_dir: Path, config: TrainConfig, seed: int = 0,
                          note: Note = ignore_note, progress: bool = True) -> None:
    """The animate command on an image: its animation model, trained the official way on first use
    (`config` is the preset; noise padding and min size 20 are added), finished if interrupted,
    reused once trained."""
    if not is_finished(model_dir):
        note(f"training an animation model (noise padding, min size {ANIMATION_MIN_SIZE}) in {model_dir}")
    train_unless_finished(image_path, model_dir, animation_config(config), seed=seed, progress=progress)
