"""`singan-tf edit`: make a rough edit of the training image look natural."""

from __future__ import annotations

from pathlib import Path

import click

from singan_tf.cli.harmonize import default_mask, injection_options, mask_option, note


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
    from singan_tf.applications.harmonize import write_masked_injection
    from singan_tf.applications.masks import EDITING_RADIUS

    out_dir = out_dir or model_dir / "edit" / edited_image.stem
    paths = write_masked_injection(model_dir, edited_image, mask or default_mask(edited_image), out_dir,
                                   EDITING_RADIUS, injection_scale, seed, keep_unmasked=True, note=note)
    click.echo(f"wrote {len(paths)} files to {out_dir}")
