"""singan_tf.metrics on inputs whose answers are known in advance: identical sets, shifted crops,
noise, flat images and Gaussians with closed-form distances."""

from __future__ import annotations

import numpy as np
import pytest

from singan_tf import metrics

RNG_SEED = 123


def _smooth_image(h: int, w: int, seed: int = RNG_SEED) -> np.ndarray:
    """A random image with texture at several sizes, so its 7x7 patches are all different."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    image = np.zeros((h, w, 3))
    for _ in range(12):
        fy, fx = rng.uniform(0.05, 0.6, 2)
        phases = rng.uniform(0, 6.3, 3)[:, None, None]
        image += rng.uniform(0.2, 1.0, 3) * np.sin(fy * y + fx * x + phases).transpose(1, 2, 0)
    return (0.9 * image / np.abs(image).max()).astype(np.float32)


def _noise(h: int, w: int, seed: int = 5) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (h, w, 3)).astype(np.float32)


# -- diversity ------------------------------------------------------------------------------------

def test_diversity_of_identical_samples_is_zero():
    real = _smooth_image(20, 24)
    assert metrics.diversity(np.stack([real] * 5), real) == 0.0


def test_diversity_is_pixel_std_over_image_std():
    """Samples real +- s at every pixel have a per-pixel (population) std of exactly s."""
    real = _smooth_image(20, 24)
    s = 0.1
    samples = np.stack([real + s, real - s])
    assert metrics.diversity(samples, real) == pytest.approx(s / np.std(real.astype(np.float64)), rel=1e-5)


def test_diversity_of_flat_training_image_is_finite_and_floored():
    flat = np.full((16, 16, 3), 0.25, np.float32)
    assert metrics.diversity(np.stack([flat] * 3), flat) == 0.0
    varied = np.stack([flat + 0.1, flat - 0.1])
    assert metrics.diversity(varied, flat) == pytest.approx(0.1 / metrics.STD_FLOOR, rel=1e-5)


def test_diversity_rejects_a_single_sample():
    real = _smooth_image(8, 8)
    with pytest.raises(ValueError):
        metrics.diversity(real[None], real)


# -- patches and the pyramid ----------------------------------------------------------------------

def test_patches_are_every_window():
    image = _smooth_image(10, 13)
    found = metrics.patches(image, 3)
    assert found.shape == (8 * 11, 27)
    window = image[4:7, 6:9]
    # Flattening order is internal; the window must be present as some row with the same values.
    matches = [np.allclose(np.sort(row), np.sort(window.ravel())) for row in found]
    assert matches[4 * 11 + 6]


def test_pyramid_halves_until_too_small():
    images = np.zeros((2, 60, 80, 3), np.float32)
    sizes = [level.shape[1:3] for level in metrics.pyramid_levels(images, levels=5, min_side=14)]
    assert sizes == [(60, 80), (30, 40), (15, 20)]


# -- sliced Wasserstein ---------------------------------------------------------------------------

def test_sliced_wasserstein_in_one_dimension_is_the_transport_cost():
    axis = np.ones((1, 1), np.float32)
    a = np.array([[0.0], [1.0], [2.0]], np.float32)
    assert metrics.sliced_wasserstein(a, a + 1.0, axis) == pytest.approx(1.0)
    # Same distribution, different sample counts: compared at common quantiles.
    assert metrics.sliced_wasserstein(np.array([[0.0], [1.0]]), np.array([[0.0], [0.0], [1.0], [1.0]]), axis) == 0.0


def test_patch_swd_of_identical_images_is_zero():
    real = _smooth_image(64, 80)
    result = metrics.patch_swd(real, np.stack([real, real]))
    assert len(result["levels"]) == 3  # 64x80, 32x40, 16x20 (16 >= 2 * 7)
    # Zero up to float32 summation order, which differs between CPU kernels (3.6e-10 on AVX2 hosts).
    assert result["mean"] == pytest.approx(0.0, abs=1e-6)


def test_patch_swd_of_flat_images_has_a_closed_form():
    """Every patch of a flat image c is c * (1, ..., 1); its projection on u is c * sum(u)."""
    a = np.full((30, 40, 3), 0.5, np.float32)
    b = np.full((30, 40, 3), -0.25, np.float32)
    directions = metrics.random_directions(7 * 7 * 3, 64, seed=0)
    expected = 0.75 * np.mean(np.abs(directions.sum(axis=0)))
    result = metrics.patch_swd(a, b[None], patch_size=7, levels=1, projections=64, seed=0)
    assert result["mean"] == pytest.approx(expected, rel=1e-5)


def test_patch_swd_shifted_copy_small_noise_large():
    big = _smooth_image(70, 86)
    real, shifted = big[:64, :80], big[3:67, 2:82]
    near = metrics.patch_swd(real, shifted[None])["mean"]
    far = metrics.patch_swd(real, _noise(64, 80)[None])["mean"]
    assert 0 < near < 0.1 * far


def test_patch_swd_is_repeatable_and_seed_dependent():
    real, sample = _smooth_image(40, 40), _smooth_image(40, 40, seed=9)
    first = metrics.patch_swd(real, sample[None], seed=3)["mean"]
    assert metrics.patch_swd(real, sample[None], seed=3)["mean"] == first
    assert metrics.patch_swd(real, sample[None], seed=4)["mean"] != first


# -- nearest-neighbour patch distances ------------------------------------------------------------

def test_nearest_patch_distance_finds_exact_copies():
    big = _smooth_image(40, 50)
    real, shifted = big[:32, :40], big[3:35, 2:42]
    distances = metrics.nearest_patch_distances(metrics.patches(shifted, 7), metrics.patches(real, 7), chunk=100)
    # Patch (i, j) of the shifted crop is patch (i+3, j+2) of the real crop when that one exists.
    rows, cols = 32 - 6, 40 - 6
    inside = np.zeros((rows, cols), bool)
    inside[: rows - 3, : cols - 2] = True
    assert np.all(distances.reshape(rows, cols)[inside] == 0.0)
    assert np.all(distances.reshape(rows, cols)[~inside] > 0.0)


def test_coherence_and_completeness():
    real = _smooth_image(32, 40)
    same = metrics.coherence_completeness(real, np.stack([real, real]))
    assert same == {"coherence": 0.0, "completeness": 0.0}

    # The left half copied over the right: every sample patch exists in the image (apart from the
    # seam), but the image's right-half patches are missing from the sample.
    half = real.copy()
    half[:, 20:] = real[:, :20]
    partial = metrics.coherence_completeness(real, half[None], max_queries=10**6)
    assert partial["coherence"] < 0.5 * partial["completeness"]

    noise = metrics.coherence_completeness(real, _noise(32, 40)[None])
    assert noise["coherence"] > 5 * partial["coherence"]
    assert noise["completeness"] > 0.3


def test_rmse():
    assert metrics.rmse(np.zeros((2, 3)), np.full((2, 3), 0.5)) == pytest.approx(0.5)


# -- Fréchet distance (SIFID) ---------------------------------------------------------------------

def _random_covariance(d: int, seed: int) -> np.ndarray:
    m = np.random.default_rng(seed).standard_normal((d, d))
    return m @ m.T / d + 0.1 * np.eye(d)


def test_frechet_distance_of_identical_gaussians_is_zero():
    mu, cov = np.arange(5.0), _random_covariance(5, 1)
    assert metrics.frechet_distance(mu, cov, mu, cov) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_closed_form_for_commuting_covariances():
    """Same eigenvectors: Tr sqrtm(S1 S2) = sum sqrt(a_i b_i), so FD = |dmu|^2 + sum (sqrt a - sqrt b)^2."""
    q, _ = np.linalg.qr(np.random.default_rng(2).standard_normal((4, 4)))
    a, b = np.array([1.0, 2.0, 0.5, 3.0]), np.array([4.0, 0.5, 0.5, 1.0])
    mu1, mu2 = np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 1.0, 0.0, 3.0])
    expected = 1.0 + 4.0 + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = metrics.frechet_distance(mu1, q @ np.diag(a) @ q.T, mu2, q @ np.diag(b) @ q.T)
    assert got == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_general_case_matches_eigenvalues_of_the_product():
    """S1 S2 is similar to a PSD matrix, so its eigenvalues are real and >= 0 and
    Tr sqrtm(S1 S2) = sum of their square roots (an independent route via a non-symmetric solver)."""
    c1, c2 = _random_covariance(6, 3), _random_covariance(6, 4)
    trace_sqrt = np.sum(np.sqrt(np.real(np.linalg.eigvals(c1 @ c2))))
    expected = np.trace(c1) + np.trace(c2) - 2 * trace_sqrt
    assert metrics.frechet_distance(np.zeros(6), c1, np.zeros(6), c2) == pytest.approx(expected, rel=1e-8)


def test_sifid_of_an_image_with_itself_is_zero_and_of_shifted_features_is_the_shift():
    features = np.random.default_rng(0).standard_normal((9, 11, 4))
    assert metrics.sifid(features, [features, features]) == pytest.approx(0.0, abs=1e-9)
    # Adding a constant vector moves only the mean: FD = |v|^2.
    v = np.array([1.0, -2.0, 0.0, 0.5])
    assert metrics.sifid(features, [features + v]) == pytest.approx(v @ v, rel=1e-9)
