"""Sample-quality numbers for a single-image GAN, as pure functions of pixel arrays.

Images are float arrays in [-1, 1], [H, W, C] for one image and [S, H, W, C] for a set of samples.
Everything is numpy (float32 for the large patch matrices, float64 for the statistics); the only
TensorFlow use is the project's MATLAB bicubic resize for the patch pyramid. Randomness (patch
subsets, projection directions) comes from an explicit seed, so every number is repeatable.

Patch distances are root-mean-square differences per patch element, in the same [-1, 1] units as
the pixels: 0 means identical patches, 2 is the largest possible.
"""

from __future__ import annotations

import math

import numpy as np

from singan_tf.resize import imresize

STD_FLOOR = 2.0 / 255.0
"""The smallest training-image std `diversity` divides by: one 8-bit grey level in [-1, 1] units.

A flat training image has std 0; any sample variation would then be "infinitely" diverse. With the
floor, diversity of a flat image is the samples' pixel std counted in grey levels, and identical
samples still score exactly 0.
"""


def diversity(samples: np.ndarray, real: np.ndarray) -> float:
    """The paper's diversity: per-pixel std over the samples, averaged over pixels and channels,
    divided by the training image's std (over all its pixels and channels, floored at STD_FLOOR).

    Population std (ddof=0) on both sides. Needs at least two samples of the training image's size.
    """
    samples = np.asarray(samples, np.float64)
    real = np.asarray(real, np.float64)
    if samples.ndim != 4 or samples.shape[0] < 2:
        raise ValueError(f"diversity needs [S>=2, H, W, C] samples, got shape {samples.shape}")
    if samples.shape[1:] != real.shape:
        raise ValueError(f"samples {samples.shape[1:]} and training image {real.shape} differ in size")
    pixel_std = float(np.mean(np.std(samples, axis=0)))
    return pixel_std / max(float(np.std(real)), STD_FLOOR)


def patches(image: np.ndarray, size: int) -> np.ndarray:
    """Every size x size patch of [H, W, C] (stride 1), flattened: [(H-size+1)*(W-size+1), size*size*C]."""
    image = np.asarray(image, np.float32)
    h, w, c = image.shape
    if min(h, w) < size:
        raise ValueError(f"a {h}x{w} image has no {size}x{size} patches")
    windows = np.lib.stride_tricks.sliding_window_view(image, (size, size), axis=(0, 1))
    return np.ascontiguousarray(windows.reshape(-1, c * size * size))


def pyramid_levels(images: np.ndarray, levels: int, min_side: int) -> list[np.ndarray]:
    """The images at full, 1/2, 1/4, ... resolution (MATLAB bicubic, antialiased), [S, H, W, C] each.

    Stops early once the shorter side would drop below `min_side`; the full resolution is always kept.
    """
    images = np.asarray(images, np.float32)
    pyramid = [images]
    while len(pyramid) < levels:
        _, h, w, _ = pyramid[-1].shape
        h2, w2 = math.ceil(h / 2), math.ceil(w / 2)
        if min(h2, w2) < min_side:
            break
        pyramid.append(np.asarray(imresize(pyramid[-1], h2, w2, 0.5, 0.5)))
    return pyramid


def random_directions(dim: int, count: int, seed: int) -> np.ndarray:
    """`count` unit vectors in R^dim, uniform on the sphere, as the columns of a [dim, count] matrix."""
    directions = np.random.default_rng(seed).standard_normal((dim, count))
    return (directions / np.linalg.norm(directions, axis=0, keepdims=True)).astype(np.float32)


def _quantiles(sorted_values: np.ndarray, count: int) -> np.ndarray:
    """Each column's empirical distribution read at `count` evenly spaced quantiles (itself if it
    already has `count` rows), so sets of different sizes can be compared point by point."""
    n = sorted_values.shape[0]
    if n == count:
        return sorted_values
    position = np.clip((np.arange(count) + 0.5) * n / count - 0.5, 0, n - 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, n - 1)
    frac = (position - low)[:, None].astype(np.float32)
    return sorted_values[low] * (1 - frac) + sorted_values[high] * frac


def sorted_projections(points: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Points [n, d] projected on each direction and sorted along it: [n, count]."""
    return np.sort(np.asarray(points, np.float32) @ directions, axis=0)


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, directions: np.ndarray) -> float:
    """Sliced Wasserstein-1 distance between two point sets [n, d] and [m, d]: the 1-D optimal
    transport cost along each direction, averaged over the directions.

    In 1-D, optimal transport matches sorted values, so each slice is the mean absolute difference
    of the sorted projections (compared at min(n, m) quantiles when the sizes differ).
    """
    return _sorted_distance(sorted_projections(a, directions), sorted_projections(b, directions))


def _sorted_distance(pa: np.ndarray, pb: np.ndarray) -> float:
    count = min(len(pa), len(pb))
    return float(np.mean(np.abs(_quantiles(pa, count) - _quantiles(pb, count)), dtype=np.float64))


def patch_swd(
    real: np.ndarray, samples: np.ndarray, patch_size: int = 7, levels: int = 4, projections: int = 64, seed: int = 0
) -> dict[str, object]:
    """Multi-scale patch sliced Wasserstein distance between the training image and the samples.

    At each pyramid level (full, 1/2, 1/4 ... resolution, as long as the shorter side is at least
    twice the patch size), all patches of the training image are compared with all patches of each
    sample; the level's value is the mean over samples. The same `projections` random directions
    (from `seed`) are used everywhere. Returns {"levels": [{"size": [h, w], "swd": x}...], "mean": x}.
    """
    real_levels = pyramid_levels(np.asarray(real)[None], levels, 2 * patch_size)
    sample_levels = pyramid_levels(samples, len(real_levels), 2 * patch_size)
    directions = random_directions(patch_size * patch_size * np.shape(real)[-1], projections, seed)
    per_level = []
    for real_level, sample_level in zip(real_levels, sample_levels):
        real_sorted = sorted_projections(patches(real_level[0], patch_size), directions)
        swd = np.mean([
            _sorted_distance(real_sorted, sorted_projections(patches(sample, patch_size), directions))
            for sample in sample_level
        ])
        per_level.append({"size": list(real_level.shape[1:3]), "swd": float(swd)})
    return {"levels": per_level, "mean": float(np.mean([level["swd"] for level in per_level]))}


def nearest_patch_distances(queries: np.ndarray, reference: np.ndarray, chunk: int = 256) -> np.ndarray:
    """For each query patch, the RMS difference to its nearest reference patch ([n] float64).

    The nearest neighbour maximises q.r - |r|^2 / 2 (the squared distance without the constant
    |q|^2), computed `chunk` queries at a time in one reused buffer (memory: chunk x len(reference)
    floats); its distance is then recomputed directly, so a query that occurs in the reference
    gets exactly 0.
    """
    queries = np.asarray(queries, np.float32)
    reference = np.asarray(reference, np.float32)
    half_sq = 0.5 * np.einsum("ij,ij->i", reference, reference)
    scores = np.empty((min(chunk, len(queries)), len(reference)), np.float32)
    distances = np.empty(len(queries))
    for start in range(0, len(queries), chunk):
        block = queries[start : start + chunk]
        out = scores[: len(block)]
        np.matmul(block, reference.T, out=out)
        out -= half_sq
        difference = block.astype(np.float64) - reference[np.argmax(out, axis=1)]
        distances[start : start + chunk] = np.sqrt(np.mean(np.square(difference), axis=1))
    return distances


def _subset(rows: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    if len(rows) <= limit:
        return rows
    return rows[np.sort(rng.choice(len(rows), limit, replace=False))]


def coherence_completeness(
    real: np.ndarray, samples: np.ndarray, patch_size: int = 7, max_queries: int = 256, seed: int = 0
) -> dict[str, float]:
    """Nearest-neighbour patch distances in both directions, at full resolution, mean over samples.

    coherence: mean over a sample's patches of the distance to the nearest training patch (low = the
    sample contains nothing the training image lacks). completeness: mean over the training patches
    of the distance to the nearest patch of the sample (low = the sample uses all of the training
    image). For each sample the queries are a fresh random subset of at most `max_queries` patches
    on each side (from `seed`); the side searched is always complete, so a patch present on both
    sides scores exactly 0.
    """
    rng = np.random.default_rng(seed)
    real_patches = patches(real, patch_size)
    coherence, completeness = [], []
    for sample in samples:
        sample_patches = patches(sample, patch_size)
        coherence.append(np.mean(nearest_patch_distances(_subset(sample_patches, max_queries, rng), real_patches)))
        completeness.append(np.mean(nearest_patch_distances(_subset(real_patches, max_queries, rng), sample_patches)))
    return {"coherence": float(np.mean(coherence)), "completeness": float(np.mean(completeness))}


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(np.asarray(a, np.float64) - np.asarray(b, np.float64)))))


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance of feature vectors [n, d] (rows = samples), as SIFID takes them."""
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"need [n>=2, d] feature vectors, got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix by eigendecomposition; eigenvalues
    that rounding made slightly negative count as 0."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """Fréchet (2-Wasserstein squared) distance between N(mu1, cov1) and N(mu2, cov2):
    |mu1 - mu2|^2 + Tr(cov1 + cov2 - 2 sqrtm(cov1 cov2)).

    cov1 cov2 is not symmetric, but it is similar to S = sqrt(cov1) cov2 sqrt(cov1), which is
    symmetric PSD, so Tr sqrtm(cov1 cov2) = sum of sqrt(eigenvalues of S): two symmetric
    eigendecompositions, no complex parts to drop (scipy's sqrtm route needs that clean-up).
    """
    root1 = _psd_sqrt(cov1)
    middle = root1 @ cov2 @ root1
    trace_sqrt = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)))
    diff = np.asarray(mu1, np.float64) - np.asarray(mu2, np.float64)
    return float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * trace_sqrt)


def sifid(real_features: np.ndarray, sample_features: list[np.ndarray]) -> float:
    """Single-image FID: every spatial position's feature vector is one draw; Fréchet distance
    between the training image's and each sample's Gaussian, averaged over the samples.

    `real_features` is [h, w, d] (or [n, d]); `sample_features` a list of the same per sample.
    """
    mu_real, cov_real = _position_stats(real_features)
    return float(np.mean([frechet_distance(mu_real, cov_real, *_position_stats(f)) for f in sample_features]))


def _position_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    features = np.asarray(features)
    return gaussian_stats(features.reshape(-1, features.shape[-1]))
