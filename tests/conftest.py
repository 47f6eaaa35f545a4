"""Shared fixtures: the bundled demo image, the official images when ../shared is present, and one
tiny trained model reused by every test that only needs *a* model (training is the slow part)."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEMO_IMAGE = ROOT / "assets" / "balloons.png"
SHARED_IMAGES = ROOT.parent / "shared" / "images"
TINY_SEED = 7


@pytest.fixture(scope="session")
def demo_image() -> Path:
    return DEMO_IMAGE


@pytest.fixture(scope="session")
def shared_images() -> Path:
    """The official SinGAN sample images; CI has them beside the clone, a user's clone may not."""
    if not SHARED_IMAGES.is_dir():
        pytest.skip("../shared/images is not present (it is in CI)")
    return SHARED_IMAGES


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-scale model of the demo image (24x32 finest) with the `tiny` preset. Read-only: copy it
    (shutil.copytree) before changing anything in it."""
    from singan_tf.config import preset
    from singan_tf.fit import fit

    model_dir = tmp_path_factory.mktemp("tiny_model") / "balloons"
    fit(DEMO_IMAGE, model_dir, preset("tiny"), seed=TINY_SEED, progress=False)
    return model_dir
