"""Connecting to Ray: an optional extra, a private local instance by default, nothing sent anywhere.

Imported only by the code that schedules work, so every other command runs without Ray installed.
"""

from __future__ import annotations

import contextlib
import os
from types import ModuleType
from typing import Iterator

from singan_tf.errors import SinganError

INSTALL_HINT = 'train-many needs Ray: pip install "singan-tf[cluster]"'
# The local instance only carries task arguments and results of a few hundred bytes.
LOCAL_OBJECT_STORE_BYTES = 100 * 2**20


def import_ray() -> ModuleType:
    try:
        import ray
    except ImportError:
        raise SinganError(INSTALL_HINT) from None
    return ray


@contextlib.contextmanager
def ray_session(address: str | None) -> Iterator[ModuleType]:
    """Ray, connected: to the cluster at `address`, else to a new instance on this machine that
    ends with the block (on Ctrl-C too, so no Ray process outlives the command). A process that
    already called ray.init() (a notebook, a test) keeps its connection.

    Usage statistics stay off, and the local instance starts no dashboard: nothing leaves the
    machine, and Ray's own chatter stays out of the command's output."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    quiet = {"log_to_driver": False, "logging_level": "error"}
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(address="local", include_dashboard=False, object_store_memory=LOCAL_OBJECT_STORE_BYTES, **quiet)
    except (ConnectionError, ValueError, RuntimeError) as err:
        raise SinganError(f"cannot connect to Ray at {address or 'a new local instance'}: "
                          f"{str(err).splitlines()[0] if str(err) else type(err).__name__}") from None
    try:
        yield ray
    finally:
        ray.shutdown()
