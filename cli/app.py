"""`singan-tf app`: the local web app (Gradio) for training, sampling and the applications."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("app")
@click.option("--models", "models", type=click.Path(file_okay=False, path_type=Path), default=Path("models"),
              show_default=True, help="The models folder: where the app trains to and what it serves.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback lets other machines use this one's models.")
@click.option("--port", type=click.IntRange(1, 65535), default=7860, show_default=True, help="Port to listen on.")
def command(models: Path, host: str, port: int) -> None:
    """Open the web app: train, sample, harmonize / edit, paint and export in the browser.

    \b
    pip install ".[app]"      # Gradio, once
    singan-tf app             # then open http://127.0.0.1:7860
    singan-tf app --models ~/singan-models --port 8080
    """
    from singan_tf.app.server import is_loopback, serve

    if not is_loopback(host):
        click.echo(f"warning: listening on {host}: anyone who can reach it can train and read the models in {models}",
                   err=True)
    click.echo(f"singan-tf app on http://{host}:{port} with the models in {models} (Ctrl-C stops it)")
    serve(models, host, port)
