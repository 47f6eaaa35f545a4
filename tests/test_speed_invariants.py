"""Properties the training speed depends on (one trace, one compiled graph, no host calls) and the
benchmark's bookkeeping. Timings themselves are not asserted: they belong to `singan-tf bench`."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from singan_tf.bench.timing import is_official_reference, markdown_table, random_pyramid, run_benchmark
from singan_tf.config import preset
from singan_tf.cost import iteration_flops
from singan_tf.image_io import load_image
from singan_tf.pyramid import build_reals
from singan_tf.scale_plan import plan_scales
from singan_tf.training import ScaleTrainer


def _scale_1_trainer(demo_image, **overrides) -> ScaleTrainer:
    config = preset("tiny", **overrides)
    image = load_image(demo_image)
    plan = plan_scales(*image.shape[:2], config)
    return ScaleTrainer(1, build_reals(image, plan)[1], random_pyramid(plan, config, 1), config, seed=3)


@pytest.fixture(scope="module", params=[{}, {"xla": True}, {"xla_max_pixels": 100}],
                ids=["plain", "xla", "oneDNN-above-the-limit"])
def trainer(request, demo_image) -> ScaleTrainer:
    """Scale 1 (24x32) of the tiny preset: plain tf.function (the default), XLA for every scale, and
    an XLA limit below this scale; run for 4 iterations, so the iteration includes the pass through
    a coarser generator."""
    trainer = _scale_1_trainer(demo_image, **request.param)
    for i in range(4):
        trainer.iteration(tf.constant(i))
    return trainer


def test_iteration_is_traced_once(trainer):
    assert trainer.iteration.experimental_get_tracing_count() == 1


def test_iteration_is_one_graph_without_host_calls(trainer):
    concrete = trainer.iteration.get_concrete_function(tf.constant(0))
    assert trainer.iteration.experimental_get_tracing_count() == 1
    op_types = {op.type for op in concrete.graph.get_operations()}
    assert not op_types & {"PyFunc", "EagerPyFunc", "PyFuncStateless"}
    assert concrete.function_def.attr["_XlaMustCompile"].b == trainer.config.xla


def test_a_scale_within_the_xla_limit_compiles_with_xla(demo_image):
    """Traced, not run: compiling and running XLA is the `xla` case above."""
    trainer = _scale_1_trainer(demo_image, xla_max_pixels=24 * 32)
    assert trainer.traced_iteration().function_def.attr["_XlaMustCompile"].b


@pytest.mark.parametrize("policy,compute", [("mixed_bfloat16", "bfloat16"), ("mixed_float16", "float16")])
def test_mixed_precision_is_the_fast_presets_and_keeps_float32_weights(demo_image, monkeypatch, policy, compute):
    """Both low precisions a device may get; float16 (older GPUs) trains with loss scaling. Only the
    fast preset turns it on: the paper preset is the official numbers."""
    from singan_tf import training

    assert [p for p in ("paper", "fast", "quick", "tiny") if preset(p).mixed_precision] == ["fast"]
    monkeypatch.setattr(training, "mixed_policy", lambda: policy)
    config = preset("tiny", mixed_precision=True)
    image = load_image(demo_image)
    plan = plan_scales(*image.shape[:2], config)
    trainer = ScaleTrainer(0, build_reals(image, plan)[0], random_pyramid(plan, config, 0), config, seed=3)
    before = [w.numpy() for w in trainer.generator.trainable_weights]
    for i in range(3):
        losses = trainer.iteration(tf.constant(i))
    assert trainer.iteration.experimental_get_tracing_count() == 1
    assert set(losses) >= {"d_loss", "g_adv", "rec"}
    assert all(np.isfinite(float(v)) for v in losses.values())
    assert not all(np.array_equal(a, w.numpy()) for a, w in zip(before, trainer.generator.trainable_weights))
    assert trainer.generator.blocks[1].conv.compute_dtype == compute
    assert trainer.generator.blocks[1].norm.compute_dtype == "float32"
    assert {w.dtype for w in trainer.generator.weights + trainer.discriminator.weights} == {"float32"}
    assert trainer.generator([trainer.real, trainer.real]).dtype == tf.float32
    assert isinstance(trainer.opt_g, keras.optimizers.LossScaleOptimizer) == (compute == "float16")


def test_official_reference_needs_balloons_and_the_paper_settings(demo_image, tmp_path):
    assert is_official_reference(demo_image, preset("paper"))
    assert is_official_reference(demo_image, preset("paper", xla=True))
    assert is_official_reference(demo_image, preset("paper", xla_max_pixels=2000))
    assert not is_official_reference(demo_image, preset("paper", crop_size=96))
    assert not is_official_reference(demo_image, preset("paper", nfc=64))
    assert not is_official_reference(demo_image, preset("paper", mixed_precision=True))
    assert not is_official_reference(tmp_path / "other.png", preset("paper"))


def test_benchmark_report(demo_image):
    config = preset("tiny")
    report = run_benchmark(demo_image, config, scales=[1], iters=2, matmul_size=256)
    assert set(report["peak_gflops"]) == {"matmul", "conv3x3"}
    assert all(v > 0 for v in report["peak_gflops"].values())
    (row,) = report["train"]
    plan = plan_scales(*load_image(demo_image).shape[:2], config)
    assert (row["scale"], row["height"], row["width"], row["channels"]) == (1, *plan.scale_sizes[1], plan.channels[1])
    flops = iteration_flops(list(plan.scale_sizes), list(plan.channels), 1, config)
    assert row["gflop_per_iter"] == pytest.approx(flops / 1e9)
    assert row["sec_per_iter"] > 0 and row["compile_sec"] > 0 and len(row["iter_times"]) == 2
    assert row["pct_of_conv_peak"] == pytest.approx(100 * row["gflops"] / report["peak_gflops"]["conv3x3"])
    assert row["pct_of_conv_here"] == pytest.approx(100 * row["gflops"] / row["conv3x3_gflops_here"])
    kernels = row["conv3x3_kernels_gflops_here"]
    rates = [kernels[k] for k in ("forward", "input_gradient", "weight_gradient")]
    assert min(rates) <= kernels["mix"] <= max(rates) and kernels["forward"] == row["conv3x3_gflops_here"]
    assert row["pct_of_conv_mix_here"] == pytest.approx(100 * row["gflops"] / kernels["mix"])
    assert "official_sec_per_iter" not in row  # tiny preset: the official timings do not apply
    assert [s["height"] for s in report["sampling"]["sizes"]] == [12, 24, 48]
    table = markdown_table(report)
    assert table.count("\n| 1 | ") == 1 and "official" not in table


EPYC_CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 1
model name\t: AMD EPYC 7B13
flags\t\t: fpu sse sse2 avx avx2 fma

processor\t: 1
"""


def test_official_figures_name_their_machine_and_other_machines_are_told_apart(tmp_path):
    from singan_tf.bench import reference_runs

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(EPYC_CPUINFO)
    epyc = reference_runs.this_machine(cpuinfo)
    assert (epyc["family"], epyc["model"], epyc["name"]) == (25, 1, "AMD EPYC 7B13")
    assert "family 25 model 1" in reference_runs.mismatch(here=epyc)
    xeon_without_amx = {"name": "Xeon", "family": 6, "model": 207, "flags": {"avx512f", "avx512_bf16"}}
    assert "amx_bf16, amx_tile" in reference_runs.mismatch(here=xeon_without_amx)
    assert reference_runs.mismatch(here={**xeon_without_amx, "flags": set(reference_runs.OFFICIAL_MACHINE.flags)}) is None
    assert "Sapphire Rapids" in reference_runs.OFFICIAL_MACHINE.description
    assert reference_runs.OFFICIAL_SEC_PER_ITER == {6: 1.85, 7: 2.95, 8: 19.3}


@pytest.mark.parametrize("reason", [None, "this CPU is family 25 model 1"])
def test_bench_states_a_speed_up_only_on_the_reference_machine_kind(demo_image, monkeypatch, reason):
    from singan_tf.bench import timing as benchmark

    monkeypatch.setattr(benchmark, "is_official_reference", lambda image, config: True)
    monkeypatch.setattr(benchmark, "OFFICIAL_SEC_PER_ITER", {1: 2.0})
    monkeypatch.setattr(benchmark, "mismatch", lambda: reason)
    report = run_benchmark(demo_image, preset("tiny"), scales=[1], iters=1, sampling=False, matmul_size=64)
    (row,) = report["train"]
    table = markdown_table(report)
    assert row["official_sec_per_iter"] == 2.0 and "Sapphire Rapids" in table
    if reason is None:
        assert row["speedup_vs_official"] == pytest.approx(2.0 / row["sec_per_iter"])
        assert "no speed-up" not in table
    else:
        assert "speedup_vs_official" not in row
        assert reason in table and "no speed-up is computed" in table


def test_bench_of_all_scales_estimates_the_whole_run(demo_image):
    """Each scale's minutes come from its own iterations: 11 at scale 0 (`small_niter`), 7 above."""
    h0, w0 = plan_scales(186, 248, preset("tiny")).scale_sizes[0]
    config = preset("tiny", niter=7, small_niter=11, small_max_pixels=h0 * w0)
    report = run_benchmark(demo_image, config, scales="all", iters=1, sampling=False, matmul_size=64)
    rows = report["train"]
    assert [row["scale"] for row in rows] == [0, 1]
    for row, niter in zip(rows, (11, 7)):
        assert row["niter"] == niter
        assert row["scale_minutes"] == pytest.approx((niter * row["sec_per_iter"] + row["compile_sec"]) / 60)
    assert report["run_minutes"] == pytest.approx(sum(row["scale_minutes"] for row in rows))
    assert report["official_paper_run"]["hours"] == 15.0
    assert "The whole run:" in markdown_table(report)


def test_bench_rejects_scales_outside_the_plan(demo_image):
    from singan_tf.cli.main import cli

    result = CliRunner().invoke(cli, ["bench", str(demo_image), "--preset", "tiny", "--scales", "1,9"])
    assert result.exit_code == 2
    assert "--scales [9] outside this image's plan (scales 0..1)" in result.output
