"""Shared fixtures: the bundled demo image, the official images when ../shared is present, and one
tiny trained model reused by every test that only needs *a* model (training is the slow part)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEMO_IMAGE = ROOT / "assets" / "balloons.png"
SHARED_IMAGES = ROOT.parent / "shared" / "images"
TINY_SEED = 7


# `make test` hands whole files to two xdist workers in collection order (--no-loadscope-reorder),
# and a run lasts until its last file ends: so the longest files go first and the many short ones
# fill the gaps at the end. Longest first, as measured in CI; the files not named follow in their
# usual order. A stale list costs minutes, never a result.
LONGEST_FILES = (
    "test_train_many.py", "test_training.py", "test_cli.py", "test_applications.py", "test_checkpoints.py",
    "test_app.py", "test_speed_invariants.py", "test_app_browser.py", "test_export.py", "test_notebooks.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def model_weights(model_dir: Path) -> list:
    """Every weight of every saved scale (generators and critics, BatchNorm statistics included), in
    one order, for comparing two runs array by array."""
    from singan_tf import model_store

    manifest = model_store.read_manifest(model_dir)
    out = []
    for n, (c, size) in enumerate(zip(manifest["channels"], manifest["scale_sizes"])):
        for kind in (model_store.Generator, model_store.Discriminator):
            out += model_store.load_network(model_dir, n, kind, c, tuple(size)).get_weights()
    return out


@pytest.fixture(autouse=True)
def _onednn_limit_stays_the_suites():
    """`--mixed-precision` sets ONEDNN_MAX_CPU_ISA on CPUs with AMX; a test that trains with it must not
    pass that limit on to the processes later tests start (their kernels would differ)."""
    before = os.environ.get("ONEDNN_MAX_CPU_ISA")
    yield
    if before is None:
        os.environ.pop("ONEDNN_MAX_CPU_ISA", None)
    else:
        os.environ["ONEDNN_MAX_CPU_ISA"] = before


@pytest.fixture(scope="session")
def demo_image() -> Path:
    return DEMO_IMAGE


@pytest.fixture(scope="session")
def shared_images() -> Path:
    """The official SinGAN sample images; CI has them beside the clone, a user's clone may not."""
    if not SHARED_IMAGES.is_dir():
        pytest.skip("../shared/images is not present (it is in CI)")
    return SHARED_IMAGES


def trained_once(tmp_path_factory: pytest.TempPathFactory, name: str, train: Callable[[Path], None]) -> Path:
    """A model every test process of this pytest run shares: session fixtures run once per xdist
    worker, and training is the slow part, so the first worker trains into the run's common temp
    folder while the others wait on a lock and then read the same files."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # pytest-N/, above every worker's popen-gwK/
    model_dir, done = root / "shared-models" / name / "balloons", root / "shared-models" / f"{name}.done"
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(root / "shared-models" / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            train(model_dir)
            done.touch()
    return model_dir


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-scale model of the demo image (24x32 finest) with the `tiny` preset. Read-only: copy it
    (shutil.copytree) before changing anything in it."""
    from singan_tf.config import preset
    from singan_tf.fit import fit

    return trained_once(tmp_path_factory, "tiny_model",
                        lambda out: fit(DEMO_IMAGE, out, preset("tiny"), seed=TINY_SEED, progress=False))


@pytest.fixture(scope="session")
def deep_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 scales (14x19, 19x25, 24x32) of the demo image, so injection scales 1 and 2 can be compared.
    Read-only like `tiny_model`.

    With the paper's fixed z*: after 30 iterations the official re-drawn z* leaves G_0's
    reconstruction so rough that G_1 and G_2 still rewrite whatever they are given (measured: an
    injection at scale 1 ends farther from its input than a random sample), which hides what the
    injection tests look at. Trained longer, both variants behave alike."""
    from singan_tf.config import preset
    from singan_tf.fit import fit

    config = preset("tiny", niter=30, min_size=14, fixed_z_star=True)
    return trained_once(tmp_path_factory, "deep_model", lambda out: fit(DEMO_IMAGE, out, config, seed=3, progress=False))
