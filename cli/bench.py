"""`singan-tf bench`: seconds per training iteration against the machine's own limit."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import click

from singan_tf.cli.options import config_options, config_overrides


def _scales(_ctx, _param, value: str | None) -> list[int] | str | None:
    if value is None or value == "all":
        return value
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated scale numbers like 6,7,8, got {value!r}") from None


@click.command("bench")
@click.argument("image", type=click.Path(path_type=Path))
@functools.partial(config_options, iters_alias=False, default_preset="paper")
@click.option("--scales", callback=_scales, default=None,
              help="Comma-separated scales of IMAGE's plan to time, or `all` (then the whole run's time is "
                   "estimated too) [default: the three finest].")
@click.option("--iters", type=click.IntRange(1), default=3, show_default=True,
              help="Timed iterations per scale (after one warm-up call that includes compilation).")
@click.option("--sampling/--no-sampling", default=True, show_default=True, help="Also time the sampler.")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None, help="Write the full report here.")
def command(image: Path, preset: str, scales: list[int] | str | None, iters: int, sampling: bool,
            json_path: Path | None, **settings) -> None:
    """Time training iterations at some scales of IMAGE, and the sampler, on this machine.

    Nothing is trained for real: each scale's coarser pyramid has random weights (same cost).
    Takes `train`'s preset and setting flags, so any training mode can be timed (`--niter` sets the
    training iterations the whole-run estimate uses; `--iters` is how many are timed). Prints a
    Markdown table. The paper preset's scales 6,7,8 take about 4 minutes on 2 cores
    (scale 8: ~30 s to build, then ~13 s per iteration).

    \b
    singan-tf bench assets/balloons.png --scales 6,7,8 --iters 3 --json bench.json
    singan-tf bench photo.jpg --preset quick --no-sampling
    singan-tf bench assets/balloons.png --scales all --crop-size 96 --iters 3
    """
    from singan_tf.bench.timing import markdown_table, run_benchmark
    from singan_tf.config import preset as make_config
    from singan_tf.model_store import write_json_atomic

    config = make_config(preset, **config_overrides(settings))
    if config.mixed_precision:
        from singan_tf.precision import start_mixed_precision

        click.echo(start_mixed_precision(config), err=True)  # before the first oneDNN operation: see precision.py
    report = run_benchmark(image, config, scales, iters, sampling, log=lambda line: click.echo(line, err=True))
    if json_path is not None:
        write_json_atomic(json_path, report)
    click.echo(markdown_table(report))
