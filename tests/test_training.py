"""Training really learns, is reproducible from its seed, and resumes to the identical model."""

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

from singan_tf import model_store
from singan_tf.bench.timing import random_pyramid
from singan_tf.config import TrainConfig, preset
from singan_tf.cost import generator_flops, iteration_flops
from singan_tf.errors import SinganError
from singan_tf.fit import fit
from singan_tf.image_io import load_image
from singan_tf.models import PADDING, Discriminator, Generator
from singan_tf.pyramid import Pyramid, build_reals, generator_input, gray, upsample
from singan_tf.sampler import Sampler
from singan_tf.scale_plan import plan_scales
from singan_tf.training import ScaleTrainer, _adam

from conftest import TINY_SEED, model_weights


@pytest.fixture(scope="module")
def reals(demo_image):
    config = preset("tiny")
    image = load_image(demo_image)
    plan = plan_scales(*image.shape[:2], config)
    return plan, build_reals(image, plan)


def test_coarsest_scale_learns_to_reconstruct_the_image_from_z_star(reals):
    """A generator that ignored z* could at best output the mean colour (MSE = variance); reaching a
    quarter of the variance means it learned to map its fixed noise to this image (the paper's
    fixed z*; the official re-drawn one is tested below)."""
    plan, images = reals
    real = images[-1]
    variance = float(tf.math.reduce_variance(real))
    config = preset("tiny", niter=80, fixed_z_star=True)
    trainer = ScaleTrainer(0, real, Pyramid([], [], [], plan.scale_factor, None), config, seed=3)
    errors = [float(trainer.iteration(tf.constant(i))["rec"]) for i in range(80)]
    assert errors[0] > 0.5 * variance
    assert np.mean(errors[-10:]) < 0.25 * variance


def _scale0_errors(real, plan, config, seed=3):
    """MSE / variance of G_0 from its kept z* and from 8 fresh noises, after training scale 0."""
    trainer = ScaleTrainer(0, real, Pyramid([], [], [], plan.scale_factor, None), config, seed=seed)
    for i in range(config.niter):
        trainer.iteration(tf.constant(i))
    zeros, variance = tf.zeros_like(real), float(tf.math.reduce_variance(real))

    def error(z):
        return float(tf.reduce_mean(tf.square(trainer.generator([z, zeros]) - real))) / variance

    fresh = [error(gray(tf.random.stateless_normal([1, *real.shape[1:3], 1], seed=[s, 9]))) for s in range(8)]
    return error(trainer.z_star), float(np.median(fresh))


def test_scale_0_redraws_z_star_every_iteration_like_the_official_code(reals):
    """The official code trains G_0 to reach the image from a new z_opt at every iteration and keeps
    the last draw, so the kept z* is no better than any other noise. With the paper's fixed z*
    (the named option) G_0 memorises that one noise: z* reconstructs far better than fresh noise."""
    plan, images = reals
    kept, fresh = _scale0_errors(images[0], plan, preset("tiny", niter=100))
    assert kept > 0.75 * fresh
    kept, fresh = _scale0_errors(images[0], plan, preset("tiny", niter=100, fixed_z_star=True))
    assert kept < 0.5 * fresh


def test_models_saved_before_the_z_star_option_read_as_fixed_z_star(tiny_model, tmp_path):
    model_dir = tmp_path / "old"
    shutil.copytree(tiny_model, model_dir)
    manifest = model_store.read_manifest(model_dir)
    del manifest["config"]["fixed_z_star"]
    assert TrainConfig.from_dict(manifest["config"]).fixed_z_star
    assert not TrainConfig.from_dict(model_store.read_manifest(tiny_model)["config"]).fixed_z_star


def test_trained_model_reconstructs_its_image_and_samples_differ_from_it(tiny_model):
    """The mean colour alone would give an MSE of the variance. After 20 iterations per scale with
    the official re-drawn z* the reconstruction is rough (measured: 0.25-0.31 of the variance, the
    median of 8 samples 1.9x the reconstruction's MSE on an AVX2 host, more on AVX-512 ones), but it
    is the image, and samples are not."""
    pyramid = model_store.load_pyramid(tiny_model)
    real = model_store.load_tensors(tiny_model, pyramid.num_scales - 1)["real"]
    variance = real.var()
    reconstruction_mse = float(np.mean((pyramid.reconstruct().numpy() - real) ** 2))
    sampler = Sampler(pyramid)
    sample_mse = np.median([np.mean((sampler(*pyramid.scale_sizes[-1], seed=s).numpy() - real) ** 2)
                            for s in range(8)])
    assert reconstruction_mse < 0.35 * variance
    assert sample_mse > 1.5 * reconstruction_mse


def test_noise_amplitude_is_a_tenth_of_the_upsampled_reconstruction_rmse(tiny_model):
    manifest = model_store.read_manifest(tiny_model)
    pyramid = model_store.load_pyramid(tiny_model)
    assert manifest["noise_amps"][0] == 1.0
    h, w = pyramid.scale_sizes[1]
    z_prev = upsample(pyramid.reconstruct(stop_scale=1), h, w, pyramid.scale_factor).numpy()
    real = model_store.load_tensors(tiny_model, 1)["real"]
    assert manifest["noise_amps"][1] == pytest.approx(0.1 * np.sqrt(np.mean((real - z_prev) ** 2)), rel=1e-5)


def test_z_star_is_gray_noise_at_the_coarsest_size(tiny_model):
    z_star = model_store.load_tensors(tiny_model, 0)["z_star"]
    manifest = model_store.read_manifest(tiny_model)
    assert z_star.shape == (1, *manifest["scale_sizes"][0], 3)
    assert np.array_equal(z_star[..., 0], z_star[..., 2]) and 0.7 < z_star.std() < 1.3


def test_manifest_records_the_contract(tiny_model, demo_image):
    manifest = json.loads((tiny_model / "manifest.json").read_text())
    plan = plan_scales(186, 248, preset("tiny"))
    assert manifest["format_version"] == model_store.FORMAT_VERSION
    assert manifest["image"]["name"] == demo_image.name and len(manifest["image"]["sha256"]) == 64
    assert manifest["scale_sizes"] == [list(s) for s in plan.scale_sizes]
    assert manifest["scale_factor"] == plan.scale_factor
    assert manifest["channels"] == list(plan.channels)
    assert manifest["config"] == preset("tiny").to_dict()
    assert manifest["completed_scales"] == plan.num_scales == len(manifest["noise_amps"]) == len(manifest["scales"])
    assert manifest["seed"] == TINY_SEED
    assert all(s["train_seconds"] > 0 and set(s["final_losses"]) >= {"rec", "d_loss", "gp"} for s in manifest["scales"])
    assert [s["niter"] for s in manifest["scales"]] == [preset("tiny").niter] * plan.num_scales
    for n in range(plan.num_scales):
        folder = model_store.scale_dir(tiny_model, n)
        assert {p.name for p in folder.iterdir()} == {
            "generator.weights.h5", "discriminator.weights.h5", "tensors.npz", "preview.png"}


def test_learning_rate_drops_once_at_80_percent_of_the_iterations():
    config = preset("tiny", niter=10)
    optimizer = _adam(1e-3, 3, config.niter, config)
    schedule = optimizer._learning_rate
    lr_by_iteration = [float(schedule(3 * i + 2)) for i in range(10)]  # the last update of each iteration
    assert lr_by_iteration[:8] == [pytest.approx(1e-3)] * 8
    assert lr_by_iteration[8:] == [pytest.approx(1e-4)] * 2
    assert float(schedule(3 * 8)) == pytest.approx(1e-4)


def test_the_small_scales_train_their_own_iteration_count(reals):
    """`small_niter`: the training window's pixels pick the count, and the learning-rate drop comes
    at 80% of the scale's own count (the training loop and the manifest: the cropped test below)."""
    plan, images = reals
    (h0, w0), (h1, w1) = plan.scale_sizes
    config = preset("tiny", niter=4, small_niter=10, small_max_pixels=h0 * w0)
    assert (config.iterations(h0, w0), config.iterations(h1, w1)) == (10, 4)
    assert config.with_overrides(crop_size=h0).iterations(h1, w1) == 10  # a window of h0 x h0 px
    assert config.with_overrides(small_niter=0).iterations(h0, w0) == 4

    trainer = ScaleTrainer(0, images[0], Pyramid([], [], [], plan.scale_factor, None), config, seed=3)
    schedule = trainer.opt_g._learning_rate
    assert trainer.niter == 10
    assert float(schedule(3 * 7 + 2)) == pytest.approx(config.lr_g)
    assert float(schedule(3 * 8 + 2)) == pytest.approx(config.lr_g * config.gamma)


@pytest.mark.parametrize("widen", [False, True])
def test_a_scale_with_more_channels_starts_from_the_one_below_only_when_widened(reals, widen):
    """The official code starts a scale whose channels doubled from scratch; `widen_warm_start`
    starts it where the narrower scale below ended (the embedding itself: test_models)."""
    plan, images = reals
    config, real = preset("tiny", widen_warm_start=widen), images[1]
    below = Generator(config.nfc // 2, seed=5), Discriminator(config.nfc // 2, seed=6)
    below[0]([real, real])
    below[1](real)
    trainer = ScaleTrainer(1, real, random_pyramid(plan, config, 1), config, seed=3, warm_start=below)
    assert trainer.generator.channels == config.nfc
    same = [np.allclose(trainer.generator([real, real]), below[0]([real, real]), atol=1e-5),
            np.allclose(trainer.discriminator(real), below[1](real), atol=1e-5)]
    assert same == [widen, widen]


def test_interrupted_run_resumes_to_the_same_model(tiny_model, demo_image, tmp_path):
    """Ctrl-C after the first scale, then --resume: identical weights to the uninterrupted run
    (the tiny_model fixture, same seed), which also shows that a seed reproduces a run exactly."""
    model_dir = tmp_path / "resumed"

    def interrupt(scale, manifest):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(demo_image, model_dir, preset("tiny"), seed=TINY_SEED, progress=False, on_scale_done=interrupt)
    manifest = model_store.read_manifest(model_dir)
    assert manifest["completed_scales"] == 1
    assert sorted(p.name for p in model_dir.iterdir()) == ["manifest.json", "scale_00"]

    with pytest.raises(SinganError, match="--resume"):
        fit(demo_image, model_dir, preset("tiny"), seed=TINY_SEED, progress=False)
    fit(demo_image, model_dir, preset("tiny"), progress=False, resume=True)
    for ours, theirs in zip(model_weights(model_dir), model_weights(tiny_model)):
        np.testing.assert_array_equal(ours, theirs)
    assert model_store.read_manifest(model_dir)["noise_amps"] == model_store.read_manifest(tiny_model)["noise_amps"]


def test_a_diverged_scale_stops_training_and_keeps_the_finished_ones(demo_image, tmp_path, monkeypatch):
    """A NaN loss at scale 1 (as a diverging run gives) must not be written as a model that samples
    NaN: training stops with a one-line reason and scale 0 stays, resumable."""
    iteration = ScaleTrainer._iteration

    def diverging(self, i):
        losses = iteration(self, i)
        return {k: v * float("nan") for k, v in losses.items()} if self.scale == 1 else losses

    monkeypatch.setattr(ScaleTrainer, "_iteration", diverging)
    model_dir = tmp_path / "diverged"
    with pytest.raises(SinganError, match=r"diverged at scale 1, iteration 0 \(d_loss, .*not finite\)") as error:
        fit(demo_image, model_dir, preset("tiny"), seed=TINY_SEED, progress=False)
    assert "\n" not in str(error.value)
    assert model_store.read_manifest(model_dir)["completed_scales"] == 1
    assert sorted(p.name for p in model_dir.iterdir()) == ["manifest.json", "scale_00"]


def test_resume_refuses_a_different_image_or_settings(tiny_model, tmp_path):
    model_dir = tmp_path / "copy"
    shutil.copytree(tiny_model, model_dir)
    other = tmp_path / "other.png"
    from PIL import Image

    Image.new("RGB", (64, 48), (10, 200, 30)).save(other)
    with pytest.raises(SinganError, match="not the image"):
        fit(other, model_dir, preset("tiny"), resume=True, progress=False)
    from conftest import DEMO_IMAGE

    with pytest.raises(SinganError, match="niter"):
        fit(DEMO_IMAGE, model_dir, preset("tiny", niter=5), resume=True, progress=False)


# --- training on windows (crop_size) ------------------------------------------------------------------


def _trainer(reals, scale, **overrides):
    plan, images = reals
    config = preset("tiny", **overrides)
    coarser = Pyramid([], [], [], plan.scale_factor, None)
    if scale:
        from singan_tf.bench.timing import random_pyramid

        coarser = random_pyramid(plan, config, scale)
    return ScaleTrainer(scale, images[scale], coarser, config, seed=5)


def test_a_window_of_the_padded_input_gives_exactly_the_whole_image_output_there(reals):
    """Why crops are a faithful shortcut: G's output on a window of its padded input is the
    whole-image output at those pixels (inference-mode BatchNorm, so only the window differs)."""
    trainer = _trainer(reals, 1, crop_size=12)
    real = trainer.real
    noise = tf.random.stateless_normal(trainer.noise_shape, seed=[1, 2])
    prev = tf.random.stateless_normal(real.shape, seed=[3, 4])
    padded = generator_input(noise, prev, 0.3, noise_padding=False)
    whole = trainer.generator([padded, prev], padded=True).numpy()
    corners = set()
    for i in range(12):
        window, prev_window, real_window = trainer._crop(tf.constant(i), tf.constant(0), padded, prev, real)
        top, left = _find(prev_window.numpy(), prev.numpy())
        corners.add((top, left))
        assert window.shape == (1, 22, 22, 3) and real_window.shape == (1, 12, 12, 3)
        np.testing.assert_array_equal(real_window.numpy(), real.numpy()[:, top:top + 12, left:left + 12])
        out = trainer.generator([window, prev_window], padded=True).numpy()
        np.testing.assert_allclose(out, whole[:, top:top + 12, left:left + 12], atol=2e-6)
    assert len(corners) > 6  # the window moves


def _first_norm_error(trainer: ScaleTrainer, rec_input: tf.Tensor) -> float:
    """How far G's first BatchNorm running mean is from the batch mean it sees on the whole image."""
    whole = trainer.generator.blocks[0].conv(rec_input).numpy().mean(axis=(0, 1, 2))
    return float(np.abs(trainer.generator.blocks[0].norm.moving_mean.numpy() - whole).mean())


def test_a_scale_trained_on_windows_samples_with_the_whole_images_batch_statistics(tiny_model):
    """G samples with its BatchNorm running averages, which training on windows leaves at the last
    few windows' statistics: the whole image can then come out with a colour cast (this test's
    model: reconstruction MSE 0.067 with them, 0.055 settled; 0.106 and 0.057 with another coarser
    scale). Whole-image passes at the end of the scale replace them, deterministically (resume
    stays exact)."""
    pyramid = model_store.load_pyramid(tiny_model)
    coarser = Pyramid(pyramid.generators[:1], pyramid.noise_amps[:1], pyramid.scale_sizes[:1], pyramid.scale_factor,
                      pyramid.z_star)
    real = tf.constant(model_store.load_tensors(tiny_model, 1)["real"])
    settled = []
    for _ in range(2):
        trainer = ScaleTrainer(1, real, coarser, preset("tiny", crop_size=12), seed=4)
        iteration = trainer.traced_iteration()
        for i in range(trainer.niter):
            iteration(tf.constant(i))
        rec_input = generator_input(tf.zeros(trainer.noise_shape), trainer.z_prev, trainer.noise_amp, False)
        before = _first_norm_error(trainer, rec_input)
        trainer.settle_statistics()
        assert _first_norm_error(trainer, rec_input) < 0.2 * before
        settled.append(trainer.generator([rec_input, trainer.z_prev], padded=True).numpy())
    np.testing.assert_array_equal(*settled)
    error = float(np.mean((settled[0] - real.numpy()) ** 2))
    assert error < 0.7 * np.var(real.numpy())


def test_windows_reach_the_image_borders_half_as_often_as_its_centre(reals):
    """A uniformly drawn corner put the first and the last row and column in one window of every
    (size - window + 1): the borders, where G reads its zero padding, went nearly untrained. Centred
    windows reach them half as often as the centre, and no row or column more than 1.5 times as often."""
    h, w, size = 40, 48, 11
    trainer = ScaleTrainer(0, tf.zeros([1, h, w, 3]), Pyramid([], [], [], 0.75, None), preset("tiny", crop_size=size), seed=5)
    rows, columns = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    where = tf.constant(np.stack([rows, columns, np.zeros_like(rows)], -1)[None], tf.float32)
    padded = tf.zeros([1, h + 10, w + 10, 3])
    row_count, column_count = np.zeros(h), np.zeros(w)
    for i in range(400):
        _, window, _ = trainer._crop(tf.constant(i), tf.constant(i % 3), padded, where, trainer.real)
        top, left = window.numpy()[0, 0, 0, :2].astype(int)
        row_count[top:top + size] += 1
        column_count[left:left + size] += 1
    for count in (row_count, column_count):
        centre = count[len(count) // 2]
        assert min(count[0], count[-1]) > 0.35 * centre, count
        assert count.max() < 1.75 * centre, count


def _find(window: np.ndarray, image: np.ndarray) -> tuple[int, int]:
    h, w = window.shape[1:3]
    for top in range(image.shape[1] - h + 1):
        for left in range(image.shape[2] - w + 1):
            if np.array_equal(image[:, top:top + h, left:left + w], window):
                return top, left
    raise AssertionError("window not found in the image")


def test_no_crop_when_the_image_fits_the_window(reals):
    """The official settings (crop_size 0) and windows larger than the scale run the untouched graph."""
    for overrides in ({}, {"crop_size": 64}):
        trainer = _trainer(reals, 1, **overrides)
        tensors = (tf.zeros([1, 34, 42, 3]), tf.zeros([1, 24, 32, 3]), trainer.real)
        assert all(a is b for a, b in zip(trainer._crop(tf.constant(0), tf.constant(0), *tensors), tensors))


@pytest.mark.parametrize("crop_size, shared", [(12, False), (12, True), (0, True)])
def test_the_coarser_sample_is_drawn_once_per_iteration_only_when_asked_and_cropped(reals, crop_size, shared):
    """`one_coarse_draw` runs the frozen coarser scales once per iteration instead of once per critic
    step, and only at a scale trained on windows, where each critic step still cuts its own window
    (keyed by the step). Counted while the iteration's one graph is traced."""
    trainer = _trainer(reals, 1, crop_size=crop_size, one_coarse_draw=shared)
    runs, coarser_run = [], trainer.coarser.run
    trainer.coarser.run = lambda *args: runs.append(1) or coarser_run(*args)
    losses = trainer.traced_iteration()(tf.constant(0))
    assert all(np.isfinite(float(v)) for v in losses.values())
    assert len(runs) == (1 if crop_size and shared else trainer.config.d_steps)
    # ... which is what `plan` and `bench` count: the coarser pass fewer times, nothing else.
    plan, config = reals[0], trainer.config
    sizes, channels = list(plan.scale_sizes), list(plan.channels)
    assert config.coarse_draws(*sizes[1]) == len(runs)
    saved = iteration_flops(sizes, channels, 1, config.with_overrides(one_coarse_draw=False)) - iteration_flops(
        sizes, channels, 1, config)
    assert saved == (config.d_steps - len(runs)) * generator_flops(*sizes[0], channels[0])


@pytest.mark.parametrize("whole", [False, True])
def test_the_reconstruction_is_taken_over_the_whole_image_only_when_asked(reals, whole):
    """`whole_image_reconstruction` at a scale trained on windows: every generator step reconstructs
    the whole image (input, coarser reconstruction, target), while its adversarial pass stays on the
    window; `plan` and `bench` count G on the whole image for it."""
    trainer = _trainer(reals, 1, crop_size=12, whole_image_reconstruction=whole)
    seen, step = [], trainer._compiled_generator_step
    trainer._compiled_generator_step = lambda critic, *rec: seen.append((critic, rec)) or step(critic, *rec)
    losses = trainer.traced_iteration()(tf.constant(0))
    assert all(np.isfinite(float(v)) for v in losses.values())
    assert len(seen) == trainer.config.g_steps
    (critic, (rec_input, rec_prev, rec_real)) = seen[-1]
    (h, w), window = trainer.real.shape[1:3], trainer.window
    assert critic["prev"].shape[1:3] == window
    assert rec_real.shape[1:3] == rec_prev.shape[1:3] == ((h, w) if whole else window)
    assert rec_input.shape[1:3] == tuple(n + 2 * PADDING for n in rec_real.shape[1:3])
    plan, config = reals[0], trainer.config
    sizes, channels = list(plan.scale_sizes), list(plan.channels)
    extra = iteration_flops(sizes, channels, 1, config) - iteration_flops(
        sizes, channels, 1, config.with_overrides(whole_image_reconstruction=False))
    assert extra == whole * config.g_steps * 3 * (generator_flops(h, w, channels[1]) - generator_flops(*window, channels[1]))


def test_cropped_training_with_an_iteration_schedule_learns_and_resumes_exactly(demo_image, tmp_path, monkeypatch):
    """The fast mode's levers in small: 22 px windows on the 20x27 and 24x32 scales, one coarser
    sample per iteration there, 30 iterations where the window has at most 450 pixels (scale 0's
    20x22) and 20 above. Still a trained model,
    and --resume gives the same weights as an uninterrupted run (the windows are keyed by seed, scale
    and iteration)."""
    config = preset("tiny", crop_size=22, small_niter=30, small_max_pixels=450, one_coarse_draw=True)
    reached, settled = {}, []
    settle = ScaleTrainer.settle_statistics
    monkeypatch.setattr(ScaleTrainer, "settle_statistics", lambda self: settled.append(self.scale) or settle(self))

    def interrupt(scale, manifest):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(demo_image, tmp_path / "resumed", config, seed=2, progress=False, on_scale_done=interrupt)
    fit(demo_image, tmp_path / "resumed", config, progress=False, resume=True)
    fit(demo_image, tmp_path / "whole", config, seed=2, progress=False,
        on_progress=lambda scale, done, losses: reached.update({scale: done}))
    for ours, theirs in zip(model_weights(tmp_path / "resumed"), model_weights(tmp_path / "whole")):
        np.testing.assert_array_equal(ours, theirs)
    assert reached == {0: 30, 1: 20}
    assert settled == [0, 1, 0, 1]  # as each scale ends: interrupted run 0, resumed 1, whole run 0, 1
    for run in ("resumed", "whole"):
        assert [s["niter"] for s in model_store.read_manifest(tmp_path / run)["scales"]] == [30, 20]
    # The mean colour would give the variance; measured 0.33 of it (0.36 before the windows were
    # centred and the statistics settled; 0.60 with 16 px windows: 20-30 iterations on windows of
    # 20-32 px scales is a harsh test).
    real = model_store.load_tensors(tmp_path / "whole", 1)["real"]
    reconstruction = model_store.load_pyramid(tmp_path / "whole").reconstruct().numpy()
    assert np.mean((reconstruction - real) ** 2) < 0.6 * np.var(real)
