"""Connecting to Ray: an optional extra, a private local instance by default, nothing sent anywhere.

Imported only by the code that schedules work, so every other command runs without Ray installed.
"""

from __future__ import annotations

import contextlib
import os
from types import ModuleType
from typing import Any, Iterator

from singan_tf.errors import SinganError

INSTALL_HINT = 'train-many needs Ray: pip install "singan-tf[cluster]"'
# The local instance only carries task arguments and results of a few hundred bytes.
LOCAL_OBJECT_STORE_BYTES = 100 * 2**20
LOCAL_START_ATTEMPTS = 2
# The command reports progress and errors itself; Ray's log lines and worker output stay in its log files.
QUIET = {"log_to_driver": False, "logging_level": "error"}


def import_ray() -> ModuleType:
    """Ray, with its usage statistics off unless the user turned them on: nothing leaves the machine."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError:
        raise SinganError(INSTALL_HINT) from None
    return ray


def start_local_ray(**options: Any) -> None:
    """A new Ray instance on this machine, quiet and offline (no dashboard, no usage statistics).

    Ray's raylet gives its agent processes a fixed time to start (ray-project/ray#65983), which a
    machine busy with other work can exceed; a failed start is cleaned up and tried once more."""
    ray = import_ray()
    for attempt in range(LOCAL_START_ATTEMPTS):
        try:
            ray.init(address="local", include_dashboard=False, object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                     **QUIET, **options)
            return
        except Exception:  # noqa: BLE001 - Ray raises bare Exceptions for a node that starts too slowly
            ray.shutdown()
            if attempt == LOCAL_START_ATTEMPTS - 1:
                raise


@contextlib.contextmanager
def ray_session(address: str | None) -> Iterator[ModuleType]:
    """Ray, connected: to the cluster at `address`, else to a new instance on this machine that
    ends with the block (on Ctrl-C too, so no Ray process outlives the command). A process that
    already called ray.init() (a notebook, a test) keeps its connection."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    try:
        if address:
            ray.init(address=address, **QUIET)
        else:
            start_local_ray()
    except Exception as err:  # noqa: BLE001 - as above; whatever it is, it is one line for the user
        lines = str(err).strip().splitlines()
        raise SinganError(f"cannot start or reach Ray ({address or 'new local instance'}): "
                          f"{lines[0] if lines else type(err).__name__}") from None
    try:
        yield ray
    finally:
        ray.shutdown()
