"""`singan-tf train`: fit a pyramid to one image, resumably, and show what it learned."""

from __future__ import annotations

from pathlib import Path

import click

from singan_tf.cli.options import config_options, config_overrides


@click.command("train")
@click.argument("image", type=click.Path(path_type=Path))
@click.option("--out", "model_dir", type=click.Path(path_type=Path), default=None,
              help="Model folder [default: models/<image name>].")
@config_options
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), default=None,
              help="Makes the run repeatable [default: random, recorded in the manifest].")
@click.option("--resume", is_flag=True, help="Continue an interrupted run in --out from its last finished scale.")
@click.option("--tensorboard", type=click.Path(path_type=Path), default=None, help="Write TensorBoard logs here.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def command(image: Path, model_dir: Path | None, preset: str, seed: int | None, resume: bool,
            tensorboard: Path | None, quiet: bool, **settings) -> None:
    """Train a SinGAN on IMAGE, coarse to fine, saving each scale as soon as it is finished.

    \b
    singan-tf train balloons.png --preset quick --seed 0
    singan-tf train photo.jpg --out models/photo --iters 1000 --max-size 200
    singan-tf train photo.jpg --out models/photo --resume     # after Ctrl-C
    """
    from singan_tf.train_image import train_image

    model_dir = model_dir or Path("models") / image.stem
    try:
        manifest, grid = train_image(image, model_dir, preset, config_overrides(settings), seed=seed, resume=resume,
                                     progress=not quiet, tensorboard=tensorboard)
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: finished scales are saved in {model_dir}; continue with "
                   f"`singan-tf train {image} --out {model_dir} --resume`", err=True)
        raise SystemExit(130)
    click.echo(f"trained {manifest['completed_scales']} scales in {model_dir} (seed {manifest['seed']}); samples: {grid}")
