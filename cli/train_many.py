"""`singan-tf train-many`: one model per image for a whole folder of images, on this machine or a
Ray cluster, resumable, with a summary of what worked and what did not."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

import click

from singan_tf.cli.options import config_options, config_overrides
from singan_tf.many.inputs import IMAGE_SUFFIXES


HELP = f"""Train one SinGAN per image of INPUTS (image files, and folders whose {' '.join(IMAGE_SUFFIXES)} files
are taken, sorted, not recursing), each exactly as `singan-tf train` would, as Ray tasks side by side.

\b
Models go to BASE/<image name>; a name already taken gets -2, -3, ... in input order.
Re-running the same command skips finished models and resumes interrupted ones.
Needs Ray: pip install "singan-tf[cluster]".

\b
singan-tf train-many images/ --out models/batch --preset quick --seed 0
singan-tf train-many a.png b.jpg --out models/ab --cpus-per-image 2
singan-tf train-many /shared/images --out /shared/models --address head-node:6379 --gpus-per-image 0.5
"""


@click.command("train-many", help=HELP)
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "base", type=click.Path(path_type=Path), required=True,
              help="Base folder: each image's model goes to BASE/<image name>, the summary to BASE/train-many.json.")
@config_options
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), default=None,
              help="Makes the run repeatable: image NAME gets seed sha256('SEED/NAME') mod 2**31 (first 8 bytes, "
                   "big-endian) [default: random per image, recorded in its manifest].")
@click.option("--address", envvar="RAY_ADDRESS", default=None,
              help="Ray cluster to run on, e.g. HOST:6379; $RAY_ADDRESS (set in Ray jobs) if not given "
                   "[default: a new Ray instance on this machine].")
@click.option("--cpus-per-image", type=click.IntRange(1), default=1, show_default=True,
              help="CPUs per task; TensorFlow in the task uses this many threads.")
@click.option("--gpus-per-image", type=click.FloatRange(0), default=0, show_default=True,
              help="GPUs per task; fractions share a GPU between tasks.")
@click.option("--max-retries", type=click.IntRange(0), default=2, show_default=True,
              help="Re-runs of an image whose worker or node died (each resumes from its last checkpoint); "
                   "errors in the image or settings are not retried.")
@click.option("--quiet", is_flag=True, help="No progress lines or bar; only renamings and the summary.")
def command(inputs: tuple[Path, ...], base: Path, preset: str, seed: int | None, address: str | None,
            cpus_per_image: int, gpus_per_image: float, max_retries: int, quiet: bool, **settings) -> None:
    from singan_tf.config import preset as make_config
    from singan_tf.errors import SinganError
    from singan_tf.many.batch import BatchSettings, train_batch
    from singan_tf.many.inputs import collect_images, name_jobs
    from singan_tf.many.progress import ProgressDisplay
    from singan_tf.many.report import ImageRow, failures, summary_table, write_summary
    from singan_tf.many.ray_session import import_ray

    started = datetime.datetime.now(datetime.timezone.utc)
    overrides = config_overrides(settings)
    make_config(preset, **overrides)  # wrong settings fail once, up front, not once per image
    import_ray()
    jobs = name_jobs(collect_images(inputs))
    batch = BatchSettings(base, preset, overrides, seed, cpus_per_image, gpus_per_image, max_retries, address)
    rows = [ImageRow(str(job.image), str(base / job.name)) for job in jobs]
    for job in jobs:
        if job.renamed:
            click.echo(f"{job.image} -> {base / job.name} (the name {job.image.stem} is taken by an earlier input)")
    base.mkdir(parents=True, exist_ok=True)
    display = ProgressDisplay(rows, enabled=not quiet, terminal=sys.stdout.isatty())
    try:
        train_batch(jobs, rows, batch, display)
    except KeyboardInterrupt:
        display.close()
        click.echo(f"\ninterrupted: finished scales are saved under {base}; run the same command again to continue "
                   f"(finished models are skipped, interrupted ones resume)", err=True)
        raise SystemExit(130)
    finally:
        display.close()
    click.echo(summary_table(rows))
    summary = write_summary(base, rows, {
        "inputs": [str(p) for p in inputs], "out": str(base), "preset": preset,
        "overrides": {k: v for k, v in overrides.items() if v is not None}, "seed": seed, "address": address,
        "cpus_per_image": cpus_per_image, "gpus_per_image": gpus_per_image, "max_retries": max_retries,
    }, started)
    click.echo(f"summary: {summary}")
    if failures(rows):
        raise SinganError(f"{failures(rows)} of {len(rows)} images failed")
