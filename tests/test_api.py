"""The public Python API: its names are documented and typed, it gives the command line's pixels
and errors, and it takes images the way a notebook holds them."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import singan_tf
from conftest import DEMO_IMAGE, ROOT


def run_cli(*args) -> str:
    from singan_tf.cli.main import cli

    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_every_public_name_is_documented_and_typed():
    for name in singan_tf.__all__:
        value = getattr(singan_tf, name)
        if not callable(value) or name == "SinganError":
            continue
        assert inspect.getdoc(value), name
        members = [value] if inspect.isfunction(value) else [
            member.fget if isinstance(member, property) else member
            for member_name, member in vars(value).items()
            if not member_name.startswith("_") and (inspect.isfunction(member) or isinstance(member, property))
        ]
        for function in members:
            assert inspect.getdoc(function), f"{name}.{function.__name__} has no docstring"
            signature = inspect.signature(function)
            untyped = [p for p in signature.parameters.values()
                       if p.name != "self" and p.kind not in (p.VAR_KEYWORD,) and p.annotation is p.empty]
            assert not untyped and signature.return_annotation is not signature.empty, f"{name}.{function.__name__}"


def test_importing_the_package_leaves_tensorflow_unloaded():
    """`import singan_tf` is cheap, and the command line silences TensorFlow's start-up lines only
    because nothing imports TensorFlow before it does."""
    code = "import sys, singan_tf; assert 'tensorflow' not in sys.modules; print(singan_tf.SinGAN.__name__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "SinGAN"
    with pytest.raises(AttributeError):
        singan_tf.no_such_name


def test_sample_gives_the_pixels_of_the_sample_command(tiny_model: Path, tmp_path: Path):
    model = singan_tf.load(tiny_model)
    height, width = model.size
    images = model.sample(num=3, seed=11, scale_from=1, height=height + 6, width=width + 8, noise_scale=1.3)
    assert images.dtype == np.uint8 and images.shape == (3, height + 6, width + 8, 3)
    run_cli("sample", tiny_model, "--num", 3, "--seed", 11, "--scale-from", 1, "--height", height + 6,
            "--width", width + 8, "--noise-scale", 1.3, "--out", tmp_path)
    for i, image in enumerate(images):
        np.testing.assert_array_equal(pixels(tmp_path / f"seed_{11 + i:06d}.png"), image)
    assert not np.array_equal(images[0], images[1])


def test_what_a_model_tells_about_itself(tiny_model: Path):
    model = singan_tf.load(tiny_model)
    manifest = model.manifest
    assert model.finished and model.num_scales == len(manifest["scale_sizes"]) == 2
    assert [list(s) for s in model.plan.scale_sizes] == manifest["scale_sizes"]
    assert model.config == singan_tf.TrainConfig.from_dict(manifest["config"])
    assert model.size == tuple(manifest["scale_sizes"][-1])
    assert model.real.shape == model.reconstruction().shape == (*model.size, 3)
    assert [p.shape[2] for p in model.previews()] == [3, 3]
    manifest["completed_scales"] = 0
    assert model.manifest["completed_scales"] == 2, "the manifest is read-only: a copy each time"
    assert "2/2 scales" in repr(model)


def test_errors_are_the_command_lines_one_liners(tmp_path: Path, tiny_model: Path):
    with pytest.raises(singan_tf.SinganError, match="is not a singan-tf model folder"):
        singan_tf.load(tmp_path)
    with pytest.raises(singan_tf.SinganError, match="unknown setting nfcs"):
        singan_tf.train(DEMO_IMAGE, tmp_path / "m", preset="tiny", nfcs=8)
    with pytest.raises(singan_tf.SinganError, match="unknown preset"):
        singan_tf.train(DEMO_IMAGE, tmp_path / "m", preset="fastest")
    model = singan_tf.load(tiny_model)
    with pytest.raises(singan_tf.SinganError, match="scale_from"):
        model.sample(num=1, scale_from=5)
    with pytest.raises(singan_tf.SinganError, match="give the mask"):
        model.harmonize(model.real)
    assert not (tmp_path / "m").exists()


def test_images_go_in_as_files_pil_images_or_arrays(tiny_model: Path, tmp_path: Path):
    """Harmonization of one composite given three ways gives one result, the command's."""
    model = singan_tf.load(tiny_model)
    composite = model.real.copy()
    composite[4:12, 6:16] = [255, 40, 40]
    mask = np.zeros(composite.shape[:2], np.uint8)
    mask[4:12, 6:16] = 255
    Image.fromarray(composite).save(tmp_path / "naive.png")
    Image.fromarray(mask).save(tmp_path / "naive_mask.png")
    from_file = model.harmonize(tmp_path / "naive.png", seed=2).images
    from_pil = model.harmonize(Image.fromarray(composite), Image.fromarray(mask), seed=2).images
    from_array = model.harmonize(composite, mask[..., None], seed=2).images
    assert list(from_file) == [1]
    np.testing.assert_array_equal(from_file[1], from_pil[1])
    np.testing.assert_array_equal(from_file[1], from_array[1])
    run_cli("harmonize", tiny_model, tmp_path / "naive.png", "--seed", 2, "--out", tmp_path / "cli")
    np.testing.assert_array_equal(pixels(tmp_path / "cli" / "start_scale=1.png"), from_file[1])
    assert not np.array_equal(from_file[1], model.real)


def test_export_is_the_export_command(tiny_model: Path, tmp_path: Path):
    import tensorflow as tf

    version_dir = singan_tf.load(tiny_model).export(tmp_path, name="toy")
    assert version_dir == tmp_path / "toy" / "1"
    saved = tf.saved_model.load(str(version_dir))
    image = saved.signatures["sample"](height=tf.constant(20), width=tf.constant(30), seed=tf.constant(4, tf.int64))
    expected = singan_tf.load(tiny_model).sample(num=1, seed=4, height=20, width=30)
    np.testing.assert_array_equal(image["image"].numpy(), expected)
