"""`singan-tf sample`: new images from a trained model, at any size."""

from __future__ import annotations

from pathlib import Path

import click

from singan_tf.cli.notes import note
from singan_tf.cli.options import noise_scale_option


def default_out_dir(model_dir: Path, scale_from: int, noise_scale: float, height: int | None, width: int | None,
                    scale_h: float | None, scale_v: float | None) -> Path:
    """MODEL_DIR/samples/ plus the settings that change the images, so runs do not overwrite each other."""
    size = f"{height or 'H'}x{width or 'W'}" if (height or width) else f"v{scale_v or 1:g}_h{scale_h or 1:g}"
    noise = "" if noise_scale == 1 else f"_noise_scale={noise_scale:g}"
    return model_dir / "samples" / f"scale_from={scale_from}_{size}{noise}"


@click.command("sample")
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.option("--num", type=click.IntRange(1, 10000), default=8, show_default=True, help="How many images.")
@click.option("--seed", type=click.IntRange(0, 2**62), default=0, show_default=True,
              help="Image i uses seed S+i, so `--num 1 --seed S+i` gives the same image again.")
@click.option("--scale-from", type=click.IntRange(0), default=0, show_default=True,
              help="0 = fully random; K > 0 keeps the training image's layout (its reconstruction below scale K, "
                   "the official gen_start_scale), retargeted to the output size, so samples vary less.")
@noise_scale_option()
@click.option("--height", type=click.IntRange(1), default=None, help="Output height, px [default: training size].")
@click.option("--width", type=click.IntRange(1), default=None, help="Output width, px [default: training size].")
@click.option("--scale-h", type=click.FloatRange(0, min_open=True), default=None,
              help="Output width as a multiple of the training width (official scale_h).")
@click.option("--scale-v", type=click.FloatRange(0, min_open=True), default=None,
              help="Output height as a multiple of the training height (official scale_v).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Output folder [default: MODEL_DIR/samples/<settings>].")
def command(model_dir: Path, num: int, seed: int, scale_from: int, noise_scale: float, height: int | None,
            width: int | None, scale_h: float | None, scale_v: float | None, out_dir: Path | None) -> None:
    """Write NUM random samples of the model in MODEL_DIR as PNGs plus a grid.

    \b
    singan-tf sample models/balloons --num 8
    singan-tf sample models/balloons --scale-from 1 --seed 100
    singan-tf sample models/balloons --scale-h 2 --num 4           # twice as wide
    singan-tf sample models/balloons --scale-from 1 --scale-h 2    # wide, with the original's layout
    singan-tf sample models/balloons --noise-scale 1.5             # more varied than the trained model
    singan-tf sample models/balloons --height 200 --width 400 --out wide/
    """
    from singan_tf.api import load
    from singan_tf.sample_files import save_samples

    images = load(model_dir, note).sample(num, seed, scale_from, height, width, scale_h, scale_v, noise_scale)
    if out_dir is None:
        out_dir = default_out_dir(model_dir, scale_from, noise_scale, height, width, scale_h, scale_v)
    paths = save_samples(images, seed, out_dir)
    click.echo(f"wrote {len(paths) - 1} samples and {paths[-1]}")
