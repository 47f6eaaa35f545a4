"""`singan-tf edit`: make a rough edit of the training image look natural."""

from __future__ import annotations

from pathlib import Path

import click

from singan_tf.cli.harmonize import injection_options, mask_option
from singan_tf.cli.notes import note


@click.command("edit")
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.argument("edited_image", type=click.Path(path_type=Path))
@mask_option
@injection_options
def command(model_dir: Path, edited_image: Path, mask: Path | None, injection_scale: int | None, seed: int,
            out_dir: Path | None) -> None:
    """Re-draw EDITED_IMAGE (the training image of MODEL_DIR, edited by hand) inside its mask.

    Writes the generator's output (start_scale=N.png) and the result blended into the training image
    through the mask grown by 20 px (start_scale=N_masked.png).

    \b
    singan-tf edit models/stone stone_edit.png                    # every scale
    singan-tf edit models/stone stone_edit.png --injection-scale 2 --seed 3
    """
    from singan_tf.api import load

    out_dir = out_dir or model_dir / "edit" / edited_image.stem
    paths = load(model_dir, note).edit(edited_image, mask, injection_scale, seed).save(out_dir)
    click.echo(f"wrote {len(paths)} files to {out_dir}")
