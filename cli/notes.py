"""How the commands print notes (an input resized, a model still in training): one line on stderr,
so they never mix with what a command writes to stdout."""

from __future__ import annotations

import click


def note(message: str) -> None:
    click.echo(message, err=True)
