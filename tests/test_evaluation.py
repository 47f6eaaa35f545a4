"""`singan-tf eval` on the tiny model: the report, its repeatability, SIFID plumbing, user errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from singan_tf.cli.main import cli


def _eval(*args: str):
    return CliRunner().invoke(cli, ["eval", *map(str, args)])


@pytest.fixture(scope="module")
def report(tiny_model) -> dict:
    result = _eval(tiny_model, "--num", "6", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_report_without_inception_weights(report, tiny_model):
    from singan_tf.metrics import rmse
    from singan_tf.model_store import load_pyramid, load_tensors

    assert report["num_samples"] == 6 and report["image_size"] == [24, 32] and report["noise_scale"] == 1.0
    assert 0.05 < report["diversity"] < 3.0
    assert report["patch_swd"]["mean"] > 0 and report["coherence"] > 0 and report["completeness"] > 0
    assert report["sifid"] is None
    assert "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5" in report["sifid_note"]
    pyramid = load_pyramid(tiny_model)
    real = load_tensors(tiny_model, pyramid.num_scales - 1)["real"][0]
    assert report["reconstruction_rmse"] == pytest.approx(rmse(pyramid.reconstruct()[0], real), rel=1e-6)


def test_same_seed_same_numbers_other_seed_other_samples(report, tiny_model):
    again = json.loads(_eval(tiny_model, "--num", "6", "--json").output)
    other = json.loads(_eval(tiny_model, "--num", "6", "--seed", "100", "--json").output)
    for key in ("diversity", "coherence", "completeness"):
        assert again[key] == report[key]
        assert other[key] != report[key]


def test_keeping_the_coarsest_scale_reduces_diversity(report, tiny_model):
    """--scale-from 1 fixes the layout (scale 0 uses z*), so samples vary less (the paper's 0.5 vs 0.35)."""
    fixed = json.loads(_eval(tiny_model, "--num", "6", "--scale-from", "1", "--json").output)
    assert fixed["diversity"] < report["diversity"]


def test_noise_scale_is_reported_and_zero_gives_identical_samples(tiny_model):
    quiet = json.loads(_eval(tiny_model, "--num", "2", "--noise-scale", "0", "--json").output)
    assert quiet["noise_scale"] == 0 and quiet["diversity"] == 0
    result = _eval(tiny_model, "--num", "2", "--noise-scale", "9")
    assert result.exit_code == 2 and "noise_scale 9 is outside 0..4" in result.output


def test_text_report_names_every_metric(tiny_model):
    result = _eval(tiny_model, "--num", "2")
    assert result.exit_code == 0, result.output
    for name in ("diversity", "patch SWD", "coherence", "completeness", "reconstruction RMSE", "SIFID"):
        assert name in result.output


def test_sifid_with_a_weights_file(tiny_model, tmp_path):
    """Real ImageNet weights cannot be downloaded here; a randomly initialised file exercises the same
    loading and feature path, and an image compared with itself must score 0 with any weights."""
    import keras

    from singan_tf.evaluation import as_saved, sifid_features
    from singan_tf.metrics import sifid
    from singan_tf.model_store import load_tensors

    weights = tmp_path / "inception.weights.h5"
    keras.applications.InceptionV3(include_top=False, weights=None).save_weights(str(weights))
    extract = sifid_features(weights)
    real = as_saved(load_tensors(tiny_model, 1)["real"])
    features = np.asarray(extract(real))
    assert features.shape == (1, 9, 13, 64)  # valid 3x3 stride 2, valid 3x3, same 3x3 on 24x32
    assert features.min() >= 0.0  # taken after the ReLU
    assert sifid(features[0], [features[0]]) == pytest.approx(0.0, abs=1e-6)

    result = _eval(tiny_model, "--num", "2", "--json", "--inception-weights", weights)
    assert result.exit_code == 0, result.output
    scored = json.loads(result.output)
    assert scored["sifid"] > 0 and "sifid_note" not in scored


@pytest.mark.parametrize(
    "args, message",
    [
        (["--inception-weights", "missing.h5"], "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"),
        (["--scale-from", "5"], "scale_from 5 is outside 0..1"),
        (["--num", "1"], "--num"),
    ],
)
def test_user_errors_are_one_line(tiny_model, args, message):
    result = _eval(tiny_model, *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_unreadable_weights_file(tiny_model, tmp_path):
    bad = tmp_path / "weights.h5"
    bad.write_text("not hdf5")
    result = _eval(tiny_model, "--num", "2", "--inception-weights", bad)
    assert result.exit_code == 2
    assert "cannot load InceptionV3 weights" in result.output


def test_not_a_model_folder(tmp_path):
    result = _eval(tmp_path)
    assert result.exit_code == 2
    assert "not a singan-tf model folder" in result.output
