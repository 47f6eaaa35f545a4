"""`singan-tf super-resolve`: upscale an image with a SinGAN trained on it."""

from __future__ import annotations

from pathlib import Path

import click

from singan_tf.cli.notes import note
from singan_tf.config import PRESETS


@click.command("super-resolve")
@click.argument("image", type=click.Path(path_type=Path))
@click.option("--factor", type=click.FloatRange(1, 16, min_open=True), default=4.0, show_default=True,
              help="Upscaling factor; done in steps of about 1.26 (official: 6 steps for x4).")
@click.option("--out", "out_path", type=click.Path(path_type=Path), default=None,
              help="Output image [default: MODEL/super-resolve/<image stem>_x<factor>.png].")
@click.option("--model", "model_dir", type=click.Path(path_type=Path), default=None,
              help="Model folder: used as it is when it holds a finished model, else an SR model is trained "
                   "into it [default: models/<image stem>_sr].")
@click.option("--preset", type=click.Choice(list(PRESETS)), default="paper", show_default=True,
              help="Training settings when a model is trained (SR forces alpha 100, min size 18 and the SR ratio).")
@click.option("--iters", type=click.IntRange(1), default=None, help="Training iterations per scale [default: the preset's].")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), default=0, show_default=True,
              help="Seed of the training run and of the noise added at every step.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def command(image: Path, factor: float, out_path: Path | None, model_dir: Path | None, preset: str,
            iters: int | None, seed: int, quiet: bool) -> None:
    """Upscale IMAGE by --factor by re-applying the finest generator of a model trained on it.

    \b
    singan-tf super-resolve 33039_LR.png                         # trains models/33039_LR_sr, x4
    singan-tf super-resolve photo.png --factor 2 --preset quick --out photo_x2.png
    singan-tf super-resolve photo.png --model models/photo_sr    # reuse a trained model
    """
    from singan_tf.api import load
    from singan_tf.applications.super_resolution import train_sr_model
    from singan_tf.image_io import save_image

    model_dir = model_dir or Path("models") / f"{image.stem}_sr"
    out_path = out_path or model_dir / "super-resolve" / f"{image.stem}_x{factor:g}.png"
    train_sr_model(image, model_dir, factor, preset, iters, seed, note=note, progress=not quiet)
    save_image(load(model_dir, note).super_resolve(image, factor, seed), out_path)
    click.echo(f"wrote {out_path}")
