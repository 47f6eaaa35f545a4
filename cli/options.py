"""Options shared by several commands, declared once."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import click

from singan_tf.config import DEFAULT_PRESET, PRESETS, TrainConfig, option_name
from singan_tf.limits import MAX_NOISE_SCALE

_HELP = {
    "max_size": "Longer side of the finest scale, px (the image is shrunk to fit).",
    "min_size": "Shorter side of the coarsest scale, px.",
    "scale_factor": "Initial ratio between scales; re-fitted per image as the official code does.",
    "niter": "Training iterations per scale (each = d-steps critic + g-steps generator updates); where "
             "--small-niter is set (the fast preset), only at the scales above --small-max-pixels.",
    "nfc": "Channels at scales 0-3; doubles every 4 scales.",
    "max_nfc": "Cap on the channels.",
    "lr_g": "Adam learning rate of the generators.",
    "lr_d": "Adam learning rate of the critics.",
    "beta1": "Adam beta1.",
    "gamma": "Learning-rate multiplier applied once at --lr-decay-at.",
    "lr_decay_at": "Fraction of --niter after which the learning rate drops.",
    "d_steps": "Critic updates per iteration.",
    "g_steps": "Generator updates per iteration.",
    "lambda_grad": "Gradient-penalty weight.",
    "alpha": "Reconstruction-loss weight.",
    "noise_amp": "Noise std per scale = this x RMSE of the upsampled reconstruction.",
    "fixed_z_star": "Keep the scale-0 reconstruction noise z* fixed (the paper's text) instead of re-drawing it "
                    "every iteration and keeping the last draw (the official code; about twice the diversity "
                    "from --scale-from 1).",
    "noise_padding": "Draw noise over the generator's input border too (the official animation models): borders "
                     "vary like the interior.",
    "crop_size": "Train scales larger than this on random windows of this many pixels per side (0 = whole image).",
    "xla": "Compile each scale's training step with XLA: for GPUs; on x86 CPUs oneDNN (the default) is faster.",
    "xla_max_pixels": "Compile the training step of scales with at most this many pixels with XLA (small scales are "
                      "bound by per-operation overhead, which XLA removes); 0 = none.",
    "mixed_precision": "Run the convolutions in 16 bits (weights, statistics and losses stay float32): bfloat16 on "
                       "GPUs from Ampere on and CPUs with AVX-512 BF16 (AMX left out), float16 with loss scaling on "
                       "older GPUs, float32 where neither; the small scales (--small-max-pixels) stay float32. Not "
                       "the paper's numbers: on in the fast preset only.",
    "small_niter": "Iterations of the scales whose training window has at most --small-max-pixels pixels (the cheap "
                   "coarse scales, which settle every sample's layout); 0 = --niter everywhere.",
    "small_max_pixels": "Pixels (height x width of the training window) up to which a scale trains --small-niter "
                        "iterations.",
    "widen_warm_start": "Start a scale whose channels doubled from the scale below's networks, the new channels "
                        "added with zero outgoing weights, instead of from scratch (the official code).",
    "one_coarse_draw": "At scales trained on windows (--crop-size), draw the coarser scales' sample once per "
                       "iteration instead of once per critic step; each critic step takes its own window of it. "
                       "~11% faster there, measured to cost quality (docs/fast-mode.md).",
    "whole_image_reconstruction": "At scales trained on windows (--crop-size), take the reconstruction loss over the "
                                  "whole image instead of the window (G runs on the whole image once per generator "
                                  "step).",
}


def config_options(function: Callable, iters_alias: bool = True, with_preset: bool = True,
                   default_preset: str = DEFAULT_PRESET) -> Callable:
    """A --flag for every TrainConfig field, defaulting to None so the preset's value stands.
    `iters_alias=False` leaves `--iters` to a command whose own iterations are not training's (`bench`);
    `with_preset=False` is for a command whose starting values are a model's own; `default_preset` is
    for the measuring tools (`bench`, benchmarks/quality_runs.py), whose figures are set against the
    official code's and the paper preset's."""
    for field in reversed(dataclasses.fields(TrainConfig)):
        flag = option_name(field.name)
        help_text = _HELP[field.name]
        if field.type == "bool":
            function = click.option(f"--{flag}/--no-{flag}", field.name, default=None, help=help_text)(function)
            continue
        kind = {"int": int, "float": float}[field.type]
        names = [f"--{flag}"] + (["--iters"] if field.name == "niter" and iters_alias else [])
        function = click.option(*names, field.name, type=kind, default=None, help=help_text)(function)
    if not with_preset:
        return function
    return click.option(
        "--preset", type=click.Choice(list(PRESETS)), default=default_preset, show_default=True,
        help="Starting values for every setting below: paper = official SinGAN, number for number (hours on a "
             "CPU); fast = the paper's image size in about a tenth of its time, samples measured as good; "
             "quick = 3-6 min demo; tiny = tests.",
    )(function)


def config_overrides(values: dict[str, Any]) -> dict[str, Any]:
    """The TrainConfig fields a command received, leaving its other parameters behind."""
    return {f.name: values.pop(f.name) for f in dataclasses.fields(TrainConfig)}


def noise_scale_option(note: str = "") -> Callable[[Callable], Callable]:
    """--noise-scale, as `sample`, `eval` and `client` take it. A plain float: the sampler's own rule
    refuses values outside the range, in the same words the SavedModel and the server use."""
    return click.option(
        "--noise-scale", type=float, default=1.0, show_default=True,
        help=f"Multiplies the noise amplitude of the random scales, 0..{MAX_NOISE_SCALE:g}: below 1 samples stay "
             f"closer to the training image, above 1 they vary more; 1 = the trained model. {note}".rstrip(),
    )
