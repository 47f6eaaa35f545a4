"""`singan-tf export`: a trained model as one SavedModel for TF Serving and other TF code, plus TFLite."""

from __future__ import annotations

from pathlib import Path

import click

from singan_tf.cli.notes import note


@click.command("export")
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.option("--out", "export_base", type=click.Path(path_type=Path), required=True,
              help="Export base folder; the SavedModel goes to OUT/NAME/VERSION/ (TF Serving's layout).")
@click.option("--name", default="singan", show_default=True, help="Model name (the folder, and what clients ask for).")
@click.option("--version", type=click.IntRange(1), default=None,
              help="Version number [default: one more than the newest in OUT/NAME].")
@click.option("--tflite", is_flag=True, help="Also write OUT/NAME/VERSION.tflite (builtin ops only).")
def command(model_dir: Path, export_base: Path, name: str, version: int | None, tflite: bool) -> None:
    """Export the model in MODEL_DIR: signature serving_default(height, width, seed, scale_from) -> image.

    \b
    singan-tf export models/balloons --out exports              # -> exports/singan/1/
    singan-tf export models/balloons --out exports --tflite     # + exports/singan/1.tflite
    singan-tf serve exports                                     # gRPC on 127.0.0.1:8500
    """
    from singan_tf.api import load
    from singan_tf.export.tflite import tflite_path

    version_dir = load(model_dir, note).export(export_base, name, version, tflite)
    click.echo(f"wrote {version_dir}")
    if tflite:
        click.echo(f"wrote {tflite_path(version_dir)}")
