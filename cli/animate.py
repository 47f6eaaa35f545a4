"""`singan-tf animate`: a looping animation from a random walk in a model's noise space."""

from __future__ import annotations

from pathlib import Path

import click

from singan_tf.cli.notes import note
from singan_tf.config import DEFAULT_PRESET, PRESETS


@click.command("animate")
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--out", "out_path", type=click.Path(path_type=Path), required=True,
              help="Output file: .gif (always available) or .mp4 (needs ffmpeg).")
@click.option("--model", "model_dir", type=click.Path(path_type=Path), default=None,
              help="Where the animation model of an IMAGE target is trained and reused "
                   "[default: models/<image stem>_animation].")
@click.option("--preset", type=click.Choice(list(PRESETS)), default=DEFAULT_PRESET, show_default=True,
              help="Training settings for an IMAGE target (animation adds noise padding and min size 20).")
@click.option("--iters", type=click.IntRange(1), default=None, help="Training iterations per scale [default: the preset's].")
@click.option("--start-scale", type=click.IntRange(0), default=0, show_default=True,
              help="Scales below this keep the training image's reconstruction: higher = subtler motion.")
@click.option("--beta", type=click.FloatRange(0, 1), default=0.9, show_default=True,
              help="Momentum of the walk (official: 0.80-0.95): higher = smoother, longer swings.")
@click.option("--alpha", type=click.FloatRange(0, 1), default=0.1, show_default=True,
              help="Pull back to the reconstruction noise each frame: higher = stays closer to the image.")
@click.option("--frames", type=click.IntRange(2, 100_000), default=100, show_default=True, help="Number of frames.")
@click.option("--fps", type=click.IntRange(1, 100), default=10, show_default=True, help="Frames per second.")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), default=0, show_default=True,
              help="Seed of the walk's noise (and of the training run for an IMAGE target).")
@click.option("--quiet", is_flag=True, help="No progress bars while training.")
def command(target: Path, out_path: Path, model_dir: Path | None, preset: str, iters: int | None, start_scale: int,
            beta: float, alpha: float, frames: int, fps: int, seed: int, quiet: bool) -> None:
    """Animate TARGET: the official momentum random walk around z*.

    TARGET is an image (its animation model is trained the official way on first use: noise
    padding, so the borders move too, and min size 20; then reused) or a model folder, animated as
    it is.

    \b
    singan-tf animate lightning1.png --out lightning.gif          # trains models/lightning1_animation
    singan-tf animate lightning1.png --start-scale 1 --beta 0.95 --frames 200 --out calm.mp4
    singan-tf animate models/lightning1 --out lightning.gif       # an existing model as it is
    """
    from singan_tf.api import load
    from singan_tf.applications.animation import check_animation_path, train_animation_model, write_animation
    from singan_tf.config import TrainConfig, preset as make_config
    from singan_tf.errors import SinganError
    from singan_tf.model_store import read_manifest

    check_animation_path(out_path)
    if target.is_dir():
        if model_dir is not None:
            raise SinganError("--model is for an IMAGE target; TARGET is already a model folder")
        model_dir = target
        if not TrainConfig.from_dict(read_manifest(model_dir)["config"]).noise_padding:
            note(f"note: {model_dir} has zero padding, so its borders move less than in the official animation; "
                 "give the training image instead to train an animation model")
    elif target.is_file():
        model_dir = model_dir or Path("models") / f"{target.stem}_animation"
        train_animation_model(target, model_dir, make_config(preset, niter=iters), seed, note, progress=not quiet)
    else:
        raise SinganError(f"{target}: no such image or model folder")
    write_animation(load(model_dir, note).animate(frames, start_scale, alpha, beta, seed), out_path, fps)
    click.echo(f"wrote {frames} frames to {out_path}")
