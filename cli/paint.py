"""`singan-tf paint`: turn a rough painting into an image with the training image's texture."""

from __future__ import annotations

from pathlib import Path

import click

from singan_tf.cli.harmonize import injection_options
from singan_tf.cli.notes import note


@click.command("paint")
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.argument("painting", type=click.Path(path_type=Path))
@injection_options
@click.option("--quantize", is_flag=True,
              help="Map the painting to the training image's 5 main colours and re-train the injection scale "
                   "on such inputs (official quantization; costs one scale's training per injection scale).")
@click.option("--iters", type=click.IntRange(1), default=None,
              help="Iterations of the --quantize re-training [default: the model's niter].")
@click.option("--quiet", is_flag=True, help="No progress bar while re-training.")
def command(model_dir: Path, painting: Path, injection_scale: int | None, seed: int, out_dir: Path | None,
            quantize: bool, iters: int | None, quiet: bool) -> None:
    """Inject PAINTING (a clip-art version of the training image of MODEL_DIR) and render it.

    \b
    singan-tf paint models/trees3 trees1.png                         # every scale
    singan-tf paint models/trees3 trees1.png --injection-scale 4 --quantize
    """
    from singan_tf.api import load

    out_dir = out_dir or model_dir / "paint" / (painting.stem + ("_quantized" if quantize else ""))
    result = load(model_dir, note).paint(painting, injection_scale, seed, quantize, iters, progress=not quiet)
    paths = result.save(out_dir)
    click.echo(f"wrote {len(paths)} files to {out_dir}")
