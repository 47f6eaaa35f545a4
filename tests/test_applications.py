"""Tests for the applications (harmonize, edit, paint, super-resolve, animate) on tiny models.

`tiny_model` (2 scales) serves the command-line and file tests; `deep_model` (3 scales, trained once
here) the ones that compare injection scales. Inputs are generated in tmp_path, or taken from
../shared/images (skipped when absent) with the tiny model standing in for the trained one.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from PIL import Image
from test_resize import reference_imresize

from singan_tf.applications import animation, masks, paint, super_resolution
from singan_tf.applications.common import load_model
from singan_tf.applications.harmonize import MaskedInjection
from singan_tf import fit as fit_module
from singan_tf.cli.main import cli
from singan_tf.config import TrainConfig
from singan_tf.image_io import load_image, to_uint8
from singan_tf.pyramid import Pyramid, official_resize

ROOT = Path(__file__).resolve().parents[1]
DEMO_IMAGE = ROOT / "assets" / "balloons.png"


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def ok(*args: str):
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def real_pixels(model_dir: Path) -> np.ndarray:
    return to_uint8(load_model(model_dir).real[0].numpy())


def save_rgb(array: np.ndarray, path: Path) -> Path:
    Image.fromarray(array.astype(np.uint8)).save(path)
    return path


def pasted_inputs(model_dir: Path, folder: Path, top=2, left=3, side=6) -> tuple[Path, Path]:
    """The training image with a solid square pasted in, and the square as a grey mask."""
    folder.mkdir(parents=True, exist_ok=True)
    naive = real_pixels(model_dir).copy()
    naive[top:top + side, left:left + side] = (250, 20, 200)
    mask = np.zeros(naive.shape[:2], np.uint8)
    mask[top:top + side, left:left + side] = 255
    Image.fromarray(mask, "L").save(folder / "naive_mask.png")
    return save_rgb(naive, folder / "naive.png"), folder / "naive_mask.png"


def soft_mask_of(mask_path: Path, radius: int) -> np.ndarray:
    return masks.soft_mask(tf.constant(load_image(mask_path)[None]), radius)[0].numpy()


def mean_abs(a, b) -> float:
    return float(np.mean(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


# --- masks -------------------------------------------------------------------------------------------


def test_dilation_is_a_disk_cut_at_the_border():
    binary = np.zeros((1, 30, 30, 1), np.float32)
    binary[0, 15, 15, 0] = binary[0, 0, 29, 0] = 1
    dilated = masks.dilate(tf.constant(binary), 5)[0, ..., 0].numpy()
    rows, cols = np.mgrid[:30, :30]
    expected = ((rows - 15) ** 2 + (cols - 15) ** 2 <= 25) | (rows**2 + (cols - 29) ** 2 <= 25)
    np.testing.assert_array_equal(dilated, expected)


def test_blur_matrix_is_gaussian_filter_with_nearest_border():
    signal = np.random.default_rng(0).random(37)
    sigma, radius = 5.0, 20
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    reference = np.convolve(np.pad(signal, radius, mode="edge"), taps / taps.sum(), mode="valid")
    np.testing.assert_allclose(masks.blur_matrix(37, sigma) @ signal, reference, atol=1e-6)


def test_soft_mask_is_normalised_feathered_and_grows_with_radius():
    mask = -np.ones((1, 60, 70, 3), np.float32)
    mask[0, 25:30, 30:36, 0] = 1.0  # only channel 0 counts
    harmonize = masks.soft_mask(tf.constant(mask), masks.HARMONIZATION_RADIUS).numpy()
    edit = masks.soft_mask(tf.constant(mask), masks.EDITING_RADIUS).numpy()
    assert harmonize.shape == (1, 60, 70, 3)
    np.testing.assert_array_equal(harmonize[..., 0], harmonize[..., 2])
    assert harmonize.min() == 0.0 and harmonize.max() == pytest.approx(1.0)
    assert harmonize[0, 27, 33, 0] > 0.9 and harmonize[0, 0, 0, 0] == 0.0
    assert (edit > 0.5).sum() > (harmonize > 0.5).sum()
    only_other_channels = mask.copy()
    only_other_channels[..., 0] = -1.0
    only_other_channels[0, 25:30, 30:36, 1:] = 1.0
    assert not tf.reduce_any(masks.binary_mask(tf.constant(only_other_channels)) > 0)
    covering = mask.copy()
    covering[0, 10:50, 10:60, 0] = 1.0  # grown by 20 px it covers the image: all ones, not stretched noise
    np.testing.assert_allclose(masks.soft_mask(tf.constant(covering), masks.EDITING_RADIUS), 1.0, atol=1e-5)


def test_masks_of_any_mode_give_the_same_region(tmp_path):
    region = np.zeros((24, 32), np.uint8)
    region[5:12, 8:20] = 255
    rgba = np.zeros((24, 32, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = region, 255
    files = {
        "grey.png": Image.fromarray(region, "L"),
        "bits.png": Image.fromarray(region, "L").convert("1"),
        "rgba.png": Image.fromarray(rgba, "RGBA"),
        "grey_alpha.png": Image.fromarray(np.stack([region, region], -1), "LA"),
    }
    for name, picture in files.items():
        picture.save(tmp_path / name)
        binary = masks.binary_mask(masks.load_mask(tmp_path / name, (24, 32)))[0, ..., 0].numpy()
        np.testing.assert_array_equal(binary, region > 0, err_msg=name)
    Image.fromarray(region, "L").convert("RGB").save(tmp_path / "mask.jpg", quality=95)
    binary = masks.binary_mask(masks.load_mask(tmp_path / "mask.jpg", (24, 32)))[0, ..., 0].numpy()
    assert binary[region > 0].all()


# --- harmonize / edit ----------------------------------------------------------------------------------


def test_harmonize_every_scale_keeps_the_outside_and_writes_nothing_beside_inputs(deep_model, tmp_path):
    naive, mask = pasted_inputs(deep_model, tmp_path / "inputs", top=0, left=0, side=4)
    out = tmp_path / "out"
    ok("harmonize", deep_model, naive, "--mask", mask, "--out", out)
    assert sorted(p.name for p in (tmp_path / "inputs").iterdir()) == ["naive.png", "naive_mask.png"]
    real = real_pixels(deep_model)
    soft = soft_mask_of(mask, masks.HARMONIZATION_RADIUS)
    outside, inside = soft[..., 0] == 0, soft[..., 0] > 0.99
    assert outside.any() and inside.any()
    for scale in (1, 2):
        result = pixels(out / f"start_scale={scale}.png")
        assert result.shape == real.shape
        np.testing.assert_array_equal(result[outside], real[outside])
        assert not np.array_equal(result[inside], real[inside])
    assert pixels(out / "grid.png").shape[1] > 3 * real.shape[1]
    assert pixels(out / "mask_dilated.png").shape == real.shape


def test_edit_writes_unmasked_and_blended_results(tiny_model, tmp_path):
    edited, mask = pasted_inputs(tiny_model, tmp_path, top=0, left=0, side=3)
    ok("edit", tiny_model, edited, "--mask", mask, "--injection-scale", 1, "--out", tmp_path / "out")
    unmasked, blended = pixels(tmp_path / "out" / "start_scale=1.png"), pixels(tmp_path / "out" / "start_scale=1_masked.png")
    assert not (tmp_path / "out" / "grid.png").exists()  # one scale: nothing to pick from
    soft = soft_mask_of(mask, masks.EDITING_RADIUS)[..., 0]
    real = real_pixels(tiny_model)
    assert (soft == 0).any() and (soft == 1).any()
    np.testing.assert_array_equal(blended[soft == 0], real[soft == 0])
    np.testing.assert_array_equal(blended[soft == 1], unmasked[soft == 1])
    assert not np.array_equal(unmasked, blended)


def _official_resize_reference(images, scale, size):
    """The official imresize(x, scale) in float64: 8-bit floor, MATLAB bicubic to ceil(size * scale)
    with `scale` on both axes, clamp; then the top-left crop to `size`."""
    levels = np.floor(np.clip((images + 1.0) * 127.5, 0, 255) + 1e-3) / 127.5 - 1.0
    h, w = images.shape[1:3]
    resized = reference_imresize(levels, math.ceil(h * scale), math.ceil(w * scale), scale, scale)
    return np.clip(resized, -1, 1)[:, : size[0], : size[1]]


@pytest.mark.parametrize("scale", [1, 4, 8])
def test_injection_start_follows_the_official_formula_on_both_axes(scale):
    """Official harmonization/editing: imresize(ref, sf^(N-n+1)) cropped to scale n-1, then
    imresize(., 1/sf) cropped to scale n, with the same factor on both axes. Balloons' paper pyramid
    is not square, so a per-axis size ratio (h_{n-1}/H vs w_{n-1}/W) would differ from sf^(N-n+1)."""
    from singan_tf.config import preset
    from singan_tf.sampler import Sampler
    from singan_tf.scale_plan import plan_scales

    plan = plan_scales(186, 248, preset("paper"))
    pyramid = Pyramid([None] * plan.num_scales, [], list(plan.scale_sizes), plan.scale_factor, None)
    image = np.random.default_rng(scale).integers(0, 256, (1, 186, 248, 3)) / 127.5 - 1.0
    got = Sampler(pyramid).injection_start(tf.constant(image, tf.float32), scale).numpy()

    sf, top = plan.scale_factor, plan.num_scales - 1
    coarser = _official_resize_reference(image, sf ** (top - scale + 1), plan.scale_sizes[scale - 1])
    want = _official_resize_reference(coarser, 1 / sf, plan.scale_sizes[scale])
    assert got.shape == want.shape
    # float32 against float64 may floor a value to the neighbouring 8-bit level (measured: up to
    # 0.3% of values at scale 8); a wrong kernel scale moves nearly all of them.
    off = np.abs(got - want)
    assert np.mean(off > 1e-4) < 0.01 and off.max() < 0.05


def test_finer_injection_scales_stay_closer_to_the_input(deep_model):
    model = load_model(deep_model)
    h, w = model.size
    distance = {
        n: np.mean([mean_abs(model.sampler.inject(model.real, n, seed), model.real) for seed in range(4)])
        for n in (1, 2)
    }
    sample_to_real = np.mean([mean_abs(model.sampler(h, w, seed), model.real) for seed in range(4)])
    print(f"mean |inject(real, n) - real| by n: {distance}; random sample to real: {sample_to_real:.4f}")
    assert distance[1] > distance[2]
    assert distance[2] < 0.6 * sample_to_real


def test_masked_injection_runs_as_an_exportable_graph(deep_model, tmp_path):
    """What an export wraps: any input size and mask channels, the injection scale as a tensor."""
    model = load_model(deep_model)
    injection = MaskedInjection(model.pyramid, model.real, masks.HARMONIZATION_RADIUS)
    graph = tf.function(
        lambda image, mask, scale, seed: injection(image, mask, scale, seed)["blended"],
        input_signature=[tf.TensorSpec([1, None, None, 3]), tf.TensorSpec([1, None, None, None]),
                         tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int64)],
        autograph=False,
    )
    image = tf.random.stateless_uniform([1, 36, 48, 3], [1, 2], -1, 1)
    mask = -tf.ones([1, 36, 48, 1])
    mask = tf.tensor_scatter_nd_update(mask, [[0, 10, 10, 0]], [1.0])
    for scale in (1, 2):
        eager = injection(image, mask, scale, 5)["blended"]
        traced = graph(image, mask, tf.constant(scale), tf.constant(5, tf.int64))
        assert traced.shape == (1, *model.size, 3)
        np.testing.assert_allclose(traced, eager, atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="injection scale"):
        graph(image, mask, tf.constant(3), tf.constant(5, tf.int64))
    with pytest.raises(tf.errors.InvalidArgumentError, match="mask is empty"):
        graph(image, -tf.ones([1, 36, 48, 1]), tf.constant(1), tf.constant(5, tf.int64))


def test_mask_errors_are_one_line(tiny_model, tmp_path):
    naive, mask = pasted_inputs(tiny_model, tmp_path)
    Image.fromarray(np.zeros((24, 32), np.uint8), "L").save(tmp_path / "black.png")
    cases = {
        ("--mask", tmp_path / "black.png"): "empty",
        ("--mask", tmp_path / "missing.png"): "missing.png",
        ("--injection-scale", 2): "1..1",
    }
    for extra, expected in cases.items():
        result = run("harmonize", tiny_model, naive, *extra, "--out", tmp_path / "out")
        assert result.exit_code == 2 and expected in result.output, result.output
        assert result.output.strip().count("\n") == 0
    mask.unlink()
    result = run("edit", tiny_model, naive, "--out", tmp_path / "out")  # default: naive_mask.png
    assert result.exit_code == 2 and "naive_mask.png" in result.output


# --- paint ---------------------------------------------------------------------------------------------


def test_kmeans_finds_separated_colours_deterministically():
    rng = np.random.default_rng(1)
    means = np.array([[-0.8, -0.8, -0.8], [0.0, 0.5, -0.5], [0.7, -0.2, 0.6]])
    points = np.concatenate([m + 0.03 * rng.standard_normal((200, 3)) for m in means])
    centres = paint.kmeans(points, k=3)
    np.testing.assert_allclose(np.sort(centres, axis=0), np.sort(means, axis=0), atol=0.02)
    np.testing.assert_array_equal(centres, paint.kmeans(points, k=3))
    mapped = paint.nearest_colours(tf.constant(means[None, None] + 0.1, tf.float32), centres)[0, 0].numpy()
    np.testing.assert_allclose(np.sort(mapped, axis=0), np.sort(centres, axis=0))


def test_quantized_trainer_feeds_g_only_the_centre_colours(tiny_model):
    model = load_model(tiny_model)
    centres = paint.kmeans(model.real_at(1).numpy().reshape(-1, 3))
    p = model.pyramid
    coarser = Pyramid(p.generators[:1], p.noise_amps[:1], p.scale_sizes[:1], p.scale_factor, p.z_star)
    config = TrainConfig.from_dict(model.manifest["config"])
    trainer = paint.QuantizedScaleTrainer(1, model.real_at(1), coarser, config, 0, centres)
    for image in (trainer.z_prev, trainer._random_prev(tf.constant(0), tf.constant(1))):
        colours = np.unique(image.numpy().reshape(-1, 3), axis=0)
        assert all(np.isclose(colour, centres).all(axis=1).any() for colour in colours)
    # measured on the un-quantised reconstruction, so it equals the trained scale's
    assert trainer.noise_amp == pytest.approx(p.noise_amps[1], rel=1e-5)


def test_paint_plain_and_quantized(tiny_model, tmp_path):
    rng = np.random.default_rng(0)
    painting = save_rgb(np.repeat(np.repeat(rng.integers(0, 256, (6, 8, 3)), 4, 0), 4, 1), tmp_path / "paint.png")
    ok("paint", tiny_model, painting, "--out", tmp_path / "plain")
    assert pixels(tmp_path / "plain" / "start_scale=1.png").shape == (24, 32, 3)
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_model, model_dir)
    first = ok("paint", model_dir, painting, "--quantize", "--iters", 2, "--quiet", "--out", tmp_path / "quant")
    assert "re-training scale 1" in first.stderr
    assert pixels(tmp_path / "quant" / "start_scale=1.png").shape == (24, 32, 3)
    injected = pixels(tmp_path / "quant" / "start_scale=1_quantized_paint.png")
    assert len(np.unique(injected.reshape(-1, 3), axis=0)) <= paint.COLOURS
    assert len(list((model_dir / paint.RETRAINED).iterdir())) == 1


def test_quantized_paint_keeps_the_retrained_scale_and_retrains_when_a_setting_changes(tiny_model, tmp_path,
                                                                                        monkeypatch):
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_model, model_dir)
    rng = np.random.default_rng(1)
    painting = save_rgb(np.repeat(np.repeat(rng.integers(0, 256, (6, 8, 3)), 4, 0), 4, 1), tmp_path / "paint.png")
    args = ("paint", model_dir, painting, "--quantize", "--injection-scale", 1, "--quiet")
    ok(*args, "--iters", 3, "--out", tmp_path / "a")

    def no_training(*_args, **_kwargs):
        raise AssertionError("re-trained although the same settings were trained before")

    with monkeypatch.context() as patch:
        patch.setattr(paint, "_train_quantized", no_training)
        second = ok(*args, "--iters", 3, "--out", tmp_path / "b")
        other_painting = save_rgb(255 - pixels(painting), tmp_path / "other.png")
        ok("paint", model_dir, other_painting, "--quantize", "--injection-scale", 1, "--iters", 3, "--out", tmp_path / "c")
    assert "reusing scale 1" in second.stderr
    np.testing.assert_array_equal(pixels(tmp_path / "a" / "start_scale=1.png"), pixels(tmp_path / "b" / "start_scale=1.png"))
    third = ok(*args, "--iters", 4, "--out", tmp_path / "d")
    assert "re-training scale 1" in third.stderr
    assert len(list((model_dir / paint.RETRAINED).iterdir())) == 2


# --- super-resolution ---------------------------------------------------------------------------------


def test_sr_steps_follow_the_official_factor():
    assert super_resolution.sr_steps(4) == (6, pytest.approx(2 ** (1 / 3)))
    assert super_resolution.sr_steps(2) == (3, pytest.approx(2 ** (1 / 3)))
    assert super_resolution.sr_steps(3) == (5, pytest.approx(3 ** (1 / 5)))
    with pytest.raises(Exception, match="factor"):
        super_resolution.sr_steps(1.05)


def test_super_resolve_chains_bicubic_steps_through_the_finest_generator(tiny_model):
    """With a generator that passes its image input through and no noise, the pass is the official
    chain of bicubic steps (ceil sizes, kernel scale in_scale) cropped to round(factor * size)."""
    model = load_model(tiny_model)
    passthrough = Pyramid([lambda inputs, **kwargs: inputs[1]], [0.0], [model.size], 0.8, None)
    result = super_resolution.super_resolve(passthrough, model.real, 3, seed=0)
    expected, (h, w) = model.real, model.size
    for _ in range(5):
        h, w = math.ceil(h * 3**0.2), math.ceil(w * 3**0.2)
        expected = official_resize(expected, h, w, 3 ** 0.2, 3 ** 0.2)
    assert result.shape == (1, 72, 96, 3) and expected.shape[1] >= 72 and expected.shape[2] >= 96
    np.testing.assert_allclose(result, expected[:, :72, :96], atol=1e-6)


def test_super_resolve_with_a_model_is_an_upscaling_not_noise(deep_model, tmp_path):
    """Averaged back over 4x4 blocks, the x4 result must follow the input's content. Correlation, not
    pixel distance: six passes of a 30-iteration 8-channel generator drift in colour by a different
    amount whenever float rounding changes (measured 0.32-0.83 over five such models on AVX-512
    hosts, ~0 against the upside-down input; 0.21 against 0.14 on an AVX2 host). Noise scores ~0."""
    result = ok("super-resolve", DEMO_IMAGE, "--model", deep_model, "--factor", 4, "--out", tmp_path / "x4.png")
    hr = pixels(tmp_path / "x4.png").astype(np.float64)
    assert hr.shape == (96, 128, 3)
    assert "trained on" not in result.stderr  # the model's own image: its finest real is the input
    real = to_uint8(load_model(deep_model).real[0].numpy())
    shrunk = hr.reshape(24, 4, 32, 4, 3).mean(axis=(1, 3))

    def content(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.mean([np.corrcoef(a[..., k].ravel(), b[..., k].ravel())[0, 1] for k in range(3)]))

    print(f"content correlation: with the input {content(shrunk, real):.2f}, "
          f"with the upside-down input {content(shrunk, real[::-1]):.2f}")
    assert content(shrunk, real) > max(0.15, content(shrunk, real[::-1]))
    other = save_rgb(pixels(DEMO_IMAGE)[:10, :15], tmp_path / "other.png")
    result = ok("super-resolve", other, "--model", deep_model, "--factor", 2, "--out", tmp_path / "other_x2.png")
    assert "trained on balloons.png" in result.stderr
    assert pixels(tmp_path / "other_x2.png").shape == (20, 30, 3)


def test_super_resolve_trains_the_sr_way_then_reuses_the_model(tiny_model, tmp_path, monkeypatch):
    """Training itself is fit's job (tested with it); here a stand-in records the settings it gets and
    leaves a finished model behind, as fit would."""
    calls = []

    def fake_fit(image_path, model_dir, config, seed=None, resume=False, progress=True):
        calls.append(config)
        shutil.copytree(tiny_model, model_dir)

    monkeypatch.setattr(fit_module, "fit", fake_fit)
    args = ("super-resolve", DEMO_IMAGE, "--model", tmp_path / "sr", "--preset", "tiny", "--iters", 3, "--factor", 2)
    first = ok(*args, "--out", tmp_path / "x2.png")
    assert "training an SR model" in first.stderr
    (config,) = calls
    assert (config.alpha, config.min_size, config.niter, config.max_size) == (100, 18, 3, 32)
    assert config.scale_factor == pytest.approx(2 ** (-1 / 3))
    assert pixels(tmp_path / "x2.png").shape == (48, 64, 3)
    second = ok(*args, "--out", tmp_path / "again.png")
    assert len(calls) == 1 and "training" not in second.stderr
    np.testing.assert_array_equal(pixels(tmp_path / "again.png"), pixels(tmp_path / "x2.png"))


# --- animation ----------------------------------------------------------------------------------------


def test_animation_frames_move_a_little_each_frame(deep_model):
    model = load_model(deep_model)
    frames = np.array(animation.animation_frames(model.pyramid, 8, seed=1), np.float64)
    consecutive = np.mean(np.abs(np.diff(frames, axis=0)), axis=(1, 2, 3))
    h, w = model.size
    independent = np.mean([mean_abs(to_uint8(model.sampler(h, w, s)[0].numpy()),
                                    to_uint8(model.sampler(h, w, s + 10)[0].numpy())) for s in range(4)])
    print(f"consecutive frames differ by {consecutive.mean():.2f}, independent samples by {independent:.2f}")
    assert (consecutive > 0).all()
    assert consecutive.max() < 0.25 * independent


def test_noise_padding_puts_noise_on_the_generator_border_and_zero_padding_does_not():
    from singan_tf.pyramid import generator_input

    prev = tf.random.stateless_normal([1, 6, 8, 3], seed=[1, 1])
    padded_noise = tf.random.stateless_normal([1, 16, 18, 3], seed=[1, 2])
    noisy = generator_input(padded_noise, prev, 0.5, noise_padding=True).numpy()
    plain = generator_input(padded_noise[:, 5:-5, 5:-5], prev, 0.5, noise_padding=False).numpy()
    np.testing.assert_allclose(noisy[:, :5], 0.5 * padded_noise.numpy()[:, :5])
    np.testing.assert_array_equal(plain[:, :5], 0.0)
    np.testing.assert_allclose(noisy[:, 5:-5, 5:-5], plain[:, 5:-5, 5:-5])


def test_animate_an_image_trains_the_official_animation_model_once(tmp_path):
    """`animate IMAGE`: a model of its own with noise padding and min size 20 (official
    animation_train), whose borders then depend on the noise drawn beyond them; reused next time."""
    model_dir = tmp_path / "anim"
    args = ("animate", DEMO_IMAGE, "--model", model_dir, "--preset", "tiny", "--iters", 3, "--frames", 3, "--quiet")
    first = ok(*args, "--out", tmp_path / "a.gif")
    assert "training an animation model" in first.stderr
    model = load_model(model_dir)
    config = TrainConfig.from_dict(model.manifest["config"])
    assert config.noise_padding and config.min_size == 20 and config.niter == 3
    h0, w0 = model.pyramid.scale_sizes[0]
    assert model.pyramid.z_star.shape == (1, h0 + 10, w0 + 10, 3)

    pyramid, (h, w) = model.pyramid, model.size
    noises = [tf.random.stateless_normal([1, *pyramid.noise_size(*size), 3], seed=[n, 0])
              for n, size in enumerate(pyramid.scale_sizes)]
    border_changed = [tf.concat([z[:, :3] + 1.0, z[:, 3:]], axis=1) for z in noises]
    out, other = (pyramid.run(z, pyramid.scale_sizes).numpy() for z in (noises, border_changed))
    assert np.abs(out - other)[:, :3].mean() > 10 * np.abs(out - other)[:, h // 2:].mean()

    second = ok(*args, "--out", tmp_path / "b.gif")
    assert "training" not in second.stderr
    with Image.open(tmp_path / "a.gif") as a, Image.open(tmp_path / "b.gif") as b:
        assert a.n_frames == b.n_frames == 3 and a.size == (w, h)
        np.testing.assert_array_equal(np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB")))


def test_animate_an_existing_model_as_it_is_with_a_note(tiny_model, tmp_path):
    result = ok("animate", tiny_model, "--frames", 2, "--out", tmp_path / "a.gif")
    assert "zero padding" in result.stderr
    result = run("animate", tmp_path / "missing.png", "--out", tmp_path / "b.gif")
    assert result.exit_code == 2 and "no such image or model folder" in result.output


def test_animate_writes_a_looping_gif(tiny_model, tmp_path):
    ok("animate", tiny_model, "--frames", 5, "--fps", 5, "--out", tmp_path / "a.gif")
    with Image.open(tmp_path / "a.gif") as gif:
        assert gif.n_frames == 5 and gif.size == (32, 24)
        assert gif.info["duration"] == 200 and gif.info["loop"] == 0


def test_animate_refuses_formats_it_cannot_write(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setattr(animation.shutil, "which", lambda name: None)
    result = run("animate", tiny_model, "--out", tmp_path / "a.mp4")
    assert result.exit_code == 2 and "ffmpeg" in result.output
    result = run("animate", tiny_model, "--out", tmp_path / "a.avi")
    assert result.exit_code == 2 and ".gif or .mp4" in result.output
    result = run("animate", tiny_model, "--start-scale", 2, "--out", tmp_path / "a.gif")
    assert result.exit_code == 2 and "0..1" in result.output


def test_animate_pipes_raw_frames_to_ffmpeg(tiny_model, tmp_path, monkeypatch):
    """A stand-in ffmpeg that records what it was given: frames x H x W x 3 bytes of rgb24 and the size."""
    fake = tmp_path / "bin" / "ffmpeg"
    fake.parent.mkdir()
    fake.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "data = sys.stdin.buffer.read()\n"
        "args = sys.argv[1:]\n"
        "open(args[-1], 'w').write(f\"{len(data)} {args[args.index('-s') + 1]} {args[args.index('-r') + 1]}\")\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    ok("animate", tiny_model, "--frames", 3, "--fps", 7, "--out", tmp_path / "a.mp4")
    assert (tmp_path / "a.mp4").read_text() == f"{3 * 24 * 32 * 3} 32x24 7"


# --- the official sample inputs (resized to the tiny model: a smoke test of real files) ----------------


def test_official_inputs_run_through_every_injection_command(tiny_model, shared_images, tmp_path):
    harmonization, editing = shared_images / "Harmonization", shared_images / "Editing"
    runs = [
        ("harmonize", harmonization / "starry_night_naive.png"),  # RGBA mask found by the official naming
        ("harmonize", harmonization / "tree.jpg", "--mask", harmonization / "tree_mask.jpg"),
        ("edit", editing / "stone_edit.png", "--mask", editing / "stone_edit_mask.png"),
        ("paint", shared_images / "Paint" / "trees1.png"),
    ]
    for i, (name, *inputs) in enumerate(runs):
        result = ok(name, tiny_model, *inputs, "--injection-scale", 1, "--out", tmp_path / str(i))
        assert "resized to the training size 24x32" in result.stderr
        assert pixels(tmp_path / str(i) / "start_scale=1.png").shape == (24, 32, 3)
