"""`singan-tf serve`: TF Serving's gRPC API on an export, for machines without tensorflow_model_server."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click


@click.command("serve")
@click.argument("export_base", type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on; 0.0.0.0 exposes it to the network (no TLS, no authentication).")
@click.option("--port", type=click.IntRange(0, 65535), default=8500, show_default=True,
              help="gRPC port (TF Serving's default; 0 = any free port).")
@click.option("--workers", type=click.IntRange(1, 64), default=4, show_default=True, help="Requests run at once.")
@click.option("--max-concurrent-rpcs", type=click.IntRange(1, 1024), default=32, show_default=True,
              help="Requests accepted at once (running + waiting); more get RESOURCE_EXHAUSTED.")
def command(export_base: Path, host: str, port: int, workers: int, max_concurrent_rpcs: int) -> None:
    """Serve the newest version of every model in EXPORT_BASE (the `export --out` folder) until
    SIGTERM or Ctrl-C, answering PredictionService and ModelService like TF Serving.

    \b
    singan-tf serve exports --port 8500
    singan-tf client --target 127.0.0.1:8500 --height 200 --width 300 --seed 1 --out x.png
    """
    from singan_tf.serving.server import ModelServer

    server = ModelServer(export_base, host, port, workers, max_concurrent_rpcs)
    port = server.start()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    models = ", ".join(f"{s.name} v{s.version}" for s in server.servables.values())
    click.echo(f"serving {models} on {host}:{port} (gRPC)")
    while not stop.wait(0.5):
        pass
    server.stop()
    click.echo("stopped")
