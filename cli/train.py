"""`singan-tf train`: fit a pyramid to one image, resumably, and show what it learned."""

from __future__ import annotations

from pathlib import Path

import click

from singan_tf.checkpoint import CHECKPOINT_MINUTES
from singan_tf.cli.options import config_options, config_overrides


def _kept(model_dir: Path) -> str:
    """What an interrupted run leaves in MODEL_DIR, from its manifest."""
    from singan_tf.model_store import MANIFEST, read_manifest

    if not (model_dir / MANIFEST).exists():
        return "nothing was trained yet"
    manifest = read_manifest(model_dir)
    done = manifest["completed_scales"]
    kept = f"{done} finished scale{' is' if done == 1 else 's are'} saved in {model_dir}"
    running = manifest.get("in_progress")
    if running:
        kept += f", and scale {running['scale']} up to iteration {running['iterations_done']}"
    return kept


@click.command("train")
@click.argument("image", type=click.Path(path_type=Path))
@click.option("--out", "model_dir", type=click.Path(path_type=Path), default=None,
              help="Model folder [default: models/<image name>].")
@config_options
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), default=None,
              help="Makes the run repeatable [default: random, recorded in the manifest].")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted run in --out from its last checkpoint (or its last finished scale): "
                   "the same model an uninterrupted run gives.")
@click.option("--checkpoint-minutes", type=click.FloatRange(0), default=CHECKPOINT_MINUTES, show_default=True,
              help="Checkpoint the scale in training every this many minutes of wall time, so an interruption "
                   "loses at most that much (0 = only finished scales are kept).")
@click.option("--tensorboard", type=click.Path(path_type=Path), default=None, help="Write TensorBoard logs here.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def command(image: Path, model_dir: Path | None, preset: str, seed: int | None, resume: bool,
            checkpoint_minutes: float, tensorboard: Path | None, quiet: bool, **settings) -> None:
    """Train a SinGAN on IMAGE, coarse to fine, saving each scale as soon as it is finished.

    \b
    singan-tf train balloons.png --preset quick --seed 0
    singan-tf train photo.jpg --preset paper   # the official code's settings: hours on a CPU
    singan-tf train photo.jpg --out models/photo --iters 1000 --max-size 200
    singan-tf train photo.jpg --out models/photo --resume     # after Ctrl-C, a crash or a reboot
    """
    from singan_tf.api import train
    from singan_tf.train_image import SAMPLES

    model_dir = model_dir or Path("models") / image.stem
    try:
        model = train(image, model_dir, preset, seed, resume, not quiet, checkpoint_minutes, tensorboard,
                      **config_overrides(settings))
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: {_kept(model_dir)}; continue with "
                   f"`singan-tf train {image} --out {model_dir} --resume`", err=True)
        raise SystemExit(130)
    click.echo(f"trained {model.num_scales} scales in {model_dir} (seed {model.manifest['seed']}); "
               f"samples: {model_dir / SAMPLES / 'grid.png'}")
