"""The export: one SavedModel that every loader (TF1 session as in TF Serving, saved_model_cli, a fresh
tf.saved_model.load, TFSMLayer, tf.data) runs to the Python sampler's pixels, and its TFLite twin.

The tiny model is exported once per session, through the CLI with --tflite.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from PIL import Image

from singan_tf.cli.main import cli
from singan_tf.errors import SinganError
from singan_tf.export.saved_model import model_versions
from singan_tf.image_io import to_uint8
from singan_tf.model_store import load_pyramid
from singan_tf.sampler import Sampler

# The training size (24x32), a wide and a tall aspect ratio.
SIZES = [(24, 32), (30, 60), (50, 20)]
SEED = 5
# (height, width, scale_from, noise_scale): retargeted to another size with more noise, the training size
# from scale 1 as trained, scale 0 with less noise.
NOISE_CASES = [(30, 44, 1, 1.5), (24, 32, 1, 1.0), (50, 20, 0, 0.5)]
BIN = Path(sys.executable).parent
# TFLite tolerance, in 8-bit levels: TFLite's kernels round differently by ~1e-6, and the pyramid's
# 8-bit floor between scales turns a few of those into whole levels (see docs/deploy.md).
TFLITE_MAX_SHARE_OFF_BY_MORE_THAN_ONE = 0.01
TFLITE_MAX_MEAN_ABS = 0.1


def run(*args) -> object:
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="session")
def export_base(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("export")
    result = run("export", tiny_model, "--out", base, "--tflite")
    assert result.exit_code == 0, result.output
    return base


@pytest.fixture(scope="session")
def version_dir(export_base: Path) -> Path:
    return export_base / "singan" / "1"


@pytest.fixture(scope="session")
def sampler(tiny_model: Path) -> Sampler:
    return Sampler(load_pyramid(tiny_model))


@pytest.fixture(scope="session")
def loaded(version_dir: Path):
    return tf.saved_model.load(str(version_dir))


def expected(sampler: Sampler, height: int, width: int, seed: int = SEED, scale_from: int = 0,
             noise_scale: float = 1.0) -> np.ndarray:
    """The Python sampler's pixels, converted as `singan-tf sample` converts them."""
    return to_uint8(np.asarray(sampler(height, width, seed, scale_from, noise_scale)))


def serving_default(loaded, height: int, width: int, seed: int = SEED, scale_from: int = 0) -> np.ndarray:
    return loaded.signatures["serving_default"](
        height=tf.constant(height), width=tf.constant(width), seed=tf.constant(seed, tf.int64),
        scale_from=tf.constant(scale_from),
    )["image"].numpy()


def with_noise_scale(loaded, height: int, width: int, scale_from: int, noise_scale: float,
                     seed: int = SEED) -> np.ndarray:
    return loaded.signatures["sample_with_noise_scale"](
        height=tf.constant(height), width=tf.constant(width), seed=tf.constant(seed, tf.int64),
        scale_from=tf.constant(scale_from), noise_scale=tf.constant(noise_scale),
    )["image"].numpy()


def test_layout_is_what_tf_serving_watches(export_base: Path, version_dir: Path):
    assert (version_dir / "saved_model.pb").is_file()
    assert (version_dir / "variables" / "variables.index").is_file()
    assert (export_base / "singan" / "1.tflite").is_file()
    assert json.loads((export_base / "singan" / "1.tflite.json").read_text())["max_height"] == 96
    assert model_versions(export_base / "singan") == [1]  # the .tflite files are not versions
    assert json.loads((version_dir / "assets.extra" / "manifest.json").read_text())["completed_scales"] == 2


def test_tf1_session_loader_matches_sampler_and_asserts(version_dir: Path, sampler: Sampler):
    """The loader TF Serving uses: Keras 3 variables tracked the usual way fail exactly here."""
    cases = [(h, w, 0, 1.0) for h, w in SIZES] + NOISE_CASES
    wanted = [expected(sampler, height, width, SEED, scale_from, x) for height, width, scale_from, x in cases]
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(version_dir))

        def run_signature(height, width, scale_from, noise_scale, key="sample_with_noise_scale"):
            signature = meta_graph.signature_def[key]
            inputs = dict(height=height, width=width, seed=SEED, scale_from=scale_from, noise_scale=noise_scale)
            feeds = {tensor.name: inputs[name] for name, tensor in signature.inputs.items()}
            return session.run(signature.outputs["image"].name, feeds)

        for case, image in zip(cases, wanted):
            np.testing.assert_array_equal(run_signature(*case), image)
            if case[3] == 1.0:
                np.testing.assert_array_equal(run_signature(*case, key="serving_default"), image)
        for bad in [(0, 32, 0, 1.0), (97, 32, 0, 1.0), (24, 129, 0, 1.0), (24, 32, 2, 1.0), (30, 44, 1, -0.5),
                    (24, 32, 0, 4.5)]:
            with pytest.raises(tf.errors.InvalidArgumentError, match="assertion failed"):
                run_signature(*bad)


@pytest.mark.parametrize("height,width,scale_from,noise_scale", NOISE_CASES)
def test_saved_model_cli_run(version_dir: Path, sampler: Sampler, tmp_path: Path, height, width, scale_from,
                             noise_scale):
    """The documented command line (the TF1 loader again, from outside Python); noise scale 1 through
    serving_default, the others through sample_with_noise_scale."""
    inputs = f"height={height};width={width};seed={SEED};scale_from={scale_from}"
    key = "serving_default" if noise_scale == 1 else "sample_with_noise_scale"
    if key != "serving_default":
        inputs += f";noise_scale={noise_scale}"
    process = subprocess.run(
        [BIN / "saved_model_cli", "run", "--dir", version_dir, "--tag_set", "serve",
         "--signature_def", key, "--outdir", tmp_path, "--input_exprs", inputs],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=300,
    )
    assert process.returncode == 0, process.stderr[-2000:]
    np.testing.assert_array_equal(np.load(tmp_path / "image.npy"),
                                  expected(sampler, height, width, SEED, scale_from, noise_scale))


def test_fresh_process_load(version_dir: Path, sampler: Sampler, tmp_path: Path):
    script = (
        "import json, sys, numpy as np, tensorflow as tf\n"
        "f = tf.saved_model.load(sys.argv[1]).signatures['sample_with_noise_scale']\n"
        "seed = tf.constant(int(sys.argv[3]), tf.int64)\n"
        "out = [f(height=tf.constant(h), width=tf.constant(w), seed=seed, scale_from=tf.constant(k),"
        " noise_scale=tf.constant(float(x)))['image'].numpy() for h, w, k, x in json.loads(sys.argv[4])]\n"
        "np.savez(sys.argv[2], *out)\n"
    )
    cases = [(h, w, 0, 1.0) for h, w in SIZES] + NOISE_CASES
    out = tmp_path / "fresh.npz"
    process = subprocess.run([sys.executable, "-c", script, version_dir, out, str(SEED), json.dumps(cases)],
                             capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stderr[-2000:]
    with np.load(out) as images:
        for case, name in zip(cases, images.files):
            np.testing.assert_array_equal(images[name], expected(sampler, case[0], case[1], SEED, *case[2:]))


def test_out_of_range_requests_are_invalid_argument(loaded):
    for height, width, scale_from in [(-1, 32, 0), (24, 0, 0), (97, 32, 0), (24, 129, 0), (24, 32, -1), (24, 32, 2)]:
        with pytest.raises(tf.errors.InvalidArgumentError, match="assertion failed"):
            serving_default(loaded, height, width, SEED, scale_from)
    for noise_scale, shown in [(-0.5, "-0.5"), (4.5, "4.5"), (float("nan"), "nan")]:
        with pytest.raises(tf.errors.InvalidArgumentError, match=f"noise_scale must be in 0..4; got.*{shown}"):
            with_noise_scale(loaded, 30, 44, 1, noise_scale)


def test_other_signatures(loaded, sampler: Sampler):
    signatures = loaded.signatures
    for height, width in SIZES[:2]:
        image = signatures["sample"](height=tf.constant(height), width=tf.constant(width),
                                     seed=tf.constant(SEED, tf.int64))["image"].numpy()
        np.testing.assert_array_equal(image, expected(sampler, height, width))
    by_factor = signatures["sample_by_factor"](scale_v=tf.constant(1.5), scale_h=tf.constant(0.5),
                                               seed=tf.constant(SEED, tf.int64))["image"].numpy()
    np.testing.assert_array_equal(by_factor, expected(sampler, 36, 16))
    np.testing.assert_array_equal(signatures["reconstruct"]()["image"].numpy(),
                                  to_uint8(np.asarray(sampler.pyramid.reconstruct())))
    limits = {k: v.numpy().item() for k, v in signatures["limits"]().items()}
    assert limits == {
        "training_height": 24, "training_width": 32, "num_scales": 2,
        "min_height": sampler.min_size[0], "min_width": sampler.min_size[1],
        "max_height": sampler.max_size[0], "max_width": sampler.max_size[1], "max_noise_scale": 4.0,
    }


def test_tfsm_layer_inside_a_keras_model(version_dir: Path, sampler: Sampler):
    import keras

    inputs = {"height": keras.Input(shape=(), batch_size=1, dtype="int32", name="height"),
              "width": keras.Input(shape=(), batch_size=1, dtype="int32", name="width"),
              "seed": keras.Input(shape=(), batch_size=1, dtype="int64", name="seed")}
    image = keras.layers.TFSMLayer(str(version_dir), call_endpoint="generate")(inputs)
    model = keras.Model(inputs, keras.layers.Rescaling(1.0)(image))
    for height, width in SIZES[1:]:
        out = model({"height": np.array([height], np.int32), "width": np.array([width], np.int32),
                     "seed": np.array([SEED], np.int64)})
        np.testing.assert_array_equal(np.asarray(out).astype(np.uint8), expected(sampler, height, width))


def test_tf_data_pipeline(loaded, sampler: Sampler):
    sample = loaded.signatures["sample"]
    images = tf.data.Dataset.range(SEED, SEED + 3).map(
        lambda seed: sample(height=tf.constant(30), width=tf.constant(60), seed=seed)["image"][0]
    )
    for seed, image in zip(range(SEED, SEED + 3), images):
        np.testing.assert_array_equal(image.numpy(), expected(sampler, 30, 60, seed)[0])


@pytest.mark.parametrize("height,width,scale_from,noise_scale", NOISE_CASES)
def test_cli_sample_png_equals_the_saved_model(tiny_model: Path, loaded, tmp_path: Path, height, width, scale_from,
                                              noise_scale):
    result = run("sample", tiny_model, "--num", 1, "--seed", SEED, "--height", height, "--width", width,
                 "--scale-from", scale_from, "--noise-scale", noise_scale, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    png = np.asarray(Image.open(tmp_path / f"seed_{SEED:06d}.png").convert("RGB"))
    np.testing.assert_array_equal(png, with_noise_scale(loaded, height, width, scale_from, noise_scale)[0])
    if noise_scale == 1:
        np.testing.assert_array_equal(png, serving_default(loaded, height, width, SEED, scale_from)[0])


def test_export_cli_versions_and_errors(tiny_model: Path, export_base: Path, tmp_path: Path):
    base = tmp_path / "exports"
    result = run("export", tiny_model, "--out", base, "--name", "balloons", "--version", 3)
    assert result.exit_code == 0, result.output
    result = run("export", tiny_model, "--out", base, "--name", "balloons", "--version", 3)
    assert result.exit_code == 2 and "already exists" in result.output
    result = run("export", tmp_path / "missing", "--out", base)
    assert result.exit_code == 2 and "not a singan-tf model folder" in result.output
    result = run("export", tiny_model, "--out", base, "--name", "../x")
    assert result.exit_code == 2 and "plain folder name" in result.output
    assert model_versions(base / "balloons") == [3]
    assert [p.name for p in (base / "balloons").iterdir()] == ["3"]  # no partial folder left behind


def assert_within_tflite_tolerance(lite: np.ndarray, served: np.ndarray) -> None:
    assert lite.shape == served.shape and lite.dtype == np.uint8
    diff = np.abs(lite.astype(int) - served)
    assert (diff > 1).mean() <= TFLITE_MAX_SHARE_OFF_BY_MORE_THAN_ONE, diff.max()
    assert diff.mean() <= TFLITE_MAX_MEAN_ABS


def test_tflite_matches_within_tolerance(export_base: Path, loaded):
    pytest.importorskip("ai_edge_litert")
    from singan_tf.export.tflite import TfliteSampler

    tflite = TfliteSampler(export_base / "singan" / "1.tflite")
    assert not tflite.legacy and tflite.limits["max_noise_scale"] == 4.0
    for height, width, scale_from, noise_scale in [(h, w, 0, 1.0) for h, w in SIZES] + NOISE_CASES:
        for seed in (SEED, 2**40 + 3):
            assert_within_tflite_tolerance(tflite(height, width, seed, scale_from, noise_scale),
                                           with_noise_scale(loaded, height, width, scale_from, noise_scale, seed))
    for bad in [(0, 32, 0, 1.0), (97, 32, 0, 1.0), (24, 32, 2, 1.0), (30, 44, 1, -1.0), (30, 44, 1, 4.5)]:
        with pytest.raises(SinganError):
            tflite(*bad[:2], SEED, *bad[2:])


def test_a_model_trained_on_windows_exports_to_the_samplers_pixels(demo_image: Path, tmp_path: Path):
    """The fast mode writes an ordinary model folder: windows, an iteration schedule and settled
    BatchNorm statistics change the weights, never the graph, so the SavedModel gives the sampler's
    pixels and TFLite stays within its tolerance."""
    pytest.importorskip("ai_edge_litert")
    from singan_tf.config import preset
    from singan_tf.export.tflite import TfliteSampler
    from singan_tf.fit import fit

    model, base = tmp_path / "model", tmp_path / "export"
    fit(demo_image, model, preset("tiny", crop_size=22, small_niter=8, small_max_pixels=450, niter=4), seed=3,
        progress=False)
    assert [s["niter"] for s in json.loads((model / "manifest.json").read_text())["scales"]] == [8, 4]
    result = run("export", model, "--out", base, "--tflite")
    assert result.exit_code == 0, result.output
    loaded, sampler = tf.saved_model.load(str(base / "singan" / "1")), Sampler(load_pyramid(model))
    tflite = TfliteSampler(base / "singan" / "1.tflite")
    for height, width, scale_from in [(24, 32, 0), (30, 60, 0), (30, 44, 1)]:
        served = serving_default(loaded, height, width, SEED, scale_from)
        np.testing.assert_array_equal(served, expected(sampler, height, width, SEED, scale_from))
        assert_within_tflite_tolerance(tflite(height, width, SEED, scale_from, 1.0), served)


def test_tflite_files_from_before_noise_scale_still_run(version_dir: Path, loaded, tmp_path: Path):
    """A .tflite as `export --tflite` wrote it before: serving_default only, limits without max_noise_scale."""
    pytest.importorskip("ai_edge_litert")
    from singan_tf.export.tflite import TfliteSampler, convert, limits_path

    old = tmp_path / "1.tflite"
    old.write_bytes(convert(version_dir, signature="serving_default"))
    limits = {k: v.numpy().item() for k, v in loaded.signatures["limits"]().items() if k != "max_noise_scale"}
    limits_path(old).write_text(json.dumps(limits))
    tflite = TfliteSampler(old)
    assert tflite.legacy
    for height, width, scale_from in [(30, 60, 0), (24, 32, 1)]:
        assert_within_tflite_tolerance(tflite(height, width, SEED, scale_from),
                                       serving_default(loaded, height, width, SEED, scale_from))
    with pytest.raises(SinganError, match="predates noise_scale.*re-export"):
        tflite(24, 32, SEED, 0, 1.5)
    with pytest.raises(SinganError, match="needs the training size 24x32.*re-export"):
        tflite(30, 44, SEED, 1)


def test_harmonize_signature_matches_the_python_application(loaded, tiny_model: Path):
    from singan_tf.applications.common import load_model
    from singan_tf.applications.harmonize import MaskedInjection
    from singan_tf.applications.masks import HARMONIZATION_RADIUS
    from singan_tf.export.saved_model import from_uint8

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (1, 30, 40, 3), dtype=np.uint8)  # another size: resized inside
    mask = np.zeros((1, 30, 40, 1), np.uint8)
    mask[:, :4, :4] = 255
    model = load_model(tiny_model)
    result = MaskedInjection(model.pyramid, model.real, HARMONIZATION_RADIUS)(
        from_uint8(tf.constant(image)), from_uint8(tf.constant(mask)), 1, 3)
    python, outside = result["blended"], result["mask"].numpy() == 0
    served = loaded.signatures["harmonize"](
        image=tf.constant(image), mask=tf.constant(mask), injection_scale=tf.constant(1),
        seed=tf.constant(3, tf.int64))["image"].numpy()
    np.testing.assert_array_equal(served, to_uint8(python.numpy()))
    # Where the soft mask is zero (far from the pasted corner) the output is the training image.
    assert outside.sum() > 50
    np.testing.assert_array_equal(served[outside], to_uint8(model.real.numpy())[outside])
    for scale, bad_mask in ((0, mask), (2, mask), (1, np.zeros_like(mask))):
        with pytest.raises(tf.errors.InvalidArgumentError):
            loaded.signatures["harmonize"](
                image=tf.constant(image), mask=tf.constant(bad_mask), injection_scale=tf.constant(scale),
                seed=tf.constant(3, tf.int64))
