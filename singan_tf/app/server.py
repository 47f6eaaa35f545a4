"""Starting the web app: loopback by default, nothing shared, nothing fetched, only the models
folder (and the bundled image) served."""

from __future__ import annotations

import ipaddress
import os
import warnings
from pathlib import Path
from typing import Any

from singan_tf.errors import SinganError

MAX_UPLOAD = "50mb"


def is_loopback(host: str) -> bool:
    """Whether binding to `host` keeps the app on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(models: str | Path, host: str = "127.0.0.1", port: int = 7860, block: bool = True) -> Any:
    """Start the app on `models`; returns the Gradio app when `block` is False (tests)."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # read when gradio is imported
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise SinganError("the web app needs Gradio: pip install 'singan-tf[app]'") from None
    warnings.filterwarnings("ignore", module="gradio.queueing")  # pandas' notices about gradio's own use of it
    from singan_tf.app.actions import ModelShelf
    from singan_tf.app.jobs import TrainingQueue
    from singan_tf.app.ui import BUNDLED_IMAGE, CSS, build

    shelf = ModelShelf(models)
    page = build(shelf, TrainingQueue())
    page.queue(default_concurrency_limit=1)
    page.launch(
        server_name=host, server_port=port, share=False, quiet=True, prevent_thread_lock=not block,
        allowed_paths=[str(shelf.root.resolve()), str(BUNDLED_IMAGE)], max_file_size=MAX_UPLOAD,
        ssr_mode=False, mcp_server=False, pwa=False, footer_links=["api"], css=CSS, enable_monitoring=False,
    )
    return page
