"""`singan-tf harmonize`: blend a naively pasted object into the training image's look.

Also declares the options the injection commands (harmonize, edit, paint) share.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import click

from singan_tf.cli.notes import note


def injection_options(function: Callable) -> Callable:
    """--injection-scale, --seed and --out, as harmonize, edit and paint take them."""
    function = click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
                            help="Output folder [default: MODEL_DIR/<command>/<image name>].")(function)
    function = click.option("--seed", type=click.IntRange(0, 2**62), default=0, show_default=True,
                            help="Seed of the noise added from the injection scale up.")(function)
    return click.option(
        "--injection-scale", type=click.IntRange(0), default=None,
        help="Scale (1..N-1) at which the image replaces the coarser scales' output: higher keeps more of it, "
             "lower re-draws more [default: every scale, side by side in grid.png].",
    )(function)


def mask_option(function: Callable) -> Callable:
    return click.option(
        "--mask", type=click.Path(path_type=Path), default=None,
        help="Mask image, any mode (channel 0 is used, non-zero = inside) [default: <image stem>_mask<ext> "
             "beside the image, the official naming].",
    )(function)


@click.command("harmonize")
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.argument("naive_image", type=click.Path(path_type=Path))
@mask_option
@injection_options
def command(model_dir: Path, naive_image: Path, mask: Path | None, injection_scale: int | None, seed: int,
            out_dir: Path | None) -> None:
    """Harmonize NAIVE_IMAGE (an object pasted into the training image of MODEL_DIR) inside its mask.

    \b
    singan-tf harmonize models/starry_night starry_night_naive.png             # every scale
    singan-tf harmonize models/starry_night naive.png --mask m.png --injection-scale 6
    """
    from singan_tf.api import load

    out_dir = out_dir or model_dir / "harmonize" / naive_image.stem
    paths = load(model_dir, note).harmonize(naive_image, mask, injection_scale, seed).save(out_dir)
    click.echo(f"wrote {len(paths)} files to {out_dir}")
