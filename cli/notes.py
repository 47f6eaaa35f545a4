"""Notes that several commands print to stderr before they work, declared once."""

from __future__ import annotations

from pathlib import Path

import click


def note_if_unfinished(model_dir: Path) -> None:
    """A model still in training (or interrupted) works with its finished scales only: say so, since
    its outputs are smaller and rougher than the finished model's will be."""
    from singan_tf.model_store import MANIFEST, read_manifest, unfinished_note

    if (Path(model_dir) / MANIFEST).exists():
        note = unfinished_note(model_dir, read_manifest(model_dir))
        if note:
            click.echo(note, err=True)
