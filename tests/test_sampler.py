"""The one sampler: sizes by the official arbitrary-size rule, seeds that reproduce, scale_from semantics
(retargeting at any size), noise_scale."""

import numpy as np
import pytest
import tensorflow as tf

from singan_tf import model_store, noise
from singan_tf.pyramid import gray, official_resize, upsample
from singan_tf.sampler import MAX_NOISE_SCALE, MAX_UPSCALE, Sampler

# Not the training size (24x32) on either axis at either scale of the tiny model.
OTHER_SIZE = (30, 44)


@pytest.fixture(scope="module")
def sampler(tiny_model):
    return Sampler(model_store.load_pyramid(tiny_model))


def test_same_seed_same_pixels_other_seed_other_pixels(sampler):
    h, w = sampler.finest
    a, b, c = sampler(h, w, 11), sampler(h, w, 11), sampler(h, w, 12)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert np.abs(a.numpy() - c.numpy()).mean() > 0.02


def test_seed_reproduces_across_fresh_loads(tiny_model, sampler):
    again = Sampler(model_store.load_pyramid(tiny_model))
    np.testing.assert_array_equal(again(40, 50, 3).numpy(), sampler(40, 50, 3).numpy())


@pytest.mark.parametrize("height,width", [(24, 32), (24, 64), (48, 32), (13, 100), (96, 128)])
def test_any_size_within_limits(sampler, height, width):
    out = sampler(height, width, 0)
    assert out.shape == (1, height, width, 3)
    sizes = [(int(h), int(w)) for h, w in sampler.sizes_for(tf.constant(height), tf.constant(width))]
    fh, fw = sampler.finest
    expected = [(int(np.floor(h * height / fh + 0.5)), int(np.floor(w * width / fw + 0.5))) for h, w in sampler.pyramid.scale_sizes]
    assert sizes == expected and sizes[-1] == (height, width)


def test_training_size_gives_the_training_pyramid(sampler):
    sizes = sampler.sizes_for(tf.constant(sampler.finest[0]), tf.constant(sampler.finest[1]))
    assert [(int(h), int(w)) for h, w in sizes] == list(sampler.pyramid.scale_sizes)


def _spread(sampler, scale_from, seeds=range(6), noise_scale=1.0, size=None):
    h, w = size or sampler.finest
    stack = np.stack([sampler(h, w, s, scale_from, noise_scale).numpy()[0] for s in seeds])
    return stack.std(axis=0).mean(), stack


def test_scale_from_one_varies_less_and_keeps_the_reconstructed_layout(sampler):
    spread_0, _ = _spread(sampler, 0)
    spread_1, samples_1 = _spread(sampler, 1)
    assert spread_1 < 0.5 * spread_0
    reconstruction = sampler.pyramid.reconstruct().numpy()[0]
    assert np.abs(samples_1 - reconstruction).mean() < 0.5 * np.abs(_spread(sampler, 0)[1] - reconstruction).mean()


def in_a_graph(build):
    """`build()` traced and run, as every sampling path runs: TensorFlow's graph rewrites fuse the
    generators' zero padding into their first convolution, which rounds unlike eager execution."""
    return tf.function(build, autograph=False)().numpy()


def _retargeted(sampler, height, width, seed, scale_from, noise_scale):
    """Retargeting written out from Pyramid pieces: G(z*) at the training sizes up to scale K-1, that
    image resized the official way (kernel scale target/source) to the requested layout at K-1,
    upsampled to K, then generation from K up at the requested sizes with the seed's noise."""
    pyramid, k = sampler.pyramid, scale_from
    sizes = [(int(h), int(w)) for h, w in sampler.sizes_for(height, width)]

    def build():
        noises = [None] * k + [noise.normal(seed, n, [1, *pyramid.noise_size(*sizes[n]), 3])
                               for n in range(k, pyramid.num_scales)]
        retargeted = official_resize(pyramid.reconstruct(k), *sizes[k - 1])
        start = upsample(retargeted, *sizes[k], pyramid.scale_factor)
        return pyramid.run(noises, sizes, start_image=start, start_scale=k, noise_scale=noise_scale)

    return in_a_graph(build)


def test_retargeting_is_the_reconstruction_resized_then_generated_from_scale_k(sampler):
    sizes = [(int(h), int(w)) for h, w in sampler.sizes_for(*OTHER_SIZE)]
    assert all(a != b for size, trained in zip(sizes, sampler.pyramid.scale_sizes) for a, b in zip(size, trained))
    for noise_scale in (1.0, 1.5):
        np.testing.assert_array_equal(sampler(*OTHER_SIZE, 4, 1, noise_scale).numpy(),
                                      _retargeted(sampler, *OTHER_SIZE, 4, 1, noise_scale))


def test_at_the_training_size_scale_from_k_is_the_chain_on_z_star_as_before(sampler):
    """What scale_from K > 0 always meant: one pass with z* at scale 0, zero noise below K, the seed's
    noise from K; the retargeting resize is an exact identity there, and noise_scale 1 changes no bit."""
    pyramid, (h, w) = sampler.pyramid, sampler.finest
    noises = [pyramid.z_star] + [noise.normal(3, n, [1, *pyramid.noise_size(*size), 3])
                                 for n, size in enumerate(pyramid.scale_sizes) if n > 0]
    before = in_a_graph(lambda: pyramid.run(noises, pyramid.scale_sizes))
    np.testing.assert_array_equal(sampler(h, w, 3, 1).numpy(), before)
    np.testing.assert_array_equal(sampler(h, w, 3, 1, 1.0).numpy(), before)


def test_from_scale_zero_noise_scale_one_is_the_trained_model(sampler):
    """Every scale random, the coarsest with one gray channel, amplitudes as trained."""
    pyramid, sizes = sampler.pyramid, [(int(h), int(w)) for h, w in sampler.sizes_for(*OTHER_SIZE)]
    noises = [gray(noise.normal(3, 0, [1, *pyramid.noise_size(*sizes[0]), 1]))]
    noises += [noise.normal(3, n, [1, *pyramid.noise_size(*size), 3]) for n, size in enumerate(sizes) if n > 0]
    np.testing.assert_array_equal(sampler(*OTHER_SIZE, 3).numpy(), in_a_graph(lambda: pyramid.run(noises, sizes)))


def test_a_wide_sample_from_scale_one_keeps_the_training_layout(sampler):
    """--scale-from 1 --scale-h 2: the reconstruction's layout stretched, unlike a sample from scale 0."""
    h, w = sampler.finest[0], 2 * sampler.finest[1]
    layout = official_resize(sampler.pyramid.reconstruct(), h, w).numpy()[0].ravel()

    def correlation(scale_from):
        return np.mean([np.corrcoef(sampler(h, w, s, scale_from).numpy()[0].ravel(), layout)[0, 1] for s in range(4)])

    # On the tiny model samples from scale 0 are close to the image too (correlation ~0.8), so compare
    # what is left unexplained: from scale 1 it is measured at a quarter of scale 0's.
    kept, random = correlation(1), correlation(0)
    assert 1 - kept < 0.5 * (1 - random), (kept, random)


def test_noise_scale_zero_ignores_the_seed_and_diversity_grows_with_it(sampler):
    for scale_from, size in ((0, sampler.finest), (1, OTHER_SIZE)):
        a, b = sampler(*size, 1, scale_from, 0.0).numpy(), sampler(*size, 2, scale_from, 0.0).numpy()
        np.testing.assert_array_equal(a, b)
        spreads = [_spread(sampler, scale_from, noise_scale=x, size=size)[0] for x in (0.5, 1.0, 2.0)]
        assert spreads[0] < spreads[1] < spreads[2], spreads


def test_out_of_range_requests_are_refused_in_words_and_in_the_graph(sampler):
    h, w = sampler.finest
    bad = [(0, w, 0, 1.0), (-5, w, 0, 1.0), (h, MAX_UPSCALE * w + 1, 0, 1.0), (h, w, sampler.pyramid.num_scales, 1.0),
           (h, w, -1, 1.0), (h, w, 0, -0.5), (h, w, 1, MAX_NOISE_SCALE + 0.5), (h, w, 0, float("nan"))]
    for height, width, scale_from, noise_scale in bad:
        problem = sampler.request_problem(height, width, scale_from, noise_scale)
        assert problem and "\n" not in problem
        with pytest.raises(tf.errors.InvalidArgumentError, match="assertion failed"):
            sampler(height, width, 0, scale_from, noise_scale)
    assert "noise_scale 5 is outside 0..4" == sampler.request_problem(h, w, 0, 5.0)
    for fine in [(h, w, 1, 1.0), (h + 1, 2 * w, 1, 0.0), (MAX_UPSCALE * h, w, 0, MAX_NOISE_SCALE)]:
        assert sampler.request_problem(*fine) is None


def test_one_trace_serves_every_size_and_seed(sampler):
    before = sampler.sample.experimental_get_tracing_count()
    for size, scale_from, noise_scale in [((20, 30), 0, 1.0), ((30, 20), 1, 0.5), ((24, 32), 1, 2.0)]:
        sampler(*size, 5, scale_from, noise_scale)
    assert sampler.sample.experimental_get_tracing_count() == max(before, 1)


def test_a_sampler_per_scale_raises_no_retracing_warning(tiny_model, caplog):
    """Training builds one Sampler per finished scale for its previews, and `train` another for its
    samples: TensorFlow must not call that "retracing" (it did from the fifth)."""
    pyramid = model_store.load_pyramid(tiny_model)
    for seed in range(7):
        Sampler(pyramid)(*pyramid.scale_sizes[-1], seed)
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]


def test_injecting_the_real_image_at_the_finest_scale_stays_close_to_it(deep_model):
    """On the 3-scale model whose generators refine what they are given (see `deep_model`), over 4
    seeds: measured 0.56 of a sample's distance on an AVX2 host, less on AVX-512 ones."""
    sampler = Sampler(model_store.load_pyramid(deep_model))
    real = model_store.load_tensors(deep_model, sampler.pyramid.num_scales - 1)["real"]
    injected = [sampler.inject(tf.constant(real), sampler.pyramid.num_scales - 1, seed=s).numpy() for s in range(4)]
    samples = [sampler(*sampler.finest, s).numpy() for s in range(4)]
    assert injected[0].shape == real.shape
    assert np.abs(np.array(injected) - real).mean() < 0.7 * np.abs(np.array(samples) - real).mean()


# The training size from scale 1, another size from scale 1 with more noise, scale 0 with less.
CASES = [(24, 32, 1, 1.0), (30, 44, 1, 1.5), (30, 44, 0, 0.5)]
GRAPPLER_OFF = """
import json, sys, numpy as np, tensorflow as tf
CASES = json.loads(sys.argv[3])
tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
from singan_tf.model_store import load_pyramid
from singan_tf.sampler import Sampler
sampler = Sampler(load_pyramid(sys.argv[1]))
np.savez(sys.argv[2], *[sampler(h, w, 5, k, x).numpy() for h, w, k, x in CASES])
"""


def test_samples_do_not_depend_on_how_tensorflow_optimises_the_graph(tiny_model, sampler, tmp_path):
    """TF Serving, a TF1 session, tf.data and Python optimise the same graph differently (grappler
    folds constants, turns divisions by constants into products, regroups sums); the sampler is
    written so that none of that changes a bit, hence equal pixels everywhere. Here: the float
    output with every graph optimisation off (in a fresh process) against the default."""
    import json
    import subprocess
    import sys

    out = tmp_path / "unoptimised.npz"
    done = subprocess.run([sys.executable, "-c", GRAPPLER_OFF, str(tiny_model), str(out), json.dumps(CASES)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    with np.load(out) as unoptimised:
        for (h, w, k, x), name in zip(CASES, unoptimised.files):
            np.testing.assert_array_equal(unoptimised[name], sampler(h, w, 5, k, x).numpy())
