"""`singan-tf animate`: a looping animation from a random walk in the model's noise space."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("animate")
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.option("--out", "out_path", type=click.Path(path_type=Path), required=True,
              help="Output file: .gif (always available) or .mp4 (needs ffmpeg).")
@click.option("--start-scale", type=click.IntRange(0), default=0, show_default=True,
              help="Scales below this keep the training image's reconstruction: higher = subtler motion.")
@click.option("--beta", type=click.FloatRange(0, 1), default=0.9, show_default=True,
              help="Momentum of the walk (official: 0.80-0.95): higher = smoother, longer swings.")
@click.option("--alpha", type=click.FloatRange(0, 1), default=0.1, show_default=True,
              help="Pull back to the reconstruction noise each frame: higher = stays closer to the image.")
@click.option("--frames", type=click.IntRange(2, 100_000), default=100, show_default=True, help="Number of frames.")
@click.option("--fps", type=click.IntRange(1, 100), default=10, show_default=True, help="Frames per second.")
@click.option("--seed", type=click.IntRange(0, 2**62), default=0, show_default=True, help="Seed of the walk's noise.")
def command(model_dir: Path, out_path: Path, start_scale: int, beta: float, alpha: float, frames: int, fps: int,
            seed: int) -> None:
    """Animate the model in MODEL_DIR: the official momentum random walk around z*.

    \b
    singan-tf animate models/lightning1 --out lightning.gif
    singan-tf animate models/lightning1 --start-scale 1 --beta 0.95 --frames 200 --out calm.mp4
    """
    from singan_tf.applications.animation import write_model_animation

    write_model_animation(model_dir, out_path, frames, start_scale, alpha, beta, fps, seed)
    click.echo(f"wrote {frames} frames to {out_path}")
