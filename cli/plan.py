"""`singan-tf plan`: what training an image would involve, before spending hours on it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from singan_tf.cli.options import config_options, config_overrides


@click.command("plan")
@click.argument("image", type=click.Path(path_type=Path))
@config_options
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def command(image: Path, preset: str, as_json: bool, **settings) -> None:
    """Show the scale pyramid IMAGE would be trained on: sizes, channels, parameters, cost.

    \b
    singan-tf plan balloons.png
    singan-tf plan photo.jpg --max-size 400 --json
    """
    from singan_tf.config import preset as make_config
    from singan_tf.cost import describe_plan
    from singan_tf.image_io import load_image

    config = make_config(preset, **config_overrides(settings))
    report = describe_plan(load_image(image).shape[:2], config)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(
        f"{image}: {report['source_size'][0]}x{report['source_size'][1]} -> {report['num_scales']} scales, "
        f"fitted scale factor {report['scale_factor']:.4f}"
    )
    click.echo(f"{'scale':>5} {'size (HxW)':>11} {'channels':>8} {'G params':>9} {'D params':>9} {'GFLOP/iter':>10} "
               f"{'iters':>6}")
    for s in report["scales"]:
        click.echo(
            f"{s['scale']:>5} {s['height']:>5}x{s['width']:<5} {s['channels']:>8} {s['generator_params']:>9,} "
            f"{s['discriminator_params']:>9,} {s['gflop_per_iter']:>10.1f} {s['niter']:>6}"
        )
    click.echo(
        f"total: {report['total_tflop']:.1f} TFLOP for {sum(s['niter'] for s in report['scales'])} iterations "
        f"(about {report['hours_at_100_gflops']:.1f} h at 100 GFLOP/s, a 2-core CPU; minutes on a GPU)"
    )
