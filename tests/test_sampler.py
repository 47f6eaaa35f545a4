"""The one sampler: sizes by the official arbitrary-size rule, seeds that reproduce, scale_from semantics."""

import numpy as np
import pytest
import tensorflow as tf

from singan_tf import model_store
from singan_tf.sampler import MAX_UPSCALE, Sampler


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


def _spread(sampler, scale_from, seeds=range(6)):
    h, w = sampler.finest
    stack = np.stack([sampler(h, w, s, scale_from).numpy()[0] for s in seeds])
    return stack.std(axis=0).mean(), stack


def test_scale_from_one_varies_less_and_keeps_the_reconstructed_layout(sampler):
    spread_0, _ = _spread(sampler, 0)
    spread_1, samples_1 = _spread(sampler, 1)
    assert spread_1 < 0.5 * spread_0
    reconstruction = sampler.pyramid.reconstruct().numpy()[0]
    assert np.abs(samples_1 - reconstruction).mean() < 0.5 * np.abs(_spread(sampler, 0)[1] - reconstruction).mean()


def test_out_of_range_requests_are_refused_in_words_and_in_the_graph(sampler):
    h, w = sampler.finest
    bad = [(0, w, 0), (-5, w, 0), (h, MAX_UPSCALE * w + 1, 0), (h, w, sampler.pyramid.num_scales), (h, w, -1), (h + 1, w, 1)]
    for height, width, scale_from in bad:
        assert sampler.request_problem(height, width, scale_from)
        with pytest.raises(tf.errors.InvalidArgumentError):
            sampler(height, width, 0, scale_from)
    assert sampler.request_problem(h, w, 1) is None and sampler.request_problem(MAX_UPSCALE * h, w, 0) is None


def test_one_trace_serves_every_size_and_seed(sampler):
    before = sampler.sample.experimental_get_tracing_count()
    for size in [(20, 30), (30, 20), (24, 32)]:
        sampler(*size, 5)
    assert sampler.sample.experimental_get_tracing_count() == max(before, 1)


def test_injecting_the_real_image_at_the_finest_scale_stays_close_to_it(deep_model):
    """On the 3-scale model whose generators refine what they are given (see `deep_model`)."""
    sampler = Sampler(model_store.load_pyramid(deep_model))
    real = model_store.load_tensors(deep_model, sampler.pyramid.num_scales - 1)["real"]
    injected = sampler.inject(tf.constant(real), sampler.pyramid.num_scales - 1, seed=0).numpy()
    sample = sampler(*sampler.finest, 0).numpy()
    assert injected.shape == real.shape
    assert np.abs(injected - real).mean() < 0.5 * np.abs(sample - real).mean()


CASES = [(24, 32, 1), (30, 44, 0)]
GRAPPLER_OFF = """
import json, sys, numpy as np, tensorflow as tf
CASES = json.loads(sys.argv[3])
tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
from singan_tf.model_store import load_pyramid
from singan_tf.sampler import Sampler
sampler = Sampler(load_pyramid(sys.argv[1]))
np.savez(sys.argv[2], *[sampler(h, w, 5, k).numpy() for h, w, k in CASES])
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
        for (h, w, k), name in zip(CASES, unoptimised.files):
            np.testing.assert_array_equal(unoptimised[name], sampler(h, w, 5, k).numpy())
