"""The pyramid geometry against the official formulas (spec §2.2), recomputed here independently."""

import math

import pytest

from singan_tf.config import PRESETS, TrainConfig
from singan_tf.errors import SinganError
from singan_tf.scale_plan import plan_scales


def official_pyramid(h: int, w: int, min_size=25, max_size=250, sf0=0.75):
    """adjust_scales2image + creat_reals_pyramid, step by step as the spec states them."""
    num_scales = math.ceil(math.log(min_size / min(h, w), sf0)) + 1
    scale2stop = math.ceil(math.log(min(max_size, max(h, w)) / max(h, w), sf0))
    stop_scale = num_scales - scale2stop
    scale1 = min(max_size / max(h, w), 1)
    fh, fw = math.ceil(h * scale1), math.ceil(w * scale1)
    r = math.pow(min_size / min(fh, fw), 1 / stop_scale)
    sizes = [(math.ceil(fh * r ** (stop_scale - i)), math.ceil(fw * r ** (stop_scale - i))) for i in range(stop_scale + 1)]
    return sizes, r


@pytest.mark.parametrize(
    "h,w",
    [(186, 248), (366, 585), (250, 250), (1536, 2048), (120, 80), (188, 250), (201, 256), (380, 572), (26, 40), (999, 101)],
)
def test_sizes_and_ratio_follow_the_official_formulas(h, w):
    plan = plan_scales(h, w, TrainConfig())
    sizes, r = official_pyramid(h, w)
    assert list(plan.scale_sizes) == sizes
    assert plan.scale_factor == pytest.approx(r, rel=1e-12)
    assert plan.finest_size == sizes[-1]
    assert max(plan.finest_size) <= 251  # ceil of a float product: 999 * (250/999) -> 251, as officially


def test_spec_table_rows_for_the_repository_images():
    """Three rows of the spec's own table, as a cross-check of the recomputation above."""
    balloons = plan_scales(186, 248, TrainConfig())
    assert balloons.num_scales == 9 and round(balloons.scale_factor, 4) == 0.7781
    assert balloons.scale_sizes[0] == (25, 34) and balloons.scale_sizes[4] == (69, 91)
    assert plan_scales(366, 585, TrainConfig()).finest_size == (157, 250)
    assert plan_scales(250, 250, TrainConfig()).num_scales == 11


def test_channels_double_every_four_scales_up_to_128():
    plan = plan_scales(250, 250, TrainConfig())
    assert plan.channels == tuple(min(32 * 2 ** (n // 4), 128) for n in range(11))
    assert plan.channels[-1] == 128 and plan.channels[4] == 64


def test_each_level_shrinks_from_the_finest_by_the_fitted_ratio():
    plan = plan_scales(186, 248, TrainConfig())
    for n, (h, w) in enumerate(plan.scale_sizes):
        assert (h, w) == (math.ceil(186 * plan.pyramid_scale(n)), math.ceil(248 * plan.pyramid_scale(n)))
    assert plan.pyramid_scale(plan.num_scales - 1) == 1.0


def test_large_images_are_shrunk_to_max_size_first():
    plan = plan_scales(1536, 2048, TrainConfig())
    assert plan.resize_factor == pytest.approx(250 / 2048)
    assert plan.finest_size == (math.ceil(1536 * 250 / 2048), 250)


@pytest.mark.parametrize("h,w", [(20, 30), (25, 300), (1000, 30), (1, 1)])
def test_images_too_small_or_too_narrow_for_the_coarsest_scale_are_refused(h, w):
    with pytest.raises(SinganError, match="too small|no pixels"):
        plan_scales(h, w, TrainConfig())


def test_presets_make_valid_plans_for_the_demo_image():
    for config in PRESETS.values():
        plan = plan_scales(186, 248, config)
        assert plan.num_scales >= 2
        assert min(plan.scale_sizes[0]) == pytest.approx(config.min_size, abs=1)


def test_invalid_settings_are_refused_with_a_message():
    with pytest.raises(SinganError, match="scale_factor"):
        TrainConfig(scale_factor=1.2)
    with pytest.raises(SinganError, match="min_size"):
        TrainConfig(min_size=300)
