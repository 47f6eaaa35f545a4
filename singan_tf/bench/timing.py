"""How fast training and sampling run on this machine, and how close that is to its limit.

The limit is measured in the same run: a large float32 matmul and a 3x3 convolution at the finest
benchmarked scale's shape, each as a compiled tf.function. Training speed is the median wall time
of whole iterations (`ScaleTrainer.iteration`, 3 critic + 3 generator steps) after one warm-up
call that pays for tracing and XLA compilation; its FLOPs come from `cost.iteration_flops`.

Timing needs no trained model: a scale costs the same with random weights, so the coarser scales
are fresh, untrained generators.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import resource
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import tensorflow as tf

from singan_tf.config import PRESETS, TrainConfig
from singan_tf.cost import iteration_flops
from singan_tf.errors import SinganError
from singan_tf.image_io import load_image
from singan_tf.models import PADDING, Generator
from singan_tf.pyramid import Pyramid, build_reals, gray
from singan_tf.bench.reference_runs import OFFICIAL_MACHINE, OFFICIAL_PAPER_RUN_HOURS, OFFICIAL_SEC_PER_ITER, mismatch
from singan_tf.sampler import Sampler
from singan_tf.scale_plan import ScalePlan, plan_scales
from singan_tf.training import ScaleTrainer, conv_dtype

PEAK_REPEATS = 10
CONV_KINDS = ("forward", "input_gradient", "weight_gradient")
MATMUL_SIZE = 4096
SAMPLE_REPEATS = 3
SAMPLE_SIZE_FACTORS = (0.5, 1.0, 2.0)
BUSY_LOAD = 0.5
FLOP_COUNT_NOTE = (
    "convolutions only, multiply-add = 2 FLOPs; backward = 2x forward; gradient penalty = 6x a critic forward "
    "(forward, input gradient, double backward); includes each critic step's pass through the coarser generators"
)

Log = Callable[[str], None]


def _call_seconds(function: Callable[[], Any], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times


def _best_compiled_gflops(body: Callable, args: list[tf.Tensor], flops: float, repeats: int) -> float:
    """GFLOP/s of `body(*args)`: the fastest call of a plain and an XLA-compiled tf.function, after a
    warm-up each. The best call, not the median, because a peak is what the machine can do when
    nothing else gets in the way."""
    best = 0.0
    for jit in (False, True):
        compiled = tf.function(body, jit_compile=jit, autograph=False)
        compiled(*args).numpy()
        seconds = min(_call_seconds(lambda: compiled(*args).numpy(), repeats))
        best = max(best, flops / seconds / 1e9)
    return best


def peak_matmul_gflops(n: int = MATMUL_SIZE, repeats: int = PEAK_REPEATS) -> float:
    a = tf.random.stateless_normal([n, n], seed=[1, 2])
    b = tf.random.stateless_normal([n, n], seed=[3, 4])
    # Reduce to one number so copying the result out is not timed.
    return _best_compiled_gflops(lambda x, y: tf.reduce_sum(tf.matmul(x, y)), [a, b], 2.0 * n**3, repeats)


def peak_conv3x3_gflops(height: int, width: int, channels: int, repeats: int = PEAK_REPEATS) -> float:
    """A valid 3x3 convolution channels -> channels on a [1, height, width, channels] input, as the
    generator's body layers run it at that size."""
    return conv3x3_kernel_gflops(height, width, channels, repeats, kinds=("forward",))["forward"]


def conv3x3_kernel_gflops(
    height: int, width: int, channels: int, repeats: int = PEAK_REPEATS, kinds: tuple[str, ...] = CONV_KINDS
) -> dict[str, float]:
    """The convolutions a training step is made of, at one shape: the forward pass, its input gradient
    and its weight gradient, each as fast as this machine runs it. `mix` is their harmonic mean, the
    speed of an equal-FLOP blend of the three: an iteration's convolutions are close to that blend
    (a backward pass is one input-gradient and one weight-gradient convolution of its forward's size,
    and the penalty's double backward is again made of the three kinds), so `mix` is about the fastest
    they can run here."""
    x = tf.random.stateless_normal([1, height, width, channels], seed=[5, 6])
    kernel = tf.random.stateless_normal([3, 3, channels, channels], seed=[7, 8])
    dy = tf.random.stateless_normal([1, height - 2, width - 2, channels], seed=[9, 10])
    flops = 2.0 * 9 * channels * channels * (height - 2) * (width - 2)
    strides = [1, 1, 1, 1]
    bodies = {
        "forward": (lambda x, k: tf.reduce_sum(tf.nn.conv2d(x, k, 1, "VALID")), [x, kernel]),
        "input_gradient": (lambda dy, k: tf.reduce_sum(tf.raw_ops.Conv2DBackpropInput(
            input_sizes=x.shape, filter=k, out_backprop=dy, strides=strides, padding="VALID")), [dy, kernel]),
        "weight_gradient": (lambda x, dy: tf.reduce_sum(tf.raw_ops.Conv2DBackpropFilter(
            input=x, filter_sizes=kernel.shape, out_backprop=dy, strides=strides, padding="VALID")), [x, dy]),
    }
    rates = {kind: _best_compiled_gflops(*bodies[kind], flops, repeats) for kind in kinds}
    if len(rates) == len(CONV_KINDS):
        rates["mix"] = len(rates) / sum(1.0 / r for r in rates.values())
    return rates


def random_pyramid(plan: ScalePlan, config: TrainConfig, num_scales: int, seed: int = 0) -> Pyramid:
    """The first `num_scales` scales of `plan` with fresh, untrained generators: same shapes, same
    cost, convolutions in the dtype they train in (as the frozen coarser scales of a training run)."""
    sizes = list(plan.scale_sizes[:num_scales])
    generators = []
    for n, (h, w) in enumerate(sizes):
        generator = Generator(config.channels(n), seed=seed + n, conv_dtype=conv_dtype(config, h, w), name=f"G{n}")
        dummy = tf.zeros([1, h, w, 3])
        generator([dummy, dummy])
        generators.append(generator)
    h0, w0 = plan.scale_sizes[0]
    z_star = gray(tf.random.stateless_normal([1, h0, w0, 1], seed=[seed, 0]))
    noise_amps = [1.0 if n == 0 else config.noise_amp for n in range(num_scales)]
    return Pyramid(generators, noise_amps, sizes, plan.scale_factor, z_star)


def peak_rss_mb() -> float:
    """Largest resident memory of this process so far (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_training_scale(
    reals: list[tf.Tensor], plan: ScalePlan, config: TrainConfig, scale: int, iters: int, seed: int = 0
) -> dict[str, Any]:
    """Seconds per training iteration at one scale: one warm-up call, then the median of `iters`."""
    started = time.perf_counter()
    trainer = ScaleTrainer(scale, reals[scale], random_pyramid(plan, config, scale, seed), config, seed)
    setup = time.perf_counter() - started

    def run(i: int) -> None:
        float(iteration(tf.constant(i))["d_loss"])

    started = time.perf_counter()
    iteration = trainer.traced_iteration()  # the trace is part of the warm-up's compile time
    run(0)
    compile_sec = time.perf_counter() - started
    times, cpu_times = [], []
    for i in range(1, iters + 1):
        started, cpu_started = time.perf_counter(), time.process_time()
        run(i)
        times.append(time.perf_counter() - started)
        cpu_times.append(time.process_time() - cpu_started)
    h, w = plan.scale_sizes[scale]
    flops = iteration_flops(list(plan.scale_sizes), list(plan.channels), scale, config)
    sec_per_iter = statistics.median(times)
    return {
        "scale": scale, "height": h, "width": w, "channels": plan.channels[scale],
        "sec_per_iter": sec_per_iter, "iter_times": times, "compile_sec": compile_sec, "setup_sec": setup,
        # CPU seconds of this process per iteration: what the work costs, less sensitive than wall
        # time to other programs competing for the cores.
        "cpu_sec_per_iter": statistics.median(cpu_times),
        "gflop_per_iter": flops / 1e9, "gflops": flops / 1e9 / sec_per_iter, "peak_rss_mb": peak_rss_mb(),
    }


def time_sampling(pyramid: Pyramid, repeats: int = SAMPLE_REPEATS) -> dict[str, Any]:
    """Latency of the Python sampler (one compiled graph for every size) at a few output sizes."""
    sampler = Sampler(pyramid)
    fh, fw = sampler.finest
    started = time.perf_counter()
    sampler(fh, fw, 0)
    trace_sec = time.perf_counter() - started
    sizes = []
    for factor in SAMPLE_SIZE_FACTORS:
        h, w = round(fh * factor), round(fw * factor)
        if sampler.request_problem(h, w, 0):
            continue
        sampler(h, w, 1)
        seconds = statistics.median(_call_seconds(lambda: sampler(h, w, 2).numpy(), repeats))
        sizes.append({"height": h, "width": w, "ms": seconds * 1e3})
    return {"trace_sec": trace_sec, "sizes": sizes, "peak_rss_mb": peak_rss_mb()}


def is_official_reference(image_path: Path, config: TrainConfig) -> bool:
    """Whether the official timings apply: balloons.png with the paper's settings (XLA aside)."""
    same_maths = dataclasses.replace(config, xla=False, xla_max_pixels=0)
    return Path(image_path).name == "balloons.png" and same_maths == PRESETS["paper"]


def run_benchmark(
    image_path: Path, config: TrainConfig, scales: list[int] | str | None = None, iters: int = 3,
    sampling: bool = True, log: Log = lambda _: None, matmul_size: int = MATMUL_SIZE,
) -> dict[str, Any]:
    """The whole benchmark; the dict `bench --json` writes."""
    image = load_image(image_path)
    plan = plan_scales(image.shape[0], image.shape[1], config)
    if scales == "all":
        scales = list(range(plan.num_scales))
    scales = sorted(set(scales)) if scales else list(range(max(0, plan.num_scales - 3), plan.num_scales))
    bad = [s for s in scales if not 0 <= s < plan.num_scales]
    if bad:
        raise SinganError(f"--scales {bad} outside this image's plan (scales 0..{plan.num_scales - 1})")
    if iters < 1:
        raise SinganError("--iters must be at least 1")

    report: dict[str, Any] = {
        "image": Path(image_path).name,
        "config": config.to_dict(),
        "machine": _machine(),
        "flop_count": FLOP_COUNT_NOTE,
    }
    if report["machine"]["load_average"][0] > BUSY_LOAD:
        log(f"warning: 1-minute load average {report['machine']['load_average'][0]:.1f}: something else has been "
            "using the CPU; if it still is, the timings will be slower than this machine can do")
    h, w = plan.scale_sizes[scales[-1]]
    channels = plan.channels[scales[-1]]
    conv_shape = [1, h + 2 * PADDING, w + 2 * PADDING, channels]
    log(f"peak: {matmul_size}x{matmul_size} matmul, 3x3 conv {conv_shape} -> {channels}")
    report["peak_gflops"] = {"matmul": peak_matmul_gflops(matmul_size), "conv3x3": peak_conv3x3_gflops(*conv_shape[1:])}
    report["peak_matmul_size"] = matmul_size
    report["peak_conv_shape"] = conv_shape
    if sampling:
        log(f"sampling latency, {plan.num_scales} scales")
        report["sampling"] = time_sampling(random_pyramid(plan, config, plan.num_scales))
    reals = build_reals(image, plan)
    official = OFFICIAL_SEC_PER_ITER if is_official_reference(image_path, config) else {}
    if official:
        report["official_reference"] = {"machine": OFFICIAL_MACHINE.description, "mismatch": mismatch()}
    report["train"] = []
    for scale in scales:
        h, w = plan.scale_sizes[scale]
        log(f"training scale {scale} {h}x{w}: warm-up + {iters} iterations")
        row = time_training_scale(reals, plan, config, scale, iters)
        row["pct_of_conv_peak"] = 100.0 * row["gflops"] / report["peak_gflops"]["conv3x3"]
        # The convolutions at this scale's own shape: narrower layers run slower on any machine, and
        # the gradients' convolutions slower than the forward one.
        kernels = conv3x3_kernel_gflops(h + 2 * PADDING, w + 2 * PADDING, plan.channels[scale])
        row["conv3x3_gflops_here"] = kernels["forward"]
        row["conv3x3_kernels_gflops_here"] = kernels
        row["pct_of_conv_here"] = 100.0 * row["gflops"] / kernels["forward"]
        row["pct_of_conv_mix_here"] = 100.0 * row["gflops"] / kernels["mix"]
        if scale in official:
            row["official_sec_per_iter"] = official[scale]
            if report["official_reference"]["mismatch"] is None:
                row["speedup_vs_official"] = official[scale] / row["sec_per_iter"]
        # What training this scale takes with this config: its iterations plus the compilation.
        row["niter"] = config.iterations(h, w)
        row["scale_minutes"] = (row["niter"] * row["sec_per_iter"] + row["compile_sec"]) / 60
        report["train"].append(row)
        log(f"  {row['sec_per_iter']:.2f} s/iter, compile {row['compile_sec']:.1f} s")
    if len(scales) == plan.num_scales:
        report["run_minutes"] = sum(row["scale_minutes"] for row in report["train"])
        if Path(image_path).name == "balloons.png":
            report["official_paper_run"] = {"hours": OFFICIAL_PAPER_RUN_HOURS, "machine": OFFICIAL_MACHINE.description,
                                            "mismatch": mismatch()}
    report["load_average_after"] = list(os.getloadavg())
    return report


def _machine() -> dict[str, Any]:
    return {
        "cpu": _cpu_name(), "cores": os.cpu_count(), "platform": platform.platform(),
        "tensorflow": tf.__version__, "numpy": np.__version__,
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "load_average": list(os.getloadavg()),
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def markdown_table(report: dict[str, Any]) -> str:
    """The training rows as a Markdown table, plus the peaks and sampling latency under it."""
    with_official = any("official_sec_per_iter" in row for row in report["train"])
    header = ["scale", "size", "channels", "GFLOP/iter", "s/iter", "CPU s/iter", "compile s", "iters", "minutes", "GFLOP/s",
              "% conv peak", "% conv here", "% conv mix here"]
    if with_official:
        header += ["official s/iter", "speed-up"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in report["train"]:
        cells = [
            str(row["scale"]), f"{row['height']}x{row['width']}", str(row["channels"]), f"{row['gflop_per_iter']:.0f}",
            f"{row['sec_per_iter']:.2f}", f"{row['cpu_sec_per_iter']:.2f}", f"{row['compile_sec']:.1f}",
            str(row["niter"]), f"{row['scale_minutes']:.1f}", f"{row['gflops']:.1f}",
            f"{row['pct_of_conv_peak']:.0f}%", f"{row['pct_of_conv_here']:.0f}%", f"{row['pct_of_conv_mix_here']:.0f}%",
        ]
        if with_official:
            official, speedup = row.get("official_sec_per_iter"), row.get("speedup_vs_official")
            cells += [f"{official:g}" if official else "", f"{speedup:.2f}x" if speedup else ""]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "minutes: what training the scale takes with these settings (iters x s/iter + compile)."]
    if "run_minutes" in report:
        lines += [f"The whole run: {report['run_minutes']:.1f} minutes."]
    if "official_paper_run" in report:
        official = report["official_paper_run"]
        if official["mismatch"]:
            lines += [f"(The official code's paper-settings run, {official['hours']:g} h, was measured on another kind of "
                      f"machine: {official['mismatch']}.)"]
        else:
            lines += [f"The official code's paper-settings run takes about {official['hours']:g} h on this machine kind: "
                      f"{official['hours'] * 60 / report['run_minutes']:.1f}x the time."]
    if "official_reference" in report:
        reference = report["official_reference"]
        lines += ["", f"Official s/iter measured on: {reference['machine']}."]
        if reference["mismatch"]:
            lines += [f"Not this machine's kind ({reference['mismatch']}), so no speed-up is computed."]
    peak = report["peak_gflops"]
    shape = "x".join(map(str, report["peak_conv_shape"][1:]))
    lines += ["", f"Peak (same run): matmul {report['peak_matmul_size']} {peak['matmul']:.1f} GFLOP/s, "
                  f"3x3 conv {shape} {peak['conv3x3']:.1f} GFLOP/s. FLOPs: {report['flop_count']}."]
    if "sampling" in report:
        sampling = report["sampling"]
        sizes = ", ".join(f"{s['height']}x{s['width']} {s['ms']:.0f} ms" for s in sampling["sizes"])
        lines += ["", f"Sampling (Python sampler, warm): {sizes}; first call (trace) {sampling['trace_sec']:.1f} s."]
    rss = max([row["peak_rss_mb"] for row in report["train"]] + [report.get("sampling", {}).get("peak_rss_mb", 0)])
    machine = report["machine"]
    lines += ["", f"Peak memory (max RSS): {rss:.0f} MB. Machine: {machine['cpu']}, {machine['cores']} cores, "
                  f"TensorFlow {machine['tensorflow']}; load average {machine['load_average'][0]:.1f} before, "
                  f"{report['load_average_after'][0]:.1f} after."]
    return "\n".join(lines)
